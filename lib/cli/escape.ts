/**
 * The escape character of an interactive session, as ssh has it: `~` typed
 * at the start of a line, then `.` ends the session at once, and `~` sends
 * one `~`. Anything else after the `~` goes through with it.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

const TILDE = 0x7e;
const DOT = 0x2e;
const CR = 0x0d;
const LF = 0x0a;

/** What a chunk of keys gives: the bytes to send, and whether `~.` was typed. */
export interface EscapeResult {
  /** The keys to send on, escapes taken out. */
  readonly send: Uint8Array;
  /** Whether `~.` was typed: the session ends, and nothing typed after it is sent. */
  readonly disconnect: boolean;
}

/**
 * Takes the keys typed into an interactive session in the order they come,
 * and recognises the escapes. A `~` at the start of a line is held until the
 * next key says what it is: the first key of the session, and each one
 * after Enter (CR or LF), starts a line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EscapeFilter } from "./escape.ts";
 *
 * const keys = (text: string) => new TextEncoder().encode(text);
 * const filter = new EscapeFilter();
 * const typed = (text: string) => new TextDecoder().decode(filter.take(keys(text)).send);
 * assert.equal(typed("ls ~/x\r"), "ls ~/x\r"); // not at the start of a line
 * assert.equal(typed("~"), ""); // held: what follows decides
 * assert.equal(typed("~"), "~"); // ~~ sends one ~
 * assert.equal(typed("\r~v"), "\r~v");
 * assert.equal(filter.take(keys("\r~.rm -rf")).disconnect, true);
 * ```
 */
export class EscapeFilter {
  #lineStart = true;
  #held = false;

  /** Filters one chunk of keys. */
  take(keys: Uint8Array): EscapeResult {
    const send: number[] = [];
    for (const key of keys) {
      if (this.#held) {
        this.#held = false;
        if (key === DOT) return { send: Uint8Array.from(send), disconnect: true };
        // `~~` sends one; any other key sends the `~` it followed too.
        if (key !== TILDE) send.push(TILDE);
        send.push(key);
        this.#lineStart = key === CR || key === LF;
        continue;
      }
      if (this.#lineStart && key === TILDE) {
        this.#held = true;
        continue;
      }
      send.push(key);
      this.#lineStart = key === CR || key === LF;
    }
    return { send: Uint8Array.from(send), disconnect: false };
  }
}
