/**
 * Splitting a byte stream into text lines, for `rexec shell`'s input.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * Yields each line of `stream`, without its `\n` or `\r\n`; a last line
 * without a newline is yielded too. Invalid UTF-8 becomes U+FFFD.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLines } from "./lines.ts";
 *
 * // Lines cut across chunks, a CRLF, and a last line without a newline.
 * const stream = new Blob(["echo a\r\nec", "ho b\n\nls"]).stream();
 * assert.deepEqual(await Array.fromAsync(readLines(stream)), ["echo a", "echo b", "", "ls"]);
 * ```
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let newline: number;
    while ((newline = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, newline).replace(/\r$/, "");
      pending = pending.slice(newline + 1);
    }
  }
  if (pending !== "") yield pending.replace(/\r$/, "");
}
