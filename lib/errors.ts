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
 * import assert from "node:assert/strict";
 * import { parseCli } from "./cli/args.ts";
 * import { RexecError } from "./errors.ts";
 *
 * let message = "";
 * try {
 *   parseCli(["run"]);
 * } catch (error) {
 *   if (!(error instanceof RexecError)) throw error; // a bug: let it crash loudly
 *   message = `rexec: ${error.message}`; // a failure the user can act on
 * }
 * assert.equal(message, "rexec: missing HOST: rexec run HOST[:PORT]");
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
 * import assert from "node:assert/strict";
 * import { ProtocolError } from "./errors.ts";
 * import { decodeHeader } from "./protocol/frame.ts";
 *
 * // 0x47 is no frame type: the peer is not speaking rexec frames.
 * assert.throws(
 *   () => decodeHeader(new Uint8Array([0, 0, 0, 0, 0x47]), 1024),
 *   (error) =>
 *     error instanceof ProtocolError && error.code === "protocol_error" &&
 *     error.message === "unknown frame type 0x47",
 * );
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
 * import assert from "node:assert/strict";
 * import { FrameTooLargeError } from "./errors.ts";
 * import { decodeHeader, FrameType } from "./protocol/frame.ts";
 *
 * const header = new Uint8Array([0x40, 0, 0, 0, FrameType.Stdout]); // a 1 GiB body
 * assert.throws(
 *   () => decodeHeader(header, 1 << 20),
 *   (error) =>
 *     error instanceof FrameTooLargeError && error.length === 1 << 30 &&
 *     error.limit === 1 << 20 && error.code === "frame_too_large",
 * );
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
 * import assert from "node:assert/strict";
 * import { TruncatedFrameError } from "./errors.ts";
 * import { encodeFrame, FrameType } from "./protocol/frame.ts";
 * import { FrameReader } from "./transport/frame_reader.ts";
 *
 * // The peer hung up 8 bytes into a 10-byte frame: a header and 3 of 5 body bytes.
 * const frame = encodeFrame(FrameType.Stdout, new TextEncoder().encode("hello"));
 * const reader = new FrameReader(new Blob([frame.slice(0, 8)]).stream(), {
 *   maxFrameSize: 1024,
 * });
 * await assert.rejects(
 *   reader.read(),
 *   (error) =>
 *     error instanceof TruncatedFrameError &&
 *     /\(8 of 10 bytes received\)/.test(error.message),
 * );
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
 * import assert from "node:assert/strict";
 * import { connect } from "./client/client.ts";
 * import { HandshakeError } from "./errors.ts";
 *
 * // An SSH server where a rexec server was expected.
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const sshServer = (async () => {
 *   using conn = await listener.accept();
 *   await conn.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.6\r\n"));
 *   await conn.read(new Uint8Array(64));
 * })();
 * await assert.rejects(
 *   connect({ hostname: "127.0.0.1", port: listener.addr.port, token: "a-token-of-some-length" }),
 *   (error) =>
 *     error instanceof HandshakeError && error.code === "not_rexec" &&
 *     error.message.endsWith("is not a rexec server (it speaks SSH)"),
 * );
 * await sshServer.catch(() => {}); // the client hung up on it
 * ```
 */
export class HandshakeError extends ProtocolError {}

/**
 * Authentication failed: a wrong token on either side, or a server that could
 * not prove it holds the token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client/client.ts";
 * import { AuthenticationError } from "./errors.ts";
 * import { serve } from "./server/server.ts";
 *
 * await using server = await serve({
 *   token: "the-servers-token-of-some-length",
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * await assert.rejects(
 *   connect({ hostname: "127.0.0.1", port: server.addr.port, token: "another-token-entirely" }),
 *   (error) => error instanceof AuthenticationError && /rejected the token/.test(error.message),
 * );
 * ```
 */
export class AuthenticationError extends RexecError {}

/**
 * The connection could not be opened, or was lost.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client/client.ts";
 * import { ConnectionError } from "./errors.ts";
 *
 * // A port nobody listens on: bound, then closed again.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * listener.close();
 * await assert.rejects(
 *   connect({ hostname: "127.0.0.1", port, token: "a-token-of-some-length" }),
 *   (error) =>
 *     error instanceof ConnectionError && error.name === "ConnectionError" &&
 *     error.message === `cannot connect to 127.0.0.1:${port}: ` +
 *         "connection refused (is rexec serve running there, on that port?)",
 * );
 * ```
 */
