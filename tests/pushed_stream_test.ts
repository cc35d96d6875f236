import assert from "node:assert/strict";
import { PushedByteStream } from "../lib/client/pushed_stream.ts";

Deno.test("push hands the chunk to the stream and waits while the queue is full", async () => {
  const stream = new PushedByteStream({ highWaterMark: 4 });
  await stream.push(new Uint8Array([1, 2]));
  let resolved = false;
  const second = stream.push(new Uint8Array([3, 4, 5])).then(() => resolved = true);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(resolved, false, "a full queue holds the producer back");
  const reader = stream.readable.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
  assert.deepEqual((await reader.read()).value, new Uint8Array([3, 4, 5]));
  await second;
  stream.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("pushCopy fills a waiting BYOB read and queues the rest, leaving the caller's bytes alone", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1024 });
  const reader = stream.readable.getReader({ mode: "byob" });
  const waiting = reader.read(new Uint8Array(4));
  const mine = new Uint8Array([1, 2, 3, 4, 5, 6]);
  await stream.pushCopy(mine);
  assert.deepEqual((await waiting).value, new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual((await reader.read(new Uint8Array(8))).value, new Uint8Array([5, 6]));
  assert.equal(mine.buffer.detached, false);
  mine.fill(0);
  stream.close();
  assert.equal((await reader.read(new Uint8Array(8))).done, true);
});

Deno.test("pushCopy with no read waiting queues a copy that later changes to the source do not reach", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1024 });
  const mine = new Uint8Array([7, 8, 9]);
  await stream.pushCopy(mine);
  mine.fill(0);
  stream.close();
  assert.deepEqual(
    new Uint8Array(await new Response(stream.readable).arrayBuffer()),
    new Uint8Array([7, 8, 9]),
  );
});

Deno.test("after the consumer cancels, pushes are dropped instead of waiting forever", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1 });
  await stream.readable.cancel();
  await stream.push(new Uint8Array(10));
  await stream.pushCopy(new Uint8Array(10));
  assert.equal(stream.done, true);
});

Deno.test("an error waits until the consumer has read what was queued before it", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1024 });
  await stream.push(new Uint8Array([1, 2]));
  await stream.pushCopy(new Uint8Array([3]));
  const failure = new Error("connection lost");
  stream.error(failure);
  await stream.push(new Uint8Array([4]));
  const reader = stream.readable.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
  assert.deepEqual((await reader.read()).value, new Uint8Array([3]));
  await assert.rejects(reader.read(), (error) => error === failure);
});

Deno.test("an error with nothing queued reaches a waiting reader at once", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1024 });
  const reader = stream.readable.getReader({ mode: "byob" });
  const waiting = reader.read(new Uint8Array(8));
  const failure = new Error("connection lost");
  stream.error(failure);
  await assert.rejects(waiting, (error) => error === failure);
});
