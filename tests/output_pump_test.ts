import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeHeader, FrameType, HEADER_SIZE } from "../lib/protocol/frame.ts";
import { pumpOutput } from "../lib/server/output_pump.ts";
import { turn } from "./helpers.ts";

/** A byte stream fed by hand, like a pipe: reads wait until something is pushed. */
function manualPipe() {
  let controller!: ReadableByteStreamController;
  const cancelled: unknown[] = [];
  const stream = new ReadableStream({
    type: "bytes",
    start(c) {
      controller = c;
    },
    cancel(reason) {
      cancelled.push(reason);
    },
  });
  return {
    reader: stream.getReader({ mode: "byob" }),
    cancelled,
    push: (bytes: Uint8Array) => controller.enqueue(bytes.slice()),
    end: () => {
      controller.close();
      controller.byobRequest?.respond(0);
    },
    fail: (error: unknown) => controller.error(error),
  };
}

function bodyOf(frame: Uint8Array): Uint8Array {
  const { type, length } = decodeHeader(frame.subarray(0, HEADER_SIZE), 1 << 30);
  assert.equal(type, FrameType.Stdout);
  assert.equal(frame.length, HEADER_SIZE + length);
  return frame.slice(HEADER_SIZE);
}

Deno.test("pumpOutput(): output goes out at once while the connection keeps up, one frame per read", async () => {
  const pipe = manualPipe();
  const frames: Uint8Array[] = [];
  const sent: number[] = [];
  const done = pumpOutput(pipe.reader, {
    type: FrameType.Stdout,
    maxBody: 1024,
    write: (frame) => {
      frames.push(bodyOf(frame));
      return Promise.resolve();
    },
    onSent: (bytes) => sent.push(bytes),
  });
  pipe.push(new Uint8Array([1, 2, 3]));
  await turn();
  assert.deepEqual(frames, [new Uint8Array([1, 2, 3])], "not held back for more");
  pipe.push(new Uint8Array([4]));
  await turn();
  pipe.end();
  await done;
  assert.deepEqual(frames, [new Uint8Array([1, 2, 3]), new Uint8Array([4])]);
  assert.deepEqual(sent, [3, 1]);
});

Deno.test("pumpOutput(): while a write is pending, what the pipe yields gathers into the next frame, up to maxBody", async () => {
  const pipe = manualPipe();
  const frames: Uint8Array[] = [];
  const pending: (() => void)[] = [];
  const done = pumpOutput(pipe.reader, {
    type: FrameType.Stdout,
    maxBody: 4,
    write: (frame) => {
      frames.push(bodyOf(frame));
      return new Promise((resolve) => pending.push(resolve));
    },
  });
  pipe.push(new Uint8Array([1]));
  await turn();
  for (const byte of [2, 3, 4, 5, 6, 7]) {
    pipe.push(new Uint8Array([byte]));
    await turn();
  }
  assert.deepEqual(frames, [new Uint8Array([1])], "one write at a time");
  pending.shift()!();
  await turn();
  assert.deepEqual(frames[1], new Uint8Array([2, 3, 4, 5]), "gathered up to maxBody");
  pending.shift()!();
  await turn();
  assert.deepEqual(frames[2], new Uint8Array([6, 7]), "the rest goes out once the write is done");
  pipe.end();
  pending.shift()!();
  await done;
  assert.equal(frames.length, 3);
});

Deno.test("pumpOutput(): a frame gathers beyond one pipe read (64 KiB) when the client allows larger frames", async () => {
  const pipe = manualPipe();
  const frames: Uint8Array[] = [];
  const pending: (() => void)[] = [];
  const done = pumpOutput(pipe.reader, {
    type: FrameType.Stdout,
    maxBody: 200_000,
    write: (frame) => {
      frames.push(bodyOf(frame));
      return new Promise((resolve) => pending.push(resolve));
    },
  });
  const chunks = [1, 2, 3, 4].map((n) => new Uint8Array(60_000).fill(n));
  for (const chunk of chunks) {
    pipe.push(chunk);
    await turn();
  }
  pending.shift()!();
  await turn();
  pipe.end();
  pending.shift()!();
  await done;
  assert.deepEqual(frames.map((frame) => frame.length), [60_000, 180_000]);
  assert.deepEqual(frames[1], new Uint8Array([...chunks[1], ...chunks[2], ...chunks[3]]));
});

Deno.test("pumpOutput(): what the pipe already holds goes out as one frame, beyond one read, without a write pending", async () => {
  const pipe = manualPipe();
  const frames: Uint8Array[] = [];
  const done = pumpOutput(pipe.reader, {
    type: FrameType.Stdout,
    maxBody: 256 * 1024,
    write: (frame) => {
      frames.push(bodyOf(frame));
      return Promise.resolve();
    },
  });
  // Three reads' worth, there before the pump's first read completes.
  const chunks = [1, 2, 3].map((n) => new Uint8Array(65_536).fill(n));
  for (const chunk of chunks) pipe.push(chunk);
  await turn();
  pipe.end();
  await done;
  assert.deepEqual(frames.map((frame) => frame.length), [3 * 65_536]);
  assert.deepEqual(frames[0], new Uint8Array([...chunks[0], ...chunks[1], ...chunks[2]]));
});

Deno.test("pumpOutput(): everything read is sent, in order, whatever the timing of reads and writes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 6000 }), { maxLength: 30 }),
      fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 30 }),
      fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.constant(70_000)),
      async (chunks, delays, maxBody) => {
        const pipe = manualPipe();
        const received: number[] = [];
        let writes = 0;
        const done = pumpOutput(pipe.reader, {
          type: FrameType.Stdout,
          maxBody,
          write: async (frame) => {
            const body = bodyOf(frame);
            assert.ok(body.length >= 1 && body.length <= maxBody);
            received.push(...body);
            for (let i = delays[writes++ % delays.length]; i > 0; i--) await turn();
          },
        });
        for (const [i, chunk] of chunks.entries()) {
          pipe.push(chunk);
          if (delays[i % delays.length] > 1) await turn();
        }
        pipe.end();
        await done;
        assert.deepEqual(received, chunks.flatMap((chunk) => [...chunk]));
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("pumpOutput(): a failed write ends the pump with its error and cancels the pipe", async () => {
  const pipe = manualPipe();
  const failure = new Error("connection reset");
  const done = pumpOutput(pipe.reader, {
    type: FrameType.Stdout,
    maxBody: 1024,
    write: () => Promise.reject(failure),
  });
  pipe.push(new Uint8Array([1]));
  await assert.rejects(done, (error) => error === failure);
  assert.deepEqual(pipe.cancelled, [failure]);
});

Deno.test("pumpOutput(): when the pipe fails, what was read is still sent before the error comes out", async () => {
  const pipe = manualPipe();
  const failure = new Error("pipe broke");
  const frames: Uint8Array[] = [];
  let release!: () => void;
  const done = pumpOutput(pipe.reader, {
    type: FrameType.Stdout,
    maxBody: 1024,
    write: (frame) => {
      frames.push(bodyOf(frame));
      return frames.length === 1 ? new Promise((resolve) => release = resolve) : Promise.resolve();
    },
  });
  pipe.push(new Uint8Array([1]));
  await turn();
  pipe.push(new Uint8Array([2]));
  await turn();
  pipe.fail(failure);
  await turn();
  release();
  await assert.rejects(done, (error) => error === failure);
  assert.deepEqual(frames, [new Uint8Array([1]), new Uint8Array([2])]);
});
