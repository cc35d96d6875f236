/**
 * Writes frames to a byte sink, one whole frame at a time, in the order they
 * were asked for, however many tasks write at once. Each write resolves only
 * once the sink has taken every byte, which is what carries backpressure
 * from a slow peer back to whoever produces the data.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { encodeFrame, encodeHeader, type FrameType, HEADER_SIZE } from "../protocol/frame.ts";

/**
 * Where frame bytes go: anything with a `write` that, like `Deno.Conn`,
 * may take fewer bytes than it was given and says how many it took.
 */
export interface ByteSink {
  /** Writes some prefix of `bytes`; resolves with its length. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Bodies up to this size are copied behind their header and written in one
 * call; larger ones are written in place after the header, saving the copy.
 */
const COALESCE_LIMIT = 16 * 1024;

/**
 * Writes all of `bytes` to `sink`, looping over short writes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAll } from "./frame_writer.ts";
 *
 * // A sink that takes one byte per call, as a busy socket may.
 * const chunks: number[][] = [];
 * const sink = {
 *   write: (bytes: Uint8Array) => {
 *     chunks.push([bytes[0]]);
 *     return Promise.resolve(1);
 *   },
 * };
 * await writeAll(sink, new Uint8Array([1, 2, 3]));
 * assert.deepEqual(chunks, [[1], [2], [3]]);
 * ```
 */
export async function writeAll(sink: ByteSink, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await sink.write(bytes.subarray(offset));
  }
}

/**
 * Serialises frame writes to one sink.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameType } from "../protocol/frame.ts";
 * import { FrameWriter } from "./frame_writer.ts";
 *
 * // A sink that takes at most 3 bytes per call: frames written at once
 * // still arrive whole and in the order they were asked for.
 * const written: number[] = [];
 * const sink = {
 *   write: (bytes: Uint8Array) => {
 *     written.push(...bytes.subarray(0, 3));
 *     return Promise.resolve(Math.min(bytes.length, 3));
 *   },
 * };
 * const writer = new FrameWriter(sink);
 * await Promise.all([
 *   writer.write(FrameType.Stdout, new Uint8Array([104, 105])),
 *   writer.write(FrameType.Ping),
 * ]);
 * assert.deepEqual(written, [0, 0, 0, 2, FrameType.Stdout, 104, 105, 0, 0, 0, 0, FrameType.Ping]);
 * assert.equal(writer.bytesWritten, 12);
 * ```
 */
export class FrameWriter {
  readonly #sink: ByteSink;
  #tail: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  #bytesWritten = 0;

  /** Writes frames to `sink`. */
  constructor(sink: ByteSink) {
    this.#sink = sink;
  }

  /** Bytes handed to the sink so far, headers included. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /**
   * Queues a frame and resolves once the sink has taken all of it. After the
   * sink fails once, every later write rejects with that first error.
   */
  write(type: FrameType, body: Uint8Array = new Uint8Array(0)): Promise<void> {
    return this.#enqueue(async () => {
      if (body.length <= COALESCE_LIMIT) {
        await this.#writeAll(encodeFrame(type, body));
        return;
      }
      const header = new Uint8Array(HEADER_SIZE);
      encodeHeader(header, type, body.length);
      await this.#writeAll(header);
      await this.#writeAll(body);
    });
  }

  /**
   * Queues a frame whose header the caller already encoded into the first
   * {@link HEADER_SIZE} bytes of `frame`, behind a body read in place: the
   * zero-copy path for bulk data.
   */
  writeEncoded(frame: Uint8Array): Promise<void> {
    return this.#enqueue(() => this.#writeAll(frame));
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(() => {
      if (this.#failure) throw this.#failure.error;
      return task();
    });
    this.#tail = run.catch((error) => {
      this.#failure ??= { error };
    });
    return run;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    await writeAll(this.#sink, bytes);
    this.#bytesWritten += bytes.length;
  }
}
