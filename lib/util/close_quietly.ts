/**
 * Closing a connection that may already be closed.
 *
 * @module
 */

/**
 * Closes `conn`, ignoring only that it was closed already (by the peer's end
 * of file or an earlier close); any other failure is thrown.
 *
 * @example
 * ```ts
 * import { closeQuietly } from "./close_quietly.ts";
 *
 * const conn = { close: () => { throw new Deno.errors.BadResource("closed"); } };
 * closeQuietly(conn);
 * ```
 */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}
