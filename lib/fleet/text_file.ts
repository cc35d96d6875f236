/**
 * Reading a small text file that a user names (an inventory, a hosts file)
 * without trusting its size or its encoding.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { concatBytes } from "../util/bytes.ts";

/**
 * Reads the file at `path` as UTF-8 text, refusing it once it holds more
 * than `maxBytes` bytes, before holding more in memory.
 *
 * @throws {Deno.errors.NotFound} and the other errors of opening and
 * reading the file; {@link RangeError} when it is larger than `maxBytes`;
 * {@link TypeError} when it is not UTF-8; the signal's reason when aborted.
 * Callers wrap these in their own error, which names the file's role.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBoundedText } from "./text_file.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "web1\nweb2\n");
 *   assert.equal(await readBoundedText(path, { maxBytes: 100 }), "web1\nweb2\n");
 *   await assert.rejects(readBoundedText(path, { maxBytes: 5 }), RangeError);
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export async function readBoundedText(
  path: string,
  options: { readonly maxBytes: number; readonly signal?: AbortSignal },
): Promise<string> {
  const { maxBytes, signal } = options;
  signal?.throwIfAborted();
  using file = await Deno.open(path);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    signal?.throwIfAborted();
    const read = await file.read(buffer);
    if (read === null) break;
    size += read;
    if (size > maxBytes) throw new RangeError(`the file is larger than ${maxBytes} bytes`);
    chunks.push(buffer.slice(0, read));
  }
  const bytes = concatBytes(chunks);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (error) {
    throw new TypeError("the file is not UTF-8 text", { cause: error });
  }
}
