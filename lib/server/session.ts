/**
 * One client connection on the server: the HELLO and authentication
 * handshake, then EXEC requests one after another, each run by a
 * {@link ServerCommand}. Whatever happens on the connection (a protocol
 * violation, a wrong token, a dead peer), the session ends alone and takes
 * its command's whole process group with it.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { formatAddr } from "../transport/address.ts";
import type { AuditEvent, AuditEventName } from "./audit.ts";
import type { AuditTrail } from "./audit_trail.ts";
import type { AuthThrottle } from "./auth_throttle.ts";
import {
  acceptClient,
  type HandshakeStage,
  SessionRefusedError,
  WRONG_TOKEN,
} from "./handshake.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { settlesWithin } from "../util/deadline.ts";
import { AuthenticationError, ProtocolError } from "../errors.ts";
import { ErrorCode } from "../protocol/error_code.ts";
import { EXIT_REFUSED } from "../protocol/exit_status.ts";
import {
  type Frame,
  FrameType,
  frameTypeName,
  HANDSHAKE_MAX_FRAME_SIZE,
} from "../protocol/frame.ts";
import { type ByteReader, FrameReader } from "../transport/frame_reader.ts";
import { FAREWELL_TIMEOUT_MS, sendFarewell } from "../transport/farewell.ts";
import { FrameWriter } from "../transport/frame_writer.ts";
import type { SessionConn } from "../transport/conn.ts";
import { Heartbeat, WatchedSink } from "../transport/heartbeat.ts";
import type { Logger, LogValue } from "../util/log.ts";
import {
  decodeErrorReport,
  decodeExecRequest,
  decodeSignalRequest,
  decodeWindowSize,
  encodeJson,
  type ErrorReport,
  FEATURE_TTY,
  requireEmptyBody,
} from "../protocol/messages.ts";
import { COPY_CHUNK_SIZE, ServerTransfer, type TransferOutcome } from "./transfer.ts";
import type { CopyPlaces } from "./copy_paths.ts";
import { COPY_FEATURE, decodeCopyRequest } from "../protocol/transfer.ts";
import {
  type CommandOutcome,
  type CommandSlots,
  type ExecPolicy,
  type RunAs,
  ServerCommand,
} from "./command.ts";

/**
 * Largest output frame body the server sends, when the client accepts it.
 * Frames are this large only while output arrives faster than the client
 * takes it; see output_pump.ts.
 */
export const OUTPUT_CHUNK_SIZE = 256 * 1024;

/** Settings a session takes from its server. */
export interface SessionSettings {
  /** The shared token. */
  readonly token: string;
  /** Largest frame body accepted after authentication. */
  readonly maxFrameSize: number;
  /** Stdin bytes a client may have in flight per command. */
  readonly stdinWindow: number;
  /** Server maximum for command timeouts, in seconds; none when undefined. */
  readonly maxTimeout?: number;
  /** Milliseconds between SIGTERM and SIGKILL. */
  readonly killGraceMs: number;
  /** Name and version announced in HELLO. */
  readonly agent: string;
  /** Where records go. */
  readonly logger: Logger;
  /** Milliseconds a connection has to authenticate; 0 for no limit. */
  readonly handshakeTimeoutMs: number;
  /** Milliseconds an authenticated session may go without a command; 0 for no limit. */
  readonly idleTimeoutMs: number;
  /** Milliseconds between keepalive PINGs; the peer is dropped after three of silence. 0 disables. */
  readonly keepaliveMs: number;
  /** Largest EXEC request, in bytes: argv or shell string, env and cwd. */
  readonly maxExecSize: number;
  /** Bounds the rate of wrong proofs per address; none when absent. */
  readonly throttle?: AuthThrottle;
  /**
   * Told when a connection has proved it holds the token; returns a refusal
   * when the server has no session slot left for it. Every connection that
   * authenticates is served when absent.
   */
  readonly onAuthenticated?: (session: ServerSession) => ErrorReport | undefined;
  /** Which requests may run; any when absent. */
  readonly policy?: ExecPolicy;
  /** The account commands run as; the server's own when absent. */
  readonly runAs?: RunAs;
  /** Server-wide limit on running commands; none when absent. */
  readonly slots?: CommandSlots;
  /** Where audit records go; none when absent. */
  readonly audit?: AuditTrail;
  /** The setsid(1) commands start through; a fork of the server per command when absent. */
  readonly setsid?: string;
  /** Refuse requests for a pseudo-terminal (`rexec serve --no-tty`). */
  readonly noTty?: boolean;
  /** Where file transfers go, or why they are refused; refused when absent. */
  readonly copy?: { readonly places: CopyPlaces; readonly refusal?: string };
}

