/**
 * Bodies of the rexec control frames: HELLO (a binary magic and version, then
 * JSON), the JSON messages for authentication, EXEC, SIGNAL, WINDOW_SIZE, EXIT
 * and ERROR, and the binary STDIN_WINDOW increment.
 *
 * Decoders validate every field a peer sends and throw a
 * {@link ProtocolError} with a precise message, so the session code only
 * ever sees well-formed values. Pure: no sockets, no processes.
 *
 * @module
 */

import { HandshakeError, ProtocolError } from "../errors.ts";
import { ErrorCode, type ReceivedErrorCode } from "./error_code.ts";
import { isRecord, parseJsonObject } from "./json_body.ts";
import { EXIT_STATUS_MAX } from "./exit_status.ts";
import { frameTypeName, MIN_MAX_FRAME_SIZE } from "./frame.ts";

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/**
 * Longest timeout, in seconds, that can be requested: about 24.8 days, the
 * most a JavaScript timer can wait (2^31 - 1 ms) without firing at once.
 */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

/** The four bytes every HELLO body starts with: ASCII `RXEC`. */
export const MAGIC: Uint8Array = new Uint8Array([0x52, 0x58, 0x45, 0x43]);

const HELLO_PREFIX = MAGIC.length + 2;
const encoder = new TextEncoder();

/** What each side announces in its HELLO. */
export interface Hello {
  /** Protocol version spoken by the sender. */
  readonly version: number;
  /** Largest frame body the sender accepts once authenticated. */
  readonly maxFrameSize: number;
  /** Free-form name and version of the sending software, for logs. */
  readonly agent: string;
  /** Server only: how many stdin bytes a client may send before the first STDIN_WINDOW. */
  readonly stdinWindow?: number;
  /**
   * Server only: optional capabilities beyond protocol 1, such as
   * {@link FEATURE_TTY} or `copy` (file transfer). A client checks for one before it uses it.
   */
  readonly features?: readonly string[];
}

/** The HELLO feature of a server that runs commands on a pseudo-terminal (EXEC `tty`, WINDOW_SIZE). */
export const FEATURE_TTY = "tty";

/**
 * Encodes a HELLO body: `RXEC`, the version as u16 big-endian, then JSON
 * with the remaining fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHello, encodeHello, PROTOCOL_VERSION } from "./messages.ts";
 *
 * const hello = { version: PROTOCOL_VERSION, maxFrameSize: 65536, agent: "rexec/1" };
 * const body = encodeHello(hello);
 * assert.equal(new TextDecoder().decode(body.subarray(0, 4)), "RXEC");
 * assert.deepEqual(decodeHello(body), hello);
 * ```
 */
export function encodeHello(hello: Hello): Uint8Array {
  const { version, ...rest } = hello;
  const json = encoder.encode(JSON.stringify(rest));
  const body = new Uint8Array(HELLO_PREFIX + json.length);
  body.set(MAGIC, 0);
  new DataView(body.buffer).setUint16(MAGIC.length, version, false);
  body.set(json, HELLO_PREFIX);
  return body;
}

/**
 * Decodes a HELLO body.
 *
 * @throws {HandshakeError} `not_rexec` when the magic is missing,
 * `unsupported_version` when the peer speaks another version, and
 * `protocol_error` when the fields are malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HandshakeError } from "../errors.ts";
 * import { decodeHello, encodeHello } from "./messages.ts";
 *
 * assert.throws(
 *   () => decodeHello(new TextEncoder().encode("GET / HTTP/1.1")),
 *   (error) => error instanceof HandshakeError && error.code === "not_rexec",
 * );
 * const future = encodeHello({ version: 99, maxFrameSize: 65536, agent: "rexec/9" });
 * assert.throws(() => decodeHello(future), /speaks rexec protocol 99/);
 * ```
 */
