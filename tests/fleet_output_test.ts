import assert from "node:assert/strict";
import { collapseOutputs, OutputChannel } from "../lib/cli/fleet_output.ts";

const encoder = new TextEncoder();

Deno.test("collapseOutputs(): an output too big for one string (540 MB) is collapsed by its bytes", () => {
  const big = new Uint8Array(540_000_000).fill(0x61);
  big[big.length - 1] = 0x0a;
  const collapsed = collapseOutputs([
    { host: "web1", output: big },
    { host: "web2", output: encoder.encode("small\n") },
    { host: "web3", output: big },
  ]);
  const head = new TextDecoder().decode(collapsed.subarray(0, 200));
  assert.match(head, /^-+\nweb\[1,3\] \(2\)\n-+\naaaa/);
  const tail = new TextDecoder().decode(collapsed.subarray(collapsed.length - 100));
  assert.match(tail, /a\n-+\nweb2\n-+\nsmall\n$/);
});

Deno.test("collapseOutputs(): outputs are grouped by equal bytes, whatever their encoding", () => {
  const collapsed = collapseOutputs([
    { host: "a1", output: new Uint8Array([0xff, 0x00, 0x0a]) },
    { host: "a2", output: new Uint8Array([0xfe, 0x00, 0x0a]) },
    { host: "a3", output: new Uint8Array([0xff, 0x00, 0x0a]) },
    { host: "a4", output: new Uint8Array(0) },
  ]);
  const rule = [..."---------------\n"].map((char) => char.charCodeAt(0));
  const header = (text: string) => [...rule, ...encoder.encode(text), ...rule];
  assert.deepEqual([...collapsed], [
    ...header("a[1,3] (2)\n"),
    0xff,
    0x00,
    0x0a,
    ...header("a2\n"),
    0xfe,
    0x00,
    0x0a,
  ]);
});

Deno.test("OutputChannel: many hosts' lines queued at once go out in order, in writes of a few hundred KiB, not one copy of all", async () => {
  const writes: number[] = [];
  const received: number[] = [];
  const channel = new OutputChannel({
    write(bytes: Uint8Array) {
      writes.push(bytes.length);
      received.push(...new Set(bytes));
      return Promise.resolve(bytes.length);
    },
  });
  // 200 hosts, 100 000 bytes of lines each, queued in the same turn.
  await Promise.all(
    Array.from({ length: 200 }, (_, index) => channel.write(new Uint8Array(100_000).fill(index))),
  );
  assert.deepEqual(received, Array.from({ length: 200 }, (_, index) => index));
  assert.equal(writes.reduce((sum, size) => sum + size, 0), 200 * 100_000);
  assert.ok(Math.max(...writes) <= 400_000, `a write of ${Math.max(...writes)} bytes`);
});
