import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeHeader, type Frame, FrameType, HEADER_SIZE } from "../lib/frame.ts";
import { FrameReader } from "../lib/frame_reader.ts";
import { FrameWriter, writeAll } from "../lib/frame_writer.ts";

/** A sink that takes between 1 and `maxPerWrite` bytes per call, like a busy socket. */
function shortWriteSink(sizes: () => number) {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    write(bytes: Uint8Array): Promise<number> {
      const taken = Math.max(1, Math.min(bytes.length, sizes()));
      chunks.push(bytes.slice(0, taken));
      return new Promise((resolve) => setTimeout(() => resolve(taken), 0));
    },
    bytes(): Uint8Array {
      const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
      let offset = 0;
      for (const chunk of chunks) {
        out.set(chunk, offset);
        offset += chunk.length;
      }
      return out;
    },
  };
}

async function decodeAll(bytes: Uint8Array): Promise<Frame[]> {
  const reader = new FrameReader(new Blob([bytes.slice()]).stream(), { maxFrameSize: 1 << 20 });
  const frames: Frame[] = [];
  for (let frame = await reader.read(); frame !== null; frame = await reader.read()) {
    frames.push(frame);
  }
  return frames;
}

function plain(frames: readonly { type: number; body: Uint8Array }[]) {
  return frames.map(({ type, body }) => ({ type, body: Array.from(body) }));
}

Deno.test("writeAll delivers every byte through short writes", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 700 }), async (
      data,
      max,
    ) => {
      const sink = shortWriteSink(() => max);
      await writeAll(sink, data);
      assert.deepEqual(sink.bytes(), data);
    }),
    { numRuns: 40 },
  );
});

Deno.test("FrameWriter output decodes to the frames written, through short writes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          type: fc.constantFrom(FrameType.Stdout, FrameType.Stderr, FrameType.Exit),
          body: fc.oneof(
            fc.uint8Array({ maxLength: 100 }),
            fc.uint8Array({ minLength: 17_000, maxLength: 40_000 }),
          ),
        }),
        { maxLength: 6 },
      ),
      fc.integer({ min: 1, max: 70_000 }),
      async (frames, max) => {
        const sink = shortWriteSink(() => max);
        const writer = new FrameWriter(sink);
        for (const { type, body } of frames) await writer.write(type, body);
        assert.deepEqual(plain(await decodeAll(sink.bytes())), plain(frames));
        assert.equal(writer.bytesWritten, sink.bytes().length);
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("concurrent writers never interleave inside a frame", async () => {
  const sink = shortWriteSink(() => 1 + Math.floor(Math.random() * 3000));
  const writer = new FrameWriter(sink);
  const body = (fill: number, size: number) => new Uint8Array(size).fill(fill);
  await Promise.all(
    Array.from({ length: 4 }, (_, task) =>
      (async () => {
        for (let i = 0; i < 10; i++) {
          await writer.write(FrameType.Stdout, body(task, 1000 + task * 9000 + i));
        }
      })()),
  );
  const frames = await decodeAll(sink.bytes());
  assert.equal(frames.length, 40);
  for (const frame of frames) {
    assert.ok(frame.body.every((byte) => byte === frame.body[0]), "a frame mixes two writers");
  }
});

Deno.test("after the sink fails once, every later write rejects with that error", async () => {
  const failure = new Error("broken pipe");
  let calls = 0;
  const writer = new FrameWriter({
    write() {
      calls++;
      return Promise.reject(failure);
    },
  });
  await assert.rejects(writer.write(FrameType.Ping), (error) => error === failure);
  await assert.rejects(writer.write(FrameType.Pong), (error) => error === failure);
  await assert.rejects(writer.writeEncoded(new Uint8Array(HEADER_SIZE)), (e) => e === failure);
  assert.equal(calls, 1);
});

Deno.test("writeEncoded sends a frame whose header the caller filled in place", async () => {
  const sink = shortWriteSink(() => 7);
  const writer = new FrameWriter(sink);
  const frame = new Uint8Array(HEADER_SIZE + 3);
  frame.set([1, 2, 3], HEADER_SIZE);
  encodeHeader(frame, FrameType.Stderr, 3);
  await writer.writeEncoded(frame);
  assert.deepEqual(plain(await decodeAll(sink.bytes())), [{
    type: FrameType.Stderr,
    body: [1, 2, 3],
  }]);
});