/**
 * File operations a client may ask for before their results: enough to keep
 * a link busy with small files whose syncs take milliseconds each, while
 * each waiting upload holds at most its first window of bytes (8 MiB for
 * all of them with the default window).
 */
export const MAX_QUEUED_TRANSFERS = 32;

/** PONGs a client may leave unread before the server stops reading its frames. */
const MAX_UNREAD_PONGS = 16;

/** What a client is told when its command is refused because nothing could record it. */
const AUDIT_REFUSAL = "the server cannot write its audit log, so it runs no commands until it " +
  "can; tell the server's operator";

/**
 * Serves one connection until it ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import type { LogRecord } from "../util/log.ts";
 * import { ServerSession } from "./session.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const logs: LogRecord[] = [];
 * const serving = (async () => {
 *   const session = new ServerSession(await listener.accept(), 1, {
 *     token,
 *     maxFrameSize: 1 << 20,
 *     stdinWindow: 1 << 18,
 *     killGraceMs: 2000,
 *     agent: "rexec/example",
 *     logger: (record) => logs.push(record),
 *     handshakeTimeoutMs: 10_000,
 *     idleTimeoutMs: 0,
 *     keepaliveMs: 0,
 *     maxExecSize: 1 << 18,
 *   });
 *   await session.run(); // never throws; ends when the connection does
 * })();
 * {
 *   await using client = await connect({ hostname: "127.0.0.1", port: listener.addr.port, token });
 *   assert.equal(client.serverAgent, "rexec/example");
 *   assert.equal((await client.spawn(["true"]).status).code, 0);
 * }
 * await serving;
 * assert.equal(logs.at(-1)?.message, "connection closed");
 * ```
 */
export class ServerSession {
  /** Sequence number of the session, for logs. */
  readonly id: number;
  /** Remote address as `host:port`, for logs. */
  readonly peer: string;
  /** Remote address without the port: what failures and unauthenticated connections are counted by. */
  readonly address: string;
  readonly #conn: SessionConn;
  readonly #settings: SessionSettings;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  /** What the writer writes to, watched for a peer that stopped reading. */
  readonly #sink: WatchedSink;
  /** Aborted when the connection closes: ends waits on its behalf. */
  readonly #lifetime = new AbortController();
  /** What the client is waiting for during the handshake, so that a timeout can say the right thing. */
  #handshakeStage: HandshakeStage = "open";
  #outputChunkSize = OUTPUT_CHUNK_SIZE;
  #copyChunkSize = COPY_CHUNK_SIZE;
  #command: ServerCommand | undefined;
  /** File operations, run one after another in the order asked; the first runs. */
  readonly #transfers: ServerTransfer[] = [];
  #closed = false;
  #shuttingDown = false;
  #commands = 0;
  #unreadPongs = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #authenticated = false;
  /** The connect record, held back by the per-address audit limit until authentication. */
  #heldConnect: AuditEvent | undefined;
  /** Audit records of this unauthenticated session that the per-address limit left out. */
  readonly #suppressed: AuditEventName[] = [];
  /** Set when the session itself decides to end: a timeout or silence. */
  #ending: ErrorReport | undefined;
  readonly #opened = performance.now();

