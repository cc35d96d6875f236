/**
 * Writes frames to a byte sink, one whole frame at a time, in the order they
 * were asked for, however many tasks write at once. Each write resolves only
 * once the sink has taken every byte, which is what carries backpressure
 * from a slow peer back to whoever produces the data.
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
 * import { writeAll } from "./frame_writer.ts";
 *
 * const chunks: Uint8Array[] = [];
 * const sink = { write: (bytes: Uint8Array) => {
 *   chunks.push(bytes.slice(0, 1));
 *   return Promise.resolve(1);
 * } };
 * await writeAll(sink, new Uint8Array([1, 2, 3]));
 * console.assert(chunks.length === 3);
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
 * import { FrameType } from "../protocol/frame.ts";
 * import { FrameWriter } from "./frame_writer.ts";
 *
 * const written: number[] = [];
 * const sink = { write: (bytes: Uint8Array) => {
 *   written.push(...bytes);
 *   return Promise.resolve(bytes.length);
 * } };
 * const writer = new FrameWriter(sink);
 * await writer.write(FrameType.Ping);
 * console.assert(written.length === 5);
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
