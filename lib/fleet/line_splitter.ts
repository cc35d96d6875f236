/**
 * Prefixing each line of one host's output, pdsh style (`web1: line`), so
 * that lines from many hosts can share a terminal without being torn.
 *
 * Bytes, not text: output may be any encoding, and what comes out is
 * exactly what went in, with the prefix before each line and a newline
 * after a last line that had none. Memory is bounded: a line longer than
 * `maxLineBytes` (default {@link DEFAULT_MAX_LINE_BYTES}) is cut into pieces
 * of that many bytes (up to three fewer, so as not to cut a UTF-8
 * character in two), each written as a line of its own, with the prefix
 * and a newline, so that a host that writes no newline cannot make rexec
 * hold its whole output.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * The longest line, in bytes without its newline, kept whole; a longer one
 * is written in pieces of this size (or up to three bytes less, where the
 * limit falls within a UTF-8 character).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_LINE_BYTES, LineSplitter } from "./line_splitter.ts";
 *
 * const splitter = new LineSplitter("h: ");
 * const long = new TextEncoder().encode(`${"x".repeat(DEFAULT_MAX_LINE_BYTES)}yz\n`);
 * const lines = new TextDecoder().decode(splitter.push(long)).split("\n");
 * assert.equal(lines.length, 3); // two prefixed lines, and what follows the last newline
 * assert.equal(lines[0].length, "h: ".length + DEFAULT_MAX_LINE_BYTES);
 * assert.equal(lines[1], "h: yz");
 * ```
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

/**
 * Options of {@link LineSplitter} and {@link PrefixedLineStream}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type LineSplitterOptions, PrefixedLineStream } from "./line_splitter.ts";
 *
 * const options: LineSplitterOptions = { maxLineBytes: 4 };
 * const output = new Blob(["abcdefghij\nok\n"]).stream()
 *   .pipeThrough(new PrefixedLineStream("h: ", options));
 * assert.equal(await new Response(output).text(), "h: abcd\nh: efgh\nh: ij\nh: ok\n");
 * ```
 */
export interface LineSplitterOptions {
  /** The longest line kept whole, in bytes without its newline; default {@link DEFAULT_MAX_LINE_BYTES}. */
  readonly maxLineBytes?: number;
}

const NEWLINE = 0x0a;
/** Stands for "no newline in the rest of the chunk": farther than any line may run. */
const NONE = Number.MAX_SAFE_INTEGER;
const EMPTY = new Uint8Array(0);

/**
 * Splits one stream of one host into prefixed lines. Fed chunks as they
 * arrive, it returns the complete lines they finish, as one buffer to write
 * at once; the bytes after the last newline wait for the next chunk, or for
 * {@link LineSplitter.end}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineSplitter } from "./line_splitter.ts";
 *
 * const splitter = new LineSplitter("web1: ");
 * const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
 * assert.equal(text(splitter.push(new TextEncoder().encode("up 3 days\nload"))), "web1: up 3 days\n");
 * assert.equal(text(splitter.push(new TextEncoder().encode(" 0.5"))), "");
 * assert.equal(text(splitter.end()), "web1: load 0.5\n");
 * ```
 *
 * @example A line longer than the limit comes out in pieces
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineSplitter } from "./line_splitter.ts";
 *
 * const splitter = new LineSplitter("h: ", { maxLineBytes: 4 });
 * const out = splitter.push(new TextEncoder().encode("abcdefghij\n"));
 * assert.equal(new TextDecoder().decode(out), "h: abcd\nh: efgh\nh: ij\n");
 * // A character is not cut in two: "€" is three bytes.
 * const euro = splitter.push(new TextEncoder().encode("ab€€\n"));
 * assert.equal(new TextDecoder().decode(euro), "h: ab\nh: €\nh: €\n");
 * ```
 */
export class LineSplitter {
  /** The bytes written before each line. */
  readonly prefix: Uint8Array;
  /** The longest line kept whole. */
  readonly maxLineBytes: number;
  #pending: Uint8Array = EMPTY;
  #length = 0;

