import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeFrame,
  encodeHeader,
  type Frame,
  FrameType,
  HEADER_SIZE,
} from "../lib/protocol/frame.ts";
import { FrameReader } from "../lib/transport/frame_reader.ts";
import { type ByteSink, FrameWriter, writeAll } from "../lib/transport/frame_writer.ts";
import { concat, largeBody } from "./helpers.ts";

/**
 * A sink that, like `Deno.Conn.write`, may take fewer bytes than offered: at
 * most `sizes[i]` on its i-th call, cycling through `sizes`. `settle` decides
 * when a call completes.
 */
class ShortWriteSink implements ByteSink {
  readonly offered: Uint8Array[] = [];
  readonly taken: Uint8Array[] = [];
  readonly #sizes: readonly number[];
  readonly #settle: (taken: number) => Promise<number>;

  constructor(
    sizes: readonly number[],
    settle: (taken: number) => Promise<number> = (taken) => Promise.resolve(taken),
  ) {
    this.#sizes = sizes;
    this.#settle = settle;
  }

  write(bytes: Uint8Array): Promise<number> {
    const size = this.#sizes[this.offered.length % this.#sizes.length];
    this.offered.push(bytes);
    const taken = Math.min(bytes.length, size);
    this.taken.push(bytes.slice(0, taken));
    return this.#settle(taken);
  }

  bytes(): Uint8Array {
    return concat(this.taken);
  }
}

async function decodeAll(bytes: Uint8Array): Promise<Frame[]> {
  const stream = new ReadableStream({
    type: "bytes",
    start(controller) {
      if (bytes.length > 0) controller.enqueue(bytes.slice());
      controller.close();
    },
  });
  const reader = new FrameReader(stream, { maxFrameSize: 1 << 20 });
  const frames: Frame[] = [];
  for (let frame = await reader.read(); frame !== null; frame = await reader.read()) {
    frames.push(frame);
  }
  return frames;
}

interface Op {
  readonly type: FrameType;
  readonly body: Uint8Array;
  readonly preEncoded: boolean;
}

const emptyBody = fc.constant(new Uint8Array(0));
const smallBody = fc.uint8Array({ minLength: 1, maxLength: 300 });

const opArbitrary = (withLargeBodies: boolean) =>
  fc.record({
    type: fc.constantFrom(...Object.values(FrameType)),
    body: withLargeBodies
      ? fc.oneof(
        { weight: 1, arbitrary: emptyBody },
        { weight: 3, arbitrary: smallBody },
        { weight: 2, arbitrary: largeBody(17_000, 40_000) },
      )
      : fc.oneof({ weight: 1, arbitrary: emptyBody }, { weight: 4, arbitrary: smallBody }),
    preEncoded: fc.boolean(),
  });

const sizesArbitrary = (max: number) =>
  fc.array(
    fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max })),
    { minLength: 1, maxLength: 10 },
  );

function send(writer: FrameWriter, { type, body, preEncoded }: Op): Promise<void> {
  return preEncoded ? writer.writeEncoded(encodeFrame(type, body)) : writer.write(type, body);
}

function framesOf(ops: readonly Op[]): Frame[] {
  return ops.map(({ type, body }) => ({ type, body }));
}

