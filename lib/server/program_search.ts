/**
 * Finds the file a program name runs, the way `execvp` searches for it: a
 * name with a `/` is that path (relative to the working directory); a name
 * without is looked for in each PATH entry in turn (an empty or relative
 * entry counts from the working directory), and the first executable
 * regular file wins. Pure of sockets and processes: it looks at the file
 * system only.
 *
 * The search stats synchronously, as Deno's own spawn does when it looks a
 * program up: a few local directory entries, where an asynchronous stat
 * would cost a trip through the thread pool each.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/** What `execvp` searches when PATH is unset (glibc's `_CS_PATH`). */
export const DEFAULT_EXEC_PATH = "/bin:/usr/bin";

/** Where a search looks. */
export interface ProgramSearchOptions {
  /** The PATH of the environment the program will run in; {@link DEFAULT_EXEC_PATH} when undefined. */
  readonly path: string | undefined;
  /** The absolute working directory the program will start in. */
  readonly cwd: string;
}

/** A file the search came to, with whether it could be run. */
export interface ProgramCandidate {
  /** The path as `execvp` would try it. */
  readonly file: string;
  /** Whether it is a regular file with an execute bit: what `execve` may run. */
  readonly runnable: boolean;
}

/**
 * The existing files `execvp` would try for `name`, in its order; a file
 * that does not exist is left out, since `execvp` moves past it without a
 * word. The search stops where the caller stops asking, so the usual
 * caller, who wants only the first runnable file, stats no further.
 *
 * Execute bits are judged as for root (any of the three counts): an
 * account that lacks the bit of its own class is refused by `execve`, which
 * the child reports then.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { programCandidates } from "./program_search.ts";
 *
 * const [first] = programCandidates("sh", { path: "/no/such/dir:/bin", cwd: "/" });
 * assert.deepEqual(first, { file: "/bin/sh", runnable: true });
 * ```
 */
export function* programCandidates(
  name: string,
  options: ProgramSearchOptions,
): Generator<ProgramCandidate, void, undefined> {
  if (name === "") return;
  const files = name.includes("/")
    ? [resolvePath(options.cwd, name)]
    : (options.path ?? DEFAULT_EXEC_PATH).split(":").map((entry) =>
      resolvePath(resolvePath(options.cwd, entry === "" ? "." : entry), name)
    );
  for (const file of files) {
    const info = statIfThere(file);
    if (info !== undefined) yield { file, runnable: isRunnable(info) };
  }
}

/**
 * Whether `file` is still a regular file with an execute bit: lets a caller
 * that found a program before check it with one stat instead of a search,
 * which costs a failed stat (and the error Deno makes of it) per PATH entry
 * in front of the program's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRunnableFile } from "./program_search.ts";
 *
 * assert.ok(isRunnableFile("/bin/sh"));
 * assert.ok(!isRunnableFile("/rexec/no/such/file"));
 * ```
 */
export function isRunnableFile(file: string): boolean {
  const info = statIfThere(file);
  return info !== undefined && isRunnable(info);
}

function isRunnable(info: Deno.FileInfo): boolean {
  return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
}

/** The file's information; undefined when there is none to be had, and execvp would move on. */
function statIfThere(file: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(file);
  } catch (error) {
    // Missing, or in a directory this server cannot search.
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
      error instanceof Deno.errors.PermissionDenied
    ) return undefined;
    throw error;
  }
}

/**
 * The canonical path of an existing file, as the allowlist compares
 * programs: its directory resolved (symbolic links, `.` and `..`), its own
 * name kept, since a multi-call program acts on the name it is run by.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalProgramPath } from "./program_search.ts";
 *
 * assert.match(canonicalProgramPath("/bin/./sh"), /^\/.*\/sh$/);
 * ```
 */
export function canonicalProgramPath(file: string): string {
  const slash = file.lastIndexOf("/");
  const directory = Deno.realPathSync(slash <= 0 ? "/" : file.slice(0, slash));
  const base = file.slice(slash + 1);
  return directory.endsWith("/") ? `${directory}${base}` : `${directory}/${base}`;
}

/** `path` taken from `base` unless it is absolute; nothing resolved. */
function resolvePath(base: string, path: string): string {
  if (path.startsWith("/")) return path;
  return base.endsWith("/") ? `${base}${path}` : `${base}/${path}`;
}