export class ConnectionError extends RexecError {}

/**
 * The TLS handshake failed: most often the server's certificate is not
 * trusted, or the server does not speak TLS.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client/client.ts";
 * import { ConnectionError, TlsError } from "./errors.ts";
 * import { serve } from "./server/server.ts";
 *
 * // A client asking for TLS from a server that runs without it.
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await assert.rejects(
 *   connect({ hostname: "127.0.0.1", port: server.addr.port, token, tls: {} }),
 *   (error) =>
 *     error instanceof TlsError && error instanceof ConnectionError &&
 *     error.message.endsWith("(does the server run with --tls?)"),
 * );
 * ```
 */
export class TlsError extends ConnectionError {}

/**
 * The server reported an error in an ERROR frame and closed the session.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client/client.ts";
 * import { RemoteError } from "./errors.ts";
 * import { serve } from "./server/server.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * await server.shutdown();
 * await client.closed;
 * assert.throws(
 *   () => client.spawn(["true"]),
 *   (error) =>
 *     error instanceof RemoteError && error.code === "server_shutdown" &&
 *     error.message.endsWith(": the server is shutting down"),
 * );
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
 * import assert from "node:assert/strict";
 * import { connect } from "./client/client.ts";
 * import { SessionBusyError } from "./errors.ts";
 * import { serve } from "./server/server.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const first = client.spawn(["sleep", "0.1"]);
 * assert.throws(() => client.spawn(["true"]), SessionBusyError);
 * assert.equal((await first.status).code, 0);
 * assert.equal((await client.spawn(["true"]).status).code, 0); // its turn now
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
 * import assert from "node:assert/strict";
 * import { resolveToken } from "./config/token.ts";
 * import { TokenError } from "./errors.ts";
 *
 * const tokenFile = await Deno.makeTempFile();
 * try {
 *   await assert.rejects(
 *     resolveToken({ tokenFile, env: new Map() }),
 *     (error) =>
 *       error instanceof TokenError && error.message === `token file ${tokenFile} is empty`,
 *   );
 * } finally {
 *   await Deno.remove(tokenFile);
 * }
 * ```
 */
export class TokenError extends RexecError {}

/**
 * The command line could not be understood. The message says which argument
 * and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCli } from "./cli/args.ts";
 * import { UsageError } from "./errors.ts";
 *
 * assert.throws(
 *   () => parseCli(["run", "build-box"]),
 *   (error) =>
 *     error instanceof UsageError &&
 *     error.message ===
 *       "missing command: rexec run HOST -- CMD [ARG...] or rexec run HOST -c STRING",
 * );
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
 * import assert from "node:assert/strict";
 * import { SpawnError } from "./errors.ts";
 * import { spawnProcess } from "./server/process.ts";
 *
 * const stdio = { stdin: "null", stdout: "null", stderr: "null" } as const;
 * assert.throws(
 *   () => spawnProcess({ argv: ["rexec-no-such-program"], ...stdio }),
 *   (error: unknown) =>
 *     error instanceof SpawnError && error.exitCode === 127 &&
 *     error.message === "rexec-no-such-program: command not found",
 * );
 * assert.throws(
 *   () => spawnProcess({ argv: ["true"], cwd: "/rexec/no/such/dir", ...stdio }),
 *   (error: unknown) => error instanceof SpawnError && error.exitCode === 126,
 * );
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

/**
 * The server does not offer what a command asked for: its HELLO does not
 * announce the feature (an older release), so the request is not sent,
 * rather than run the wrong way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RexecError, UnsupportedFeatureError } from "./errors.ts";
 *
 * const error = new UnsupportedFeatureError("build-box:7022", "tty", "a terminal (-t)");
 * assert.ok(error instanceof RexecError);
 * assert.equal(error.feature, "tty");
 * assert.match(error.message, /^build-box:7022 cannot give a command a terminal \(-t\)/);
 * ```
 */
export class UnsupportedFeatureError extends RexecError {
  /** The HELLO feature the server lacks, such as `tty`. */
  readonly feature: string;

  /** Creates the error for the server at `where`, which lacks `feature`, described as `what`. */
  constructor(where: string, feature: string, what: string) {
    super(
      `${where} cannot give a command ${what}: its rexec release does not offer it ` +
        `(no "${feature}" in its HELLO); upgrade the server`,
    );
    this.feature = feature;
  }
}