export function decodeHello(body: Uint8Array): Hello {
  if (
    body.length < HELLO_PREFIX || !MAGIC.every((byte, i) => body[i] === byte)
  ) {
    throw new HandshakeError(
      "the peer is not a rexec peer (its HELLO lacks the RXEC magic)",
      ErrorCode.NotRexec,
    );
  }
  const version = new DataView(body.buffer, body.byteOffset).getUint16(
    MAGIC.length,
    false,
  );
  if (version !== PROTOCOL_VERSION) {
    throw new HandshakeError(
      `the peer speaks rexec protocol ${version}, this side speaks ${PROTOCOL_VERSION}; run the same rexec release on both ends`,
      ErrorCode.UnsupportedVersion,
    );
  }
  const fields = parseJsonObject(body.subarray(HELLO_PREFIX), "HELLO");
  const maxFrameSize = requireInteger(fields, "maxFrameSize", "HELLO");
  if (maxFrameSize < MIN_MAX_FRAME_SIZE) {
    throw new HandshakeError(
      `HELLO maxFrameSize ${maxFrameSize} is below the minimum ${MIN_MAX_FRAME_SIZE}`,
    );
  }
  const hello: Hello = {
    version,
    maxFrameSize,
    agent: requireString(fields, "agent", "HELLO"),
  };
  const { features } = fields;
  if (
    features !== undefined &&
    !(Array.isArray(features) && features.every((name) => typeof name === "string"))
  ) {
    throw new HandshakeError("HELLO features must be an array of strings");
  }
  return {
    ...hello,
    ...(fields.stdinWindow !== undefined
      ? { stdinWindow: requireInteger(fields, "stdinWindow", "HELLO") }
      : {}),
    ...(features !== undefined ? { features: features as string[] } : {}),
  };
}

/**
 * Names the protocol a foreign peer seems to speak, from the first bytes it
 * sent, so the server can log something more useful than "bad frame".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeForeignPeer } from "./messages.ts";
 *
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * assert.equal(describeForeignPeer(bytes("GET / HTTP/1.1\r\n")), "HTTP");
 * assert.equal(describeForeignPeer(bytes("SSH-2.0-OpenSSH_9.6\r\n")), "SSH");
 * assert.equal(describeForeignPeer(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00])), "TLS");
 * assert.equal(describeForeignPeer(bytes("hello")), "unknown");
 * ```
 */
export function describeForeignPeer(
  firstBytes: Uint8Array,
): "HTTP" | "TLS" | "SSH" | "unknown" {
  const text = String.fromCharCode(...firstBytes.subarray(0, 8));
  if (HTTP_METHODS.some((method) => isHttpRequestStart(text, method))) return "HTTP";
  if (text.startsWith("SSH-")) return "SSH";
  // A TLS record: handshake (0x16) or alert (0x15), version 3.x.
  if ((firstBytes[0] === 0x16 || firstBytes[0] === 0x15) && firstBytes[1] === 0x03) return "TLS";
  return "unknown";
}

const HTTP_METHODS = [
  "GET",
  "POST",
  "PUT",
  "HEAD",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "CONNECT",
  "TRACE",
  "PRI",
];

/**
 * Often no more than a frame header's worth of bytes (five) has arrived when
 * the peer is judged, so a long method name may be cut short: its first
 * characters are enough, and the space must follow only if it arrived.
 */
function isHttpRequestStart(text: string, method: string): boolean {
  const line = `${method} `;
  if (text.length >= line.length) return text.startsWith(line);
  return text.length >= 4 && line.startsWith(text);
}

/** AUTH_CHALLENGE: the server's fresh random nonce. */
export interface AuthChallenge {
  /** 32 random bytes, base64url. */
  readonly nonce: string;
}

/** AUTH_RESPONSE: the client's nonce and its HMAC proof. */
export interface AuthResponse {
  /** 32 random bytes, base64url. */
  readonly nonce: string;
  /** HMAC-SHA-256 proof, base64url. */
  readonly mac: string;
}

/** AUTH_OK: the server's HMAC proof, so the client knows it reached the right server. */
export interface AuthOk {
  /** HMAC-SHA-256 proof, base64url. */
  readonly mac: string;
}

/** A terminal size in character cells. */
export interface WindowSize {
  /** Lines, 1 to {@link MAX_WINDOW_DIMENSION}. */
  readonly rows: number;
  /** Columns, 1 to {@link MAX_WINDOW_DIMENSION}. */
  readonly cols: number;
}

/** The PTY an EXEC asks for: its first size and the terminal type. */
export interface TtyRequest extends WindowSize {
  /** The value of `TERM` for the command, such as `xterm-256color`. */
  readonly term: string;
}

/** Largest number of rows or columns a window may have: the kernel keeps them in 16 bits. */
export const MAX_WINDOW_DIMENSION = 0xffff;

/**
 * EXEC: what to run and how. Exactly one of `argv`, `shell` and `login` is
 * set.
 */
