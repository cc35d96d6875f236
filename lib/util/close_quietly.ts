/**
 * Closing a connection that may already be closed.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * Closes `conn`, ignoring only that it was closed already (by the peer's end
 * of file or an earlier close); any other failure is thrown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeQuietly } from "./close_quietly.ts";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * listener.close();
 * closeQuietly(listener); // closed already: nothing to do, nothing thrown
 *
 * const failing = { close: () => { throw new Error("disk full"); } };
 * assert.throws(() => closeQuietly(failing), /disk full/);
 * ```
 */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}
