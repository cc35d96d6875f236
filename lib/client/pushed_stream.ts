/**
 * A command's output on the client: bytes pushed by the connection's reader,
 * taken by one consumer, with backpressure both ways. The producer copies
 * each frame body in and waits while the queue is at its high-water mark, so
 * a consumer that stops reading stops the producer too, and memory stays
 * bounded.
 *
 * Queued bytes lie in one contiguous buffer, so that a consumer can take all
 * of them at once (and write them out in one call, however many frames they
 * came in), and reach the consumer when the producer says a burst has ended
 * ({@link PushedByteStream.flush}), when the queue is full, or at the end.
 * The consumer is either {@link PushedByteStream.take}, which costs no
 * stream machinery, or the {@link PushedByteStream.readable} stream, made on
 * first use.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { concatBytes } from "../util/bytes.ts";

/** The queue's first buffer; it grows while bytes pile up. */
const INITIAL_CAPACITY = 16 * 1024;

const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);

/** Most bytes a default (not BYOB) read of {@link PushedByteStream.readable} returns. */
const STREAM_CHUNK = 64 * 1024;

/**
 * A byte queue with a backpressure-aware push side and a single consumer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PushedByteStream } from "./pushed_stream.ts";
 *
 * const output = new PushedByteStream({ highWaterMark: 1024 });
 * await output.pushCopy(new TextEncoder().encode("h"));
 * await output.pushCopy(new TextEncoder().encode("i"));
 * output.flush();
 * assert.equal(new TextDecoder().decode((await output.take())!), "hi");
 * output.close();
 * assert.equal(await output.take(), null);
 * ```
 */
export class PushedByteStream {
  readonly #highWaterMark: number;
  /** Queued bytes are `#buffer[#start, #end)`. */
  #buffer = EMPTY;
  #start = 0;
  #end = 0;
  /** The buffer last handed out by take(), free again once the consumer comes back. */
  #lent: Uint8Array<ArrayBuffer> | undefined;
  /** A free buffer for the queue to move into when it needs a new one. */
  #spare: Uint8Array<ArrayBuffer> | undefined;
  /** Whether queued bytes may be handed to the consumer. */
  #flushed = false;
  /** No more bytes will come: closed, failed, or cancelled by the consumer. */
  #ended = false;
  #cancelled = false;
  /** Why the stream failed, reported once the bytes queued before it are read. */
  #failure: { reason: unknown } | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #takeInUse = false;
  /** Wakes a producer waiting for room. */
  #room: PromiseWithResolvers<void> | undefined;
  /** Wakes a consumer waiting for bytes or the end. */
  #data: PromiseWithResolvers<void> | undefined;
  /** Resolves when a consumer that took bytes comes back for more. */
  #returned: PromiseWithResolvers<void> | undefined;

  /** Creates the queue; `highWaterMark` is in bytes. */
  constructor(options: { highWaterMark: number }) {
    this.#highWaterMark = options.highWaterMark;
  }

  /** Whether the consumer cancelled or the stream was closed or failed. */
  get done(): boolean {
    return this.#ended;
  }

  /** Bytes queued and not yet taken. */
  get queued(): number {
    return this.#end - this.#start;
  }

  /**
   * Copies `bytes` into the queue (the caller keeps them) and resolves once
   * there is room for more. After the consumer cancelled, bytes are dropped.
   */
  async pushCopy(bytes: Uint8Array): Promise<void> {
    if (this.#ended) return;
    if (bytes.length > 0) {
      this.#makeRoom(bytes.length);
      this.#buffer.set(bytes, this.#end);
      this.#end += bytes.length;
    }
    while (!this.#ended && this.queued >= this.#highWaterMark) {
      // Full: what is queued goes to the consumer now, burst or not.
      this.flush();
      this.#room ??= Promise.withResolvers<void>();
      await this.#room.promise;
    }
  }

  /** Hands what is queued to a consumer that waits; the producer calls it when a burst ends. */
  flush(): void {
    if (this.queued === 0) return;
    this.#flushed = true;
    this.#wakeConsumer();
  }

  /** Ends the stream once the consumer has taken what is queued. */
  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#flushed = true;
    this.#wakeConsumer();
    this.#wakeProducer();
  }

  /**
   * Fails the stream: once the consumer has taken what is already queued
   * (bytes that did arrive), it gets `reason`.
   */
  error(reason: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#flushed = true;
    this.#failure = { reason };
    this.#wakeConsumer();
    this.#wakeProducer();
  }

