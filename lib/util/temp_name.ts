/**
 * Names for files being written beside the file they will replace.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * A name for a file being written beside `name` in `dir`: hidden, and
 * unique, so a reader of the directory never takes it for the real one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { temporaryName } from "./temp_name.ts";
 *
 * assert.match(temporaryName("/srv", "data.bin"), /^\/srv\/\.data\.bin\.rexec-[0-9a-f]{12}\.tmp$/);
 * assert.match(temporaryName("/", "x"), /^\/\.x\.rexec-/);
 * ```
 */
export function temporaryName(dir: string, name: string): string {
  const suffix = crypto.getRandomValues(new Uint8Array(6)).toHex();
  // Cut, so that a name near the system's limit of 255 bytes still leaves room for the suffix.
  return `${dir.endsWith("/") ? dir.slice(0, -1) : dir}/.${name.slice(0, 60)}.rexec-${suffix}.tmp`;
}
