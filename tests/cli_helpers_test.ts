import assert from "node:assert/strict";
import { helpText } from "../lib/cli/help.ts";
import { exitCodeForSignal } from "../lib/cli/interrupts.ts";
import { readLines } from "../lib/cli/lines.ts";
import { describeStatus, exitCodeFor } from "../lib/cli/terminal.ts";
import { formatRecord } from "../lib/log.ts";

Deno.test("exit status: 124 for a timeout, 255 for a shutdown, the code otherwise", () => {
  const base = { success: false, signal: null };
  assert.equal(exitCodeFor({ ...base, code: 143, signal: "SIGTERM", reason: "timeout" }), 124);
  assert.equal(exitCodeFor({ ...base, code: 143, signal: "SIGTERM", reason: "shutdown" }), 255);
  assert.equal(exitCodeFor({ ...base, code: 137, signal: "SIGKILL" }), 137);
  assert.equal(exitCodeFor({ ...base, code: 127, reason: "spawn_failed", message: "x" }), 127);
  assert.equal(exitCodeFor({ success: true, code: 0, signal: null }), 0);
  assert.deepEqual(
    ["SIGINT", "SIGTERM", "SIGHUP"].map((s) => exitCodeForSignal(s as Deno.Signal)),
    [
      130,
      143,
      129,
    ],
  );
});

Deno.test("a status is described by its message, signal or code; success by nothing", () => {
  assert.equal(describeStatus({ success: true, code: 0, signal: null }), undefined);
  assert.equal(describeStatus({ success: false, code: 2, signal: null }), "exit 2");
  assert.equal(
    describeStatus({ success: false, code: 143, signal: "SIGTERM" }),
    "killed by SIGTERM",
  );
  assert.equal(
    describeStatus({
      success: false,
      code: 124,
      signal: "SIGTERM",
      reason: "timeout",
      message: "timed out after 1 s",
    }),
    "timed out after 1 s",
  );
});

Deno.test("readLines splits CRLF and LF lines, keeps empty ones and the last unterminated one", async () => {
  const bytes = new TextEncoder().encode("a\r\n\nb é\nlast");
  const cut = bytes.indexOf(0xc3) + 1;
  const stream = ReadableStream.from([bytes.slice(0, cut), bytes.slice(cut)]);
  assert.deepEqual(await Array.fromAsync(readLines(stream)), ["a", "", "b é", "last"]);
});

Deno.test("a log record is always exactly one line", () => {
  const line = formatRecord({
    level: "warn",
    message: "exit",
    fields: {
      argv: ["sh", "-c", "echo a\necho b"],
      note: "two\nlines",
      plain: "x",
      skipped: undefined,
    },
  }, new Date(0));
  assert.equal(line.includes("\n"), false);
  assert.equal(
    line,
    '1970-01-01T00:00:00.000Z WARN exit argv=["sh","-c","echo a\\necho b"] note="two\\nlines" plain=x',
  );
});

Deno.test("each mode's help lists every option it accepts", () => {
  const options = {
    serve: [
      "--listen",
      "--token-file",
      "--max-timeout",
      "--kill-grace",
      "--max-frame-size",
      "--help",
    ],
    run: [
      "--command",
      "--no-stdin",
      "--env",
      "--cwd",
      "--timeout",
      "--token-file",
      "--connect-timeout",
      "--help",
    ],
    shell: ["--env", "--cwd", "--timeout", "--token-file", "--connect-timeout", "--help"],
  } as const;
  for (const [mode, names] of Object.entries(options)) {
    const text = helpText(mode as keyof typeof options);
    for (const name of names) assert.ok(text.includes(name), `${mode} help lacks ${name}`);
  }
});
