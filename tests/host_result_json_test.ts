import assert from "node:assert/strict";
import { type HostResult, hostResultJson, hostResultJsonParts } from "../lib/fleet/run_many.ts";

function result(stdout: Uint8Array, stderr = new Uint8Array(0)): HostResult {
  return {
    host: "web1",
    address: "127.0.0.1:7022",
    exitCode: 0,
    signal: null,
    timedOut: false,
    error: null,
    durationMs: 1,
    stdout,
    stderr,
  };
}

Deno.test("hostResultJsonParts(): an output too big for one string (600 MB) still becomes a JSON line, in pieces", () => {
  const size = 600_000_000;
  const parts = hostResultJsonParts(result(new Uint8Array(size).fill(0x61)));
  let length = 0;
  let longest = 0;
  let text = "";
  for (const part of parts) {
    length += part.length;
    longest = Math.max(longest, part.length);
    if (text.length < 200) text += part.slice(0, 200);
  }
  assert.match(text, /^\{"host":"web1",.*"duration_ms":1,"stdout":"aaaa/);
  assert.equal(
    length,
    size +
      '{"host":"web1","address":"127.0.0.1:7022","exit_code":0,"signal":null,"timed_out":false,"error":null,"duration_ms":1,"stdout":"","stderr":""}'
        .length,
  );
  assert.ok(longest <= 8 * 1024 * 1024, `a piece of ${longest} characters`);
});

Deno.test("hostResultJsonParts(): characters and base64 groups cut at piece boundaries come out whole", () => {
  const piece = 4 * 1024 * 1024;
  // "é" (2 bytes), "€" (3) and "😀" (4) straddling the first piece boundary, and a NUL to escape.
  const text = "x".repeat(piece - 1) + 'é€😀\u0000"\\' + "y".repeat(piece);
  const utf8 = new TextEncoder().encode(text);
  const binary = new Uint8Array(piece * 2 + 5).map((_, index) => (index * 7919) % 256);
  binary[0] = 0xff; // not UTF-8
  const line = [...hostResultJsonParts(result(utf8, binary))].join("");
  assert.equal(line, hostResultJson(result(utf8, binary)));
  const parsed = JSON.parse(line);
  assert.equal(parsed.stdout, text);
  assert.deepEqual(
    Uint8Array.from(atob(parsed.stderr_base64), (char) => char.charCodeAt(0)),
    binary,
  );
});