  /** Wraps an accepted connection. */
  constructor(conn: SessionConn, id: number, settings: SessionSettings) {
    this.#conn = conn;
    this.id = id;
    this.peer = formatAddr(conn.remoteAddr);
    this.address = peerAddress(conn.remoteAddr);
    this.#settings = settings;
    // A plain TCP connection is read directly; the TLS listener's through its stream.
    this.#reader = new FrameReader(conn.read ? conn as ByteReader : conn.readable, {
      maxFrameSize: HANDSHAKE_MAX_FRAME_SIZE,
    });
    this.#sink = new WatchedSink(conn);
    this.#writer = new FrameWriter(this.#sink);
  }

  /** Runs the session to its end. Never throws. */
  async run(): Promise<void> {
    this.#log("info", "connection opened");
    this.#audit("connect");
    let farewell: ErrorReport | undefined;
    const { handshakeTimeoutMs } = this.#settings;
    const handshakeTimer = handshakeTimeoutMs > 0
      ? setTimeout(() => this.#handshakeTimedOut(), handshakeTimeoutMs)
      : undefined;
    try {
      const authenticated = await this.#handshake();
      clearTimeout(handshakeTimer);
      if (authenticated) await this.#serveRequests();
    } catch (error) {
      farewell = this.#describeFailure(error);
    } finally {
      clearTimeout(handshakeTimer);
      clearTimeout(this.#idleTimer);
      for (const transfer of this.#transfers) transfer.abort("disconnected");
      // Bounded by file system calls alone: nothing of a transfer waits on the client.
      await Promise.all(this.#transfers.map((transfer) => transfer.finished));
      const command = this.#command;
      if (command) {
        command.cancel("disconnected");
        // Bounded: a peer that stopped reading must not keep the session,
        // and its output pumps, alive; closing the connection ends them.
        await settlesWithin(
          command.finished,
          this.#settings.killGraceMs + FAREWELL_TIMEOUT_MS,
        );
      }
      if (farewell && !this.#closed) await this.#sendFarewell(farewell);
      this.#close();
      this.#log("info", "connection closed", {
        bytes_out: this.#writer.bytesWritten,
      });
      this.#audit("disconnect", {
        commands: this.#commands,
        duration_ms: Math.round(performance.now() - this.#opened),
        ...(farewell ? { error: farewell.code } : {}),
      });
      this.#reportSuppressed();
    }
  }

  /**
   * Ends the session from within: a timeout or a silent peer. The pending
   * read fails once the connection closes, and {@link run} cleans up.
   */
  #end(report: ErrorReport): void {
    if (this.#ending || this.#closed) return;
    this.#ending = report;
    this.#log("warn", report.message, { code: report.code });
    this.#sendFarewell(report).finally(() => this.#close());
  }

  /**
   * Ends a connection that has not authenticated yet, to make room for a
   * newer one; the client is told the server is busy.
   */
  evict(message: string): void {
    this.#end({ code: ErrorCode.ServerBusy, message });
  }

  /**
   * Ends a connection whose handshake ran out of time. A client with a wrong
   * token still hears that its token was refused, one that waited behind its
   * address's failures hears why.
   */
  #handshakeTimedOut(): void {
    if (this.#ending || this.#closed) return;
    switch (this.#handshakeStage) {
      case "answer held":
        this.#end({ code: ErrorCode.AuthFailed, message: WRONG_TOKEN });
        return;
      case "throttled":
        this.#audit("auth", { result: "throttled" });
        this.#end({
          code: ErrorCode.AuthThrottled,
          message: "too many failed authentication attempts from your address; try again later",
        });
        return;
      default:
        this.#end({
          code: ErrorCode.HandshakeTimeout,
          message: `not authenticated within ${this.#settings.handshakeTimeoutMs / 1000} s`,
        });
    }
  }

  /**
   * Ends the session for a server shutdown: the running command is
   * terminated and reported with reason `shutdown`, then the client gets an
   * ERROR `server_shutdown` and the connection closes.
   */
  async shutdown(options: { deadlineMs: number }): Promise<void> {
    if (this.#shuttingDown || this.#closed) return;
    this.#shuttingDown = true;
    for (const transfer of this.#transfers) transfer.abort("shutdown");
    await settlesWithin(
      Promise.all(this.#transfers.map((transfer) => transfer.finished)),
      options.deadlineMs,
    );
    const command = this.#command;
    if (command) {
      command.cancel("shutdown");
      // The EXIT frame is queued by #finishCommand as soon as the command
      // finishes, so it goes out before the ERROR below.
      await settlesWithin(command.finished, options.deadlineMs);
    }
    await this.#sendFarewell({
      code: ErrorCode.ServerShutdown,
      message: "the server is shutting down",
    });
    this.#close();
  }

  async #handshake(): Promise<boolean> {
    const hello = await acceptClient({
      reader: this.#reader,
      writer: this.#writer,
      token: this.#settings.token,
      maxFrameSize: this.#settings.maxFrameSize,
      agent: this.#settings.agent,
      stdinWindow: this.#settings.stdinWindow,
      features: [FEATURE_TTY, COPY_FEATURE],
      throttle: this.#settings.throttle,
      address: this.address,
      signal: this.#lifetime.signal,
      onStage: (stage) => this.#handshakeStage = stage,
      log: (level, message, fields) => this.#log(level, message, fields),
      audit: (fields) => this.#audit("auth", fields),
      admit: () => {
        if (this.#closed || this.#ending) return "gone";
        return this.#settings.onAuthenticated?.(this);
      },
    });
    if (hello === undefined) return false;
    this.#outputChunkSize = Math.min(OUTPUT_CHUNK_SIZE, hello.maxFrameSize);
    this.#copyChunkSize = Math.min(COPY_CHUNK_SIZE, hello.maxFrameSize);
    this.#reader.maxFrameSize = this.#settings.maxFrameSize;
    this.#log("info", "authenticated", { agent: hello.agent });
    this.#markAuthenticated();
    this.#audit("auth", { result: "ok", agent: hello.agent });
    return true;
  }

  async #serveRequests(): Promise<void> {
    const { keepaliveMs } = this.#settings;
    using heartbeat = keepaliveMs > 0
      ? new Heartbeat({
        intervalMs: keepaliveMs,
        sendPing: () => this.#writer.write(FrameType.Ping).catch(() => this.#close()),
        onSilence: (silentMs) =>
          this.#end({
            code: ErrorCode.KeepaliveTimeout,
            message: `no word from the client for ${Math.round(silentMs / 1000)} s`,
          }),
        outbound: this.#sink,
        onStalled: (stalledMs) =>
          this.#end({
            code: ErrorCode.KeepaliveTimeout,
            message: `the client read nothing for ${Math.round(stalledMs / 1000)} s`,
          }),
      })
      : undefined;
    this.#armIdleTimer();
    for (;;) {
      const read = this.#reader.read();
      const frame = await (heartbeat ? heartbeat.listen(read) : read);
      if (frame === null || this.#shuttingDown) return;
      if (frame.type === FrameType.Error) {
        const report = decodeErrorReport(frame.body);
        this.#log("warn", "client reported an error", { ...report });
        return;
      }
      await this.#dispatch(frame);
    }
  }

  async #dispatch({ type, body }: Frame): Promise<void> {
    const command = this.#command;
    switch (type) {
      case FrameType.Exec:
        if (command || this.#transfers.length > 0) {
          throw new ProtocolError(
            "EXEC while a command is still running on this connection",
            ErrorCode.Busy,
          );
        }
        this.#startCommand(body);
        return;
      case FrameType.Ping: {
        requireEmptyBody(type, body);
        const pong = this.#writer.write(FrameType.Pong);
        this.#unreadPongs++;
        pong.then(() => this.#unreadPongs--, () => this.#close());
        // A client that sends PINGs without reading the PONGs stops being
        // read, instead of growing the write queue; the heartbeat drops it
        // once nothing written to it has moved for the keepalive limit.
        if (this.#unreadPongs > MAX_UNREAD_PONGS) await pong;
        return;
      }
      case FrameType.Pong:
        return;
      case FrameType.CopyRequest:
        if (command || this.#transfers.length >= MAX_QUEUED_TRANSFERS) {
          throw new ProtocolError(
            command
              ? "COPY_REQUEST while a command is running on this connection"
              : `more than ${MAX_QUEUED_TRANSFERS} file operations waiting on this connection`,
            ErrorCode.Busy,
          );
        }
        this.#startTransfer(body);
        return;
      case FrameType.CopyData:
      case FrameType.CopyEnd:
        // An upload's bytes follow its request: they belong to the last one asked for, and
        // are stale when it has ended already.
        this.#transfers.at(-1)?.handle(type, body);
        return;
      case FrameType.CopyWindow:
        this.#transfers[0]?.handle(type, body);
        return;
      case FrameType.CopyCancel:
        for (const transfer of this.#transfers) transfer.handle(type, body);
        return;
      case FrameType.Stdin:
      case FrameType.StdinEof:
      case FrameType.Signal:
      case FrameType.Cancel:
      case FrameType.WindowSize:
        // Between commands these are frames the client sent before it read
        // the previous EXIT; they are stale, not wrong.
        if (command) this.#forwardToCommand(command, type, body);
        return;
      default:
        throw new ProtocolError(
          `unexpected ${frameTypeName(type)} frame from a client`,
        );
    }
  }

  #forwardToCommand(command: ServerCommand, type: FrameType, body: Uint8Array) {
    switch (type) {
      case FrameType.Stdin:
        command.pushStdin(body);
        return;
      case FrameType.StdinEof:
        requireEmptyBody(type, body);
        command.endStdin();
        return;
      case FrameType.Signal:
        command.signal(decodeSignalRequest(body).signal);
        return;
      case FrameType.Cancel:
        requireEmptyBody(type, body);
        command.cancel("cancelled");
        return;
      case FrameType.WindowSize:
        command.resize(decodeWindowSize(body));
        return;
    }
  }

  #startTransfer(body: Uint8Array): void {
    const request = decodeCopyRequest(body);
    clearTimeout(this.#idleTimer);
    const copy = this.#settings.copy;
    const previous = this.#transfers.at(-1);
    const transfer = new ServerTransfer(request, {
      ...(previous ? { previous } : {}),
      places: copy?.places ?? { base: "/" },
      refusal: copy ? copy.refusal : "this server takes no file transfers",
      writer: this.#writer,
      initialWindow: this.#settings.stdinWindow,
      chunkSize: this.#copyChunkSize,
      commit: ({ path, bytes, sha256, durationMs }) => {
        const recorded = this.#audit("copy", {
          op: "put",
          path,
          bytes,
          sha256,
          result: "ok",
          duration_ms: durationMs,
        });
        return recorded || !this.#settings.audit?.failClosed;
      },
    });
    this.#transfers.push(transfer);
    transfer.finished.then((outcome) => this.#finishTransfer(transfer, outcome));
  }

  #finishTransfer(transfer: ServerTransfer, outcome: TransferOutcome): void {
    const index = this.#transfers.indexOf(transfer);
    if (index !== -1) this.#transfers.splice(index, 1);
    if (this.#transfers.length === 0) this.#armIdleTimer();
    const fields = {
      op: outcome.op,
      path: outcome.path,
      bytes: outcome.bytes,
      sha256: outcome.sha256,
      result: outcome.result,
      duration_ms: outcome.durationMs,
    };
    const failed = outcome.result !== "ok";
    this.#log(failed ? "warn" : "info", "copy", { ...fields, error: outcome.message });
    // An upload that replaced its file was recorded just before it did.
    if (!outcome.committed) this.#audit("copy", { ...fields, message: outcome.message });
  }

  #startCommand(body: Uint8Array): void {
    const { maxExecSize } = this.#settings;
    if (body.length > maxExecSize) {
      this.#refuseCommand(
        `the request is ${body.length} bytes; this server takes at most ${maxExecSize} of argv, env and cwd`,
        this.#audit("exec", { request_bytes: body.length }),
      );
      return;
    }
    const request = decodeExecRequest(body);
    // The record comes first: with an audit log failing closed, nothing
    // runs that it could not record.
    const recorded = this.#audit("exec", {
      ...(request.shell !== undefined
        ? { shell: request.shell }
        : request.login
        ? { login: true }
        : { argv: request.argv }),
      cwd: request.cwd,
      env: request.env ? Object.keys(request.env) : undefined,
      timeout: request.timeout,
      ...(request.tty ? { tty: true } : {}),
    });
    if (!recorded && this.#settings.audit?.failClosed) {
      this.#refuseCommand(AUDIT_REFUSAL, false);
      return;
    }
    clearTimeout(this.#idleTimer);
    this.#commands++;
    const command = new ServerCommand({
      request,
      writer: this.#writer,
      outputChunkSize: this.#outputChunkSize,
      stdinWindow: this.#settings.stdinWindow,
      maxTimeout: this.#settings.maxTimeout,
      killGraceMs: this.#settings.killGraceMs,
      onWarning: (message) => this.#log("warn", message, { argv: command.argv }),
      policy: this.#settings.policy,
      runAs: this.#settings.runAs,
      slots: this.#settings.slots,
      ...(this.#settings.setsid !== undefined ? { setsid: this.#settings.setsid } : {}),
      ...(this.#settings.noTty ? { noTty: true } : {}),
    });
    this.#command = command;
    this.#log("info", "exec", {
      argv: command.argv,
      cwd: request.cwd,
      env: request.env ? Object.keys(request.env) : undefined,
      timeout: request.timeout,
    });
    command.finished.then(
      (outcome) => this.#finishCommand(command, outcome),
      (error) => {
        this.#command = undefined;
        this.#log("error", "command failed", { error: String(error) });
        this.#close();
      },
    );
  }

  /**
   * Answers an EXEC with a refusal, without running anything. The exit
   * record is written only after an exec record, so that every exit in the
   * audit log has its exec.
   */
  #refuseCommand(message: string, execRecorded: boolean): void {
    this.#log("warn", "refused", { error: message });
    if (execRecorded) this.#audit("exit", { code: EXIT_REFUSED, reason: "refused", message });
    this.#writer.write(
      FrameType.Exit,
      encodeJson({ code: EXIT_REFUSED, signal: null, reason: "refused", message }),
    ).catch(() => this.#close());
  }

  #armIdleTimer(): void {
    const { idleTimeoutMs } = this.#settings;
    if (idleTimeoutMs <= 0 || this.#closed) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#end({
        code: ErrorCode.IdleTimeout,
        message: `closing the session after ${idleTimeoutMs / 1000} s without a command`,
      });
    }, idleTimeoutMs);
  }

  #finishCommand(command: ServerCommand, outcome: CommandOutcome): void {
    if (this.#command === command) this.#command = undefined;
    this.#armIdleTimer();
    const { report } = outcome;
    const ending = {
      code: report.code,
      signal: report.signal,
      reason: outcome.endReason ?? report.reason,
      duration_ms: outcome.durationMs,
      bytes_in: outcome.bytesIn,
      bytes_out: outcome.bytesOut,
    };
    this.#log("info", "exit", { argv: outcome.argv, ...ending });
    this.#audit("exit", ending);
    if (outcome.endReason === "disconnected") return;
    this.#writer.write(FrameType.Exit, encodeJson(report)).catch(() => this.#close());
  }

  #describeFailure(error: unknown): ErrorReport | undefined {
    if (this.#ending) return undefined;
    if (error instanceof AuthenticationError) {
      return { code: ErrorCode.AuthFailed, message: error.message };
    }
    if (error instanceof SessionRefusedError) {
      this.#log("warn", "refused an authenticated client: too many sessions");
      return error.report;
    }
    if (error instanceof ProtocolError) {
      this.#log("warn", "protocol error", { code: error.code, error: error.message });
      return { code: error.code, message: error.message };
    }
    if (this.#closed) return undefined;
    this.#log("info", "connection lost", { error: String(error) });
    return undefined;
  }

  async #sendFarewell(report: ErrorReport): Promise<void> {
    await sendFarewell(this.#writer, report);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    closeQuietly(this.#conn);
    this.#lifetime.abort(new Deno.errors.BadResource("the connection is closed"));
  }

  /**
   * Writes an audit record. Before authentication a record may be left out
   * by the per-address limit (a connect record is held back instead, until
   * the session authenticates).
   *
   * @returns whether the record was written; true when there is no audit trail.
   */
  #audit(event: AuditEventName, fields: Record<string, unknown> = {}): boolean {
    const trail = this.#settings.audit;
    if (!trail) return true;
    const record: AuditEvent = { event, session: this.id, peer: this.peer };
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) (record as Record<string, unknown>)[key] = value;
    }
    if (!this.#authenticated && !trail.admitPreAuth(this.address)) {
      if (event === "connect") this.#heldConnect = { ...record, time: new Date().toISOString() };
      else this.#suppressed.push(event);
      return false;
    }
    return trail.write(record);
  }

  /** From now on no record of this session is left out; one held back is written now. */
  #markAuthenticated(): void {
    this.#authenticated = true;
    if (this.#heldConnect) this.#settings.audit?.write(this.#heldConnect);
    this.#heldConnect = undefined;
  }

  /** Tells the audit trail what the per-address limit left out of this session's records. */
  #reportSuppressed(): void {
    if (this.#heldConnect) this.#suppressed.unshift("connect");
    this.#settings.audit?.suppressed(this.address, this.#suppressed);
  }

  #log(
    level: "info" | "warn" | "error",
    message: string,
    fields: Record<string, LogValue | undefined> = {},
  ): void {
    this.#settings.logger({
      level,
      message,
      fields: { session: this.id, peer: this.peer, ...fields },
    });
  }
}

/**
 * The remote IP address of a connection, without the port: what
 * authentication failures and unauthenticated connections are counted by.
 */
function peerAddress(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp" ? addr.hostname : addr.transport;
}
