/**
 * Splitting a byte stream into text lines, for `rexec shell`'s input.
 *
 * @module
 */

/**
 * Yields each line of `stream`, without its `\n` or `\r\n`; a last line
 * without a newline is yielded too. Invalid UTF-8 becomes U+FFFD.
 *
 * @example
 * ```ts
 * import { readLines } from "./lines.ts";
 *
 * const stream = new Blob(["echo a\r\necho b"]).stream();
 * const lines = await Array.fromAsync(readLines(stream));
 * console.assert(lines.join("|") === "echo a|echo b");
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
