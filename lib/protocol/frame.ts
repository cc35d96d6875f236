/**
 * The frame layer of the rexec wire protocol: every message in both
 * directions is a 5-byte header followed by a body.
 *
 * ```text
 * offset 0  u32 big-endian  body length in bytes (header not included)
 * offset 4  u8              frame type
 * offset 5  ...             body
 * ```
 *
 * This module is pure: it turns headers into bytes and back, and knows
 * nothing of sockets, streams or processes.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { FrameTooLargeError, ProtocolError } from "../errors.ts";

/** Size of a frame header in bytes. */
export const HEADER_SIZE = 5;

/** Largest body the 32-bit length field can describe. */
export const MAX_ENCODABLE_BODY = 0xffff_ffff;

/** Default largest body a peer accepts once authenticated: 1 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;

/**
 * Largest body accepted before authentication. Keeps unauthenticated peers
 * from making the server allocate more than a few kilobytes.
 */
export const HANDSHAKE_MAX_FRAME_SIZE = 4096;

/** Smallest maximum frame size a peer may announce: room for control messages. */
export const MIN_MAX_FRAME_SIZE = 4096;

/**
 * The frame types. Control frames carry JSON (HELLO carries a binary prefix
 * first); data frames (`Stdin`, `Stdout`, `Stderr`) carry raw bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameType, frameTypeName } from "./frame.ts";
 *
 * const frame = encodeFrame(FrameType.Stdout, new TextEncoder().encode("hi"));
 * assert.equal(frame[4], FrameType.Stdout);
 * assert.equal(frameTypeName(frame[4]), "STDOUT");
 * ```
 */
export const FrameType = {
  /** Both ways, first frame: magic, protocol version, limits. */
  Hello: 0x01,
  /** Server to client: the server's nonce. */
  AuthChallenge: 0x02,
  /** Client to server: the client's nonce and its proof of the token. */
  AuthResponse: 0x03,
  /** Server to client: the server's proof of the token. */
  AuthOk: 0x04,
  /** Client to server: run a command. */
  Exec: 0x10,
  /** Client to server: bytes for the command's stdin. */
  Stdin: 0x11,
  /** Client to server: the command's stdin has ended. */
  StdinEof: 0x12,
  /** Server to client: the client may send this many more stdin bytes. */
  StdinWindow: 0x13,
  /** Client to server: deliver a signal to the command's process group. */
  Signal: 0x14,
  /** Client to server: terminate the command (SIGTERM, then SIGKILL). */
  Cancel: 0x15,
  /** Client to server: the size of the client's terminal changed (PTY commands only). */
  WindowSize: 0x16,
  /** Server to client: bytes the command wrote to stdout. */
  Stdout: 0x20,
  /** Server to client: bytes the command wrote to stderr. */
  Stderr: 0x21,
  /** Server to client: the command has ended; its status. */
  Exit: 0x22,
  /** Both ways: a fatal error; the sender closes the connection after it. */
  Error: 0x30,
  /** Both ways: are you there? */
  Ping: 0x31,
  /** Both ways: the answer to a PING. */
  Pong: 0x32,
  /** Client to server: one file operation (see protocol/transfer.ts). */
  CopyRequest: 0x40,
  /** Both ways: bytes of the file being uploaded or downloaded. */
  CopyData: 0x41,
  /** Client to server: the upload's bytes are all sent; their SHA-256. */
  CopyEnd: 0x42,
  /** Both ways: the receiver of COPY_DATA may be sent this many more bytes. */
  CopyWindow: 0x43,
  /** Server to client: a download's file facts, or entries of a listed tree. */
  CopyInfo: 0x44,
  /** Server to client: how the file operation ended; its last frame. */
  CopyResult: 0x45,
  /** Client to server: stop the file operation; nothing of it stays. */
  CopyCancel: 0x46,
} as const;

/** A frame type value. */
export type FrameType = typeof FrameType[keyof typeof FrameType];

const TYPE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(FrameType).map((
    [name, value],
  ) => [value, name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase()]),
);

/**
 * Whether `value` is a known frame type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isFrameType } from "./frame.ts";
 *
 * assert.equal(isFrameType(0x20), true); // STDOUT
 * assert.equal(isFrameType(0x47), false); // "G": an HTTP request, say
 * ```
 */
export function isFrameType(value: number): value is FrameType {
  return TYPE_NAMES.has(value);
}