Deno.test("writeAll() hands the sink every byte, in order, however few it takes per write", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 5000 }),
      sizesArbitrary(700),
      async (data, sizes) => {
        const sink = new ShortWriteSink(sizes);
        await writeAll(sink, data);
        assert.deepEqual(sink.bytes(), data);
        let sent = 0;
        sink.offered.forEach((offered, i) => {
          assert.deepEqual(offered, data.subarray(sent), `call ${i} was not offered the rest`);
          sent += sink.taken[i].length;
        });
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("writeAll() of no bytes does not call the sink", async () => {
  const sink = new ShortWriteSink([1]);
  await writeAll(sink, new Uint8Array(0));
  assert.equal(sink.offered.length, 0);
});

Deno.test("FrameWriter.write(): the output decodes to the frames written, through short writes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArbitrary(true), { maxLength: 8 }),
      sizesArbitrary(70_000),
      async (ops, sizes) => {
        const sink = new ShortWriteSink(sizes);
        const writer = new FrameWriter(sink);
        for (const op of ops) await send(writer, op);
        const bytes = sink.bytes();
        assert.deepEqual(await decodeAll(bytes), framesOf(ops));
        assert.equal(writer.bytesWritten, bytes.length);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("FrameWriter.write(): concurrent writes from several tasks never interleave inside a frame", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(fc.array(opArbitrary(false), { maxLength: 5 }), { minLength: 2, maxLength: 4 }),
      sizesArbitrary(4000),
      async (s, tasks, sizes) => {
        const sink = new ShortWriteSink(sizes, (taken) => s.schedule(Promise.resolve(taken)));
        const writer = new FrameWriter(sink);
        const callOrder: Op[] = [];
        const running = tasks.map(async (ops) => {
          for (const op of ops) {
            await s.schedule(Promise.resolve());
            callOrder.push(op);
            await send(writer, op);
          }
        });
        await s.waitFor(Promise.all(running));
        assert.deepEqual(await decodeAll(sink.bytes()), framesOf(callOrder));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("FrameWriter.write(): writes issued together without waiting go out whole, in the order they were issued", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArbitrary(true), { maxLength: 10 }),
      sizesArbitrary(20_000),
      async (ops, sizes) => {
        const sink = new ShortWriteSink(sizes);
        const writer = new FrameWriter(sink);
        await Promise.all(ops.map((op) => send(writer, op)));
        assert.deepEqual(await decodeAll(sink.bytes()), framesOf(ops));
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("FrameWriter.write(): after the sink fails once, that write and every later one reject with the same error", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArbitrary(false), { minLength: 1, maxLength: 8 }),
      sizesArbitrary(400),
      fc.nat(),
      async (ops, sizes, failSeed) => {
        const dryRun = new ShortWriteSink(sizes);
        const dryWriter = new FrameWriter(dryRun);
        await Promise.all(ops.map((op) => send(dryWriter, op)));
        const failAt = failSeed % dryRun.offered.length;
        const failure = new Error("broken pipe");
        let calls = 0;
        const sink = new ShortWriteSink(
          sizes,
          (taken) => calls++ === failAt ? Promise.reject(failure) : Promise.resolve(taken),
        );
        const writer = new FrameWriter(sink);
        const outcomes = await Promise.allSettled(ops.map((op) => send(writer, op)));
        const later = await Promise.allSettled([
          writer.write(FrameType.Ping),
          writer.writeEncoded(encodeFrame(FrameType.Pong)),
        ]);
        const firstRejected = outcomes.findIndex(({ status }) => status === "rejected");
        assert.notEqual(firstRejected, -1);
        assert.ok(outcomes.slice(0, firstRejected).every(({ status }) => status === "fulfilled"));
        for (const outcome of [...outcomes.slice(firstRejected), ...later]) {
          assert.equal(outcome.status, "rejected");
          assert.equal((outcome as PromiseRejectedResult).reason, failure);
        }
        assert.equal(sink.offered.length, failAt + 1, "the sink was called after it failed");
        const delivered = concat(
          ops.slice(0, firstRejected).map((op) => encodeFrame(op.type, op.body)),
        );
        assert.deepEqual(sink.bytes().subarray(0, delivered.length), delivered);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("FrameWriter.writeEncoded() sends the caller's buffer, header filled in place, without copying it", async () => {
  const body = new TextEncoder().encode("bulk data read in place");
  const frame = new Uint8Array(HEADER_SIZE + body.length);
  frame.set(body, HEADER_SIZE);
  encodeHeader(frame, FrameType.Stdout, body.length);
  const sink = new ShortWriteSink([3, 1, 7]);
  const writer = new FrameWriter(sink);
  await writer.writeEncoded(frame);
  assert.deepEqual(await decodeAll(sink.bytes()), [{ type: FrameType.Stdout, body }]);
  assert.ok(sink.offered.length > 1);
  for (const offered of sink.offered) assert.equal(offered.buffer, frame.buffer);
  assert.equal(writer.bytesWritten, frame.length);
});
