/**
 * Writing files that must never be seen half written nor replace another
 * process's, removing files that may be gone already, and telling whether
 * a file was written to while it was read.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * Removes the file at `path`; a file that is not there is no error, any
 * other failure is thrown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { removeIfExists } from "./files.ts";
 *
 * const path = await Deno.makeTempFile();
 * await removeIfExists(path);
 * await removeIfExists(path);
 * await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
 * ```
 */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Options for {@link writeFileExclusive} and {@link FileDraft.write}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ExclusiveWriteOptions } from "./files.ts";
 *
 * const secret: ExclusiveWriteOptions = { mode: 0o600 };
 * assert.equal(secret.mode & 0o077, 0);
 * ```
 */
export interface ExclusiveWriteOptions {
  /** The file's permission bits, exactly, whatever the umask (not set on Windows). */
  readonly mode: number;
}

/**
 * A file written in full under a temporary name beside its own, to be
 * published under its name in one step: readers see the whole file or
 * none, and it never replaces a file another process put there meanwhile.
 * Several drafts published one after another make a set of files whose
 * first decides who owns the set. Disposing of a draft removes its
 * temporary name; a published file stays.
 *
 * @example Publishing two files, the first deciding for both
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileDraft } from "./files.ts";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using key = await FileDraft.write(`${dir}/key`, "secret\n", { mode: 0o600 });
 *   await using cert = await FileDraft.write(`${dir}/cert`, "public\n", { mode: 0o644 });
 *   assert.equal(await key.publish(), true);
 *   assert.equal(await cert.publish(), true);
 * }
 * assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
 *   "cert",
 *   "key",
 * ]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileDraft implements AsyncDisposable {
  /** Where the file is published. */
  readonly path: string;
  readonly #draft: string;

  private constructor(path: string, draft: string) {
    this.path = path;
    this.#draft = draft;
  }

  /**
   * Writes `data` under a new temporary name beside `path`, with
   * `options.mode` from the start. The directory must exist.
   */
  static async write(
    path: string,
    data: string | Uint8Array,
    options: ExclusiveWriteOptions,
  ): Promise<FileDraft> {
    const draft = new FileDraft(path, `${path}.${crypto.randomUUID()}.tmp`);
    try {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      await Deno.writeFile(draft.#draft, bytes, { createNew: true, mode: options.mode });
      // The umask may have narrowed the mode: a certificate is meant to be readable.
      if (Deno.build.os !== "windows") await Deno.chmod(draft.#draft, options.mode);
    } catch (error) {
      await removeIfExists(draft.#draft);
      throw error;
    }
    return draft;
  }

  /**
   * Gives the file its name. A hard link: it appears complete, and never
   * over a file already there.
   *
   * @returns false when a file already has the name, which stays as it is.
   */
  async publish(): Promise<boolean> {
    try {
      await Deno.link(this.#draft, this.path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) return false;
      throw error;
    }
  }

  /** Removes the temporary name. */
  async [Symbol.asyncDispose](): Promise<void> {
    await removeIfExists(this.#draft);
  }
}

/**
 * Creates the file `path` holding `data` unless a file has that name
 * already: readers see the whole file or none, even when several processes
 * try at once, and exactly one of them succeeds. The directory must exist.
 *
 * @returns false when `path` existed, which is left as it was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileExclusive } from "./files.ts";
 *
 * const dir = await Deno.makeTempDir();
 * assert.equal(await writeFileExclusive(`${dir}/token`, "first\n", { mode: 0o600 }), true);
 * assert.equal(await writeFileExclusive(`${dir}/token`, "second\n", { mode: 0o600 }), false);
 * assert.equal(await Deno.readTextFile(`${dir}/token`), "first\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileExclusive(
  path: string,
  data: string | Uint8Array,
  options: ExclusiveWriteOptions,
): Promise<boolean> {
  await using draft = await FileDraft.write(path, data, options);
  return await draft.publish();
}

/** What {@link changedSince} compares: a Deno.FileInfo, or a node:fs Stats. */
export interface FileTimes {
  /** Size in bytes. */
  readonly size: number;
  /** Last modification. */
  readonly mtime: Date | null;
  /** Last change of contents or metadata. */
  readonly ctime: Date | null;
}

/**
 * Whether a file was written to between two looks at it: its size, or its
 * modification or change time, moved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { changedSince } from "./files.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   const before = await Deno.stat(path);
 *   assert.equal(changedSince(before, await Deno.stat(path)), false);
 *   await Deno.writeTextFile(path, "more");
 *   assert.equal(changedSince(before, await Deno.stat(path)), true);
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export function changedSince(before: FileTimes, after: FileTimes): boolean {
  return before.size !== after.size ||
    before.mtime?.getTime() !== after.mtime?.getTime() ||
    before.ctime?.getTime() !== after.ctime?.getTime();
}
