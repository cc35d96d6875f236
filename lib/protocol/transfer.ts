/**
 * Bodies of the file transfer frames (0x40 to 0x46): the COPY_REQUEST a
 * client sends to start one operation (upload a file, download one, look at
 * a path, list a tree, make a directory or a symbolic link, set a path's
 * mode and time), the COPY_INFO and COPY_RESULT the server answers with, the
 * COPY_END that closes an upload with its SHA-256, and the COPY_WINDOW
 * credit each receiver of COPY_DATA returns. Pure: no files, no sockets.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { ErrorCode } from "./error_code.ts";
import { isRecord, parseJsonObject } from "./json_body.ts";

/** The feature a server names in its HELLO when it speaks the transfer frames. */
export const COPY_FEATURE = "copy";

/**
 * What kind of file a path names; `other` is a device, socket or pipe, never copied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FileKind } from "./transfer.ts";
 *
 * const kinds: FileKind[] = ["file", "dir", "symlink", "other"];
 * assert.equal(kinds.length, 4);
 * ```
 */
export type FileKind = "file" | "dir" | "symlink" | "other";

/**
 * A path's kind and what `rexec cp` keeps of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FileFacts } from "./transfer.ts";
 *
 * const link: FileFacts = { kind: "symlink", size: 5, mode: 0o777, mtime: 0, target: "a.txt" };
 * assert.equal(link.target, "a.txt");
 * ```
 */
export interface FileFacts {
  /** What it is; a symbolic link is not followed. */
  readonly kind: FileKind;
  /** Size in bytes. */
  readonly size: number;
  /** Permission bits (0o777 at most). */
  readonly mode: number;
  /** Modification time, milliseconds since the epoch. */
  readonly mtime: number;
  /** The link's target, for a symbolic link. */
  readonly target?: string;
}

/**
 * One entry of a listed tree: its path below the listed directory, `/`-separated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSafeRelativePath, type TreeEntry } from "./transfer.ts";
 *
 * const entry: TreeEntry = { path: "sub/a.txt", kind: "file", size: 3, mode: 0o644, mtime: 0 };
 * assert.ok(isSafeRelativePath(entry.path));
 * ```
 */
export interface TreeEntry extends FileFacts {
  /** Relative path, `/`-separated, never empty, never with `..`. */
  readonly path: string;
}

/**
 * A COPY_REQUEST: one operation on the server's files. Paths are resolved
 * on the server: relative ones from the account's home (or the copy root).
 */
export type CopyRequest =
  | {
    /** Upload a regular file: COPY_DATA and a COPY_END follow from the client. */
    readonly op: "put";
    readonly path: string;
    /** Bytes that will follow. */
    readonly size: number;
    /** Permission bits to give the file; an existing file's, or the default, when absent. */
    readonly mode?: number;
    /** Modification time to give the file, ms since the epoch; now when absent. */
    readonly mtime?: number;
  }
  | {
    /** Download a regular file: COPY_INFO, COPY_DATA, then COPY_RESULT with its SHA-256. */
    readonly op: "get";
    readonly path: string;
    /** Bytes of COPY_DATA the server may send before the first COPY_WINDOW. */
    readonly window: number;
  }
  | { readonly op: "stat"; readonly path: string }
  | { readonly op: "list"; readonly path: string }
  | { readonly op: "mkdir"; readonly path: string; readonly mode?: number }
  | { readonly op: "symlink"; readonly path: string; readonly target: string }
  | {
    readonly op: "attr";
    readonly path: string;
    readonly mode?: number;
    readonly mtime?: number;
  };

/** The operations a COPY_REQUEST may ask for. */
export type CopyOp = CopyRequest["op"];

/**
 * Why an operation failed: `refused` by the server's policy (no transfers,
 * outside the copy root), the others about the file itself.
 */
export type CopyErrorCode =
  | "refused"
  | "not_found"
  | "not_a_directory"
  | "is_a_directory"
  | "not_a_file"
  | "permission_denied"
  | "checksum_mismatch"
  | "size_mismatch"
  | "cancelled"
  | "io_error";

const COPY_ERROR_CODES: ReadonlySet<string> = new Set<CopyErrorCode>([
  "refused",
  "not_found",
  "not_a_directory",
  "is_a_directory",
  "not_a_file",
  "permission_denied",
  "checksum_mismatch",
  "size_mismatch",
  "cancelled",
  "io_error",
]);

/** COPY_RESULT: how the operation ended. It is the last frame of every operation. */
export type CopyResult =
  | {
    readonly ok: true;
    /** Bytes moved by a put or get. */
    readonly bytes?: number;
    /** SHA-256 of those bytes, hex, for a put or get. */
    readonly sha256?: string;
    /** What a stat found. */
    readonly facts?: FileFacts;
    /** The path as the server resolved it, for messages. */
    readonly path?: string;
  }
  | {
    readonly ok: false;
    readonly error: CopyErrorCode;
    /** A sentence for the user, naming the path. */
    readonly message: string;
  };

