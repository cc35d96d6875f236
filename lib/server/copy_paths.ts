/**
 * Where a file transfer may go on the server, and the checks that keep it
 * there. The checks use the synchronous file system calls: each takes
 * microseconds, and a copy of many small files makes a dozen per file, for
 * which the asynchronous calls' thread hops would cost more than the work. Paths are resolved from the account's home, or from the copy root
 * (`--copy-root DIR`), which confines every transfer: a `..` or an absolute
 * path that leads out is refused on the string, and a symbolic link that
 * leads out is refused on the file actually opened, by comparing the opened
 * file's device and inode with those of its resolved path inside the root.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { closeSync, constants, fstatSync, openSync, type Stats } from "node:fs";
import type { CopyErrorCode } from "../protocol/transfer.ts";

/** A refusal or failure of one file operation, with the code the client is sent. */
export class CopyFailure extends Error {
  /** What the client is told the failure was. */
  readonly code: CopyErrorCode;

  /** Creates the failure; `message` names the path. */
  constructor(code: CopyErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** What the server's transfers may touch. */
export interface CopyPlaces {
  /** Where relative paths start: the copy root, or the account's home. */
  readonly base: string;
  /** The copy root, resolved with realPath; no confinement when absent. */
  readonly root?: string;
}

/**
 * Resolves `path` as a client wrote it into an absolute path, lexically:
 * `.` and `..` are folded, never followed. Under a root, a path that leads
 * outside it is refused.
 *
 * @throws {CopyFailure} `refused` for a path outside the copy root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveCopyPath } from "./copy_paths.ts";
 *
 * const places = { base: "/srv/drop", root: "/srv/drop" };
 * assert.equal(resolveCopyPath("in/a.txt", places), "/srv/drop/in/a.txt");
 * assert.equal(resolveCopyPath("/srv/drop/b", places), "/srv/drop/b");
 * assert.throws(() => resolveCopyPath("../etc/passwd", places), /outside the copy root/);
 * assert.throws(() => resolveCopyPath("/etc/passwd", places), /outside the copy root/);
 * assert.equal(resolveCopyPath("notes", { base: "/home/ada" }), "/home/ada/notes");
 * ```
 */
export function resolveCopyPath(path: string, places: CopyPlaces): string {
  const joined = path.startsWith("/") ? path : `${places.base}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  const resolved = `/${parts.join("/")}`;
  if (places.root !== undefined && !isInside(resolved, places.root)) throw outside(path);
  return resolved;
}

/**
 * Whether `path` is `dir` or below it; both absolute and normalised.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isInside } from "./copy_paths.ts";
 *
 * assert.equal(isInside("/srv/drop/a", "/srv/drop"), true);
 * assert.equal(isInside("/srv/dropper", "/srv/drop"), false);
 * assert.equal(isInside("/anything", "/"), true);
 * ```
 */
export function isInside(path: string, dir: string): boolean {
  if (dir === "/") return true;
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * Checks that an opened file is the one its path names inside the copy
 * root: the path, symbolic links resolved, lies in the root, and names the
 * same device and inode as the open file. A link that leads out, or a path
 * swapped for one between the open and the check, is refused. Does nothing
 * without a root.
 *
 * @throws {CopyFailure} `refused` when the opened file is not inside the root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOpenedInside } from "./copy_paths.ts";
 *
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const outside = await Deno.makeTempFile();
 * try {
 *   await Deno.symlink(outside, `${root}/link`);
 *   using file = await Deno.open(`${root}/link`);
 *   assert.throws(() => checkOpenedInside(file, `${root}/link`, "link", root), /outside the copy root/);
 * } finally {
 *   await Deno.remove(root, { recursive: true });
 *   await Deno.remove(outside);
 * }
 * ```
 */
export function checkOpenedInside(
  file: { statSync(): { readonly dev: number; readonly ino: number | null } },
  path: string,
  written: string,
  root: string | undefined,
): void {
  if (root === undefined) return;
  const opened = file.statSync();
  const real = Deno.realPathSync(path);
  if (!isInside(real, root)) throw outside(written);
  const named = Deno.statSync(real);
  if (named.dev !== opened.dev || named.ino !== opened.ino) throw outside(written);
}

/**
 * `path` with every link resolved, and under a root checked to lie inside
 * it. A path that does not resolve is refused when the part of it that
 * exists leads outside the root (a link to a missing file outside, or a
 * missing name in a directory outside), so that the answer does not tell
 * which files outside exist; inside, its NotFound error is thrown as it came.
 *
 * @throws {CopyFailure} `refused` for a path that leads outside the root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { confinedRealPath } from "./copy_paths.ts";
 *
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const outside = await Deno.realPath(await Deno.makeTempDir());
 * try {
 *   await Deno.symlink(`${outside}/missing`, `${root}/dangling`);
 *   await Deno.symlink(outside, `${root}/out`);
 *   await Deno.writeTextFile(`${root}/in`, "x");
 *   assert.equal(confinedRealPath(`${root}/in`, "in", root), `${root}/in`);
 *   assert.throws(() => confinedRealPath(`${root}/dangling`, "dangling", root), /outside/);
 *   assert.throws(() => confinedRealPath(`${root}/out/missing`, "out/missing", root), /outside/);
 *   assert.throws(() => confinedRealPath(`${root}/missing`, "missing", root), Deno.errors.NotFound);
 * } finally {
 *   await Deno.remove(root, { recursive: true });
 *   await Deno.remove(outside, { recursive: true });
 * }
 * ```
 */
export function confinedRealPath(path: string, written: string, root: string | undefined): string {
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch (error) {
    if (
      root !== undefined && error instanceof Deno.errors.NotFound && leadsOutside(path, root, 0)
    ) {
      throw outside(written);
    }
    throw error;
  }
  if (root !== undefined && !isInside(real, root)) throw outside(written);
  return real;
}

/** Links followed at most, as the kernel does before ELOOP. */
const MAX_LINKS = 40;

/** Whether `path`, which does not resolve, leads outside `root` as far as it exists. */
function leadsOutside(path: string, root: string, links: number): boolean {
  if (links > MAX_LINKS) return true;
  // The deepest part of the path that is there, and the names below it that
  // are not; from the top, so that a path of many missing names costs one look.
  const names = path.split("/").filter((name) => name !== "");
  let existing = "/";
  let depth = 0;
  for (; depth < names.length; depth++) {
    const next = `${existing === "/" ? "" : existing}/${names[depth]}`;
    try {
      Deno.lstatSync(next);
    } catch {
      // Not there, under a file, or a name too long: what is above decides.
      break;
    }
    existing = next;
  }
  const rest = names.slice(depth).map((name) => `/${name}`).join("");
  try {
    return !isInside(Deno.realPathSync(existing), root);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  // A link whose target is missing: where it points decides.
  const cut = existing.lastIndexOf("/");
  const dir = Deno.realPathSync(existing.slice(0, cut) || "/");
  const target = Deno.readLinkSync(existing);
  const next = resolveCopyPath(`${target}${rest}`, { base: dir });
  return leadsOutside(next, root, links + 1);
}

/**
 * A file opened with node:fs, by its descriptor: for opening without
 * following a final link (O_NOFOLLOW) or waiting on a FIFO (O_NONBLOCK),
 * which Deno.open cannot. Close it with {@link OpenedFile.close}.
 */
export interface OpenedFile extends Disposable {
  /** The descriptor, for node:fs calls. */
  readonly fd: number;
  /** What is open. */
  statSync(): Stats;
  /** Closes the descriptor; once. */
  close(): void;
}

/**
 * Opens `path` itself to change its mode and time through the open file:
 * a symbolic link at its end is refused rather than followed, and a FIFO
 * is not waited on. Changing them by path would follow a link swapped in
 * after the checks, to a file outside the copy root. With `same`, the
 * opened file must be that one (device and inode), or it was replaced.
 *
 * @throws {CopyFailure} `refused` when `path` is now a link or another
 * file, or what {@link describeFsError} makes of the open's failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fchmodSync } from "node:fs";
 * import { openForAttributes } from "./copy_paths.ts";
 *
 * const dir = await Deno.realPath(await Deno.makeTempDir());
 * try {
 *   await Deno.writeTextFile(`${dir}/f`, "x");
 *   await Deno.symlink(`${dir}/f`, `${dir}/link`);
 *   {
 *     using opened = openForAttributes(`${dir}/f`, "f");
 *     fchmodSync(opened.fd, 0o640);
 *   }
 *   assert.equal((await Deno.stat(`${dir}/f`)).mode! & 0o777, 0o640);
 *   assert.throws(() => openForAttributes(`${dir}/link`, "link"), /replaced by a symbolic link/);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export function openForAttributes(
  path: string,
  written: string,
  same?: { readonly dev: number; readonly ino: number | null },
): OpenedFile {
  let seen: Deno.FileInfo;
  try {
    seen = Deno.lstatSync(path);
  } catch (error) {
    throw describeFsError(error, written);
  }
  if (seen.isSymlink) {
    throw new CopyFailure("refused", `${written}: replaced by a symbolic link on the server`);
  }
  // Deno 2.9 drops O_NOFOLLOW unless every permission is granted (as
  // `deno task serve` does not), so the open may follow a link put in the
  // file's place since lstat: the opened file must be the one lstat saw.
  const opened = openWithFlags(
    path,
    written,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  );
  try {
    const info = opened.statSync();
    const replaced = info.dev !== seen.dev || info.ino !== seen.ino ||
      (same !== undefined && (seen.dev !== same.dev || seen.ino !== same.ino));
    if (replaced) {
      throw new CopyFailure("refused", `${written}: replaced by another file on the server`);
    }
  } catch (error) {
    opened.close();
    throw describeFsError(error, written);
  }
  return opened;
}

/**
 * Opens the file at `path` to read it, without waiting: a FIFO (or one put
 * in the file's place since it was looked at) would wait for a writer, and
 * hold the connection. What was opened is for the caller to check.
 *
 * @throws {CopyFailure} what {@link describeFsError} makes of the open's failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openForReading } from "./copy_paths.ts";
 *
 * const dir = await Deno.realPath(await Deno.makeTempDir());
 * try {
 *   const made = await new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).output();
 *   assert.ok(made.success);
 *   {
 *     using opened = openForReading(`${dir}/pipe`, "pipe");
 *     assert.equal(opened.statSync().isFIFO(), true);
 *   }
 *   assert.throws(() => openForReading(`${dir}/missing`, "missing"), /no such file/);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export function openForReading(path: string, written: string): OpenedFile {
  return openWithFlags(path, written, constants.O_RDONLY | constants.O_NONBLOCK);
}

function openWithFlags(path: string, written: string, flags: number): OpenedFile {
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (error) {
    // node:fs reports errors by their code, not as Deno's classes.
    const code = (error as { code?: unknown }).code;
    if (code === "ELOOP") {
      throw new CopyFailure("refused", `${written}: replaced by a symbolic link on the server`);
    }
    if (code === "ENOENT") throw describeFsError(new Deno.errors.NotFound(), written);
    if (code === "EACCES" || code === "EPERM") {
      throw describeFsError(new Deno.errors.PermissionDenied(), written);
    }
    if (code === "EISDIR") throw describeFsError(new Deno.errors.IsADirectory(), written);
    throw describeFsError(error, written);
  }
  let open = true;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  return { fd, statSync: () => fstatSync(fd), close, [Symbol.dispose]: close };
}

/**
 * The directory a new entry `path` goes into, symbolic links resolved, and
 * checked to lie inside the root when there is one.
 *
 * @throws {CopyFailure} `refused` outside the root, `not_found` when the
 * directory does not exist (it is not created), `not_a_directory` when it
 * is something else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realParent } from "./copy_paths.ts";
 *
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * try {
 *   assert.deepEqual(realParent(`${root}/new.txt`, "new.txt", root), { dir: root, name: "new.txt" });
 *   assert.throws(() => realParent(`${root}/missing/x`, "missing/x", root), /no directory/);
 * } finally {
 *   await Deno.remove(root, { recursive: true });
 * }
 * ```
 */
export function realParent(
  path: string,
  written: string,
  root: string | undefined,
): { dir: string; name: string } {
  const cut = path.lastIndexOf("/");
  const name = path.slice(cut + 1);
  if (name === "") throw new CopyFailure("is_a_directory", `${written}: names a directory`);
  const parent = path.slice(0, cut) || "/";
  let dir: string;
  try {
    dir = confinedRealPath(parent, written, root);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CopyFailure("not_found", `${written}: no directory ${parent} on the server`, {
        cause: error,
      });
    }
    throw describeFsError(error, written);
  }
  if (root !== undefined && !isInside(dir, root)) throw outside(written);
  const info = Deno.statSync(dir);
  if (!info.isDirectory) {
    throw new CopyFailure("not_a_directory", `${written}: ${parent} is not a directory`);
  }
  return { dir, name };
}

/**
 * Turns a file system error into the failure the client is told, naming
 * the path as the client wrote it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFsError } from "./copy_paths.ts";
 *
 * const failure = describeFsError(new Deno.errors.NotFound("gone"), "a.txt");
 * assert.equal(failure.code, "not_found");
 * assert.equal(failure.message, "a.txt: no such file or directory on the server");
 * ```
 */
export function describeFsError(error: unknown, written: string): CopyFailure {
  if (error instanceof CopyFailure) return error;
  const options = { cause: error };
  if (error instanceof Deno.errors.NotFound) {
    return new CopyFailure(
      "not_found",
      `${written}: no such file or directory on the server`,
      options,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new CopyFailure(
      "permission_denied",
      `${written}: permission denied on the server`,
      options,
    );
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new CopyFailure("is_a_directory", `${written}: is a directory on the server`, options);
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new CopyFailure(
      "not_a_directory",
      `${written}: a part of the path is not a directory`,
      options,
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new CopyFailure("io_error", `${written}: ${reason}`, options);
}

function outside(written: string): CopyFailure {
  return new CopyFailure("refused", `${written}: outside the copy root of this server`);
}
