/**
 * Typed errors raised by rexec. Every class carries a message meant for the
 * person at the terminal: what went wrong and, where there is one, what to do.
 *
 * @module
 */

import { ErrorCode, type ReceivedErrorCode } from "./protocol/error_code.ts";
import type { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND } from "./protocol/exit_status.ts";

/**
 * Base class of every error rexec raises on purpose.
 *
 * @example Telling rexec's own failures apart from bugs
 * ```ts
 * import { RexecError } from "./errors.ts";
 *
 * try {
 *   throw new RexecError("something went wrong");
 * } catch (error) {
 *   if (!(error instanceof RexecError)) throw error;
 *   console.error(`rexec: ${error.message}`);
 * }
 * ```
 */
export class RexecError extends Error {
  /** Creates an error with a message meant for the user. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The peer broke the wire protocol: a malformed, unexpected or oversized
 * frame. The connection it arrived on cannot be trusted any more and is
 * closed; nothing else is affected.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "./errors.ts";
 *
 * const error = new ProtocolError("unexpected EXIT frame before AUTH_OK");
 * console.assert(error.code === "protocol_error");
 * ```
 */
export class ProtocolError extends RexecError {
  /** Machine-readable code sent to the peer in an ERROR frame. */
  readonly code: ErrorCode;

  /** Creates a protocol error with an ERROR-frame code (default `protocol_error`). */
  constructor(message: string, code: ErrorCode = ErrorCode.ProtocolError, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A frame header announced a body longer than the receiver accepts. Raised
 * before any memory is allocated for the body.
 *
 * @example
 * ```ts
 * import { FrameTooLargeError } from "./errors.ts";
 *
 * const error = new FrameTooLargeError(1 << 30, 1 << 20);
 * console.assert(error.length === 1 << 30);
 * ```
 */
export class FrameTooLargeError extends ProtocolError {
  /** The body length the header announced. */
  readonly length: number;
  /** The largest body length the receiver accepts. */
  readonly limit: number;

  /** Creates the error for an announced `length` above `limit`. */
  constructor(length: number, limit: number) {
    super(
      `frame of ${length} bytes exceeds the limit of ${limit} bytes`,
      ErrorCode.FrameTooLarge,
    );
    this.length = length;
    this.limit = limit;
  }
}

/**
 * The byte stream ended in the middle of a frame.
 *
 * @example
 * ```ts
 * import { TruncatedFrameError } from "./errors.ts";
 *
 * const error = new TruncatedFrameError(3, 5);
 * console.assert(error.message.includes("3 of 5"));
 * ```
 */
export class TruncatedFrameError extends ProtocolError {
  /** Creates the error for a stream that ended after `received` of `expected` bytes. */
  constructor(received: number, expected: number) {
    super(
      `connection closed in the middle of a frame (${received} of ${expected} bytes received)`,
      ErrorCode.TruncatedFrame,
    );
  }
}

/**
 * The other side is not a rexec peer, or speaks another protocol version.
 *
 * @example
 * ```ts
 * import { HandshakeError } from "./errors.ts";
 *
 * const error = new HandshakeError("peer speaks HTTP, not rexec", "not_rexec");
 * console.assert(error.code === "not_rexec");
 * ```
 */
export class HandshakeError extends ProtocolError {}

/**
 * Authentication failed: a wrong token on either side, or a server that could
 * not prove it holds the token.
 *
 * @example
 * ```ts
 * import { AuthenticationError } from "./errors.ts";
 *
 * const error = new AuthenticationError("the server rejected the token");
 * console.assert(error instanceof Error);
 * ```
 */
export class AuthenticationError extends RexecError {}

/**
 * The connection could not be opened, or was lost.
 *
 * @example
 * ```ts
 * import { ConnectionError } from "./errors.ts";
 *
 * const error = new ConnectionError("cannot connect to build-box:7022: connection refused");
 * console.assert(error.name === "ConnectionError");
 * ```
 */
export class ConnectionError extends RexecError {}

/**
 * The TLS handshake failed: most often the server's certificate is not
 * trusted, or the server does not speak TLS.
 *
 * @example
 * ```ts
 * import { ConnectionError, TlsError } from "./errors.ts";
 *
 * const error = new TlsError("cannot connect to box:7022: its TLS certificate is not trusted");
 * console.assert(error instanceof ConnectionError);
 * ```
 */
export class TlsError extends ConnectionError {}

/**
 * The server reported an error in an ERROR frame and closed the session.
 *
 * @example
 * ```ts
 * import { RemoteError } from "./errors.ts";
 *
 * const error = new RemoteError("server_shutdown", "the server is shutting down");
 * console.assert(error.code === "server_shutdown");
 * ```
 */
export class RemoteError extends RexecError {
  /** The machine-readable code the server sent, known to this release or not. */
  readonly code: ReceivedErrorCode;

  /** Creates the error from the code and message of an ERROR frame. */
  constructor(code: ReceivedErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * A command was started on a connection that is already running one.
 *
 * @example
 * ```ts
 * import { SessionBusyError } from "./errors.ts";
 *
 * console.assert(new SessionBusyError().message.includes("already running"));
 * ```
 */
export class SessionBusyError extends RexecError {
  /** Creates the error. */
  constructor() {
    super(
      "a command is already running on this connection; wait for its status or open another connection",
    );
  }
}

/**
 * The shared token could not be read or created.
 *
 * @example
 * ```ts
 * import { TokenError } from "./errors.ts";
 *
 * const error = new TokenError("token file /tmp/x is empty");
 * console.assert(error.name === "TokenError");
 * ```
 */
export class TokenError extends RexecError {}

/**
 * The command line could not be understood. The message says which argument
 * and why.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 *
 * const error = new UsageError("missing HOST");
 * console.assert(error.name === "UsageError");
 * ```
 */
export class UsageError extends RexecError {}

/**
 * A command could not be started. `exitCode` follows the shell convention:
 * {@link EXIT_NOT_FOUND} (127) when the program does not exist,
 * {@link EXIT_CANNOT_EXECUTE} (126) when it exists but cannot be run (or its
 * working directory is unusable).
 *
 * @example
 * ```ts
 * import { SpawnError } from "./errors.ts";
 *
 * const error = new SpawnError(127, "nosuchprogram: command not found");
 * console.assert(error.exitCode === 127);
 * ```
 */
export class SpawnError extends RexecError {
  /** {@link EXIT_NOT_FOUND} or {@link EXIT_CANNOT_EXECUTE}. */
  readonly exitCode: typeof EXIT_NOT_FOUND | typeof EXIT_CANNOT_EXECUTE;

  /** Creates the error with its exit code and a message for the user. */
  constructor(
    exitCode: typeof EXIT_NOT_FOUND | typeof EXIT_CANNOT_EXECUTE,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.exitCode = exitCode;
  }
}
