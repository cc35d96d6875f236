/**
 * The two path operations rexec needs for its configuration files.
 *
 * Why not `node:path`: importing any `node:` module starts Deno's Node
 * compatibility layer, which costs every `rexec run` about 10 ms at start-up.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

const WINDOWS = Deno.build.os === "windows";
const SEPARATOR = WINDOWS ? "\\" : "/";

function isSeparator(char: string): boolean {
  return char === "/" || (WINDOWS && char === "\\");
}

/**
 * `dir` and a file `name` in it, joined with this system's separator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinPath } from "./paths.ts";
 *
 * if (Deno.build.os !== "windows") {
 *   assert.equal(joinPath("/home/ada/.config", "rexec"), "/home/ada/.config/rexec");
 *   assert.equal(joinPath("/", "etc"), "/etc");
 * }
 * ```
 */
export function joinPath(dir: string, name: string): string {
  if (dir === "") return name;
  return isSeparator(dir.at(-1)!) ? dir + name : dir + SEPARATOR + name;
}

/**
 * The directory that holds `path`: `.` for a bare file name, the root for
 * the root itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parentDir } from "./paths.ts";
 *
 * if (Deno.build.os !== "windows") {
 *   assert.equal(parentDir("/home/ada/.config/rexec/token"), "/home/ada/.config/rexec");
 *   assert.equal(parentDir("token"), ".");
 *   assert.equal(parentDir("/token"), "/");
 * }
 * ```
 */
export function parentDir(path: string): string {
  let end = path.length;
  while (end > 1 && isSeparator(path[end - 1])) end--;
  let cut = end - 1;
  while (cut >= 0 && !isSeparator(path[cut])) cut--;
  if (cut < 0) return ".";
  let dirEnd = cut;
  while (dirEnd > 0 && isSeparator(path[dirEnd - 1])) dirEnd--;
  if (dirEnd === 0) return path.slice(0, 1);
  // `C:\token` is in `C:\`, the root of the drive; `C:` alone means the
  // drive's current directory.
  if (WINDOWS && /^[A-Za-z]:$/.test(path.slice(0, dirEnd))) return path.slice(0, dirEnd + 1);
  return path.slice(0, dirEnd);
}