  /**
   * Creates a splitter writing `prefix` (UTF-8 when a string) before each line.
   *
   * @throws {RangeError} when `maxLineBytes` is not a whole number from 1.
   */
  constructor(prefix: string | Uint8Array, options: LineSplitterOptions = {}) {
    this.prefix = typeof prefix === "string" ? new TextEncoder().encode(prefix) : prefix.slice();
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isSafeInteger(this.maxLineBytes) || this.maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a whole number from 1, got ${this.maxLineBytes}`);
    }
  }

  /** Bytes of a partial line held until its end arrives; at most {@link LineSplitter.maxLineBytes}. */
  get pendingBytes(): number {
    return this.#length;
  }

  /**
   * Takes the next chunk of the stream and returns the lines it completes,
   * each with the prefix, in one buffer (empty when it completes none). The
   * chunk is not kept: the caller may reuse it.
   */
  push(chunk: Uint8Array): Uint8Array {
    const prefix = this.prefix.length;
    const max = this.maxLineBytes;
    const pending = this.#pending;
    // First the lines this chunk ends, as [heldFrom, heldTo, start, end, cut]
    // (the held bytes of the line, then its part of the chunk), then one
    // buffer for all of them: one allocation and one write per chunk,
    // however short its lines.
    const lines: number[] = [];
    let size = 0;
    // The held bytes not written yet are pending[heldFrom, heldFrom + held).
    let heldFrom = 0;
    let held = this.#length;
    let position = 0;
    // Byte `index` of the line being cut: its held bytes, then the chunk's.
    const byteAt = (index: number) =>
      index < held ? pending[heldFrom + index] : chunk[position + index - held];
    // The next newline at or after position; NONE when the chunk has no more.
    let newline = -1;
    while (position < chunk.length) {
      if (newline < position) {
        const found = chunk.indexOf(NEWLINE, position);
        newline = found === -1 ? NONE : found;
      }
      const room = max - held;
      if (newline - position <= room) {
        lines.push(heldFrom, heldFrom + held, position, newline + 1, 0);
        size += prefix + held + newline + 1 - position;
        position = newline + 1;
      } else if (chunk.length - position <= room) {
        break;
      } else {
        const length = pieceLength(byteAt, max);
        if (length < held) {
          // The piece ends within the held bytes: the rest of them start the next.
          lines.push(heldFrom, heldFrom + length, position, position, 1);
          size += prefix + length + 1;
          heldFrom += length;
          held -= length;
          continue;
        }
        lines.push(heldFrom, heldFrom + held, position, position + length - held, 1);
        size += prefix + length + 1;
        position += length - held;
      }
      heldFrom += held;
      held = 0;
    }
    const output = size === 0 ? EMPTY : new Uint8Array(size);
    let offset = 0;
    for (let index = 0; index < lines.length; index += 5) {
      output.set(this.prefix, offset);
      offset += prefix;
      output.set(pending.subarray(lines[index], lines[index + 1]), offset);
      offset += lines[index + 1] - lines[index];
      output.set(chunk.subarray(lines[index + 2], lines[index + 3]), offset);
      offset += lines[index + 3] - lines[index + 2];
      if (lines[index + 4] === 1) output[offset++] = NEWLINE;
    }
    if (heldFrom > 0) pending.copyWithin(0, heldFrom, heldFrom + held);
    this.#length = held;
    this.#hold(chunk.subarray(position));
    return output;
  }

  /**
   * Ends the stream: returns the partial line still held, with the prefix
   * and a newline added, or an empty buffer when the stream ended with a
   * newline. The splitter is then empty, as new.
   */
  end(): Uint8Array {
    if (this.#length === 0) return EMPTY;
    const output = new Uint8Array(this.prefix.length + this.#length + 1);
    output.set(this.prefix);
    output.set(this.#pending.subarray(0, this.#length), this.prefix.length);
    output[output.length - 1] = NEWLINE;
    this.#length = 0;
    return output;
  }

  /** Appends `bytes` (no newline, and room for them) to the partial line. */
  #hold(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const needed = this.#length + bytes.length;
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(
        Math.min(this.maxLineBytes, Math.max(needed, this.#pending.length * 2, 256)),
      );
      grown.set(this.#pending.subarray(0, this.#length));
      this.#pending = grown;
    }
    this.#pending.set(bytes, this.#length);
    this.#length = needed;
  }
}

/**
 * How long a piece of a line longer than `max` bytes is: `max`, or less
 * when a UTF-8 character starts in its last three bytes and would end past
 * it, so that the character goes whole to the next piece. Other bytes are
 * cut where the limit falls.
 */
function pieceLength(byteAt: (index: number) => number, max: number): number {
  for (let at = max - 1; at >= 1 && at >= max - 3; at--) {
    const byte = byteAt(at);
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look for its lead
    const length = byte >= 0xf8 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return at + length > max ? at : max;
  }
  return max;
}

/**
 * A {@link LineSplitter} as a stream: bytes in, prefixed complete lines out,
 * each chunk a whole number of lines; at the end, the last partial line with
 * a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PrefixedLineStream } from "./line_splitter.ts";
 *
 * const output = new Blob(["one\ntw", "o\nthree"]).stream()
 *   .pipeThrough(new PrefixedLineStream("db1: "));
 * assert.equal(await new Response(output).text(), "db1: one\ndb1: two\ndb1: three\n");
 * ```
 */
export class PrefixedLineStream extends TransformStream<Uint8Array, Uint8Array> {
  /** Creates the stream writing `prefix` before each line. */
  constructor(prefix: string | Uint8Array, options: LineSplitterOptions = {}) {
    const splitter = new LineSplitter(prefix, options);
    super({
      transform(chunk, controller) {
        const lines = splitter.push(chunk);
        if (lines.length > 0) controller.enqueue(lines);
      },
      flush(controller) {
        const last = splitter.end();
        if (last.length > 0) controller.enqueue(last);
      },
    });
  }
}
