/**
 * One file operation on the server, from its COPY_REQUEST to its
 * COPY_RESULT: an upload written to a temporary file beside its
 * destination, hashed as it is written and renamed into place only once its
 * size and SHA-256 match what the client read; a download read and hashed
 * in chunks, sent only as far as the client's window allows; and the small
 * operations a recursive copy needs (stat, list, mkdir, symlink, attr).
 *
 * Memory does not grow with the file: an upload's bytes in flight are
 * bounded by the window the server grants as it writes them to disk, and a
 * download holds one chunk, sent only when the client has room and the
 * socket took the previous one. However the operation ends (a failure, a
 * cancel, a lost connection, a shutdown) its temporary file is removed.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { fchmodSync, futimesSync, read as readFd } from "node:fs";
import { ErrorCode } from "../protocol/error_code.ts";
import { ProtocolError } from "../errors.ts";
import { encodeHeader, FrameType, frameTypeName, HEADER_SIZE } from "../protocol/frame.ts";
import { requireEmptyBody } from "../protocol/messages.ts";
import {
  type CopyErrorCode,
  type CopyRequest,
  type CopyResult,
  decodeCopyEnd,
  decodeCopyWindow,
  encodeCopyJson,
  encodeCopyWindow,
  type FileFacts,
  type TreeEntry,
} from "../protocol/transfer.ts";
import type { FrameWriter } from "../transport/frame_writer.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { changedSince } from "../util/files.ts";
import { HashedFileWriter } from "../util/hashed_file.ts";
import { temporaryName } from "../util/temp_name.ts";
import {
  checkOpenedInside,
  confinedRealPath,
  CopyFailure,
  type CopyPlaces,
  describeFsError,
  openForAttributes,
  openForReading,
  realParent,
  resolveCopyPath,
} from "./copy_paths.ts";

/**
 * Bytes of an upload a client may have in flight, in all: it starts with the
 * HELLO's `stdinWindow`, and the server grants the rest at once. Large
 * enough to keep a fast link busy, small enough that many uploads at once
 * stay far from the memory a server has.
 */
export const UPLOAD_WINDOW = 4 * 1024 * 1024;

/**
 * Largest COPY_DATA body a download sends, when the client takes it: as
 * for a command's output, frames of this size fit the client's read-ahead
 * buffer and are lent from it without a copy, where larger ones would each
 * cost the client a new buffer.
 */
export const COPY_CHUNK_SIZE = 256 * 1024;

/** Credit is returned in steps of at least this much, or when the queue empties. */
const GRANT_STEP = 256 * 1024;

/** Most bytes of entries in one COPY_INFO of a listing. */
const LIST_BATCH_BYTES = 32 * 1024;

/**
 * Most characters of a failure's message in a COPY_RESULT: a message names
 * the path as the client wrote it, and a path can be as long as a frame;
 * escaped as JSON (6 bytes a character at worst), this keeps the answer
 * within the smallest frame a client may ask for.
 */
const MAX_MESSAGE_CHARS = 600;

const encoder = new TextEncoder();

/** A COPY_RESULT that says the operation succeeded. */
type Done = Extract<CopyResult, { ok: true }>;

/** What a transfer takes from its session. */
export interface TransferSettings {
  /** Where paths go, and the root that confines them. */
  readonly places: CopyPlaces;
  /** Set when the server refuses transfers: the reason, for the client. */
  readonly refusal?: string;
  /** The session's frame writer. */
  readonly writer: FrameWriter;
  /** COPY_DATA bytes a client may send before the first COPY_WINDOW: the HELLO's `stdinWindow`. */
  readonly initialWindow: number;
  /** Largest COPY_DATA body to send: the client's limit or less. */
  readonly chunkSize: number;
  /**
   * The operation asked for before this one. An upload starts once the one
   * before has received all it needs from the connection (so their fsyncs
   * overlap), anything else once it has ended; every result goes out after
   * the one before, and an upload renames its file only after it.
   */
  readonly previous?: Pick<ServerTransfer, "released" | "finished">;
  /**
   * Records an upload that is about to replace its file, before it does:
   * false when the record could not be kept and the server fails closed,
   * so that no file changes unrecorded.
   */
  readonly commit?: (
    record: { path: string; bytes: number; sha256: string; durationMs: number },
  ) => boolean;
}