export interface ExecRequest {
  /** Program and arguments, run as given without a shell. */
  readonly argv?: readonly string[];
  /** A command line for the server's `/bin/sh -c`. */
  readonly shell?: string;
  /** The account's login shell, started as a login shell (`-l`). */
  readonly login?: true;
  /**
   * Run the command on a pseudo-terminal of this size: its stdin, stdout and
   * stderr are the terminal, and all its output comes as STDOUT.
   */
  readonly tty?: TtyRequest;
  /** Variables added to the server's environment for this command. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory on the server. */
  readonly cwd?: string;
  /** Seconds after which the command is terminated. */
  readonly timeout?: number;
  /** Whether the client will send stdin; when false the command reads /dev/null. */
  readonly stdin: boolean;
  /** Whether the client wants stdout; when false the command writes to /dev/null. */
  readonly stdout: boolean;
  /** Whether the client wants stderr; when false the command writes to /dev/null. */
  readonly stderr: boolean;
}

/** SIGNAL: deliver this signal to the command's process group. */
export interface SignalRequest {
  /** A signal name such as `SIGINT`. */
  readonly signal: Deno.Signal;
}

/**
 * Why the server ended a command itself, or did not run it: `refused` by the
 * server's command policy or request limits, `busy` when the server already
 * runs as many commands as it allows.
 */
export type ExitReason =
  | "timeout"
  | "cancelled"
  | "shutdown"
  | "spawn_failed"
  | "refused"
  | "busy";

/** EXIT: how the command ended. */
export interface ExitReport {
  /** Exit code; 128+N when killed by signal N, as a shell reports it. */
  readonly code: number;
  /** Name of the signal that killed the command, or null. */
  readonly signal: Deno.Signal | null;
  /** Set when the server ended the command itself, or could not start it. */
  readonly reason?: ExitReason;
  /** A sentence for the user, set with `reason`. */
  readonly message?: string;
}

/** ERROR: a fatal error; the sender closes the connection after it. */
export interface ErrorReport {
  /** Machine-readable code, for example `auth_failed`. */
  readonly code: ErrorCode;
  /** A sentence for the user. */
  readonly message: string;
}

/** An ERROR as received: from a newer peer, its code may be one this release does not know. */
export interface ReceivedErrorReport {
  /** Machine-readable code, kept as it came. */
  readonly code: ReceivedErrorCode;
  /** A sentence for the user. */
  readonly message: string;
}

/** Signals a client may ask the server to deliver. */
export const FORWARDABLE_SIGNALS: ReadonlySet<Deno.Signal> = new Set<
  Deno.Signal
>([
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGKILL",
  "SIGUSR1",
  "SIGUSR2",
  "SIGALRM",
  "SIGSTOP",
  "SIGCONT",
  "SIGTSTP",
  "SIGWINCH",
]);

const EXIT_REASONS: ReadonlySet<string> = new Set([
  "timeout",
  "cancelled",
  "shutdown",
  "spawn_failed",
  "refused",
  "busy",
]);

/**
 * Encodes a control message as a UTF-8 JSON body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeJson } from "./messages.ts";
 *
 * const body = encodeJson({ code: "auth_failed", message: "wrong token" });
 * assert.equal(new TextDecoder().decode(body), '{"code":"auth_failed","message":"wrong token"}');
 * ```
 */
export function encodeJson(
  message:
    | AuthChallenge
    | AuthResponse
    | AuthOk
    | ExecRequest
    | SignalRequest
    | WindowSize
    | ExitReport
    | ErrorReport,
): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/**
 * Decodes an AUTH_CHALLENGE body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError } from "../errors.ts";
 * import { createNonce } from "./auth.ts";
 * import { decodeAuthChallenge, encodeJson } from "./messages.ts";
 *
 * const nonce = createNonce();
 * assert.deepEqual(decodeAuthChallenge(encodeJson({ nonce })), { nonce });
 * assert.throws(() => decodeAuthChallenge(new TextEncoder().encode("{}")), ProtocolError);
 * ```
 */
export function decodeAuthChallenge(body: Uint8Array): AuthChallenge {
  const fields = parseJsonObject(body, "AUTH_CHALLENGE");
  return { nonce: requireString(fields, "nonce", "AUTH_CHALLENGE") };
}

