import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameTooLargeError, ProtocolError, TruncatedFrameError } from "../lib/errors.ts";
import { encodeFrame, type Frame, FrameType, HEADER_SIZE } from "../lib/protocol/frame.ts";
import { type ByteReader, FrameReader } from "../lib/transport/frame_reader.ts";
import { concat, largeBody } from "./helpers.ts";

const MAX_FRAME_SIZE = 128 * 1024;

/**
 * How the pieces reach the reader: from a byte stream, all queued before the
 * first read or one per pull (the way a socket delivers them as they
 * arrive); or read straight into the reader's buffer like `Deno.Conn.read`,
 * one piece (or as much of it as fits) per read.
 */
type Delivery = "queued up front" | "one per pull" | "read into the buffer";

/** What the stream does after its last piece. */
type Ending = "close" | "stay open" | { error: Error };

function byteStream(
  pieces: readonly Uint8Array[],
  delivery: Delivery,
  ending: Ending = "close",
): ReadableStream<Uint8Array> | ByteReader {
  if (delivery === "read into the buffer") return byteReader(pieces, ending);
  const finish = (controller: ReadableByteStreamController) => {
    if (ending === "stay open") return;
    if (ending === "close") {
      controller.close();
      controller.byobRequest?.respond(0);
      return;
    }
    controller.error(ending.error);
  };
  if (delivery === "queued up front") {
    return new ReadableStream({
      type: "bytes",
      start(controller) {
        for (const piece of pieces) controller.enqueue(piece.slice());
        finish(controller);
      },
    });
  }
  let next = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (next < pieces.length) controller.enqueue(pieces[next++].slice());
      else finish(controller);
    },
  });
}

function byteReader(pieces: readonly Uint8Array[], ending: Ending): ByteReader {
  const rest = pieces.map((piece) => piece.slice());
  let next = 0;
  return {
    read(buffer) {
      while (next < rest.length && rest[next].length === 0) next++;
      const piece = rest[next];
      if (piece === undefined) {
        if (ending === "close") return Promise.resolve(null);
        if (ending === "stay open") return new Promise(() => {});
        return Promise.reject(ending.error);
      }
      const count = Math.min(buffer.length, piece.length);
      buffer.set(piece.subarray(0, count));
      rest[next] = piece.subarray(count);
      return Promise.resolve(count);
    },
  };
}

function cutAt(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const inside = points.filter((point) => point > 0 && point < bytes.length);
  const bounds = [...new Set([0, ...inside, bytes.length])].sort((a, b) => a - b);
  return bounds.slice(1).map((end, i) => bytes.subarray(bounds[i], end));
}

async function readAll(reader: FrameReader): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let frame = await reader.read(); frame !== null; frame = await reader.read()) {
    frames.push(frame);
  }
  return frames;
}

const frameArbitrary = fc.record({
  type: fc.constantFrom(...Object.values(FrameType)),
  body: fc.oneof(
    { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }) },
    { weight: 1, arbitrary: largeBody(300, 70_000) },
  ),
});

const deliveryArbitrary = fc.constantFrom<Delivery>(
  "queued up front",
  "one per pull",
  "read into the buffer",
);

/**
 * A cut anywhere in the stream, or a few bytes either side of the start of
 * a frame, so that headers get cut as often as bodies.
 */
const cutArbitrary = fc.oneof(
  fc.record({ anywhere: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ frame: fc.nat(), shift: fc.integer({ min: -HEADER_SIZE, max: HEADER_SIZE + 1 }) }),
);

type Cut = { anywhere: number } | { frame: number; shift: number };

function cutPoints(encoded: readonly Uint8Array[], cuts: readonly Cut[]): number[] {
  const starts = encoded.map((_, i) => encoded.slice(0, i).reduce((sum, f) => sum + f.length, 0));
  const total = encoded.reduce((sum, f) => sum + f.length, 0);
  return cuts.map((cut) => {
    const point = "anywhere" in cut
      ? Math.round(cut.anywhere * total)
      : (starts[cut.frame % Math.max(1, starts.length)] ?? 0) + cut.shift;
    return Math.min(total, Math.max(0, point));
  });
}

async function assertDecodes(
  frames: readonly { type: FrameType; body: Uint8Array }[],
  pieces: readonly Uint8Array[],
  delivery: Delivery,
): Promise<void> {
  const reader = new FrameReader(byteStream(pieces, delivery), { maxFrameSize: MAX_FRAME_SIZE });
  assert.deepEqual(await readAll(reader), frames.map(({ type, body }) => ({ type, body })));
  assert.equal(await reader.read(), null);
}

