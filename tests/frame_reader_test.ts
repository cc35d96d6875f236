import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameTooLargeError, TruncatedFrameError } from "../lib/errors.ts";
import { decodeHeader, encodeFrame, type Frame, FrameType, HEADER_SIZE } from "../lib/frame.ts";
import { FrameReader } from "../lib/frame_reader.ts";

const TYPES = Object.values(FrameType);

const frameArbitrary = fc.record({
  type: fc.constantFrom(...TYPES),
  body: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.uint8Array({ minLength: 60_000, maxLength: 70_000 }),
  ),
});

/** A byte stream that delivers `chunks` one per pull, then closes. */
function chunkedStream(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (next < chunks.length) {
        controller.enqueue(chunks[next++].slice());
        return;
      }
      controller.close();
      controller.byobRequest?.respond(0);
    },
  });
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function cutAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) pieces.push(bytes.subarray(start, point));
    start = Math.max(start, point);
  }
  return pieces;
}

async function readAll(reader: FrameReader): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let frame = await reader.read(); frame !== null; frame = await reader.read()) {
    frames.push(frame);
  }
  return frames;
}

function plain(frames: readonly Frame[]) {
  return frames.map(({ type, body }) => ({ type, body: Array.from(body) }));
}

Deno.test("FrameReader decodes the same frames however the stream is cut", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(frameArbitrary, { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      async (frames, cuts) => {
        const bytes = concat(frames.map(({ type, body }) => encodeFrame(type, body)));
        const reader = new FrameReader(chunkedStream(cutAt(bytes, cuts)), {
          maxFrameSize: 1 << 20,
        });
        assert.deepEqual(plain(await readAll(reader)), plain(frames));
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("FrameReader decodes frames delivered one byte per chunk", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          type: fc.constantFrom(...TYPES),
          body: fc.uint8Array({ maxLength: 300, size: "max" }),
        }),
        { maxLength: 8 },
      ),
      async (frames) => {
        const bytes = concat(frames.map(({ type, body }) => encodeFrame(type, body)));
        const singles = Array.from(bytes, (byte) => new Uint8Array([byte]));
        const reader = new FrameReader(chunkedStream(singles), { maxFrameSize: 1 << 20 });
        assert.deepEqual(plain(await readAll(reader)), plain(frames));
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("FrameReader decodes many frames delivered in one chunk", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(frameArbitrary, { minLength: 1, maxLength: 12 }), async (frames) => {
      const bytes = concat(frames.map(({ type, body }) => encodeFrame(type, body)));
      const reader = new FrameReader(chunkedStream([bytes]), { maxFrameSize: 1 << 20 });
      assert.deepEqual(plain(await readAll(reader)), plain(frames));
    }),
    { numRuns: 30 },
  );
});

Deno.test("an oversized length is refused from the header alone, without waiting for a body", async () => {
  const header = new Uint8Array([0xff, 0xff, 0xff, 0xff, FrameType.Stdout]);
  const neverEnds = new ReadableStream<Uint8Array>({
    type: "bytes",
    start(controller) {
      controller.enqueue(header.slice());
    },
  });
  const reader = new FrameReader(neverEnds, { maxFrameSize: 1024 });
  await assert.rejects(reader.read(), (error: Error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.length, 0xffff_ffff);
    assert.equal(error.limit, 1024);
    return true;
  });
});

Deno.test("the length is read as unsigned big-endian, never negative", () => {
  const header = new Uint8Array([0x80, 0x00, 0x00, 0x01, FrameType.Stdout]);
  assert.throws(
    () => decodeHeader(header, 1 << 20),
    (error: Error) => error instanceof FrameTooLargeError && error.length === 0x8000_0001,
  );
  assert.equal(decodeHeader(new Uint8Array([0, 0, 1, 2, FrameType.Stdin]), 1024).length, 258);
});

Deno.test("a stream cut inside a header or a body is a TruncatedFrameError", async () => {
  const frame = encodeFrame(FrameType.Stdout, new Uint8Array(100));
  for (const cut of [1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 50, frame.length - 1]) {
    const reader = new FrameReader(chunkedStream([frame.subarray(0, cut)]), {
      maxFrameSize: 1024,
    });
    await assert.rejects(
      reader.read(),
      (error: Error) =>
        error instanceof TruncatedFrameError &&
        /closed in the middle of a frame/.test(error.message),
      `cut at ${cut}`,
    );
  }
});

Deno.test("a clean end between frames reads as null", async () => {
  const reader = new FrameReader(chunkedStream([encodeFrame(FrameType.Ping)]), {
    maxFrameSize: 1024,
  });
  assert.equal((await reader.read())?.type, FrameType.Ping);
  assert.equal(await reader.read(), null);
});

Deno.test("an error from the stream reaches the reader", async () => {
  const failure = new Error("connection reset");
  const failing = new ReadableStream<Uint8Array>({
    type: "bytes",
    pull(controller) {
      controller.error(failure);
    },
  });
  const reader = new FrameReader(failing, { maxFrameSize: 1024 });
  await assert.rejects(reader.read(), (error) => error === failure);
});

Deno.test("lastHeader holds the raw first bytes of a frame that could not be decoded", async () => {
  const http = new TextEncoder().encode("GET / HTTP/1.1\r\n");
  const reader = new FrameReader(chunkedStream([http]), { maxFrameSize: 1024 });
  await assert.rejects(reader.read());
  assert.equal(new TextDecoder().decode(reader.lastHeader), "GET /");
});
