/**
 * One stdin for many hosts: each host reads its own copy of the same bytes,
 * end of file included, whenever it starts. The source is read only as fast
 * as the fastest host asks for more; a chunk is let go once every host has
 * read it (hosts not started yet count as not having read it).
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

const EMPTY_READ: ReadableStreamReadResult<Uint8Array> = { done: true, value: undefined };

/**
 * Copies one byte source to a known number of readers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StdinFanout } from "./stdin_fanout.ts";
 *
 * const fanout = new StdinFanout(new Blob(["hello ", "world"]).stream(), 2);
 * const read = async (reader: ReturnType<StdinFanout["reader"]>) => {
 *   let text = "";
 *   for (let bytes = await reader.next(); bytes !== null; bytes = await reader.next()) {
 *     text += new TextDecoder().decode(bytes);
 *   }
 *   return text;
 * };
 * const [a, b] = await Promise.all([read(fanout.reader()), read(fanout.reader())]);
 * assert.equal(a, "hello world");
 * assert.equal(b, "hello world");
 * fanout.close();
 * ```
 */
export class StdinFanout {
  readonly #source: ReadableStreamDefaultReader<Uint8Array> | undefined;
  readonly #expected: number;
  /** Chunks not yet read by every reader; `#chunks[0]` is chunk number `#base`. */
  #chunks: Uint8Array[] = [];
  #base = 0;
  #ended = false;
  #failure: { reason: unknown } | undefined;
  #pending: Promise<void> | undefined;
  /** Where each open reader is: the number of the next chunk it reads. */
  readonly #cursors = new Map<number, number>();
  #created = 0;

  /**
   * Reads `source` (a stream, or all the bytes at once) for `readers`
   * readers, each made by {@link StdinFanout.reader}.
   */
  constructor(source: ReadableStream<Uint8Array> | Uint8Array, readers: number) {
    this.#expected = readers;
    if (source instanceof Uint8Array) {
      if (source.length > 0) this.#chunks.push(source);
      this.#ended = true;
    } else {
      this.#source = source.getReader();
    }
  }

  /**
   * A reader of its own copy: `next()` resolves with the next chunk, or
   * null at the end; `close()` says it will read no more.
   */
  reader(): { next(): Promise<Uint8Array | null>; close(): void } {
    const id = this.#created++;
    this.#cursors.set(id, this.#base);
    return {
      next: async () => {
        for (;;) {
          const cursor = this.#cursors.get(id);
          if (cursor === undefined) return null;
          if (cursor < this.#base + this.#chunks.length) {
            const chunk = this.#chunks[cursor - this.#base];
            this.#cursors.set(id, cursor + 1);
            this.#trim();
            return chunk;
          }
          if (this.#failure) throw this.#failure.reason;
          if (this.#ended) return null;
          await (this.#pending ??= this.#pull());
        }
      },
      close: () => {
        this.#cursors.delete(id);
        this.#trim();
      },
    };
  }

  /**
   * Stops reading the source; readers still get what was read. Not waited
   * for: a read from a terminal may never end, and whatever the source says
   * on cancelling has nobody left to hear it.
   */
  close(): void {
    if (this.#ended || !this.#source) return;
    this.#ended = true;
    this.#source.cancel().catch(() => undefined);
  }

  async #pull(): Promise<void> {
    try {
      const { done, value } = this.#ended ? EMPTY_READ : await this.#source!.read();
      if (done) this.#ended = true;
      else if (value.length > 0) this.#chunks.push(value);
    } catch (error) {
      this.#failure = { reason: error };
    } finally {
      this.#pending = undefined;
    }
  }

  /** Lets go of the chunks every reader, present and to come, has read. */
  #trim(): void {
    if (this.#created < this.#expected) return;
    let lowest = this.#base + this.#chunks.length;
    for (const cursor of this.#cursors.values()) lowest = Math.min(lowest, cursor);
    const drop = lowest - this.#base;
    if (drop <= 0) return;
    this.#chunks = this.#chunks.slice(drop);
    this.#base = lowest;
  }
}
