/**
 * Reads frames from a byte source: a readable byte stream (read with a BYOB
 * reader), or anything with a `read(buffer)` like `Deno.Conn`, read straight
 * into the reader's own buffer with no stream machinery in between. Bytes
 * are read ahead into one reused buffer, as much as the source has ready
 * (never waiting for more than the current frame needs), so that a run of
 * output frames costs one read per few frames rather than two or three per
 * frame. The buffer starts at 4 KiB and grows (to 64 KiB by default) only
 * while the source keeps filling it; it does not shrink back, so a
 * connection costs at most its read-ahead limit. A body is copied out of
 * that buffer into one of exactly its length, allocated only after the
 * length has been checked against the limit (or lent as a view, with
 * {@link FrameReader.readBorrowed}); a body larger than the buffer is read
 * straight into its own. Correct however the source is cut: a frame may
 * arrive one byte at a time, or many frames in one chunk.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { TruncatedFrameError } from "../errors.ts";
import { decodeHeader, type Frame, HEADER_SIZE } from "../protocol/frame.ts";

/**
 * A source read into the caller's buffer, like `Deno.Conn`: `read` fills a
 * prefix of `buffer` and resolves with how many bytes it took, or with
 * `null` at the end of the stream.
 */
export interface ByteReader {
  /** Reads into `buffer`; resolves with the count, or `null` at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Options for {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Largest body accepted; a longer announced length is refused unread. */
  maxFrameSize: number;
  /**
   * Most bytes read ahead while the stream is busy; default 64 KiB. More
   * means fewer reads of a fast stream, and as much more memory held for
   * as long as the reader lives.
   */
  maxReadAhead?: number;
}

/**
 * Default most bytes read ahead: modest, because a server holds one reader
 * per session; a client reading a fast output stream asks for more.
 */
const DEFAULT_MAX_READ_AHEAD = 64 * 1024;

/** The read-ahead buffer of a connection that has not been busy yet. */
const INITIAL_READ_AHEAD = 4 * 1024;

/**
 * Reads frames from a byte source: a `Deno.Conn` (or anything with its
 * `read`), or a readable byte stream such as `Deno.Conn.readable`.
 *
 * @example Reading frames from bytes that arrive cut anywhere
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameType } from "../protocol/frame.ts";
 * import { FrameReader } from "./frame_reader.ts";
 *
 * const bytes = new Uint8Array([
 *   ...encodeFrame(FrameType.Stdout, new TextEncoder().encode("hi")),
 *   ...encodeFrame(FrameType.Ping),
 * ]);
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   start(controller) {
 *     for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
 *     controller.close();
 *   },
 * });
 * const reader = new FrameReader(stream, { maxFrameSize: 1024 });
 * const frame = await reader.read();
 * assert.equal(frame?.type, FrameType.Stdout);
 * assert.equal(new TextDecoder().decode(frame.body), "hi");
 * assert.deepEqual(await reader.read(), { type: FrameType.Ping, body: new Uint8Array(0) });
 * assert.equal(await reader.read(), null);
 * ```
 */
export class FrameReader {
  /** Largest body accepted; may be raised once the peer is authenticated. */
  maxFrameSize: number;
  readonly #fill: (view: Uint8Array) => Promise<ReadableStreamReadResult<Uint8Array>>;
  readonly #maxReadAhead: number;
  readonly #header = new Uint8Array(HEADER_SIZE);
  /** Read-ahead bytes not yet taken are `#buffer[#start, #end)`. */
  #buffer = new ArrayBuffer(INITIAL_READ_AHEAD);
  #start = 0;
  #end = 0;
  /** Whether the last read filled all the room it was given: the stream is busy. */
  #filledRoom = false;
  #ended = false;
  #failure: { error: unknown } | undefined;

