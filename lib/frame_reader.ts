/**
 * Reads frames from a byte stream with a BYOB reader: the header into a
 * reused 5-byte buffer, the body straight into a buffer of exactly its
 * length, allocated only after the length has been checked against the
 * limit. Correct however the stream is cut: a frame may arrive one byte at a
 * time, or many frames in one chunk.
 *
 * @module
 */

import { TruncatedFrameError } from "./errors.ts";
import { decodeHeader, type Frame, HEADER_SIZE } from "./frame.ts";

/** Options for {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Largest body accepted; a longer announced length is refused unread. */
  maxFrameSize: number;
}

/**
 * Reads frames from a readable byte stream, such as `Deno.Conn.readable`.
 *
 * @example Reading frames from bytes that arrive cut anywhere
 * ```ts
 * import { encodeFrame, FrameType } from "./frame.ts";
 * import { FrameReader } from "./frame_reader.ts";
 *
 * const bytes = encodeFrame(FrameType.Stdout, new TextEncoder().encode("hi"));
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   start(controller) {
 *     for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
 *     controller.close();
 *   },
 * });
 * const reader = new FrameReader(stream, { maxFrameSize: 1024 });
 * const frame = await reader.read();
 * console.assert(frame?.type === FrameType.Stdout && frame.body.length === 2);
 * console.assert((await reader.read()) === null);
 * ```
 */
export class FrameReader {
  /** Largest body accepted; may be raised once the peer is authenticated. */
  maxFrameSize: number;
  readonly #reader: ReadableStreamBYOBReader;
  #header: Uint8Array = new Uint8Array(HEADER_SIZE);
  #failure: { error: unknown } | undefined;

  /** Locks `readable` and reads frames from it. */
  constructor(
    readable: ReadableStream<Uint8Array>,
    options: FrameReaderOptions,
  ) {
    this.#reader = readable.getReader({ mode: "byob" });
    this.maxFrameSize = options.maxFrameSize;
  }

  /**
   * The raw bytes of the last header read, valid or not: lets a server name
   * the protocol a foreign peer speaks.
   */
  get lastHeader(): Uint8Array {
    return this.#header;
  }

  /**
   * Reads the next frame.
   *
   * @returns the frame, or `null` when the stream ended cleanly between frames.
   * @throws {FrameTooLargeError} when the header announces too long a body.
   * @throws {ProtocolError} when the header names an unknown frame type.
   * @throws {TruncatedFrameError} when the stream ends inside a frame.
   */
  async read(): Promise<Frame | null> {
    if (this.#failure) throw this.#failure.error;
    try {
      return await this.#readFrame();
    } catch (error) {
      // A failed read may leave a frame half consumed: the stream is no
      // longer at a frame boundary, so every later read fails the same way.
      this.#failure = { error };
      throw error;
    }
  }

  async #readFrame(): Promise<Frame | null> {
    const header = await this.#fill(this.#header);
    this.#header = header.bytes;
    if (header.filled === 0) return null;
    if (header.filled < HEADER_SIZE) {
      throw new TruncatedFrameError(header.filled, HEADER_SIZE);
    }
    const { type, length } = decodeHeader(this.#header, this.maxFrameSize);
    if (length === 0) return { type, body: new Uint8Array(0) };
    const body = await this.#fill(new Uint8Array(length));
    if (body.filled < length) {
      throw new TruncatedFrameError(HEADER_SIZE + body.filled, HEADER_SIZE + length);
    }
    return { type, body: body.bytes };
  }

  /** Releases the stream so that it can be cancelled or read by others. */
  releaseLock(): void {
    this.#reader.releaseLock();
  }

  /**
   * Fills `target` from the stream. A BYOB read hands back the buffer it was
   * given in a new view and may fill less than asked, so the loop follows
   * the buffer from read to read.
   */
  async #fill(
    target: Uint8Array,
  ): Promise<{ bytes: Uint8Array; filled: number }> {
    const { byteOffset, byteLength } = target;
    let buffer = target.buffer as ArrayBuffer;
    let filled = 0;
    while (filled < byteLength) {
      const { value, done } = await this.#reader.read(
        new Uint8Array(buffer, byteOffset + filled, byteLength - filled),
      );
      if (value === undefined) break;
      buffer = value.buffer as ArrayBuffer;
      filled += value.byteLength;
      if (done) break;
    }
    return { bytes: new Uint8Array(buffer, byteOffset, byteLength), filled };
  }
}
