/**
 * Joining byte chunks, which several layers collect before they use them.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * The chunks one after the other in one array; a single chunk is returned
 * as it is, not copied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concatBytes } from "./bytes.ts";
 *
 * const one = new Uint8Array([1, 2]);
 * assert.deepEqual(concatBytes([one, new Uint8Array([3])]), new Uint8Array([1, 2, 3]));
 * assert.equal(concatBytes([one]), one);
 * assert.equal(concatBytes([]).length, 0);
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
