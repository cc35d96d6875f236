import assert from "node:assert/strict";
import { PushedByteStream } from "../lib/client/pushed_stream.ts";
import { turn } from "./helpers.ts";

Deno.test("PushedByteStream: a full queue holds the producer back, and reaches the consumer without a flush", async () => {
  const stream = new PushedByteStream({ highWaterMark: 4 });
  await stream.pushCopy(new Uint8Array([1, 2]));
  let resolved = false;
  const second = stream.pushCopy(new Uint8Array([3, 4, 5])).then(() => resolved = true);
  await turn();
  assert.equal(resolved, false, "a full queue holds the producer back");
  assert.deepEqual(await stream.take(), new Uint8Array([1, 2, 3, 4, 5]));
  await second;
  stream.close();
  assert.equal(await stream.take(), null);
});

Deno.test("PushedByteStream: pushed bytes wait for the end of the burst, then come in one take", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1024 });
  let taken: Uint8Array | null | undefined;
  const waiting = stream.take().then((bytes) => taken = bytes);
  await stream.pushCopy(new Uint8Array([1]));
  await stream.pushCopy(new Uint8Array([2, 3]));
  await turn();
  assert.equal(taken, undefined, "no flush yet");
  stream.flush();
  await waiting;
  assert.deepEqual(taken, new Uint8Array([1, 2, 3]));
});

Deno.test("PushedByteStream.pushCopy() copies: the producer may reuse its bytes at once", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1024 });
  const mine = new Uint8Array([7, 8, 9]);
  await stream.pushCopy(mine);
  mine.fill(0);
  stream.close();
  assert.deepEqual(await stream.take(), new Uint8Array([7, 8, 9]));
  assert.equal(mine.buffer.detached, false);
});

Deno.test("PushedByteStream.take(): a taken view stays whole until the next take, however much is pushed meanwhile", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1 << 20 });
  await stream.pushCopy(new Uint8Array(1000).fill(1));
  stream.flush();
  const first = await stream.take();
  for (let i = 2; i < 50; i++) await stream.pushCopy(new Uint8Array(1000).fill(i));
  stream.flush();
  assert.ok(first!.every((byte) => byte === 1));
  const second = await stream.take();
  assert.equal(second!.length, 48_000);
  assert.equal(second![0], 2);
  assert.equal(second![47_999], 49);
  // The buffer of the first take is free again and may now be reused.
  await stream.pushCopy(new Uint8Array(10).fill(99));
  stream.close();
  assert.deepEqual(await stream.take(), new Uint8Array(10).fill(99));
  assert.equal(second![0], 2, "the second view is still whole until the next take");
});

Deno.test("PushedByteStream.readable copies straight into a BYOB read, and ends after the queue", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1024 });
  const reader = stream.readable.getReader({ mode: "byob" });
  const waiting = reader.read(new Uint8Array(4));
  await stream.pushCopy(new Uint8Array([1, 2, 3, 4, 5, 6]));
  stream.flush();
  assert.deepEqual((await waiting).value, new Uint8Array([1, 2, 3, 4]));
  stream.close();
  assert.deepEqual((await reader.read(new Uint8Array(8))).value, new Uint8Array([5, 6]));
  assert.equal((await reader.read(new Uint8Array(8))).done, true);
});

Deno.test("PushedByteStream.readable: a default reader of the stream gets every byte", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1 << 20 });
  const sent = new Uint8Array(300_000).map((_, i) => i % 251);
  const read = new Response(stream.readable).bytes();
  await stream.pushCopy(sent);
  stream.close();
  assert.deepEqual(await read, sent);
});

Deno.test("PushedByteStream: take and the stream are exclusive ways to read", async () => {
  const taking = new PushedByteStream({ highWaterMark: 16 });
  taking.close();
  assert.equal(await taking.take(), null);
  assert.throws(() => taking.readable, TypeError);
  const streaming = new PushedByteStream({ highWaterMark: 16 });
  streaming.readable;
  await assert.rejects(streaming.take(), TypeError);
});

Deno.test("PushedByteStream.readAll() collects everything, through take or through a stream made earlier", async () => {
  for (const made of [false, true]) {
    const stream = new PushedByteStream({ highWaterMark: 8 });
    if (made) stream.readable;
    const all = stream.readAll();
    for (let i = 0; i < 10; i++) await stream.pushCopy(new Uint8Array([i, i]));
    stream.close();
    assert.deepEqual(
      await all,
      new Uint8Array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]),
    );
  }
});

Deno.test("PushedByteStream: after the consumer cancels, pushes are dropped instead of waiting forever", async () => {
  for (const cancel of ["take", "stream"]) {
    const stream = new PushedByteStream({ highWaterMark: 1 });
    if (cancel === "stream") await stream.readable.cancel();
    else stream.cancel();
    await stream.pushCopy(new Uint8Array(10));
    assert.equal(stream.done, true);
    assert.equal(stream.queued, 0);
  }
});

Deno.test("PushedByteStream: an error comes after the bytes queued before it, through take and through the stream", async () => {
  for (const consumer of ["take", "stream"]) {
    const stream = new PushedByteStream({ highWaterMark: 1024 });
    await stream.pushCopy(new Uint8Array([1, 2]));
    await stream.pushCopy(new Uint8Array([3]));
    const failure = new Error("connection lost");
    stream.error(failure);
    await stream.pushCopy(new Uint8Array([4]));
    if (consumer === "take") {
      assert.deepEqual(await stream.take(), new Uint8Array([1, 2, 3]));
      await assert.rejects(stream.take(), (error) => error === failure);
    } else {
      const reader = stream.readable.getReader();
      assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
      await assert.rejects(reader.read(), (error) => error === failure);
    }
  }
});

Deno.test("PushedByteStream: an error with nothing queued reaches a waiting take or reader at once", async () => {
  const taking = new PushedByteStream({ highWaterMark: 1024 });
  const take = taking.take();
  const failure = new Error("connection lost");
  taking.error(failure);
  await assert.rejects(take, (error) => error === failure);

  const streaming = new PushedByteStream({ highWaterMark: 1024 });
  const reader = streaming.readable.getReader({ mode: "byob" });
  const waiting = reader.read(new Uint8Array(8));
  streaming.error(failure);
  await assert.rejects(waiting, (error) => error === failure);
});

Deno.test("PushedByteStream.returned() waits while the consumer holds what it took, and not for one that never started", async () => {
  const stream = new PushedByteStream({ highWaterMark: 1024 });
  await stream.returned();
  await stream.pushCopy(new Uint8Array([1]));
  stream.flush();
  await stream.returned();
  await stream.take();
  let back = false;
  const returned = stream.returned().then(() => back = true);
  await turn();
  assert.equal(back, false, "the consumer still holds its bytes");
  const next = stream.take();
  await returned;
  stream.close();
  assert.equal(await next, null);
  const cancelled = new PushedByteStream({ highWaterMark: 1024 });
  await cancelled.pushCopy(new Uint8Array([1]));
  cancelled.flush();
  await cancelled.take();
  const gaveUp = cancelled.returned();
  cancelled.cancel();
  await gaveUp;
});
