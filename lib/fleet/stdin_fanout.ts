/**
 * One stdin for many hosts: each host reads its own copy of the same bytes,
 * end of file included, whenever it starts. The source is read only as fast
 * as the fastest host asks for more, and no further than
 * {@link MAX_STDIN_LEAD} bytes ahead of the slowest running host, so that a
 * host whose command does not read its stdin cannot make the client hold an
 * endless input; a chunk is let go once every host has read it (hosts not
 * started yet count as not having read it).
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

const EMPTY_READ: ReadableStreamReadResult<Uint8Array> = { done: true, value: undefined };

/**
 * How many bytes of stdin the fastest reader may be ahead of the slowest
 * open one before it waits for that one to read on (as `tee` would).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_STDIN_LEAD } from "./stdin_fanout.ts";
 *
 * assert.equal(MAX_STDIN_LEAD, 8 * 1024 * 1024);
 * ```
 */
export const MAX_STDIN_LEAD = 8 * 1024 * 1024;

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
  /** The offset in the input of each chunk of `#chunks`, and of their end. */
  #offsets: number[] = [];
  #end = 0;
  #base = 0;
  #ended = false;
  #failure: { reason: unknown } | undefined;
  #pending: Promise<void> | undefined;
  /** Where each open reader is: the number of the next chunk it reads. */
  readonly #cursors = new Map<number, number>();
  #created = 0;
  readonly #maxLead: number;
  /** Settles when a reader reads on or closes, or the source is closed. */
  #moved: PromiseWithResolvers<void> | undefined;

  /**
   * Reads `source` (a stream, or all the bytes at once) for `readers`
   * readers, each made by {@link StdinFanout.reader}.
   */
  constructor(
    source: ReadableStream<Uint8Array> | Uint8Array,
    readers: number,
    options: { readonly maxLead?: number } = {},
  ) {
    this.#expected = readers;
    this.#maxLead = options.maxLead ?? MAX_STDIN_LEAD;
    if (source instanceof Uint8Array) {
      if (source.length > 0) this.#append(source);
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
            this.#notify();
            return chunk;
          }
          if (this.#failure) throw this.#failure.reason;
          if (this.#ended) return null;
          if (this.#lead() >= this.#maxLead) {
            await (this.#moved ??= Promise.withResolvers()).promise;
            continue;
          }
          await (this.#pending ??= this.#pull());
        }
      },
      close: () => {
        this.#cursors.delete(id);
        this.#trim();
        this.#notify();
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
    this.#notify();
    this.#source.cancel().catch(() => undefined);
  }

  async #pull(): Promise<void> {
    try {
      const { done, value } = this.#ended ? EMPTY_READ : await this.#source!.read();
      if (done) this.#ended = true;
      else if (value.length > 0) this.#append(value);
    } catch (error) {
      // The source is done for: readers get the error, and close() has nothing to cancel.
      this.#failure = { reason: error };
      this.#ended = true;
    } finally {
      this.#pending = undefined;
    }
  }

  #append(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#offsets.push(this.#end);
    this.#end += chunk.length;
  }

  /** How many bytes read from the source the slowest open reader has yet to read. */
  #lead(): number {
    let slowest = this.#base + this.#chunks.length;
    for (const cursor of this.#cursors.values()) slowest = Math.min(slowest, cursor);
    const index = slowest - this.#base;
    return index >= this.#chunks.length ? 0 : this.#end - this.#offsets[index];
  }

  #notify(): void {
    const moved = this.#moved;
    this.#moved = undefined;
    moved?.resolve();
  }

  /** Lets go of the chunks every reader, present and to come, has read. */
  #trim(): void {
    if (this.#created < this.#expected) return;
    let lowest = this.#base + this.#chunks.length;
    for (const cursor of this.#cursors.values()) lowest = Math.min(lowest, cursor);
    const drop = lowest - this.#base;
    if (drop <= 0) return;
    this.#chunks = this.#chunks.slice(drop);
    this.#offsets = this.#offsets.slice(drop);
    this.#base = lowest;
  }
}