Deno.test("FrameReader.read() decodes the same frames however the stream is cut", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(frameArbitrary, { maxLength: 8 }),
      fc.array(cutArbitrary, { maxLength: 40 }),
      deliveryArbitrary,
      async (frames, cuts, delivery) => {
        const encoded = frames.map(({ type, body }) => encodeFrame(type, body));
        const bytes = concat(encoded);
        await assertDecodes(frames, cutAt(bytes, cutPoints(encoded, cuts)), delivery);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("FrameReader.read() decodes frames delivered one byte per chunk", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(frameArbitrary, { maxLength: 3 }),
      deliveryArbitrary,
      async (frames, delivery) => {
        const bytes = concat(frames.map(({ type, body }) => encodeFrame(type, body)));
        await assertDecodes(frames, Array.from(bytes, (byte) => new Uint8Array([byte])), delivery);
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("FrameReader.read() decodes many frames delivered in a single chunk", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(frameArbitrary, { minLength: 1, maxLength: 12 }),
      deliveryArbitrary,
      async (frames, delivery) => {
        const bytes = concat(frames.map(({ type, body }) => encodeFrame(type, body)));
        await assertDecodes(frames, [bytes], delivery);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("FrameReader.read() decodes bodies larger than the read-ahead buffer however the stream is cut", async () => {
  const bigFrame = fc.record({
    type: fc.constant(FrameType.Stdout),
    body: fc.oneof(largeBody(250_000, 600_000), fc.uint8Array({ maxLength: 20 })),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(bigFrame, { minLength: 1, maxLength: 4 }),
      fc.array(cutArbitrary, { maxLength: 20 }),
      deliveryArbitrary,
      fc.constantFrom(undefined, 4096, 256 * 1024),
      async (frames, cuts, delivery, maxReadAhead) => {
        const encoded = frames.map(({ type, body }) => encodeFrame(type, body));
        const pieces = cutAt(concat(encoded), cutPoints(encoded, cuts));
        const reader = new FrameReader(byteStream(pieces, delivery), {
          maxFrameSize: 1 << 20,
          maxReadAhead,
        });
        for (const [i, { type, body }] of frames.entries()) {
          // Borrowed or owned, a body larger than the read-ahead is whole.
          const frame = i % 2 === 0 ? await reader.read() : await reader.readBorrowed();
          assert.equal(frame?.type, type);
          assert.deepEqual(frame?.body, body);
        }
        assert.equal(await reader.read(), null);
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("FrameReader.readBorrowed() gives the same frames as read(), each body valid until the next read", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(frameArbitrary, { maxLength: 8 }),
      fc.array(cutArbitrary, { maxLength: 20 }),
      deliveryArbitrary,
      async (frames, cuts, delivery) => {
        const encoded = frames.map(({ type, body }) => encodeFrame(type, body));
        const pieces = cutAt(concat(encoded), cutPoints(encoded, cuts));
        const reader = new FrameReader(byteStream(pieces, delivery), {
          maxFrameSize: MAX_FRAME_SIZE,
        });
        for (const { type, body } of frames) {
          const frame = await reader.readBorrowed();
          assert.equal(frame?.type, type);
          assert.deepEqual(frame.body, body);
        }
        assert.equal(await reader.readBorrowed(), null);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("FrameReader.read(): a body handed out stays whole when the caller transfers its buffer", async () => {
  const first = new Uint8Array(1000).fill(1);
  const second = new Uint8Array(2000).fill(2);
  const stream = byteStream(
    [concat([encodeFrame(FrameType.Stdout, first), encodeFrame(FrameType.Stdout, second)])],
    "queued up front",
  );
  const reader = new FrameReader(stream, { maxFrameSize: 4096 });
  const one = await reader.read();
  assert.deepEqual(one?.body, first);
  // A byte stream's enqueue does this to every chunk it is given.
  one!.body.buffer.transfer();
  assert.deepEqual((await reader.read())?.body, second);
});

Deno.test("FrameReader.read(): a stream that ends between frames, or sends nothing, reads as null and stays null", async () => {
  for (const delivery of ["queued up front", "one per pull", "read into the buffer"] as const) {
    const empty = new FrameReader(byteStream([], delivery), { maxFrameSize: 1024 });
    assert.equal(await empty.read(), null);
    assert.equal(await empty.read(), null);
    const one = new FrameReader(byteStream([encodeFrame(FrameType.Pong)], delivery), {
      maxFrameSize: 1024,
    });
    assert.deepEqual(await one.read(), { type: FrameType.Pong, body: new Uint8Array(0) });
    assert.equal(await one.read(), null);
    assert.equal(await one.read(), null);
  }
});

Deno.test("FrameReader.read() accepts a body of exactly maxFrameSize bytes", async () => {
  const body = new Uint8Array(1024).fill(7);
  const reader = new FrameReader(byteStream([encodeFrame(FrameType.Stdin, body)], "one per pull"), {
    maxFrameSize: 1024,
  });
  assert.deepEqual(await reader.read(), { type: FrameType.Stdin, body });
});

Deno.test("FrameReader.read() rejects a frame over the limit from its header alone, while the body never comes", async () => {
  const header = new Uint8Array([0xff, 0xff, 0xff, 0xff, FrameType.Stdout]);
  const afterHeader = new Uint8Array([1, 2, 3]);
  const neverEnds = byteStream([concat([header, afterHeader])], "queued up front", "stay open");
  const reader = new FrameReader(neverEnds, { maxFrameSize: 1024 });
  await assert.rejects(reader.read(), (error: Error) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.length, 0xffff_ffff);
    assert.equal(error.limit, 1024);
    assert.equal(error.code, "frame_too_large");
    return true;
  });
});

Deno.test("FrameReader.maxFrameSize can be raised between reads", async () => {
  const big = encodeFrame(FrameType.Stdout, new Uint8Array(5000));
  const pieces = [encodeFrame(FrameType.Ping), big];
  const reader = new FrameReader(byteStream(pieces, "one per pull"), { maxFrameSize: 4096 });
  assert.equal((await reader.read())?.type, FrameType.Ping);
  reader.maxFrameSize = 8192;
  assert.equal((await reader.read())?.body.length, 5000);
});

Deno.test("FrameReader.read(): a stream cut inside a header or a body is a TruncatedFrameError saying how much arrived", async () => {
  const ping = encodeFrame(FrameType.Ping);
  const frame = encodeFrame(FrameType.Stdout, new Uint8Array(100).fill(9));
  const cuts = [
    1,
    2,
    HEADER_SIZE - 1,
    HEADER_SIZE,
    HEADER_SIZE + 1,
    HEADER_SIZE + 50,
    frame.length - 1,
  ];
  for (const delivery of ["queued up front", "one per pull", "read into the buffer"] as const) {
    for (const cut of cuts) {
      const pieces = cutAt(concat([ping, frame.subarray(0, cut)]), [ping.length + 1]);
      const reader = new FrameReader(byteStream(pieces, delivery), { maxFrameSize: 1024 });
      assert.equal((await reader.read())?.type, FrameType.Ping);
      const expected = cut < HEADER_SIZE ? HEADER_SIZE : frame.length;
      await assert.rejects(reader.read(), (error: Error) => {
        assert.ok(error instanceof TruncatedFrameError, `${delivery}, cut at ${cut}`);
        assert.equal(error.code, "truncated_frame");
        assert.equal(
          error.message,
          `connection closed in the middle of a frame (${cut} of ${expected} bytes received)`,
        );
        return true;
      });
    }
  }
});

Deno.test("FrameReader.read(): an error from the stream reaches the reader unchanged, wherever it happens", async () => {
  const frame = encodeFrame(FrameType.Stderr, new Uint8Array([1, 2, 3, 4]));
  for (const delivery of ["one per pull", "read into the buffer"] as const) {
    for (const sent of [0, 2, HEADER_SIZE, HEADER_SIZE + 2, frame.length]) {
      const failure = new Error("connection reset");
      const pieces = cutAt(frame.subarray(0, sent), [1]);
      const reader = new FrameReader(byteStream(pieces, delivery, { error: failure }), {
        maxFrameSize: 1024,
      });
      if (sent === frame.length) {
        assert.deepEqual(await reader.read(), {
          type: FrameType.Stderr,
          body: frame.subarray(HEADER_SIZE),
        });
      }
      await assert.rejects(reader.read(), (error) => error === failure, `after ${sent} bytes`);
    }
  }
});

Deno.test("FrameReader.frameBuffered says whether the next frame is read ahead whole", async () => {
  const small = encodeFrame(FrameType.Stdout, new Uint8Array(10));
  const other = encodeFrame(FrameType.Stderr, new Uint8Array(20));
  // The second read brings the rest of `other` and the first byte of a third frame.
  const pieces = [
    concat([small, other.subarray(0, 3)]),
    concat([other.subarray(3), small.subarray(0, 1)]),
  ];
  const reader = new FrameReader(byteStream(pieces, "read into the buffer", "stay open"), {
    maxFrameSize: 1024,
  });
  assert.equal(reader.frameBuffered, false, "nothing read yet");
  assert.equal((await reader.read())?.type, FrameType.Stdout);
  assert.equal(reader.frameBuffered, false, "only the start of the next header is here");
  assert.equal((await reader.read())?.type, FrameType.Stderr);
  assert.equal(reader.frameBuffered, false, "one byte of a header");
  const whole = new FrameReader(byteStream([concat([small, other])], "read into the buffer"), {
    maxFrameSize: 1024,
  });
  await whole.read();
  assert.equal(whole.frameBuffered, true);
  await whole.read();
  assert.equal(whole.frameBuffered, false);
});

Deno.test("FrameReader.lastHeader holds the raw first bytes of a frame that could not be decoded", async () => {
  const http = new TextEncoder().encode("GET / HTTP/1.1\r\n");
  const reader = new FrameReader(byteStream([http], "one per pull"), { maxFrameSize: 1024 });
  await assert.rejects(reader.read(), ProtocolError);
  assert.equal(new TextDecoder().decode(reader.lastHeader), "GET /");
});

Deno.test("FrameReader.read(): after a failed read, later reads fail with the same error instead of misreading", async () => {
  const failure = new Error("connection reset");
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    type: "bytes",
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(new Uint8Array([0, 0]));
      else controller.error(failure);
    },
  });
  const reader = new FrameReader(stream, { maxFrameSize: 1024 });
  await assert.rejects(reader.read(), (error) => error === failure);
  await assert.rejects(reader.read(), (error) => error === failure);
});