/**
 * Decodes an AUTH_RESPONSE body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeAuthResponse, encodeJson } from "./messages.ts";
 *
 * const response = decodeAuthResponse(encodeJson({ nonce: "n", mac: "m" }));
 * assert.deepEqual(response, { nonce: "n", mac: "m" });
 * const noMac = new TextEncoder().encode('{"nonce":"n"}');
 * assert.throws(() => decodeAuthResponse(noMac), /AUTH_RESPONSE field mac must be a string/);
 * ```
 */
export function decodeAuthResponse(body: Uint8Array): AuthResponse {
  const fields = parseJsonObject(body, "AUTH_RESPONSE");
  return {
    nonce: requireString(fields, "nonce", "AUTH_RESPONSE"),
    mac: requireString(fields, "mac", "AUTH_RESPONSE"),
  };
}

/**
 * Decodes an AUTH_OK body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeAuthOk, encodeJson } from "./messages.ts";
 *
 * assert.deepEqual(decodeAuthOk(encodeJson({ mac: "m" })), { mac: "m" });
 * assert.throws(() => decodeAuthOk(new TextEncoder().encode("[]")), /must be a JSON object/);
 * ```
 */
export function decodeAuthOk(body: Uint8Array): AuthOk {
  return { mac: requireString(parseJsonObject(body, "AUTH_OK"), "mac", "AUTH_OK") };
}

/**
 * Decodes and validates an EXEC body: exactly one of a non-empty `argv`, a
 * `shell` string or `login: true`, string-only environment, no NUL bytes
 * anywhere, a positive finite timeout, a well-formed `tty`.
 *
 * @throws {ProtocolError} with code `bad_request` naming the offending field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError } from "../errors.ts";
 * import { decodeExecRequest, encodeJson } from "./messages.ts";
 *
 * const sent = { argv: ["echo", "hi"], stdin: false, stdout: true, stderr: true };
 * assert.deepEqual(decodeExecRequest(encodeJson(sent)), sent);
 * assert.throws(
 *   () => decodeExecRequest(encodeJson({ ...sent, shell: "echo hi" })),
 *   (error) =>
 *     error instanceof ProtocolError && error.code === "bad_request" &&
 *     /exactly one of argv, shell and login/.test(error.message),
 * );
 * const onTerminal = { ...sent, tty: { rows: 24, cols: 80, term: "xterm-256color" } };
 * assert.deepEqual(decodeExecRequest(encodeJson(onTerminal)), onTerminal);
 * assert.throws(
 *   () => decodeExecRequest(encodeJson({ ...sent, tty: { rows: 24, cols: 0, term: "vt100" } })),
 *   /tty.cols must be a whole number from 1 to 65535/,
 * );
 * ```
 */
export function decodeExecRequest(body: Uint8Array): ExecRequest {
  const fields = parseJsonObject(body, "EXEC", ErrorCode.BadRequest);
  const bad = (message: string) =>
    new ProtocolError(`invalid EXEC request: ${message}`, ErrorCode.BadRequest);
  const { argv, shell, login, env, cwd, timeout, tty } = fields;
  if ([argv, shell, login].filter((field) => field !== undefined).length !== 1) {
    throw bad("exactly one of argv, shell and login must be given");
  }
  if (login !== undefined && login !== true) throw bad("login must be true when given");
  if (argv !== undefined) {
    if (!Array.isArray(argv) || argv.length === 0) {
      throw bad("argv must be a non-empty array of strings");
    }
    argv.forEach((arg, i) => requireCleanString(arg, `argv[${i}]`, bad));
    if (argv[0] === "") throw bad("argv[0] must not be empty");
  }
  if (shell !== undefined) requireCleanString(shell, "shell", bad);
  if (env !== undefined) {
    if (!isRecord(env)) throw bad("env must be an object of strings");
    for (const [name, value] of Object.entries(env)) {
      if (name === "" || name.includes("=") || name.includes("\0")) {
        throw bad(`env name ${JSON.stringify(name)} is not a valid name`);
      }
      requireCleanString(value, `env.${name}`, bad);
    }
  }
  if (cwd !== undefined) requireCleanString(cwd, "cwd", bad);
  if (
    timeout !== undefined &&
    (typeof timeout !== "number" || !(timeout > 0 && timeout <= MAX_TIMEOUT_SECONDS))
  ) {
    throw bad(`timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}`);
  }
  const flag = (name: "stdin" | "stdout" | "stderr") => {
    const value = fields[name];
    if (typeof value !== "boolean") throw bad(`${name} must be true or false`);
    return value;
  };
  return {
    ...(argv !== undefined ? { argv: argv as string[] } : {}),
    ...(shell !== undefined ? { shell: shell as string } : {}),
    ...(env !== undefined ? { env: env as Record<string, string> } : {}),
    ...(cwd !== undefined ? { cwd: cwd as string } : {}),
    ...(timeout !== undefined ? { timeout: timeout as number } : {}),
    ...(login === true ? { login } : {}),
    ...(tty !== undefined ? { tty: decodeTty(tty, bad) } : {}),
    stdin: flag("stdin"),
    stdout: flag("stdout"),
    stderr: flag("stderr"),
  };
}

