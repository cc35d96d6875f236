/**
 * Writing a file that arrives over the network in chunks, hashing it as it
 * goes and syncing it as it grows: what an upload on the server and a
 * download on the client both do.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/** Chunks up to this size are written with one synchronous call: cheaper than a thread hop. */
const SYNC_WRITE_LIMIT = 64 * 1024;

/** Bytes written between two syncs of the file's data while it arrives. */
const SYNC_STEP = 32 * 1024 * 1024;

/**
 * Writes chunks to `file` and feeds them to `hash`. A large file is synced
 * as it comes, on another thread, so that the final fsync finds little left
 * to write; a failure of those syncs is kept for {@link HashedFileWriter.synced},
 * since Linux may not report a failed writeback to a later fsync.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { HashedFileWriter } from "./hashed_file.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   using file = await Deno.open(path, { write: true });
 *   const hash = createHash("sha256");
 *   const writer = new HashedFileWriter(file, hash);
 *   await writer.write(new TextEncoder().encode("hello "));
 *   await writer.write(new Uint8Array(100_000).fill(0x61));
 *   await writer.synced();
 *   assert.equal((await Deno.stat(path)).size, 100_006);
 *   assert.equal(hash.digest("hex"), createHash("sha256").update(await Deno.readFile(path)).digest("hex"));
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export class HashedFileWriter {
  readonly #file: Deno.FsFile;
  readonly #hash: { update(bytes: Uint8Array): unknown };
  #unsynced = 0;
  #syncing: Promise<void> | undefined;
  #syncFailure: { error: unknown } | undefined;

  /** Writes to `file`, which is open for writing, and hashes into `hash`. */
  constructor(file: Deno.FsFile, hash: { update(bytes: Uint8Array): unknown }) {
    this.#file = file;
    this.#hash = hash;
  }

  /**
   * Writes all of `bytes` and hashes them: a small chunk at once, a large
   * one hashed while another thread writes it.
   *
   * @throws the file's write error.
   */
  async write(bytes: Uint8Array): Promise<void> {
    const file = this.#file;
    if (bytes.length <= SYNC_WRITE_LIMIT) {
      for (let offset = 0; offset < bytes.length;) {
        offset += file.writeSync(bytes.subarray(offset));
      }
      this.#hash.update(bytes);
    } else {
      const writing = (async () => {
        for (let offset = 0; offset < bytes.length;) {
          offset += await file.write(bytes.subarray(offset));
        }
      })();
      this.#hash.update(bytes);
      await writing;
    }
    this.#unsynced += bytes.length;
    if (this.#unsynced >= SYNC_STEP && this.#syncing === undefined) {
      this.#unsynced = 0;
      this.#syncing = file.syncData()
        .catch((error) => void (this.#syncFailure ??= { error }))
        .finally(() => this.#syncing = undefined);
    }
  }

  /**
   * Waits for the sync under way, if any.
   *
   * @throws the error of the first sync that failed.
   */
  async synced(): Promise<void> {
    await this.#syncing;
    if (this.#syncFailure) throw this.#syncFailure.error;
  }
}
