/**
 * The rexec release this code is.
 *
 * @module
 */

/**
 * The rexec version, announced in HELLO and printed by `rexec --version`.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 *
 * console.assert(/^\d+\.\d+\.\d+/.test(VERSION));
 * ```
 */
export const VERSION = "0.1.0";