function decodeTty(tty: unknown, bad: (message: string) => ProtocolError): TtyRequest {
  if (!isRecord(tty)) throw bad("tty must be an object with rows, cols and term");
  const { term } = tty;
  requireCleanString(term, "tty.term", bad);
  if (!/^[A-Za-z0-9._+-]{1,64}$/.test(term as string)) {
    throw bad(`tty.term ${JSON.stringify(term)} is not a terminal type name`);
  }
  return { ...checkWindowSize(tty, "tty", bad), term: term as string };
}

function checkWindowSize(
  fields: Record<string, unknown>,
  what: string,
  bad: (message: string) => ProtocolError,
): WindowSize {
  const dimension = (name: "rows" | "cols") => {
    const value = fields[name];
    if (
      !Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_WINDOW_DIMENSION
    ) {
      throw bad(`${what}.${name} must be a whole number from 1 to ${MAX_WINDOW_DIMENSION}`);
    }
    return value as number;
  };
  return { rows: dimension("rows"), cols: dimension("cols") };
}

/**
 * Decodes a WINDOW_SIZE body: `{rows, cols}`, each from 1 to
 * {@link MAX_WINDOW_DIMENSION}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeWindowSize, encodeJson } from "./messages.ts";
 *
 * assert.deepEqual(decodeWindowSize(encodeJson({ rows: 24, cols: 80 })), { rows: 24, cols: 80 });
 * assert.throws(
 *   () => decodeWindowSize(encodeJson({ rows: 0, cols: 80 })),
 *   /WINDOW_SIZE.rows must be a whole number from 1 to 65535/,
 * );
 * ```
 */
export function decodeWindowSize(body: Uint8Array): WindowSize {
  const fields = parseJsonObject(body, "WINDOW_SIZE", ErrorCode.BadRequest);
  return checkWindowSize(
    fields,
    "WINDOW_SIZE",
    (message) => new ProtocolError(`invalid WINDOW_SIZE: ${message}`, ErrorCode.BadRequest),
  );
}

/**
 * Decodes a SIGNAL body; only {@link FORWARDABLE_SIGNALS} are accepted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSignalRequest, encodeJson } from "./messages.ts";
 *
 * assert.deepEqual(decodeSignalRequest(encodeJson({ signal: "SIGINT" })), { signal: "SIGINT" });
 * // Not one of FORWARDABLE_SIGNALS: a client may not, say, stop the server's own process.
 * assert.throws(
 *   () => decodeSignalRequest(encodeJson({ signal: "SIGSEGV" })),
 *   /is not a signal rexec forwards/,
 * );
 * ```
 */
export function decodeSignalRequest(body: Uint8Array): SignalRequest {
  const signal = requireString(parseJsonObject(body, "SIGNAL"), "signal", "SIGNAL");
  if (!FORWARDABLE_SIGNALS.has(signal as Deno.Signal)) {
    throw new ProtocolError(
      `SIGNAL ${JSON.stringify(signal)} is not a signal rexec forwards`,
      ErrorCode.BadRequest,
    );
  }
  return { signal: signal as Deno.Signal };
}

/**
 * Decodes an EXIT body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeExitReport, encodeJson } from "./messages.ts";
 *
 * const report = { code: 143, signal: "SIGTERM" as const, reason: "timeout" as const };
 * assert.deepEqual(decodeExitReport(encodeJson(report)), report);
 * assert.throws(() => decodeExitReport(encodeJson({ code: 300, signal: null })), /above 255/);
 * ```
 */
