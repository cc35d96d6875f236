/**
 * File transfer seen from the client: uploads and downloads checked end to
 * end with SHA-256, and the small operations a recursive copy needs. Each
 * operation runs alone on its connection, like a command, from its
 * COPY_REQUEST to its COPY_RESULT.
 *
 * An upload sends only as far as the server's window allows, so a slow
 * disk on the server holds the sender back; a download grants the server
 * window only as its bytes reach the local disk. A download is written to a
 * temporary file beside its destination and renamed into place only once
 * its size and SHA-256 match the server's; on any failure or abort the
 * temporary file is removed and the destination is as it was.
 *
 * @module
 */

import { RexecError } from "../errors.ts";
import { FrameType } from "../protocol/frame.ts";
import {
  COPY_FEATURE,
  type CopyErrorCode,
  type CopyRequest,
  type CopyResult,
  decodeCopyInfo,
  decodeCopyResult,
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

export type { FileFacts, FileKind, TreeEntry } from "../protocol/transfer.ts";

/** Bytes of a download the server may have in flight. */
const DOWNLOAD_WINDOW = 4 * 1024 * 1024;

/** Window is returned to the server in steps of at least this much. */
const GRANT_STEP = 512 * 1024;

/** Largest COPY_DATA body an upload sends, when the server takes it. */
const UPLOAD_CHUNK = 1024 * 1024;

/**
 * A file operation failed: the server refused it (`refused`, its policy), or
 * the file could not be read, written or verified. `unsupported` means the
 * server is a rexec release without file transfer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CopyError } from "./transfer.ts";
 *
 * const error = new CopyError("refused", "this server refuses file transfers");
 * assert.equal(error.code, "refused");
 * ```
 */
export class CopyError extends RexecError {
  /** Why, as a code: the server's, or `unsupported`. */
  readonly code: CopyErrorCode | "unsupported";

  /** Creates the error; `message` names the path. */
  constructor(code: CopyErrorCode | "unsupported", message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Options of every upload and download.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TransferOptions } from "./transfer.ts";
 *
 * const seen: number[] = [];
 * const options: TransferOptions = {
 *   onProgress: (done) => seen.push(done),
 *   signal: AbortSignal.timeout(60_000),
 * };
 * options.onProgress?.(10, 20);
 * assert.deepEqual(seen, [10]);
 * ```
 */
export interface TransferOptions {
  /** Told the bytes done so far and the file's size, after each chunk. */
  onProgress?: (done: number, total: number) => void;
  /** Stops the transfer: nothing of it stays, and the promise rejects with the reason. */
  signal?: AbortSignal;
  /** Keep the mode and modification time; default true. */
  preserve?: boolean;
}

/**
 * What a finished upload or download moved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TransferStats } from "./transfer.ts";
 *
 * const stats: TransferStats = {
 *   path: "/home/ada/empty",
 *   bytes: 0,
 *   sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 *   durationMs: 3,
 * };
 * assert.equal(stats.sha256.length, 64);
 * ```
 */
export interface TransferStats {
  /** The destination: the server's resolved path for an upload, the local one for a download. */
  readonly path: string;
  /** Bytes copied. */
  readonly bytes: number;
  /** SHA-256 of those bytes, hex, the same on both sides. */
  readonly sha256: string;
  /** How long it took, in milliseconds. */
  readonly durationMs: number;
}

/**
 * What an upload from a stream of chunks needs to say first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UploadSourceOptions } from "./transfer.ts";
 *
 * const chunks = [new Uint8Array(3), new Uint8Array(2)];
 * const options: UploadSourceOptions = {
 *   size: chunks.reduce((sum, chunk) => sum + chunk.length, 0),
 *   mode: 0o640,
 *   mtime: Date.parse("2024-01-01T00:00:00Z"),
 * };
 * assert.equal(options.size, 5);
 * ```
 */
export interface UploadSourceOptions extends TransferOptions {
  /** Bytes the source will yield, exactly. */
  size: number;
  /** Permission bits the file gets; when absent, an existing file's, or the server's default. */
  mode?: number;
  /** Modification time, milliseconds since the epoch; now when absent. */
  mtime?: number;
}

/** What a client's connection offers its file operations. */
export interface TransferHost {
  /** `host:port`, for messages. */
  readonly where: string;
  /** The connection's frame writer. */
  readonly writer: FrameWriter;
  /** Largest frame body the server accepts. */
  readonly maxFrameSize: number;
  /** COPY_DATA bytes an upload may send before the server's first COPY_WINDOW. */
  readonly initialWindow: number;
  /** What the server's HELLO said it speaks. */
  readonly features: readonly string[];
  /**
   * Queues `channel` behind the operations not answered yet, once there is
   * room among them; the server runs them in order.
   *
   * @throws {SessionBusyError} while a command runs.
   * @throws the connection's failure once it has ended.
   */
  begin(channel: TransferChannel): Promise<void>;
}

/** One operation's share of the connection: the frames the server sends for it. */
export class TransferChannel {
  /** Resolves with the COPY_RESULT; rejects when the connection ends first. */
  readonly result: Promise<CopyResult>;
  readonly #result = Promise.withResolvers<CopyResult>();
  readonly #onInfo: (body: Uint8Array) => Promise<void> | void;
  readonly #onData: (body: Uint8Array) => Promise<void> | void;
  #credit: number;
  #creditWake: PromiseWithResolvers<void> | undefined;
  #settled = false;

  /** A channel whose COPY_INFO and COPY_DATA bodies go to these callbacks. */
  constructor(options: {
    initialCredit?: number;
    onInfo?: (body: Uint8Array) => Promise<void> | void;
    onData?: (body: Uint8Array) => Promise<void> | void;
  } = {}) {
    this.#credit = options.initialCredit ?? 0;
    this.#onInfo = options.onInfo ?? unexpected("COPY_INFO");
    this.#onData = options.onData ?? unexpected("COPY_DATA");
    this.result = this.#result.promise;
    // Read by whoever awaits it; a connection that fails first must not go unhandled.
    this.result.catch(() => {});
  }

  /** Whether the COPY_RESULT has come, or the connection ended. */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Takes a frame of this operation from the connection. The body is lent:
   * it is valid only until the returned promise settles.
   *
   * @returns whether the operation has ended with this frame.
   */
  async deliver(type: FrameType, body: Uint8Array): Promise<boolean> {
    switch (type) {
      case FrameType.CopyInfo:
        await this.#onInfo(body);
        return false;
      case FrameType.CopyData:
        await this.#onData(body);
        return false;
      case FrameType.CopyWindow:
        this.#credit += decodeCopyWindow(body);
        this.#wake();
        return false;
      default:
        this.#settled = true;
        this.#result.resolve(decodeCopyResult(body));
        this.#wake();
        return true;
    }
  }

  /** Ends the operation with the connection's failure. */
  fail(error: Error): void {
    this.#settled = true;
    this.#result.reject(error);
    this.#wake();
  }

  /**
   * Waits until `bytes` of window are free, and takes them.
   *
   * @returns false when the operation ended first.
   */
  async takeCredit(bytes: number): Promise<boolean> {
    while (this.#credit < bytes && !this.#settled) {
      this.#creditWake ??= Promise.withResolvers();
      await this.#creditWake.promise;
    }
    if (this.#settled) return false;
    this.#credit -= bytes;
    return true;
  }

  #wake(): void {
    this.#creditWake?.resolve();
    this.#creditWake = undefined;
  }
}

function unexpected(name: string): () => never {
  return () => {
    throw new RexecError(`the server sent ${name} for an operation that has none`);
  };
}

/**
 * The server's files, through one connection: `client.files`. One
 * operation at a time, and not while a command runs.
 *
 * @example Uploading, looking, downloading
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * const root = await Deno.makeTempDir();
 * const local = await Deno.makeTempDir();
 * try {
 *   await using server = await serve({ token, hostname: "127.0.0.1", port: 0, copyRoot: root });
 *   await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *   await client.files.mkdir("in");
 *   const sent = await client.files.uploadBytes(new TextEncoder().encode("abc"), "in/a.txt");
 *   assert.equal((await client.files.stat("in/a.txt")).size, 3);
 *   assert.deepEqual((await client.files.list("in")).map((entry) => entry.path), ["a.txt"]);
 *   const got = await client.files.download("in/a.txt", `${local}/a.txt`);
 *   assert.equal(got.sha256, sent.sha256);
 *   assert.equal(await Deno.readTextFile(`${local}/a.txt`), "abc");
 * } finally {
 *   await Deno.remove(root, { recursive: true });
 *   await Deno.remove(local, { recursive: true });
 * }
 * ```
 */
export interface RemoteFiles {
  /**
   * Uploads the local file `localPath` to `remotePath` on the server, which
   * replaces that file only once all of it arrived and its SHA-256 matches.
   * Its mode and modification time are kept unless `preserve` is false.
   *
   * @throws {CopyError} when the local file cannot be read, or the server
   * refuses or fails the upload.
   */
  upload(localPath: string, remotePath: string, options?: TransferOptions): Promise<TransferStats>;
  /**
   * Uploads `bytes` to `remotePath`.
   *
   * @throws {CopyError} when the server refuses or fails the upload.
   */
  uploadBytes(
    bytes: Uint8Array,
    remotePath: string,
    options?: TransferOptions & { mode?: number; mtime?: number },
  ): Promise<TransferStats>;
  /**
   * Uploads what `source` yields, exactly `options.size` bytes, to
   * `remotePath`. Each chunk has been sent when the next is asked for, so
   * the source may reuse its buffers, and one source can feed several
   * uploads in step (each file read once for many servers).
   *
   * @throws {CopyError} when the server refuses or fails the upload, or the
   * source yields another size than announced.
   */
  uploadFrom(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    remotePath: string,
    options: UploadSourceOptions,
  ): Promise<TransferStats>;
  /**
   * Downloads `remotePath` to the local file `localPath`, whose directory
   * must exist. The file appears under its name only once complete and
   * verified; on failure or abort the destination is as it was and no
   * temporary file remains.
   *
   * @throws {CopyError} when the server refuses or fails the download, or
   * the local file cannot be written.
   */
  download(
    remotePath: string,
    localPath: string,
    options?: TransferOptions,
  ): Promise<TransferStats>;
  /**
   * What `remotePath` is on the server; a symbolic link is not followed.
   *
   * @throws {CopyError} `not_found` when there is nothing there.
   */
  stat(remotePath: string): Promise<FileFacts>;
  /**
   * Everything below the directory `remotePath`, each directory before what
   * it holds; symbolic links are listed, not followed.
   *
   * @throws {CopyError} when it is not a directory, or cannot be read.
   */
  list(remotePath: string, options?: { signal?: AbortSignal }): Promise<TreeEntry[]>;
  /**
   * Makes the directory `remotePath`; one that exists already is fine. Its
   * parent must exist.
   *
   * @throws {CopyError} when it cannot be made, or exists as something else.
   */
  mkdir(remotePath: string, options?: { mode?: number }): Promise<void>;
  /**
   * Makes `remotePath` a symbolic link to `target`, replacing a file or link
   * there in one step.
   *
   * @throws {CopyError} when it cannot be made.
   */
  symlink(remotePath: string, target: string): Promise<void>;
  /**
   * Sets the mode and modification time of `remotePath`: what a recursive
   * copy does for each directory once its contents are in.
   *
   * @throws {CopyError} when they cannot be set.
   */
  setAttributes(remotePath: string, attributes: { mode?: number; mtime?: number }): Promise<void>;
}

/** {@link RemoteFiles} over one connection. */
export class FileOperations implements RemoteFiles {
  readonly #host: TransferHost;
  /** Settles once the operation asked for last has sent all its frames. */
  #sent: Promise<void> = Promise.resolve();
  /** Settles once every operation asked for so far has its answer. */
  #answered: Promise<void> = Promise.resolve();

  /** Operations over the connection `host` describes. */
  constructor(host: TransferHost) {
    this.#host = host;
  }

  /**
   * Uploads the local file `localPath` to `remotePath` on the server, which
   * replaces that file only once all of it arrived and its SHA-256 matches.
   *
   * @throws {CopyError} when the local file cannot be read, or the server
   * refuses or fails the upload.
   */
  async upload(
    localPath: string,
    remotePath: string,
    options: TransferOptions = {},
  ): Promise<TransferStats> {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(localPath, { read: true });
    } catch (error) {
      throw localFailure(error, localPath);
    }
    try {
      const info = file.statSync();
      if (!info.isFile) throw new CopyError("not_a_file", `${localPath}: not a regular file`);
      const preserve = options.preserve ?? true;
      return await this.uploadFrom(readChunks(file, localPath, info), remotePath, {
        ...options,
        size: info.size,
        ...(preserve ? { mode: (info.mode ?? 0o644) & 0o777 } : {}),
        ...(preserve && info.mtime ? { mtime: info.mtime.getTime() } : {}),
      });
    } finally {
      file.close();
    }
  }

  /**
   * Uploads `bytes` to `remotePath`.
   *
   * @throws {CopyError} when the server refuses or fails the upload.
   */
  uploadBytes(
    bytes: Uint8Array,
    remotePath: string,
    options: TransferOptions & { mode?: number; mtime?: number } = {},
  ): Promise<TransferStats> {
    return this.uploadFrom([bytes], remotePath, { ...options, size: bytes.length });
  }

  /**
   * Uploads what `source` yields, exactly `options.size` bytes, to
   * `remotePath`. Each chunk has been sent when the next is asked for, so
   * the source may reuse its buffers, and one source can feed several
   * uploads in step (each file read once for many servers).
   *
   * @throws {CopyError} when the server refuses or fails the upload, or the
   * source yields another size than announced.
   */
  async uploadFrom(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    remotePath: string,
    options: UploadSourceOptions,
  ): Promise<TransferStats> {
    const started = performance.now();
    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256");
    const host = this.#host;
    const channel = new TransferChannel({ initialCredit: host.initialWindow });
    const { signal, onProgress } = options;
    const request: CopyRequest = {
      op: "put",
      path: remotePath,
      size: options.size,
      ...(options.mode !== undefined ? { mode: options.mode } : {}),
      ...(options.mtime !== undefined ? { mtime: Math.max(0, Math.round(options.mtime)) } : {}),
    };
    using turn = await this.#start(channel, request, signal);
    const piece = Math.min(UPLOAD_CHUNK, host.maxFrameSize);
    let sent = 0;
    let overrun = false;
    try {
      sending: for await (const chunk of source) {
        for (let offset = 0; offset < chunk.length; offset += piece) {
          if (signal?.aborted || channel.settled) break sending;
          const part = chunk.subarray(offset, Math.min(chunk.length, offset + piece));
          if (sent + part.length > options.size) {
            // Its hash goes into the digest, which no longer matches what the
            // server wrote: it drops the upload, and only this one.
            hash.update(part);
            overrun = true;
            break sending;
          }
          if (!(await channel.takeCredit(part.length))) break sending;
          // Hashed while the socket takes it.
          const writing = host.writer.write(FrameType.CopyData, part);
          hash.update(part);
          await writing;
          sent += part.length;
          onProgress?.(sent, options.size);
        }
      }
    } catch (error) {
      // The source failed: the server drops what it has, and the connection stays usable.
      await turn.cancelAlone().catch(() => {});
      turn.sent();
      await channel.result.catch(() => {});
      throw error;
    }
    if (!channel.settled && !signal?.aborted) {
      const sha256 = hash.digest("hex");
      await host.writer.write(FrameType.CopyEnd, encodeCopyJson({ sha256 }));
    }
    turn.sent();
    const result = await channel.result;
    signal?.throwIfAborted();
    if (overrun) {
      throw new CopyError(
        "size_mismatch",
        `${remotePath}: the source grew while it was read (more than its ${options.size} bytes); ` +
          `nothing was written`,
      );
    }
    const done = this.#check(result);
    return {
      path: done.path ?? remotePath,
      bytes: done.bytes ?? sent,
      sha256: done.sha256 ?? "",
      durationMs: Math.round(performance.now() - started),
    };
  }

  /**
   * Downloads `remotePath` to the local file `localPath`, whose directory
   * must exist. The file appears under its name only once complete and
   * verified; on failure or abort the destination is as it was and no
   * temporary file remains.
   *
   * @throws {CopyError} when the server refuses or fails the download, or
   * the local file cannot be written.
   */
  async download(
    remotePath: string,
    localPath: string,
    options: TransferOptions = {},
  ): Promise<TransferStats> {
    const started = performance.now();
    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256");
    const preserve = options.preserve ?? true;
    const { signal, onProgress } = options;
    const cut = localPath.lastIndexOf("/");
    const dir = cut === -1 ? "." : cut === 0 ? "/" : localPath.slice(0, cut);
    const name = localPath.slice(cut + 1);
    const existing = localStat(localPath);
    if (existing?.isDirectory) {
      throw new CopyError("is_a_directory", `${localPath}: is a directory`);
    }
    // A rename would take a device, FIFO or socket away from whatever uses it.
    if (existing !== undefined && !existing.isFile) {
      throw new CopyError(
        "not_a_file",
        `${localPath}: a device, FIFO or socket, not a regular file; left as it is`,
      );
    }
    const temp = temporaryName(dir, name);
    let file: Deno.FsFile;
    try {
      // Without -p the file gets the mode a new file gets here: the umask applies.
      file = Deno.openSync(temp, {
        write: true,
        createNew: true,
        mode: preserve ? 0o600 : 0o666,
      });
    } catch (error) {
      throw localFailure(error, localPath, dir);
    }
    let facts: FileFacts | undefined;
    let written = 0;
    let owed = 0;
    let writeError: unknown;
    const writer = new HashedFileWriter(file, hash);
    const host = this.#host;
    const channel = new TransferChannel({
      onInfo: (body) => {
        const info = decodeCopyInfo(body);
        if ("facts" in info) facts = info.facts;
      },
      onData: async (body) => {
        if (writeError !== undefined) return;
        try {
          await writer.write(body);
        } catch (error) {
          // Told to the server as a cancel; the error is what the caller sees.
          writeError = error;
          if (!channel.settled) host.writer.write(FrameType.CopyCancel).catch(() => {});
          return;
        }
        written += body.length;
        owed += body.length;
        onProgress?.(written, facts?.size ?? written);
        if (owed >= GRANT_STEP) {
          host.writer.write(FrameType.CopyWindow, encodeCopyWindow(owed)).catch(() => {});
          owed = 0;
        }
      },
    });
    let published = false;
    try {
      let result: CopyResult;
      {
        using turn = await this.#start(
          channel,
          { op: "get", path: remotePath, window: DOWNLOAD_WINDOW },
          signal,
        );
        turn.sent();
        result = await channel.result;
      }
      if (writeError !== undefined) throw localFailure(writeError, localPath);
      signal?.throwIfAborted();
      const done = this.#check(result);
      const sha256 = hash.digest("hex");
      if (done.bytes !== written || done.sha256 !== sha256) {
        throw new CopyError(
          "checksum_mismatch",
          `${remotePath}: the bytes written here differ from what the server read ` +
            `(${written} bytes, SHA-256 ${sha256}; the server sent ${done.bytes}, ${done.sha256}); ` +
            `${localPath} is left as it was`,
        );
      }
      await writer.synced().catch((error) => {
        throw localFailure(error, localPath);
      });
      await file.sync();
      if (preserve && facts) {
        Deno.chmodSync(temp, facts.mode & 0o777);
        file.utimeSync(new Date(), new Date(facts.mtime));
      } else if (existing?.isFile && existing.mode !== null) {
        Deno.chmodSync(temp, existing.mode & 0o777);
      }
      file.close();
      Deno.renameSync(temp, localPath);
      published = true;
      return {
        path: localPath,
        bytes: written,
        sha256,
        durationMs: Math.round(performance.now() - started),
      };
    } finally {
      if (!published) {
        closeQuietly(file);
        await Deno.remove(temp).catch(() => {});
      }
    }
  }

  /**
   * What `remotePath` is on the server; a symbolic link is not followed.
   *
   * @throws {CopyError} `not_found` when there is nothing there.
   */
  async stat(remotePath: string): Promise<FileFacts> {
    const done = await this.#simple({ op: "stat", path: remotePath });
    if (!done.facts) throw new CopyError("io_error", `${remotePath}: the server sent no facts`);
    return done.facts;
  }

  /**
   * Everything below the directory `remotePath`, each directory before what
   * it holds; symbolic links are listed, not followed.
   *
   * @throws {CopyError} when it is not a directory, or cannot be read.
   */
  async list(remotePath: string, options: { signal?: AbortSignal } = {}): Promise<TreeEntry[]> {
    const entries: TreeEntry[] = [];
    const channel = new TransferChannel({
      onInfo: (body) => {
        const info = decodeCopyInfo(body);
        if ("entries" in info) entries.push(...info.entries);
      },
    });
    {
      using turn = await this.#start(channel, { op: "list", path: remotePath }, options.signal);
      turn.sent();
      this.#check(await channel.result);
    }
    options.signal?.throwIfAborted();
    this.#checkTree(remotePath, entries);
    return entries;
  }

  /**
   * A listing is a tree: each entry below a directory listed before it, and
   * none twice. A server that lists something below a link, or a link and a
   * directory under one name, would have a copy write through that link to
   * wherever it points.
   *
   * @throws {CopyError} `io_error` naming the first entry out of place.
   */
  #checkTree(remotePath: string, entries: readonly TreeEntry[]): void {
    const seen = new Set<string>();
    const dirs = new Set<string>([""]);
    for (const entry of entries) {
      const parent = entry.path.slice(0, Math.max(0, entry.path.lastIndexOf("/")));
      if (seen.has(entry.path) || !dirs.has(parent)) {
        throw new CopyError(
          "io_error",
          `${this.#host.where}: ${remotePath}: the server listed ${JSON.stringify(entry.path)} ` +
            `outside the tree it described (twice, or below something not a directory); ` +
            `nothing of it is copied`,
        );
      }
      seen.add(entry.path);
      if (entry.kind === "dir") dirs.add(entry.path);
    }
  }

  /**
   * Makes the directory `remotePath`; one that exists already is fine. Its
   * parent must exist.
   *
   * @throws {CopyError} when it cannot be made, or exists as something else.
   */
  async mkdir(remotePath: string, options: { mode?: number } = {}): Promise<void> {
    await this.#simple({ op: "mkdir", path: remotePath, ...options });
  }

  /**
   * Makes `remotePath` a symbolic link to `target`, replacing a file or link
   * there in one step.
   *
   * @throws {CopyError} when it cannot be made.
   */
  async symlink(remotePath: string, target: string): Promise<void> {
    await this.#simple({ op: "symlink", path: remotePath, target });
  }

  /**
   * Sets the mode and modification time of `remotePath`: what a recursive
   * copy does for each directory once its contents are in.
   *
   * @throws {CopyError} when they cannot be set.
   */
  async setAttributes(
    remotePath: string,
    attributes: { mode?: number; mtime?: number },
  ): Promise<void> {
    await this.#simple({
      op: "attr",
      path: remotePath,
      ...(attributes.mode !== undefined ? { mode: attributes.mode } : {}),
      ...(attributes.mtime !== undefined
        ? { mtime: Math.max(0, Math.round(attributes.mtime)) }
        : {}),
    });
  }

  async #simple(request: CopyRequest): Promise<Extract<CopyResult, { ok: true }>> {
    const channel = new TransferChannel();
    using turn = await this.#start(channel, request);
    turn.sent();
    return this.#check(await channel.result);
  }

  /**
   * Sends the request once the operation asked for before has sent all its
   * frames: the server gives an upload's bytes to the last request it got,
   * so an operation's frames must not mix with another's. The operation
   * calls `sent()` when it has sent its last frame; disposing of the turn
   * does too, and stops listening to `signal`.
   *
   * `cancelAlone()`, before `sent()`, cancels this operation and no other:
   * a COPY_CANCEL ends every operation the server holds, so it waits for
   * the ones asked for before to be answered (none after are sent yet).
   */
  async #start(
    channel: TransferChannel,
    request: CopyRequest,
    signal?: AbortSignal,
  ): Promise<Disposable & { sent(): void; cancelAlone(): Promise<void> }> {
    const host = this.#host;
    if (!host.features.includes(COPY_FEATURE)) {
      throw new CopyError(
        "unsupported",
        `${host.where} runs a rexec server without file transfer; upgrade rexec there to use rexec cp`,
      );
    }
    const previous = this.#sent;
    const turn = Promise.withResolvers<void>();
    this.#sent = turn.promise;
    const earlier = this.#answered;
    const answered = Promise.withResolvers<void>();
    this.#answered = Promise.all([earlier, answered.promise]).then(() => {});
    const onAbort = () => {
      if (!channel.settled) host.writer.write(FrameType.CopyCancel).catch(() => {});
    };
    try {
      await previous;
      signal?.throwIfAborted();
      await host.begin(channel);
    } catch (error) {
      turn.resolve();
      answered.resolve();
      throw error;
    }
    channel.result.then(() => answered.resolve(), () => answered.resolve());
    host.writer.write(FrameType.CopyRequest, encodeCopyJson(request)).catch(() => {});
    signal?.addEventListener("abort", onAbort, { once: true });
    return {
      sent: () => turn.resolve(),
      cancelAlone: async () => {
        await earlier;
        if (!channel.settled) await host.writer.write(FrameType.CopyCancel);
      },
      [Symbol.dispose]: () => {
        turn.resolve();
        signal?.removeEventListener("abort", onAbort);
      },
    };
  }

  #check(result: CopyResult): Extract<CopyResult, { ok: true }> {
    if (result.ok) return result;
    throw new CopyError(result.error, `${this.#host.where}: ${result.message}`);
  }
}