  /** Reads frames from `source`; a stream is locked for good. */
  constructor(
    source: ByteReader | ReadableStream<Uint8Array>,
    options: FrameReaderOptions,
  ) {
    // Told apart by `read` rather than instanceof: naming ReadableStream
    // loads the streams machinery, which a client reading a Deno.Conn avoids.
    this.#fill = isByteReader(source) ? directFill(source) : byobFill(source);
    this.maxFrameSize = options.maxFrameSize;
    this.#maxReadAhead = Math.max(
      options.maxReadAhead ?? DEFAULT_MAX_READ_AHEAD,
      INITIAL_READ_AHEAD,
    );
  }

  /**
   * The raw bytes of the last header read, valid or not: lets a server name
   * the protocol a foreign peer speaks.
   */
  get lastHeader(): Uint8Array {
    return this.#header;
  }

  /**
   * Whether the next frame is already read ahead whole, so that reading it
   * will not wait on the source: a caller that batches work per burst of
   * frames flushes when this turns false.
   */
  get frameBuffered(): boolean {
    const available = this.#end - this.#start;
    if (this.#failure || available < HEADER_SIZE) return false;
    const length = new DataView(this.#buffer, this.#start, HEADER_SIZE).getUint32(0);
    return available - HEADER_SIZE >= length;
  }

  /**
   * Reads the next frame.
   *
   * @returns the frame, or `null` when the stream ended cleanly between frames.
   * @throws {FrameTooLargeError} when the header announces too long a body.
   * @throws {ProtocolError} when the header names an unknown frame type.
   * @throws {TruncatedFrameError} when the stream ends inside a frame.
   */
  read(): Promise<Frame | null> {
    return this.#guarded(false);
  }

  /**
   * Reads the next frame like {@link read}, but its body may be a view into
   * the reader's own buffer: valid only until the next read, and never to
   * be transferred (as `ReadableByteStreamController.enqueue` would). Saves
   * a copy for a caller that copies the body anyway.
   */
  readBorrowed(): Promise<Frame | null> {
    return this.#guarded(true);
  }

  async #guarded(borrow: boolean): Promise<Frame | null> {
    if (this.#failure) throw this.#failure.error;
    try {
      return await this.#readFrame(borrow);
    } catch (error) {
      // A failed read may leave a frame half consumed: the stream is no
      // longer at a frame boundary, so every later read fails the same way.
      this.#failure = { error };
      throw error;
    }
  }

  async #readFrame(borrow: boolean): Promise<Frame | null> {
    const headerReady = await this.#readAhead(HEADER_SIZE);
    const headerBytes = Math.min(this.#end - this.#start, HEADER_SIZE);
    this.#header.fill(0).set(this.#take(headerBytes));
    if (!headerReady) {
      if (headerBytes === 0) return null;
      throw new TruncatedFrameError(headerBytes, HEADER_SIZE);
    }
    const { type, length } = decodeHeader(this.#header, this.maxFrameSize);
    if (length === 0) return { type, body: new Uint8Array(0) };
    if (length <= this.#maxReadAhead) {
      const bodyReady = await this.#readAhead(length);
      const view = this.#take(Math.min(this.#end - this.#start, length));
      const body = borrow ? view : view.slice();
      if (!bodyReady) {
        throw new TruncatedFrameError(HEADER_SIZE + body.length, HEADER_SIZE + length);
      }
      return { type, body };
    }
    const body = new Uint8Array(length);
    const buffered = this.#take(Math.min(this.#end - this.#start, length));
    body.set(buffered);
    const rest = await this.#readInto(body.subarray(buffered.length));
    if (rest.filled < rest.bytes.length) {
      throw new TruncatedFrameError(
        HEADER_SIZE + buffered.length + rest.filled,
        HEADER_SIZE + length,
      );
    }
    return { type, body: new Uint8Array(rest.bytes.buffer as ArrayBuffer) };
  }

  /** The next `count` read-ahead bytes, consumed; a view into the shared buffer. */
  #take(count: number): Uint8Array {
    const bytes = new Uint8Array(this.#buffer, this.#start, count);
    this.#start += count;
    return bytes;
  }

  /**
   * Reads until at least `count` (at most the read-ahead maximum) bytes are
   * buffered, taking whatever else the stream has ready in the same reads.
   *
   * @returns false when the stream ended first.
   */
  async #readAhead(count: number): Promise<boolean> {
    if (this.#end - this.#start >= count) return true;
    this.#makeRoom(count);
    while (this.#end - this.#start < count && !this.#ended) {
      const { value, done } = await this.#fill(
        new Uint8Array(this.#buffer, this.#end, this.#buffer.byteLength - this.#end),
      );
      if (value === undefined) {
        // Cancelled: the buffer went with the stream.
        this.#ended = true;
        this.#buffer = new ArrayBuffer(INITIAL_READ_AHEAD);
        this.#start = this.#end = 0;
        break;
      }
      this.#buffer = value.buffer as ArrayBuffer;
      this.#filledRoom = this.#end + value.byteLength === this.#buffer.byteLength;
      this.#end += value.byteLength;
      if (done) this.#ended = true;
    }
    return this.#end - this.#start >= count;
  }

  /**
   * Makes room for `count` unread bytes: a bigger buffer when the stream has
   * been filling this one or it is too small, else the unread bytes moved
   * to the front.
   */
  #makeRoom(count: number): void {
    const unread = this.#end - this.#start;
    const size = this.#buffer.byteLength;
    const wanted = Math.max(
      count,
      this.#filledRoom ? Math.min(2 * size, this.#maxReadAhead) : size,
    );
    if (wanted > size) {
      const bigger = new Uint8Array(wanted);
      bigger.set(new Uint8Array(this.#buffer, this.#start, unread));
      this.#buffer = bigger.buffer;
    } else if (size - this.#start < count || this.#start === this.#end) {
      new Uint8Array(this.#buffer).copyWithin(0, this.#start, this.#end);
    } else {
      return;
    }
    this.#start = 0;
    this.#end = unread;
  }

  /**
   * Fills `target` straight from the source. A BYOB read hands back the
   * buffer it was given in a new view and may fill less than asked, so the
   * loop follows the buffer from read to read.
   */
  async #readInto(
    target: Uint8Array,
  ): Promise<{ bytes: Uint8Array; filled: number }> {
    const { byteOffset, byteLength } = target;
    let buffer = target.buffer as ArrayBuffer;
    let filled = 0;
    while (filled < byteLength && !this.#ended) {
      const { value, done } = await this.#fill(
        new Uint8Array(buffer, byteOffset + filled, byteLength - filled),
      );
      if (value === undefined) {
        this.#ended = true;
        break;
      }
      buffer = value.buffer as ArrayBuffer;
      filled += value.byteLength;
      if (done) this.#ended = true;
    }
    return { bytes: new Uint8Array(buffer, byteOffset, byteLength), filled };
  }
}

function isByteReader(source: ByteReader | ReadableStream<Uint8Array>): source is ByteReader {
  return typeof (source as Partial<ByteReader>).read === "function";
}

/**
 * Reads of a byte stream through a BYOB reader: the view's buffer is
 * transferred, and comes back in the result.
 */
function byobFill(
  stream: ReadableStream<Uint8Array>,
): (view: Uint8Array) => Promise<ReadableStreamReadResult<Uint8Array>> {
  const reader = stream.getReader({ mode: "byob" });
  return (view) => reader.read(view);
}

/**
 * Reads of a {@link ByteReader}, in the shape of a BYOB read's result: the
 * bytes land in the view itself, whose buffer stays where it was.
 */
function directFill(
  source: ByteReader,
): (view: Uint8Array) => Promise<ReadableStreamReadResult<Uint8Array>> {
  return async (view) => {
    const count = await source.read(view);
    return count === null
      ? { value: view.subarray(0, 0), done: true }
      : { value: view.subarray(0, count), done: false };
  };
}
