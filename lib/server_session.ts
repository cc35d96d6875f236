/**
 * One client connection on the server: the HELLO and authentication
 * handshake, then EXEC requests one after another, each run by a
 * {@link ServerCommand}. Whatever happens on the connection (a protocol
 * violation, a wrong token, a dead peer), the session ends alone and takes
 * its command's whole process group with it.
 *
 * @module
 */

import { settlesWithin } from "./deadline.ts";
import { computeProof, createNonce, isValidNonce, verifyProof } from "./auth.ts";
import { AuthenticationError, HandshakeError, ProtocolError } from "./errors.ts";
import { type Frame, FrameType, frameTypeName, HANDSHAKE_MAX_FRAME_SIZE } from "./frame.ts";
import { FrameReader } from "./frame_reader.ts";
import { FrameWriter } from "./frame_writer.ts";
import type { Logger, LogValue } from "./log.ts";
import {
  decodeAuthResponse,
  decodeErrorReport,
  decodeExecRequest,
  decodeHello,
  decodeSignalRequest,
  describeForeignPeer,
  encodeHello,
  encodeJson,
  type ErrorReport,
  PROTOCOL_VERSION,
  requireEmptyBody,
} from "./messages.ts";
import { type CommandOutcome, ServerCommand } from "./server_command.ts";

/** Largest output frame body the server sends, when the client accepts it. */
export const OUTPUT_CHUNK_SIZE = 64 * 1024;

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
}

/** How long a farewell ERROR frame may take before the connection is closed anyway. */
const FAREWELL_TIMEOUT_MS = 1000;

const HTTP_REFUSAL = new TextEncoder().encode(
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
    "This port speaks the rexec protocol, not HTTP. Use: rexec run HOST -- COMMAND\n",
);

/**
 * Serves one connection until it ends.
 *
 * @example
 * ```ts ignore
 * import { ServerSession } from "./server_session.ts";
 *
 * const session = new ServerSession(conn, 1, settings);
 * await session.run(); // never throws; ends when the connection does
 * ```
 */
export class ServerSession {
  /** Sequence number of the session, for logs. */
  readonly id: number;
  /** Remote address as `host:port`, for logs. */
  readonly peer: string;
  readonly #conn: Deno.Conn;
  readonly #settings: SessionSettings;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  #outputChunkSize = OUTPUT_CHUNK_SIZE;
  #command: ServerCommand | undefined;
  #closed = false;
  #shuttingDown = false;