/** COPY_INFO: a get's file facts, or a batch of a list's entries. */
export type CopyInfo = { readonly facts: FileFacts } | { readonly entries: readonly TreeEntry[] };

const encoder = new TextEncoder();

/**
 * Encodes a COPY_REQUEST, COPY_INFO, COPY_RESULT or COPY_END body as JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCopyRequest, encodeCopyJson } from "./transfer.ts";
 *
 * const request = { op: "put", path: "notes.txt", size: 5, mode: 0o644 } as const;
 * assert.deepEqual(decodeCopyRequest(encodeCopyJson(request)), request);
 * ```
 */
export function encodeCopyJson(
  message: CopyRequest | CopyResult | CopyInfo | { readonly sha256: string },
): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/**
 * Decodes and checks a COPY_REQUEST.
 *
 * @throws {ProtocolError} `bad_request` naming the field that is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCopyRequest, encodeCopyJson } from "./transfer.ts";
 *
 * assert.deepEqual(decodeCopyRequest(encodeCopyJson({ op: "get", path: "a", window: 65536 })), {
 *   op: "get",
 *   path: "a",
 *   window: 65536,
 * });
 * const nul = new TextEncoder().encode('{"op":"stat","path":"a\\u0000b"}');
 * assert.throws(() => decodeCopyRequest(nul), /path contains a NUL byte/);
 * ```
 */
export function decodeCopyRequest(body: Uint8Array): CopyRequest {
  const fields = parseJsonObject(body, "COPY_REQUEST", ErrorCode.BadRequest);
  const bad = (message: string) =>
    new ProtocolError(`invalid COPY_REQUEST: ${message}`, ErrorCode.BadRequest);
  const path = cleanString(fields.path, "path", bad);
  if (path === "") throw bad("path must not be empty");
  const optional = (name: "mode" | "mtime") =>
    fields[name] === undefined ? {} : { [name]: count(fields[name], name, bad) };
  const op = fields.op;
  switch (op) {
    case "put":
      return {
        op,
        path,
        size: count(fields.size, "size", bad),
        ...optional("mode"),
        ...optional("mtime"),
      };
    case "get": {
      const window = count(fields.window, "window", bad);
      if (window === 0) throw bad("window must be above 0");
      return { op, path, window };
    }
    case "stat":
    case "list":
      return { op, path };
    case "mkdir":
      return { op, path, ...optional("mode") };
    case "symlink": {
      const target = cleanString(fields.target, "target", bad);
      if (target === "") throw bad("target must not be empty");
      return { op, path, target };
    }
    case "attr":
      return { op, path, ...optional("mode"), ...optional("mtime") };
    default:
      throw bad(`unknown op ${JSON.stringify(op)}`);
  }
}

/**
 * Decodes a COPY_RESULT.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCopyResult, encodeCopyJson } from "./transfer.ts";
 *
 * const refused = { ok: false, error: "refused", message: "this server takes no files" } as const;
 * assert.deepEqual(decodeCopyResult(encodeCopyJson(refused)), refused);
 * assert.throws(() => decodeCopyResult(encodeCopyJson({ ok: true, bytes: -1 })), /bytes/);
 * ```
 */
export function decodeCopyResult(body: Uint8Array): CopyResult {
  const fields = parseJsonObject(body, "COPY_RESULT");
  const bad = (message: string) => new ProtocolError(`invalid COPY_RESULT: ${message}`);
  if (fields.ok === false) {
    const error = fields.error;
    if (typeof error !== "string" || !COPY_ERROR_CODES.has(error)) {
      // A newer server's code: still a failure of this one file.
      return { ok: false, error: "io_error", message: messageOf(fields, bad) };
    }
    return { ok: false, error: error as CopyErrorCode, message: messageOf(fields, bad) };
  }
  if (fields.ok !== true) throw bad("ok must be true or false");
  return {
    ok: true,
    ...(fields.bytes !== undefined ? { bytes: count(fields.bytes, "bytes", bad) } : {}),
    ...(fields.sha256 !== undefined ? { sha256: hexDigest(fields.sha256, bad) } : {}),
    ...(fields.facts !== undefined ? { facts: decodeFacts(fields.facts, bad) } : {}),
    ...(fields.path !== undefined ? { path: cleanString(fields.path, "path", bad) } : {}),
  };
}

/**
 * Decodes a COPY_INFO.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCopyInfo, encodeCopyJson } from "./transfer.ts";
 *
 * const info = { facts: { kind: "file", size: 3, mode: 0o644, mtime: 1700000000000 } } as const;
 * assert.deepEqual(decodeCopyInfo(encodeCopyJson(info)), info);
 * const escape = { entries: [{ path: "../x", kind: "file", size: 0, mode: 0, mtime: 0 }] } as const;
 * assert.throws(() => decodeCopyInfo(encodeCopyJson(escape)), /entry path/);
 * ```
 */
