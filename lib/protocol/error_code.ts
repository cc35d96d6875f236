/**
 * The codes an ERROR frame carries: why its sender is closing the
 * connection. docs/PROTOCOL.md lists the same codes, and a test keeps the
 * two alike.
 *
 * Imports nothing, so that `lib/errors.ts`, which every layer imports, can
 * type its errors' codes with it.
 *
 * @module
 */

/**
 * The ERROR codes rexec sends, by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode } from "./error_code.ts";
 *
 * const report = { code: ErrorCode.AuthFailed, message: "wrong token" };
 * assert.equal(JSON.stringify(report), '{"code":"auth_failed","message":"wrong token"}');
 * ```
 */
export const ErrorCode = {
  /** The first frame is not a rexec HELLO: the peer speaks another protocol. */
  NotRexec: "not_rexec",
  /** The peer speaks another version of the protocol. */
  UnsupportedVersion: "unsupported_version",
  /** The client's proof of the token is wrong. */
  AuthFailed: "auth_failed",
  /** Too many wrong tokens from this address: its proof was still waiting to be checked. */
  AuthThrottled: "auth_throttled",
  /** A malformed or unexpected frame. */
  ProtocolError: "protocol_error",
  /** A frame longer than the receiver accepts. */
  FrameTooLarge: "frame_too_large",
  /** The connection ended in the middle of a frame. */
  TruncatedFrame: "truncated_frame",
  /** An EXEC or SIGNAL the server cannot accept: a bad field, an unknown signal. */
  BadRequest: "bad_request",
  /** An EXEC while a command still runs on the connection. */
  Busy: "busy",
  /** More stdin than the server's window allows. */
  WindowExceeded: "window_exceeded",
  /** The server is shutting down. */
  ServerShutdown: "server_shutdown",
  /** Too many sessions, or no file descriptor left. */
  ServerBusy: "server_busy",
  /** The client did not authenticate within the server's handshake timeout. */
  HandshakeTimeout: "handshake_timeout",
  /** The session sat without a command for the server's idle timeout. */
  IdleTimeout: "idle_timeout",
  /** The peer sent nothing, or read nothing, for three keepalive intervals. */
  KeepaliveTimeout: "keepalive_timeout",
} as const;

/**
 * An ERROR code rexec sends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode } from "./error_code.ts";
 *
 * const code: ErrorCode = ErrorCode.ServerBusy;
 * assert.equal(code, "server_busy");
 * ```
 */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/**
 * An ERROR code as a peer sent it: one of {@link ErrorCode}, or a code of a
 * newer release that this one does not know, which is kept and shown as it
 * came rather than refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ErrorCode, isErrorCode, type ReceivedErrorCode } from "./error_code.ts";
 *
 * const received: ReceivedErrorCode = "from_a_newer_release";
 * assert.equal(isErrorCode(received), false);
 * assert.equal(isErrorCode(ErrorCode.IdleTimeout), true);
 * ```
 */
export type ReceivedErrorCode = ErrorCode | (string & Record<never, never>);

const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/**
 * Whether `code` is one this release knows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isErrorCode } from "./error_code.ts";
 *
 * assert.equal(isErrorCode("auth_failed"), true);
 * assert.equal(isErrorCode("auth_failed_in_2030"), false);
 * ```
 */
export function isErrorCode(code: string): code is ErrorCode {
  return ERROR_CODES.has(code);
}
