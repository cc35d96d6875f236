import assert from "node:assert/strict";
import { Heartbeat, WatchedSink } from "../lib/transport/heartbeat.ts";
import { waitFor } from "./helpers.ts";

/** A sink whose writes take bytes only when told to. */
function gatedSink() {
  const waiting: PromiseWithResolvers<number>[] = [];
  return {
    sink: {
      write: (bytes: Uint8Array) => {
        const write = Promise.withResolvers<number>();
        waiting.push(write);
        return write.promise.then((taken) => Math.min(taken, bytes.length));
      },
    },
    take(bytes: number) {
      waiting.shift()!.resolve(bytes);
    },
  };
}

Deno.test("WatchedSink counts a stall only while a write waits, and any progress ends it", async () => {
  const gate = gatedSink();
  const sink = new WatchedSink(gate.sink);
  assert.equal(sink.stalledMs, 0);
  const write = sink.write(new Uint8Array(10));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.ok(sink.stalledMs >= 20, `stalled ${sink.stalledMs} ms`);
  gate.take(1);
  assert.equal(await write, 1);
  assert.equal(sink.stalledMs, 0);
});

Deno.test("Heartbeat gives up on a peer that takes nothing written to it", async () => {
  const gate = gatedSink();
  const sink = new WatchedSink(gate.sink);
  let stalled: number | undefined;
  let silent = false;
  let pings = 0;
  using _heartbeat = new Heartbeat({
    intervalMs: 20,
    sendPing: () => pings++,
    onSilence: () => silent = true,
    outbound: sink,
    onStalled: (ms) => stalled = ms,
  });
  sink.write(new Uint8Array(5));
  assert.ok(await waitFor(() => stalled !== undefined, 30_000));
  assert.ok(stalled! >= 60, `gave up after ${stalled} ms`);
  assert.ok(!silent);
  const pingsThen = pings;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(pings, pingsThen, "it went on pinging a peer it gave up on");
  gate.take(5);
});

Deno.test("Heartbeat keeps a peer that takes bytes, however few at a time", async () => {
  const gate = gatedSink();
  const sink = new WatchedSink(gate.sink);
  let gaveUp = false;
  const heartbeat = new Heartbeat({
    intervalMs: 200,
    sendPing: () => {},
    onSilence: () => gaveUp = true,
    outbound: sink,
    onStalled: () => gaveUp = true,
  });
  try {
    // Writes taking one byte every 20 ms, for longer than the three intervals allowed.
    for (let i = 0; i < 50; i++) {
      const write = sink.write(new Uint8Array(1000));
      await new Promise((resolve) => setTimeout(resolve, 20));
      gate.take(1);
      await write;
    }
    assert.ok(!gaveUp);
  } finally {
    heartbeat[Symbol.dispose]();
  }
});