export function decodeCopyInfo(body: Uint8Array): CopyInfo {
  const fields = parseJsonObject(body, "COPY_INFO");
  const bad = (message: string) => new ProtocolError(`invalid COPY_INFO: ${message}`);
  if (fields.facts !== undefined) return { facts: decodeFacts(fields.facts, bad) };
  if (!Array.isArray(fields.entries)) throw bad("needs facts or entries");
  return {
    entries: fields.entries.map((entry: unknown) => {
      if (!isRecord(entry)) throw bad("an entry must be an object");
      const path = cleanString(entry.path, "entry path", bad);
      if (!isSafeRelativePath(path)) {
        throw bad(`entry path ${JSON.stringify(path)} must be relative, without . or ..`);
      }
      return { path, ...decodeFacts(entry, bad) };
    }),
  };
}

/**
 * Decodes a COPY_END: the SHA-256 of everything the uploader read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCopyEnd, encodeCopyJson } from "./transfer.ts";
 *
 * const sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
 * assert.equal(decodeCopyEnd(encodeCopyJson({ sha256 })), sha256);
 * assert.throws(() => decodeCopyEnd(encodeCopyJson({ sha256: "abc" })), /64 hex digits/);
 * ```
 */
export function decodeCopyEnd(body: Uint8Array): string {
  const fields = parseJsonObject(body, "COPY_END");
  return hexDigest(fields.sha256, (message) => new ProtocolError(`invalid COPY_END: ${message}`));
}

/**
 * Encodes a COPY_WINDOW body: the increment as u32 big-endian.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCopyWindow, encodeCopyWindow } from "./transfer.ts";
 *
 * assert.equal(decodeCopyWindow(encodeCopyWindow(1 << 20)), 1 << 20);
 * assert.throws(() => decodeCopyWindow(new Uint8Array(2)), /4 bytes/);
 * ```
 */
export function encodeCopyWindow(increment: number): Uint8Array {
  const body = new Uint8Array(4);
  new DataView(body.buffer).setUint32(0, increment, false);
  return body;
}

/**
 * Decodes a COPY_WINDOW body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCopyWindow } from "./transfer.ts";
 *
 * assert.equal(decodeCopyWindow(new Uint8Array([0, 0, 1, 0])), 256);
 * ```
 */
export function decodeCopyWindow(body: Uint8Array): number {
  if (body.length !== 4) {
    throw new ProtocolError(`COPY_WINDOW body must be 4 bytes, got ${body.length}`);
  }
  return new DataView(body.buffer, body.byteOffset, 4).getUint32(0, false);
}

/**
 * Whether `path` is a relative path that stays where it starts: not empty,
 * not absolute, no empty, `.` or `..` component.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSafeRelativePath } from "./transfer.ts";
 *
 * assert.equal(isSafeRelativePath("a/b c/d"), true);
 * assert.equal(isSafeRelativePath("a/../../etc"), false);
 * assert.equal(isSafeRelativePath("/etc"), false);
 * ```
 */
export function isSafeRelativePath(path: string): boolean {
  if (path === "" || path.startsWith("/")) return false;
  return path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

function decodeFacts(value: unknown, bad: (message: string) => ProtocolError): FileFacts {
  if (!isRecord(value)) throw bad("facts must be an object");
  const kind = value.kind;
  if (kind !== "file" && kind !== "dir" && kind !== "symlink" && kind !== "other") {
    throw bad(`kind ${JSON.stringify(kind)} is unknown`);
  }
  const facts: FileFacts = {
    kind,
    size: count(value.size, "size", bad),
    mode: count(value.mode, "mode", bad) & 0o7777,
    mtime: count(value.mtime, "mtime", bad),
  };
  if (value.target === undefined) return facts;
  return { ...facts, target: cleanString(value.target, "target", bad) };
}

function messageOf(
  fields: Record<string, unknown>,
  bad: (message: string) => ProtocolError,
): string {
  if (typeof fields.message !== "string") throw bad("message must be a string");
  return fields.message;
}

function hexDigest(value: unknown, bad: (message: string) => ProtocolError): string {
  if (typeof value !== "string" || !/^[0-9a-f]{64}$/.test(value)) {
    throw bad("sha256 must be 64 hex digits");
  }
  return value;
}

function count(
  value: unknown,
  name: string,
  bad: (message: string) => ProtocolError,
): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw bad(`${name} must be a non-negative integer`);
  }
  return value as number;
}

function cleanString(
  value: unknown,
  name: string,
  bad: (message: string) => ProtocolError,
): string {
  if (typeof value !== "string") throw bad(`${name} must be a string`);
  if (value.includes("\0")) throw bad(`${name} contains a NUL byte`);
  return value;
}