export function decodeExitReport(body: Uint8Array): ExitReport {
  const fields = parseJsonObject(body, "EXIT");
  const code = requireInteger(fields, "code", "EXIT");
  if (code > EXIT_STATUS_MAX) {
    throw new ProtocolError(`EXIT code ${code} is above ${EXIT_STATUS_MAX}`);
  }
  const { signal, reason, message } = fields;
  if (signal !== null && !(typeof signal === "string" && /^SIG[A-Z0-9]+$/.test(signal))) {
    throw new ProtocolError("EXIT signal must be a signal name or null");
  }
  if (reason !== undefined && !EXIT_REASONS.has(reason as string)) {
    throw new ProtocolError(`EXIT reason ${JSON.stringify(reason)} is unknown`);
  }
  if (message !== undefined && typeof message !== "string") {
    throw new ProtocolError("EXIT message must be a string");
  }
  return {
    code,
    signal: signal as Deno.Signal | null,
    ...(reason !== undefined ? { reason: reason as ExitReason } : {}),
    ...(message !== undefined ? { message: message as string } : {}),
  };
}

/**
 * Decodes an ERROR body. A code this release does not know, from a newer
 * peer, is kept as it came, for the user to see: only its type is checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeErrorReport, encodeJson } from "./messages.ts";
 *
 * const report = { code: "server_shutdown", message: "the server is shutting down" } as const;
 * assert.deepEqual(decodeErrorReport(encodeJson(report)), report);
 * ```
 */
export function decodeErrorReport(body: Uint8Array): ReceivedErrorReport {
  const fields = parseJsonObject(body, "ERROR");
  return {
    code: requireString(fields, "code", "ERROR"),
    message: requireString(fields, "message", "ERROR"),
  };
}

/**
 * Encodes a STDIN_WINDOW body: the increment as u32 big-endian.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeWindow } from "./messages.ts";
 *
 * assert.deepEqual([...encodeWindow(65536)], [0, 1, 0, 0]);
 * assert.throws(() => encodeWindow(2 ** 32), RangeError);
 * ```
 */
export function encodeWindow(increment: number): Uint8Array {
  if (!Number.isInteger(increment) || increment < 0 || increment > 0xffff_ffff) {
    throw new RangeError(`STDIN_WINDOW increment ${increment} does not fit in 32 bits`);
  }
  const body = new Uint8Array(4);
  new DataView(body.buffer).setUint32(0, increment, false);
  return body;
}

/**
 * Decodes a STDIN_WINDOW body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeWindow, encodeWindow } from "./messages.ts";
 *
 * assert.equal(decodeWindow(new Uint8Array([0, 0, 1, 0])), 256);
 * assert.equal(decodeWindow(encodeWindow(65536)), 65536);
 * assert.throws(() => decodeWindow(new Uint8Array(3)), /must be 4 bytes, got 3/);
 * ```
 */
export function decodeWindow(body: Uint8Array): number {
  if (body.length !== 4) {
    throw new ProtocolError(
      `STDIN_WINDOW body must be 4 bytes, got ${body.length}`,
    );
  }
  return new DataView(body.buffer, body.byteOffset, 4).getUint32(0, false);
}

/**
 * Throws unless a frame that carries no body has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameType } from "./frame.ts";
 * import { requireEmptyBody } from "./messages.ts";
 *
 * requireEmptyBody(FrameType.Ping, new Uint8Array(0));
 * assert.throws(
 *   () => requireEmptyBody(FrameType.Ping, new Uint8Array(2)),
 *   /PING frame must have an empty body, got 2 bytes/,
 * );
 * ```
 */
export function requireEmptyBody(type: number, body: Uint8Array): void {
  if (body.length !== 0) {
    throw new ProtocolError(
      `${frameTypeName(type)} frame must have an empty body, got ${body.length} bytes`,
    );
  }
}

function requireString(
  fields: Record<string, unknown>,
  name: string,
  what: string,
): string {
  const value = fields[name];
  if (typeof value !== "string") {
    throw new ProtocolError(`${what} field ${name} must be a string`);
  }
  return value;
}

function requireInteger(
  fields: Record<string, unknown>,
  name: string,
  what: string,
): number {
  const value = fields[name];
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new ProtocolError(
      `${what} field ${name} must be a non-negative integer`,
    );
  }
  return value as number;
}

function requireCleanString(
  value: unknown,
  name: string,
  bad: (message: string) => ProtocolError,
): void {
  if (typeof value !== "string") throw bad(`${name} must be a string`);
  if (value.includes("\0")) throw bad(`${name} contains a NUL byte`);
}