  /** Wraps an accepted connection. */
  constructor(conn: Deno.Conn, id: number, settings: SessionSettings) {
    this.#conn = conn;
    this.id = id;
    this.peer = formatAddr(conn.remoteAddr);
    this.#settings = settings;
    this.#reader = new FrameReader(conn.readable, {
      maxFrameSize: HANDSHAKE_MAX_FRAME_SIZE,
    });
    this.#writer = new FrameWriter(conn);
  }

  /** Runs the session to its end. Never throws. */
  async run(): Promise<void> {
    this.#log("info", "connection opened");
    let farewell: ErrorReport | undefined;
    try {
      if (await this.#handshake()) await this.#serveRequests();
    } catch (error) {
      farewell = this.#describeFailure(error);
    } finally {
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
    const command = this.#command;
    if (command) {
      command.cancel("shutdown");
      // The EXIT frame is queued by #finishCommand as soon as the command
      // finishes, so it goes out before the ERROR below.
      await settlesWithin(command.finished, options.deadlineMs);
    }
    await this.#sendFarewell({
      code: "server_shutdown",
      message: "the server is shutting down",
    });
    this.#close();
  }

  async #handshake(): Promise<boolean> {
    const hello = await this.#readHello();
    if (hello === undefined) return false;
    this.#outputChunkSize = Math.min(OUTPUT_CHUNK_SIZE, hello.maxFrameSize);
    const serverNonce = createNonce();
    await this.#writer.write(
      FrameType.Hello,
      encodeHello({
        version: PROTOCOL_VERSION,
        maxFrameSize: this.#settings.maxFrameSize,
        agent: this.#settings.agent,
        stdinWindow: this.#settings.stdinWindow,
      }),
    );
    await this.#writer.write(
      FrameType.AuthChallenge,
      encodeJson({ nonce: serverNonce }),
    );
    const frame = await this.#expect(FrameType.AuthResponse);
    if (frame === null) return false;
    const response = decodeAuthResponse(frame.body);
    if (!isValidNonce(response.nonce)) {
      throw new ProtocolError("AUTH_RESPONSE nonce is malformed");
    }
    const proof = {
      token: this.#settings.token,
      serverNonce,
      clientNonce: response.nonce,
    };
    if (!(await verifyProof({ ...proof, role: "client", mac: response.mac }))) {
      throw new AuthenticationError(
        "authentication failed: the client's token does not match the server's",
      );
    }
    await this.#writer.write(
      FrameType.AuthOk,
      encodeJson({ mac: await computeProof({ ...proof, role: "server" }) }),
    );
    this.#reader.maxFrameSize = this.#settings.maxFrameSize;
    this.#log("info", "authenticated", { agent: hello.agent });
    return true;
  }

  async #readHello() {
    let frame: Frame | null;
    try {
      frame = await this.#reader.read();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      return await this.#refuseForeignPeer(error);
    }
    if (frame === null) return undefined;
    if (frame.type !== FrameType.Hello) {
      return await this.#refuseForeignPeer(
        new HandshakeError(
          `expected HELLO, got ${frameTypeName(frame.type)}`,
          "not_rexec",
        ),
      );
    }
    return decodeHello(frame.body);
  }

  async #refuseForeignPeer(error: ProtocolError): Promise<undefined> {
    const kind = describeForeignPeer(this.#reader.lastHeader);
    if (kind === "unknown") {
      throw new HandshakeError(
        `the peer is not a rexec client: ${error.message}`,
        "not_rexec",
      );
    }
    this.#log("warn", `refused a peer that speaks ${kind}, not rexec`);
    if (kind === "HTTP") {
      await settlesWithin(this.#writer.writeEncoded(HTTP_REFUSAL), FAREWELL_TIMEOUT_MS);
    }
    return undefined;
  }

  async #expect(type: FrameType): Promise<Frame | null> {
    const frame = await this.#reader.read();
    if (frame !== null && frame.type !== type) {
      throw new ProtocolError(
        `expected ${frameTypeName(type)}, got ${frameTypeName(frame.type)}`,
      );
    }
    return frame;
  }

  async #serveRequests(): Promise<void> {
    for (;;) {
      const frame = await this.#reader.read();
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
        if (command) {
          throw new ProtocolError(
            "EXEC while a command is still running on this connection",
            "busy",
          );
        }
        this.#startCommand(body);
        return;
      case FrameType.Ping:
        requireEmptyBody(type, body);
        // Awaited, so a client that sends PINGs without reading the PONGs
        // stops being read instead of growing the write queue.
        await this.#writer.write(FrameType.Pong);
        return;
      case FrameType.Pong:
        return;
      case FrameType.Stdin:
      case FrameType.StdinEof:
      case FrameType.Signal:
      case FrameType.Cancel:
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
    }
  }

  #startCommand(body: Uint8Array): void {
    const request = decodeExecRequest(body);
    const command = new ServerCommand({
      request,
      writer: this.#writer,
      outputChunkSize: this.#outputChunkSize,
      stdinWindow: this.#settings.stdinWindow,
      maxTimeout: this.#settings.maxTimeout,
      killGraceMs: this.#settings.killGraceMs,
      onWarning: (message) => this.#log("warn", message, { argv: command.argv }),
    });
    this.#command = command;
    this.#log("info", "exec", {
      argv: command.argv,
      cwd: request.cwd,
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

  #finishCommand(command: ServerCommand, outcome: CommandOutcome): void {
    if (this.#command === command) this.#command = undefined;
    const { report } = outcome;
    this.#log("info", "exit", {
      argv: outcome.argv,
      code: report.code,
      signal: report.signal,
      reason: outcome.endReason ?? report.reason,
      duration_ms: outcome.durationMs,
      bytes_in: outcome.bytesIn,
      bytes_out: outcome.bytesOut,
    });
    if (outcome.endReason === "disconnected") return;
    this.#writer.write(FrameType.Exit, encodeJson(report)).catch(() => this.#close());
  }

  #describeFailure(error: unknown): ErrorReport | undefined {
    if (error instanceof AuthenticationError) {
      this.#log("warn", "authentication failed");
      return { code: "auth_failed", message: error.message };
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
    await settlesWithin(
      this.#writer.write(FrameType.Error, encodeJson(report)),
      FAREWELL_TIMEOUT_MS,
    );
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch (error) {
      // Closing twice (the peer's EOF already closed the resource) is harmless.
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
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

/** Formats a network address as `host:port`, bracketing IPv6 hosts. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