/**
/**
 * Reads a file in chunks, a new buffer each, the next read (on another
 * thread) while the caller sends the one it has. At the end, a file written
 * to since `before` fails the upload (see {@link fileChangedError}).
 */
async function* readChunks(
  file: Deno.FsFile,
  path: string,
  before: Deno.FileInfo,
): AsyncGenerator<Uint8Array> {
  const readNext = () => {
    const buffer = new Uint8Array(UPLOAD_CHUNK);
    const reading = file.read(buffer).then((read) =>
      read === null ? null : buffer.subarray(0, read)
    );
    // Awaited below; when the caller stops first, the file closes under it.
    reading.catch(() => {});
    return reading;
  };
  let reading = readNext();
  for (;;) {
    let chunk: Uint8Array | null;
    try {
      chunk = await reading;
      if (chunk === null && changedSince(before, file.statSync())) {
        throw fileChangedError(path);
      }
    } catch (error) {
      throw localFailure(error, path);
    }
    if (chunk === null) return;
    reading = readNext();
    yield chunk;
  }
}

/**
 * A file written to while it was read: its bytes sent would be a mix of
 * old and new that never existed, and their hash would agree with them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileChangedError } from "./transfer.ts";
 *
 * assert.equal(fileChangedError("log").code, "io_error");
 * assert.match(fileChangedError("log").message, /^log: changed while it was read/);
 * ```
 */
export function fileChangedError(path: string): CopyError {
  return new CopyError("io_error", `${path}: changed while it was read; not copied`);
}

function localStat(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw localFailure(error, path);
  }
}

/** A local file system error as a CopyError naming the path. */
function localFailure(error: unknown, path: string, dir?: string): CopyError {
  if (error instanceof CopyError) return error;
  const options = { cause: error };
  if (error instanceof Deno.errors.NotFound) {
    return new CopyError(
      "not_found",
      dir === undefined ? `${path}: no such file or directory` : `${path}: no directory ${dir}`,
      options,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new CopyError("permission_denied", `${path}: permission denied`, options);
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new CopyError("is_a_directory", `${path}: is a directory`, options);
  }
  return new CopyError("io_error", `${path}: ${(error as Error).message}`, options);
}