  /**
   * Resolves once the consumer is done with what it took last, coming back
   * for more or giving up; at once when it holds nothing taken. A producer
   * that waits for this before fetching more lets bytes pile up where they
   * come from meanwhile (a socket's buffer), to be read in fewer, larger
   * pieces, as a plain copy loop would; a consumer that never started
   * holds nothing, and is not waited for.
   */
  async returned(): Promise<void> {
    await this.#returned?.promise;
  }

  /** The consumer gives up: queued bytes are dropped, and so is everything pushed later. */
  cancel(): void {
    this.#markReturned();
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#ended = true;
    this.#failure = undefined;
    this.#start = this.#end = 0;
    this.#wakeConsumer();
    this.#wakeProducer();
  }

  /**
   * Waits for flushed bytes and takes all of them: a view that stays valid
   * until the next call.
   *
   * @returns the bytes, or `null` once the stream has ended and all was taken.
   * @throws the stream's error, once everything queued before it was taken.
   * @throws {TypeError} when {@link readable} is the consumer.
   */
  async take(): Promise<Uint8Array | null> {
    if (this.#readable) throw new TypeError("the output is being read as a stream");
    this.#takeInUse = true;
    // Coming back means the consumer is done with what it took last time.
    if (this.#lent && this.#lent.length > (this.#spare?.length ?? 0)) this.#spare = this.#lent;
    this.#lent = undefined;
    this.#markReturned();
    await this.#ready();
    if (this.queued === 0) return this.#finish();
    const taken = this.#buffer.subarray(this.#start, this.#end);
    this.#lent = this.#buffer;
    this.#buffer = this.#spare ?? EMPTY;
    this.#spare = undefined;
    this.#start = this.#end = 0;
    this.#flushed = false;
    this.#returned = Promise.withResolvers<void>();
    this.#wakeProducer();
    return taken;
  }

  /**
   * Everything to the end, in one array: through {@link take}, or through
   * {@link readable} once that was made.
   *
   * @throws the stream's error.
   */
  async readAll(): Promise<Uint8Array> {
    if (this.#readable) return await new Response(this.#readable).bytes();
    const parts: Uint8Array[] = [];
    for (let bytes = await this.take(); bytes !== null; bytes = await this.take()) {
      // A taken view is lent only until the next take.
      parts.push(bytes.slice());
    }
    return concatBytes(parts);
  }

  /**
   * The bytes as a readable byte stream, made on first use; a BYOB read gets
   * them copied straight into its buffer.
   *
   * @throws {TypeError} when {@link take} is the consumer.
   */
  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable) return this.#readable;
    if (this.#takeInUse) throw new TypeError("the output is being read with take()");
    this.#readable = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: STREAM_CHUNK,
      pull: async (controller) => {
        await this.#ready();
        const request = controller.byobRequest;
        if (this.queued === 0) {
          const ended = this.#failure;
          this.#failure = undefined;
          if (ended) {
            controller.error(ended.reason);
          } else {
            controller.close();
            // A BYOB read waiting on an empty queue completes only when answered.
            request?.respond(0);
          }
          return;
        }
        const view = request!.view!;
        const count = Math.min(view.byteLength, this.queued);
        new Uint8Array(view.buffer, view.byteOffset, count).set(
          this.#buffer.subarray(this.#start, this.#start + count),
        );
        this.#start += count;
        if (this.queued === 0) {
          this.#start = this.#end = 0;
          this.#flushed = this.#ended;
        }
        request!.respond(count);
        this.#wakeProducer();
      },
      cancel: () => this.cancel(),
    }, { highWaterMark: 0 });
    return this.#readable;
  }

  /** Resolves once there are flushed bytes to take, or the stream has ended. */
  async #ready(): Promise<void> {
    while (!(this.#flushed && this.queued > 0) && !this.#ended) {
      this.#data ??= Promise.withResolvers<void>();
      await this.#data.promise;
    }
  }

  /** What take() returns once everything was taken: null, or the failure. */
  #finish(): null {
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure) throw failure.reason;
    return null;
  }

  /** Room for `count` more bytes at the end of the queue. */
  #makeRoom(count: number): void {
    const queued = this.queued;
    if (this.#end + count <= this.#buffer.length) return;
    if (queued + count <= this.#buffer.length) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    } else {
      const spare = this.#spare;
      const next = spare && spare.length >= queued + count
        ? spare
        : new Uint8Array(Math.max(INITIAL_CAPACITY, 2 * this.#buffer.length, queued + count));
      if (next === spare) this.#spare = undefined;
      next.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = next;
    }
    this.#start = 0;
    this.#end = queued;
  }

  #markReturned(): void {
    this.#returned?.resolve();
    this.#returned = undefined;
  }

  #wakeConsumer(): void {
    this.#data?.resolve();
    this.#data = undefined;
  }

  #wakeProducer(): void {
    this.#room?.resolve();
    this.#room = undefined;
  }
}
