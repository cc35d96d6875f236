/**
 * The rexec release this code is.
 *
 * @module
 */

/**
 * The rexec version, announced in HELLO and printed by `rexec --version`;
 * deno.json's `version`, the package's on JSR, is the same.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 *
 * console.assert(/^\d+\.\d+\.\d+/.test(VERSION));
 * ```
 */
export const VERSION = "0.1.0";
