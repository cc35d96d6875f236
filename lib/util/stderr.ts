/**
 * rexec's own messages to local stderr: log records, errors, the prompt.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * Writes all of `bytes` to stderr. When stderr was closed (its reader went
 * away, say `rexec serve 2>&1 | head`), the message is dropped: there is
 * nobody left to read it, and a server must not die for want of a log reader.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * // In a child process, so that what it writes to stderr can be read back.
 * const script = `
 *   import { writeStderr } from "${import.meta.resolve("./stderr.ts")}";
 *   writeStderr(new TextEncoder().encode("rexec: hello\\n"));
 * `;
 * const { success, stderr } = await new Deno.Command(Deno.execPath(), {
 *   args: ["eval", script],
 *   stdout: "null",
 *   stderr: "piped",
 * }).output();
 * assert.ok(success);
 * assert.equal(new TextDecoder().decode(stderr), "rexec: hello\n");
 * ```
 */
export function writeStderr(bytes: Uint8Array): void {
  let offset = 0;
  try {
    while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}