/**
 * The wire name of a frame type, as used in logs and error messages, for
 * example `STDIN_EOF`; unknown values are shown in hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameType, frameTypeName } from "./frame.ts";
 *
 * assert.equal(frameTypeName(FrameType.StdinEof), "STDIN_EOF");
 * assert.equal(frameTypeName(0x7f), "0x7f");
 * ```
 */
export function frameTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `0x${type.toString(16).padStart(2, "0")}`;
}

/** A decoded frame: its type and its body. */
export interface Frame {
  /** What the body means. */
  readonly type: FrameType;
  /** The body bytes, owned by the receiver. */
  readonly body: Uint8Array;
}

/** A decoded frame header. */
export interface FrameHeader {
  /** What the body means. */
  readonly type: FrameType;
  /** Length of the body that follows the header. */
  readonly length: number;
}

/**
 * Writes a header for a body of `length` bytes into the first
 * {@link HEADER_SIZE} bytes of `target`.
 *
 * @example Prefixing a buffer that already holds the body
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeHeader, FrameType, HEADER_SIZE } from "./frame.ts";
 *
 * const frame = new Uint8Array(HEADER_SIZE + 2);
 * frame.set([0x68, 0x69], HEADER_SIZE);
 * encodeHeader(frame, FrameType.Stdout, 2);
 * assert.deepEqual([...frame], [0, 0, 0, 2, FrameType.Stdout, 0x68, 0x69]);
 * assert.throws(() => encodeHeader(frame, FrameType.Stdout, -1), RangeError);
 * ```
 */
export function encodeHeader(
  target: Uint8Array,
  type: FrameType,
  length: number,
): void {
  if (!Number.isInteger(length) || length < 0 || length > MAX_ENCODABLE_BODY) {
    throw new RangeError(`frame body length ${length} cannot be encoded`);
  }
  new DataView(target.buffer, target.byteOffset, HEADER_SIZE).setUint32(
    0,
    length,
    false,
  );
  target[4] = type;
}

/**
 * Returns header and body as one new buffer, ready to write.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameType } from "./frame.ts";
 *
 * const bytes = encodeFrame(FrameType.Stdin, new Uint8Array([1, 2, 3]));
 * assert.deepEqual([...bytes], [0, 0, 0, 3, FrameType.Stdin, 1, 2, 3]);
 * assert.deepEqual([...encodeFrame(FrameType.Ping)], [0, 0, 0, 0, FrameType.Ping]);
 * ```
 */
export function encodeFrame(
  type: FrameType,
  body: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const frame = new Uint8Array(HEADER_SIZE + body.length);
  encodeHeader(frame, type, body.length);
  frame.set(body, HEADER_SIZE);
  return frame;
}

/**
 * Decodes a header and checks it against the receiver's limit, so that an
 * oversized or unknown frame is refused before its body is read or any
 * memory is allocated for it.
 *
 * @throws {FrameTooLargeError} when the body is longer than `maxBodySize`.
 * @throws {ProtocolError} when the type is unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameTooLargeError, ProtocolError } from "../errors.ts";
 * import { decodeHeader, FrameType } from "./frame.ts";
 *
 * const header = decodeHeader(new Uint8Array([0, 0, 0, 3, FrameType.Stdout]), 1024);
 * assert.deepEqual(header, { type: FrameType.Stdout, length: 3 });
 * // 1 GiB announced, 1 KiB allowed: refused before a byte of the body is read.
 * assert.throws(
 *   () => decodeHeader(new Uint8Array([0x40, 0, 0, 0, FrameType.Stdout]), 1024),
 *   FrameTooLargeError,
 * );
 * assert.throws(() => decodeHeader(new TextEncoder().encode("GET /"), 1024), ProtocolError);
 * ```
 */
export function decodeHeader(
  bytes: Uint8Array,
  maxBodySize: number,
): FrameHeader {
  if (bytes.length < HEADER_SIZE) {
    throw new RangeError(`a frame header is ${HEADER_SIZE} bytes`);
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE)
    .getUint32(0, false);
  const type = bytes[4];
  if (!isFrameType(type)) {
    throw new ProtocolError(`unknown frame type ${frameTypeName(type)}`);
  }
  if (length > maxBodySize) throw new FrameTooLargeError(length, maxBodySize);
  return { type, length };
}
