/**
 * A readable byte stream fed by a producer that waits for the consumer:
 * {@link PushedByteStream.push} resolves only while the stream's queue is
 * below its high-water mark, so a consumer that stops reading stops the
 * producer too, and memory stays bounded.
 *
 * @module
 */

/**
 * A `ReadableStream<Uint8Array>` with a backpressure-aware push side.
 *
 * @example
 * ```ts
 * import { PushedByteStream } from "./pushed_stream.ts";
 *
 * const stream = new PushedByteStream({ highWaterMark: 1024 });
 * await stream.push(new Uint8Array([104, 105]));
 * stream.close();
 * const text = await new Response(stream.readable).text();
 * console.assert(text === "hi");
 * ```
 */
export class PushedByteStream {
  /** The consumer's side. */
  readonly readable: ReadableStream<Uint8Array>;
  #controller!: ReadableByteStreamController;
  readonly #highWaterMark: number;
  #demand: PromiseWithResolvers<void> | undefined;
  #done = false;
  /** An error held back until the consumer has read what was queued before it. */
  #failure: { reason: unknown } | undefined;

  /** Creates the stream; `highWaterMark` is in bytes. */
  constructor(options: { highWaterMark: number }) {
    this.#highWaterMark = options.highWaterMark;
    this.readable = new ReadableStream({
      type: "bytes",
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => {
        this.#errorIfDrained();
        this.#wake();
      },
      cancel: () => {
        this.#done = true;
        this.#failure = undefined;
        this.#wake();
      },
    }, { highWaterMark: options.highWaterMark });
  }

  /** Whether the consumer cancelled the stream or it was closed. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Queues `chunk`, which the stream then owns, and resolves once there is
   * room for more. After the consumer cancelled, chunks are dropped.
   */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.#done) return;
    if (chunk.length > 0) this.#controller.enqueue(chunk);
    while (!this.#done && (this.#controller.desiredSize ?? 0) <= 0) {
      this.#demand ??= Promise.withResolvers<void>();
      await this.#demand.promise;
    }
  }

  /**
   * Like {@link push}, for bytes the caller keeps: they are copied, straight
   * into the buffer of a waiting BYOB read when there is one, so that a
   * consumer reading with its own buffer costs one copy, not two.
   */
  async pushCopy(bytes: Uint8Array): Promise<void> {
    if (this.#done) return;
    let rest = bytes;
    const view = this.#controller.byobRequest?.view;
    if (view && rest.length > 0) {
      const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      const count = Math.min(target.length, rest.length);
      target.set(rest.subarray(0, count));
      this.#controller.byobRequest!.respond(count);
      rest = rest.subarray(count);
    }
    await this.push(rest.length > 0 ? rest.slice() : rest);
  }

  /** Ends the stream once the consumer has read what is queued. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.close();
    // A BYOB read waiting on an empty queue completes only when answered.
    this.#controller.byobRequest?.respond(0);
    this.#wake();
  }

  /**
   * Fails the stream: once the consumer has read what is already queued
   * (bytes that did arrive), reads reject with `reason`.
   */
  error(reason: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#failure = { reason };
    this.#errorIfDrained();
    this.#wake();
  }

  #errorIfDrained(): void {
    if (!this.#failure) return;
    // A byte stream's desiredSize is its high-water mark less what is queued.
    if ((this.#controller.desiredSize ?? 0) < this.#highWaterMark) return;
    this.#controller.error(this.#failure.reason);
    this.#failure = undefined;
  }

  #wake(): void {
    this.#demand?.resolve();
    this.#demand = undefined;
  }
}