/** How an operation ended, for the log and the audit trail. */
export interface TransferOutcome {
  /** The operation. */
  readonly op: CopyRequest["op"];
  /** The path as resolved on the server, or as written when it could not be. */
  readonly path: string;
  /** Bytes written or sent. */
  readonly bytes?: number;
  /** SHA-256 of those bytes, hex, once complete. */
  readonly sha256?: string;
  /** `ok`, the error code the client was told, or `disconnected`. */
  readonly result: "ok" | CopyErrorCode | "disconnected";
  /** The failure's message. */
  readonly message?: string;
  /** Whether the upload's record was kept already, by `commit`. */
  readonly committed?: boolean;
  /** How long it took. */
  readonly durationMs: number;
}

/**
 * One file operation. Feed it the client's frames with {@link handle};
 * {@link finished} resolves once it has ended and left nothing behind.
 *
 * @example An upload, a download and a refusal, through the server
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { serve } from "./server.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * const root = await Deno.makeTempDir();
 * try {
 *   await using server = await serve({ token, hostname: "127.0.0.1", port: 0, copyRoot: root });
 *   await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *   const bytes = new TextEncoder().encode("hello\n");
 *   await client.files.uploadBytes(bytes, "greeting.txt");
 *   assert.equal(await Deno.readTextFile(`${root}/greeting.txt`), "hello\n");
 *   await assert.rejects(client.files.uploadBytes(bytes, "../escape.txt"), /outside the copy root/);
 * } finally {
 *   await Deno.remove(root, { recursive: true });
 * }
 * ```
 */
export class ServerTransfer {
  /** What the client asked for. */
  readonly request: CopyRequest;
  /** Resolves once the operation has ended and its COPY_RESULT, if any, was queued. */
  readonly finished: Promise<TransferOutcome>;
  /** Resolves once the operation needs nothing more from the connection. */
  readonly released: Promise<void>;
  readonly #released = Promise.withResolvers<void>();
  readonly #settings: TransferSettings;
  readonly #started = performance.now();
  readonly #chunks: Uint8Array[] = [];
  #endDigest: string | undefined;
  /** Upload bytes the client may still send. */
  #allowance: number;
  /** Download bytes the server may still send. */
  #credit = 0;
  #stop: "cancelled" | "disconnected" | "shutdown" | undefined;
  #wake: PromiseWithResolvers<void> | undefined;
  #path: string;
  #bytes = 0;
  #committed = false;

  /** Starts the operation at once; its frames go to {@link handle}. */
  constructor(request: CopyRequest, settings: TransferSettings) {
    this.request = request;
    this.#settings = settings;
    this.#allowance = settings.initialWindow;
    this.#path = request.path;
    this.released = this.#released.promise;
    this.finished = this.#run();
  }

  /**
   * Takes a COPY_DATA, COPY_END, COPY_WINDOW or COPY_CANCEL for this operation.
   *
   * @throws {ProtocolError} for a frame this operation cannot take, or more
   * COPY_DATA than the window allows.
   */
  handle(type: FrameType, body: Uint8Array): void {
    const op = this.request.op;
    switch (type) {
      case FrameType.CopyData:
        if (op !== "put" || this.#endDigest !== undefined || body.length === 0) break;
        this.#allowance -= body.length;
        if (this.#allowance < 0) {
          throw new ProtocolError(
            "more COPY_DATA than the window allows",
            ErrorCode.WindowExceeded,
          );
        }
        this.#chunks.push(body);
        this.#wakeUp();
        return;
      case FrameType.CopyEnd:
        if (op !== "put" || this.#endDigest !== undefined) break;
        this.#endDigest = decodeCopyEnd(body);
        this.#wakeUp();
        return;
      case FrameType.CopyWindow: {
        const credit = decodeCopyWindow(body);
        // A grant that trails the download it was for is stale, not wrong.
        if (op !== "get") return;
        this.#credit += credit;
        this.#wakeUp();
        return;
      }
      case FrameType.CopyCancel:
        requireEmptyBody(type, body);
        this.#stop ??= "cancelled";
        this.#wakeUp();
        return;
    }
    throw new ProtocolError(`unexpected ${frameTypeName(type)} frame during a ${op} operation`);
  }

  /** Ends the operation because its connection ended or the server is stopping. */
  abort(reason: "disconnected" | "shutdown"): void {
    this.#stop ??= reason;
    this.#wakeUp();
  }

  #wakeUp(): void {
    this.#wake?.resolve();
    this.#wake = undefined;
  }

  /** Waits for the next frame of this operation, or its end. */
  async #next(): Promise<void> {
    this.#throwIfStopped();
    this.#wake ??= Promise.withResolvers();
    await this.#wake.promise;
    this.#throwIfStopped();
  }

  #throwIfStopped(): void {
    if (this.#stop === undefined) return;
    const message = this.#stop === "shutdown"
      ? `${this.request.path}: the server is shutting down`
      : this.#stop === "disconnected"
      ? `${this.request.path}: the connection ended`
      : `${this.request.path}: cancelled`;
    throw new CopyFailure("cancelled", message);
  }

  async #run(): Promise<TransferOutcome> {
    let result: CopyResult;
    let done: Done;
    let outcome: Omit<TransferOutcome, "durationMs" | "op" | "path">;
    const previous = this.#settings.previous;
    try {
      await (this.request.op === "put" ? previous?.released : previous?.finished);
      this.#throwIfStopped();
      if (this.#settings.refusal !== undefined) {
        throw new CopyFailure("refused", this.#settings.refusal);
      }
      result = done = await this.#perform();
      outcome = {
        result: "ok",
        ...(done.bytes !== undefined ? { bytes: done.bytes } : {}),
        ...(done.sha256 !== undefined ? { sha256: done.sha256 } : {}),
      };
    } catch (error) {
      const failure = describeFsError(error, this.request.path);
      result = { ok: false, error: failure.code, message: shortened(failure.message) };
      outcome = {
        result: this.#stop === "disconnected" ? "disconnected" : failure.code,
        message: failure.message,
        ...(this.#bytes > 0 ? { bytes: this.#bytes } : {}),
      };
    }
    this.#released.resolve();
    await previous?.finished;
    if (this.#stop !== "disconnected") {
      // A failed write means the connection is gone; the session sees it too.
      this.#settings.writer.write(FrameType.CopyResult, encodeCopyJson(result)).catch(() => {});
    }
    return {
      op: this.request.op,
      path: this.#path,
      ...(this.#committed ? { committed: true } : {}),
      ...outcome,
      durationMs: Math.round(performance.now() - this.#started),
    };
  }

  #resolve(path: string): string {
    const resolved = resolveCopyPath(path, this.#settings.places);
    this.#path = resolved;
    return resolved;
  }

  #perform(): Promise<Done> {
    const request = this.request;
    switch (request.op) {
      case "put":
        return this.#put(request);
      case "get":
        return this.#get(request);
      case "stat":
        return this.#stat(request.path);
      case "list":
        return this.#list(request.path);
      case "mkdir":
        return this.#mkdir(request.path, request.mode);
      case "symlink":
        return this.#symlink(request.path, request.target);
      case "attr":
        return this.#attr(request);
    }
  }

  async #put(request: Extract<CopyRequest, { op: "put" }>): Promise<Done> {
    const { root } = this.#settings.places;
    const full = this.#resolve(request.path);
    const { dir, name } = realParent(full, request.path, root);
    const target = `${dir}/${name}`;
    const existing = lstatOrUndefined(target);
    refuseToReplace(existing, request.path);
    // An existing file keeps its mode unless the client gives one, as cp does.
    const mode = request.mode ?? (existing?.isFile ? (existing.mode ?? 0o644) & 0o777 : undefined);
    const temp = temporaryName(dir, name);
    // Private while written when a mode is set at the end; otherwise a new
    // file's mode, which only the umask can give.
    const file = Deno.openSync(temp, {
      write: true,
      createNew: true,
      mode: mode === undefined ? 0o666 : 0o600,
    });
    let published = false;
    try {
      checkOpenedInside(file, temp, request.path, root);
      // The rest of the window, granted at once: see UPLOAD_WINDOW.
      const extra = Math.max(0, Math.min(UPLOAD_WINDOW, request.size) - this.#allowance);
      if (extra > 0) this.#grant(extra);
      const hash = createHash("sha256");
      await this.#receive(file, hash, request.size);
      const sha256 = hash.digest("hex");
      if (this.#bytes !== request.size) {
        throw new CopyFailure(
          "size_mismatch",
          `${request.path}: ${this.#bytes} bytes arrived of the ${request.size} announced ` +
            `(did the file change while it was read?); the old file is left as it was`,
        );
      }
      if (sha256 !== this.#endDigest) {
        throw new CopyFailure(
          "checksum_mismatch",
          `${request.path}: the SHA-256 of the bytes written differs from the sender's; ` +
            `the old file is left as it was`,
        );
      }
      // All its bytes are in: the next upload may take the connection while this one syncs.
      this.#released.resolve();
      await file.sync();
      await this.#settings.previous?.finished;
      if (this.#settings.commit) {
        const durationMs = Math.round(performance.now() - this.#started);
        if (!this.#settings.commit({ path: target, bytes: this.#bytes, sha256, durationMs })) {
          throw new CopyFailure(
            "refused",
            `${request.path}: the server cannot write its audit log, so it changes no files ` +
              `until it can; tell the server's operator`,
          );
        }
        this.#committed = true;
      }
      // Through the file itself: by path, a link put in the temporary file's
      // place would carry the mode to whatever it points at.
      if (mode !== undefined) {
        using opened = openForAttributes(temp, request.path, file.statSync());
        fchmodSync(opened.fd, mode & 0o777);
      }
      if (request.mtime !== undefined) file.utimeSync(new Date(), new Date(request.mtime));
      file.close();
      Deno.renameSync(temp, target);
      published = true;
      return { ok: true, bytes: this.#bytes, sha256, path: target };
    } finally {
      if (!published) {
        closeQuietly(file);
        try {
          Deno.removeSync(temp);
        } catch {
          // Gone already, or never made: nothing to leave behind either way.
        }
      }
    }
  }

  /** Writes the upload's chunks as they come, returning credit as they are on disk. */
  async #receive(file: Deno.FsFile, hash: Hash, size: number): Promise<void> {
    let owed = 0;
    const writer = new HashedFileWriter(file, hash);
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk === undefined) {
        if (this.#endDigest !== undefined) {
          await writer.synced();
          return;
        }
        await this.#next();
        continue;
      }
      this.#throwIfStopped();
      if (this.#bytes + chunk.length > size) {
        throw new CopyFailure(
          "size_mismatch",
          `${this.request.path}: more bytes arrived than the ${size} announced`,
        );
      }
      // Small chunks are written at once; large ones without holding up the other sessions.
      await writer.write(chunk);
      this.#bytes += chunk.length;
      owed += chunk.length;
      // Credit only for bytes still to come: the client needs no more.
      if (owed >= GRANT_STEP || this.#chunks.length === 0) {
        const needed = Math.max(0, size - this.#bytes - this.#allowance);
        const grant = Math.min(owed, needed);
        owed = 0;
        if (grant > 0) this.#grant(grant);
      }
    }
  }

  #grant(bytes: number): void {
    this.#allowance += bytes;
    this.#settings.writer.write(FrameType.CopyWindow, encodeCopyWindow(bytes)).catch(() => {});
  }

  async #get(request: Extract<CopyRequest, { op: "get" }>): Promise<Done> {
    const { root } = this.#settings.places;
    const full = this.#resolve(request.path);
    const real = confinedRealPath(full, request.path, root);
    // Opened without waiting: a FIFO, even one swapped in for the file since
    // it was resolved, would wait for a writer.
    const file = openForReading(real, request.path);
    // Two frames: the next chunk is read (on another thread) while this one
    // is hashed and sent, so the disk, the hash and the socket work at once.
    let reading: Promise<number | null> | undefined;
    try {
      checkOpenedInside(file, real, request.path, root);
      const opened = file.statSync();
      if (opened.isDirectory()) {
        throw new CopyFailure("is_a_directory", `${request.path}: is a directory on the server`);
      }
      if (!opened.isFile()) {
        throw new CopyFailure("not_a_file", `${request.path}: not a regular file on the server`);
      }
      this.#credit = request.window;
      const { writer, chunkSize } = this.#settings;
      const facts: FileFacts = {
        kind: "file",
        size: opened.size,
        mode: opened.mode & 0o777,
        mtime: opened.mtime.getTime(),
      };
      await writer.write(FrameType.CopyInfo, encodeCopyJson({ facts }));
      const hash = createHash("sha256");
      let current = new Uint8Array(HEADER_SIZE + chunkSize);
      let spare = new Uint8Array(HEADER_SIZE + chunkSize);
      const readInto = (frame: Uint8Array) => {
        const started = new Promise<number | null>((resolve, reject) =>
          readFd(file.fd, frame, HEADER_SIZE, chunkSize, null, (error, read) => {
            if (error) reject(error);
            else resolve(read === 0 ? null : read);
          })
        );
        // Awaited below, or before the file closes when the operation ends first.
        started.catch(() => {});
        return started;
      };
      reading = readInto(current);
      for (;;) {
        const read = await reading;
        if (read === null) break;
        reading = readInto(spare);
        const body = current.subarray(HEADER_SIZE, HEADER_SIZE + read);
        for (let offset = 0; offset < read;) {
          while (this.#credit === 0) await this.#next();
          this.#throwIfStopped();
          const size = Math.min(read - offset, this.#credit);
          // Each send resolves once the socket took it: a slow client holds the reading back.
          if (size === read) {
            encodeHeader(current, FrameType.CopyData, read);
            const sending = writer.writeEncoded(current.subarray(0, HEADER_SIZE + read));
            hash.update(body);
            await sending;
          } else {
            // Less window than a chunk: the chunk goes in pieces.
            const piece = body.subarray(offset, offset + size);
            hash.update(piece);
            await writer.write(FrameType.CopyData, piece);
          }
          this.#credit -= size;
          this.#bytes += size;
          offset += size;
        }
        [current, spare] = [spare, current];
      }
      // Bytes changed in place while being read would make a copy that never
      // existed, with a hash that agrees with it: the file's times say so.
      if (changedSince(opened, file.statSync())) {
        throw new CopyFailure(
          "io_error",
          `${request.path}: changed on the server while it was read; not copied`,
        );
      }
      return { ok: true, bytes: this.#bytes, sha256: hash.digest("hex"), path: full };
    } finally {
      // A descriptor closed under a read still running could be reused by another file.
      await reading?.catch(() => {});
      file.close();
    }
  }

  async #stat(path: string): Promise<Done> {
    const full = this.#resolve(path);
    const real = this.#realEntry(full, path);
    const info = await Deno.lstat(real);
    const facts = factsOf(info);
    return {
      ok: true,
      path: full,
      facts: info.isSymlink ? { ...facts, target: await Deno.readLink(real) } : facts,
    };
  }

  async #list(path: string): Promise<Done> {
    const { root } = this.#settings.places;
    const full = this.#resolve(path);
    const real = confinedRealPath(full, path, root);
    if (!(await Deno.stat(real)).isDirectory) {
      throw new CopyFailure("not_a_directory", `${path}: not a directory on the server`);
    }
    let batch: TreeEntry[] = [];
    let batchBytes = 0;
    // Within the client's largest frame too: `{"entries":[` and `]}` around, a comma after each.
    const limit = Math.min(LIST_BATCH_BYTES, this.#settings.chunkSize - 16);
    const flush = async () => {
      if (batch.length === 0) return;
      await this.#settings.writer.write(FrameType.CopyInfo, encodeCopyJson({ entries: batch }));
      batch = [];
      batchBytes = 0;
    };
    const add = async (entry: TreeEntry) => {
      const size = encoder.encode(JSON.stringify(entry)).length + 1;
      if (batchBytes + size > limit) await flush();
      batch.push(entry);
      batchBytes += size;
    };
    // Depth first, each directory before what it holds; links are listed, not followed.
    const pending: string[] = [""];
    for (let relative = pending.pop(); relative !== undefined; relative = pending.pop()) {
      const names: string[] = [];
      for await (const entry of Deno.readDir(relative === "" ? real : `${real}/${relative}`)) {
        names.push(entry.name);
      }
      names.sort();
      const subdirs: string[] = [];
      for (const name of names) {
        this.#throwIfStopped();
        const entryPath = relative === "" ? name : `${relative}/${name}`;
        const absolute = `${real}/${entryPath}`;
        const info = lstatOrUndefined(absolute);
        // Gone since readDir, or a name that is not UTF-8: it comes back with
        // U+FFFD in it and names nothing. The latter is listed as `other`, so
        // the client can say which file it could not copy; the former is not
        // there any more, as if listed a moment later.
        if (info === undefined) {
          if (!name.includes("\uFFFD")) continue;
          await add({ path: entryPath, kind: "other", size: 0, mode: 0, mtime: 0 });
          continue;
        }
        const facts = factsOf(info);
        const entry: TreeEntry = {
          path: entryPath,
          ...(info.isSymlink ? { ...facts, target: await Deno.readLink(absolute) } : facts),
        };
        if (info.isDirectory) subdirs.push(entryPath);
        await add(entry);
      }
      pending.push(...subdirs.reverse());
    }
    await flush();
    return { ok: true, path: real };
  }

  async #mkdir(path: string, mode: number | undefined): Promise<Done> {
    const { root } = this.#settings.places;
    const full = this.#resolve(path);
    if (root !== undefined && full === root) return { ok: true, path: full };
    const { dir, name } = realParent(full, path, root);
    const target = `${dir}/${name}`;
    try {
      await Deno.mkdir(target, { mode: mode ?? 0o777 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const real = confinedRealPath(target, path, root);
      if (!(await Deno.stat(real)).isDirectory) {
        throw new CopyFailure(
          "not_a_directory",
          `${path}: exists on the server, not as a directory`,
        );
      }
    }
    return { ok: true, path: target };
  }

  async #symlink(path: string, linkTarget: string): Promise<Done> {
    const { root } = this.#settings.places;
    const full = this.#resolve(path);
    const { dir, name } = realParent(full, path, root);
    const target = `${dir}/${name}`;
    refuseToReplace(lstatOrUndefined(target), path);
    // Made beside its place and renamed over it, so an old entry is replaced in one step.
    const temp = temporaryName(dir, name);
    await Deno.symlink(linkTarget, temp);
    try {
      await Deno.rename(temp, target);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
    return { ok: true, path: target };
  }

  async #attr(request: Extract<CopyRequest, { op: "attr" }>): Promise<Done> {
    const { root } = this.#settings.places;
    const full = this.#resolve(request.path);
    const real = this.#realEntry(full, request.path);
    const info = await Deno.lstat(real);
    // A link's own mode and time are not kept; chmod would change its target.
    if (info.isSymlink) return { ok: true, path: full };
    // Through the open file, never by path: see openForAttributes.
    using file = openForAttributes(real, request.path);
    checkOpenedInside(file, real, request.path, root);
    if (request.mode !== undefined) fchmodSync(file.fd, request.mode & 0o777);
    if (request.mtime !== undefined) futimesSync(file.fd, new Date(), new Date(request.mtime));
    return { ok: true, path: full };
  }

  /**
   * Under a root, `full` with the links of its directory resolved, checked
   * to lie inside the root; `full` itself without one. Looked at by that
   * path, not `full`: a link in `full` swapped after the check (by another
   * connection's symlink) would show a file outside.
   */
  #realEntry(full: string, written: string): string {
    const { root } = this.#settings.places;
    if (root === undefined || full === root) return full;
    const { dir, name } = realParent(full, written, root);
    return `${dir}/${name}`;
  }
}

/**
 * The facts of a file that a copy keeps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { factsOf } from "./transfer.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "abc");
 *   await Deno.chmod(path, 0o640);
 *   const facts = factsOf(await Deno.stat(path));
 *   assert.equal(facts.kind, "file");
 *   assert.equal(facts.size, 3);
 *   assert.equal(facts.mode, 0o640);
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export function factsOf(info: Deno.FileInfo): FileFacts {
  return {
    kind: info.isFile ? "file" : info.isDirectory ? "dir" : info.isSymlink ? "symlink" : "other",
    size: info.size,
    mode: (info.mode ?? 0o644) & 0o777,
    mtime: info.mtime?.getTime() ?? 0,
  };
}

function shortened(message: string): string {
  if (message.length <= MAX_MESSAGE_CHARS) return message;
  const half = MAX_MESSAGE_CHARS / 2;
  return `${message.slice(0, half)}…${message.slice(-half)}`;
}

/**
 * Only a regular file or a link is replaced: a directory is not, nor a
 * device, FIFO or socket, which a rename would take away from whatever uses
 * it (an upload to /dev/null must not leave a plain file there).
 */
function refuseToReplace(existing: Deno.FileInfo | undefined, written: string): void {
  if (existing === undefined || existing.isFile || existing.isSymlink) return;
  if (existing.isDirectory) {
    throw new CopyFailure("is_a_directory", `${written}: is a directory on the server`);
  }
  throw new CopyFailure(
    "not_a_file",
    `${written}: a device, FIFO or socket on the server, not a regular file; left as it is`,
  );
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
