/**
 * The rexec client: connects, proves it holds the token, checks that the
 * server holds it too, then runs commands one after another on the same
 * connection. Each command is a {@link RemoteProcess}, shaped like
 * `Deno.ChildProcess`.
 *
 * @module
 */

import { DEFAULT_PORT, formatHostPort } from "../transport/address.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import {
  AuthenticationError,
  ConnectionError,
  HandshakeError,
  ProtocolError,
  RemoteError,
  SessionBusyError,
  TlsError,
  UnsupportedFeatureError,
} from "../errors.ts";
import { ErrorCode } from "../protocol/error_code.ts";
import { DEFAULT_MAX_FRAME_SIZE, type Frame, FrameType, frameTypeName } from "../protocol/frame.ts";
import { FrameReader } from "../transport/frame_reader.ts";
import { sendFarewell } from "../transport/farewell.ts";
import { FrameWriter } from "../transport/frame_writer.ts";
import { Heartbeat } from "../transport/heartbeat.ts";
import {
  decodeErrorReport,
  decodeExitReport,
  decodeWindow,
  type ExecRequest,
  FEATURE_TTY,
  type Hello,
} from "../protocol/messages.ts";
import {
  CommandChannel,
  type CommandHost,
  type RemoteProcess,
  type SpawnOptions,
} from "./remote_process.ts";
import { DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE } from "./defaults.ts";
import type {
  RemoteFiles,
  TransferChannel,
  TransferHost,
  TransferOptions,
  TransferStats,
} from "./transfer.ts";
import { authenticate } from "./handshake.ts";

/**
 * File operations the client asks for before their results; the server
 * takes as many (MAX_QUEUED_TRANSFERS in server/session.ts).
 */
const MAX_PENDING_TRANSFERS = 32;

/** What #nextFrame's race yields when the heartbeat starts first. */
const HEARTBEAT_STARTED = Symbol("heartbeat started");

/**
 * Options for {@link connect}.
 *
 * @example A server that accepts the connection but never answers
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionError } from "../errors.ts";
 * import { connect, type ConnectOptions } from "./client.ts";
 *
 * // The kernel completes the TCP handshake; nobody ever reads.
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const options: ConnectOptions = {
 *   hostname: "127.0.0.1",
 *   port: listener.addr.port,
 *   token: "a-shared-secret-of-some-length",
 *   timeout: 0.2,
 * };
 * await assert.rejects(
 *   connect(options),
 *   (error) => error instanceof ConnectionError && /no answer within 0.2 s$/.test(error.message),
 * );
 * ```
 */
export interface ConnectOptions {
  /** Host name or IP address of the server. */
  hostname: string;
  /** Port of the server; default 7022. */
  port?: number;
  /** The shared token. */
  token: string;
  /** Seconds allowed for connecting and authenticating; default 15. */
  timeout?: number;
  /** Largest frame body accepted from the server; default 1 MiB. */
  maxFrameSize?: number;
  /** Aborts connecting; once connected, closes the client. */
  signal?: AbortSignal;
  /**
   * Connect with TLS, verifying the server's certificate against the system
   * roots, or against `caCerts` (PEM) when given, such as the certificate
   * `rexec cert` made on the server.
   */
  tls?: { readonly caCerts?: readonly string[] };
  /** Seconds between keepalive PINGs; a server silent for three is given up. Default 30; 0 disables. */
  keepalive?: number;
  /**
   * Bytes read ahead from the connection, and kept per output stream before
   * reading stops; default 1 MiB, for speed. A client of many servers at
   * once bounds its memory with less (with a `maxFrameSize` no larger).
   */
  bufferSize?: number;
}

/**
 * Connects to a rexec server and authenticates both ways.
 *
 * @throws {ConnectionError} when the server cannot be reached or does not
 * answer in time.
 * @throws {AuthenticationError} when either side's token does not match.
 * @throws {HandshakeError} when the peer is not a rexec server of this
 * protocol version.
 * @throws {TypeError} when `bufferSize` is not a whole number from 1.
 *
 * @example Running a command and collecting its output
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 *
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const { success, code, stdout } = await client.spawn(["echo", "hello", "world"]).output();
 * assert.ok(success);
 * assert.equal(code, 0);
 * assert.equal(new TextDecoder().decode(stdout), "hello world\n");
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Client> {
  const { bufferSize } = options;
  if (bufferSize !== undefined && (!Number.isSafeInteger(bufferSize) || bufferSize < 1)) {
    throw new TypeError(`bufferSize must be a whole number of bytes from 1, got ${bufferSize}`);
  }
  const port = options.port ?? DEFAULT_PORT;
  const where = formatHostPort(options.hostname, port);
  options.signal?.throwIfAborted();
  const abort = new AbortController();
  const timeoutMs = (options.timeout ?? DEFAULT_CONNECT_TIMEOUT) * 1000;
  // A timeout signal rather than setTimeout: the first setTimeout loads
  // Deno's node:timers, which costs a one-shot `rexec run` a noticeable part
  // of its start-up. The listener is removed once connected, which also
  // lets the pending timer stop holding the process open.
  const deadline = AbortSignal.timeout(timeoutMs);
  const onTimeout = () => abort.abort("timeout");
  deadline.addEventListener("abort", onTimeout, { once: true });
  const onAbort = () => abort.abort("aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let conn: Deno.Conn | undefined;
  try {
    const tcp = await Deno.connect({
      hostname: options.hostname,
      port,
      signal: abort.signal,
    });
    conn = tcp;
    tcp.setNoDelay(true);
    // So that a peer that vanished without a word is noticed eventually,
    // even while a command runs silently.
    tcp.setKeepAlive(true);
    abort.signal.addEventListener("abort", () => closeQuietly(tcp), { once: true });
    if (options.tls) {
      const tls = await Deno.startTls(tcp, {
        hostname: options.hostname,
        ...(options.tls.caCerts ? { caCerts: [...options.tls.caCerts] } : {}),
      });
      conn = tls;
      abort.signal.addEventListener("abort", () => closeQuietly(tls), { once: true });
      await tlsHandshake(tls, where);
    }
    const client = await handshake(conn, options, where);
    deadline.removeEventListener("abort", onTimeout);
    options.signal?.removeEventListener("abort", onAbort);
    options.signal?.addEventListener("abort", () => client.close(), { once: true });
    return client;
  } catch (error) {
    if (conn) closeQuietly(conn);
    if (abort.signal.aborted) {
      if (abort.signal.reason === "aborted") options.signal!.throwIfAborted();
      throw new ConnectionError(
        `cannot connect to ${where}: no answer within ${timeoutMs / 1000} s`,
        { cause: error },
      );
    }
    throw describeConnectFailure(error, where);
  } finally {
    deadline.removeEventListener("abort", onTimeout);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Completes the TLS handshake, turning a certificate problem into a message a user can act on. */
async function tlsHandshake(conn: Deno.TlsConn, where: string): Promise<void> {
  try {
    await conn.handshake();
  } catch (error) {
    const reason = (error as Error).message;
    const untrusted = /certificate|issuer|NotValidForName|UnknownIssuer|Expired/i.test(reason);
    throw new TlsError(
      untrusted
        ? `cannot connect to ${where}: its TLS certificate is not trusted (${reason}); ` +
          `pass --ca FILE with the server's certificate (rexec cert on the server prints where it is)`
        : `cannot connect to ${where} with TLS: ${reason} (does the server run with --tls?)`,
      { cause: error },
    );
  }
}

function describeConnectFailure(error: unknown, where: string): unknown {
  if (!(error instanceof Error) || error instanceof AuthenticationError) return error;
  if (
    error instanceof HandshakeError || error instanceof RemoteError || error instanceof TlsError
  ) {
    return error;
  }
  if (error instanceof ProtocolError) {
    return new HandshakeError(
      `${where} is not a rexec server: ${error.message}`,
      ErrorCode.NotRexec,
      { cause: error },
    );
  }
  const reason = error instanceof Deno.errors.ConnectionRefused
    ? "connection refused (is rexec serve running there, on that port?)"
    : error.message;
  return new ConnectionError(`cannot connect to ${where}: ${reason}`, {
    cause: error,
  });
}

async function handshake(
  conn: Deno.Conn,
  options: ConnectOptions,
  where: string,
): Promise<Client> {
  const authenticated = await authenticate(conn, {
    token: options.token,
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    tls: options.tls !== undefined,
    where,
    ...(options.bufferSize !== undefined ? { readAhead: options.bufferSize } : {}),
  });
  return new Client({
    conn,
    ...authenticated,
    where,
    keepaliveMs: (options.keepalive ?? DEFAULT_KEEPALIVE) * 1000,
    ...(options.bufferSize !== undefined ? { outputBuffer: options.bufferSize } : {}),
  });
}

interface ClientParts {
  conn: Deno.Conn;
  reader: FrameReader;
  writer: FrameWriter;
  hello: Hello;
  where: string;
  keepaliveMs: number;
  outputBuffer?: number;
}

/**
 * An authenticated connection to a rexec server. Runs one command at a time;
 * start the next once the previous one's status has resolved.
 *
 * @example Several commands on one connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * assert.match(client.serverAgent, /^rexec\//);
 *
 * const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
 * const dir = await Deno.makeTempDir();
 * try {
 *   for (const name of ["a", "b"]) {
 *     assert.equal((await client.spawn(["touch", name], { cwd: dir }).status).code, 0);
 *   }
 *   const { stdout } = await client.spawnShell("ls | wc -l", { cwd: dir }).output();
 *   assert.equal(text(stdout).trim(), "2");
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class Client implements AsyncDisposable {
  /** `host:port` of the server, for messages. */
  readonly where: string;
  /** Name and version the server announced. */
  readonly serverAgent: string;
  /** Resolves when the connection has ended, for whatever reason. */
  readonly closed: Promise<void>;
  /** The optional features the server announced, such as `tty`. */
  readonly serverFeatures: readonly string[];
  readonly #conn: Deno.Conn;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  readonly #host: CommandHost;
  readonly #keepaliveMs: number;
  #heartbeat: Heartbeat | undefined;
  /** Fires one keepalive interval in, when the heartbeat takes over. */
  readonly #heartbeatDue: AbortSignal | undefined;
  /** Tells a read that began before the heartbeat started that it has. */
  #onHeartbeatStart: (() => void) | undefined;
  #current: CommandChannel | undefined;
  /** File operations asked for and not yet answered, oldest first. */
  readonly #transfers: TransferChannel[] = [];
  /** Wakes an operation waiting for room among them. */
  #transferRoom: PromiseWithResolvers<void> | undefined;
  #failure: Error | undefined;
  /**
   * The server's files, through this connection; see {@link RemoteFiles}.
   * The code of file transfer loads with the first operation.
   */
  readonly files: RemoteFiles;

  /** Use {@link connect}. */
  constructor(parts: ClientParts) {
    this.#conn = parts.conn;
    this.#reader = parts.reader;
    this.#writer = parts.writer;
    this.where = parts.where;
    this.serverAgent = parts.hello.agent;
    this.serverFeatures = parts.hello.features ?? [];
    this.#host = {
      writer: this.#writer,
      maxFrameSize: parts.hello.maxFrameSize,
      stdinWindow: parts.hello.stdinWindow ?? 0,
      ...(parts.outputBuffer !== undefined ? { outputBuffer: parts.outputBuffer } : {}),
      onWriteFailed: (error) => this.#fail(this.#lost(error)),
    };
    this.#keepaliveMs = parts.keepaliveMs;
    this.files = loadedOnFirstUse({
      where: this.where,
      writer: this.#writer,
      maxFrameSize: parts.hello.maxFrameSize,
      initialWindow: parts.hello.stdinWindow ?? 0,
      features: this.serverFeatures,
      begin: async (channel) => {
        for (;;) {
          if (this.#failure) throw this.#failure;
          if (this.#current) throw new SessionBusyError();
          if (this.#transfers.length < MAX_PENDING_TRANSFERS) break;
          this.#transferRoom ??= Promise.withResolvers();
          await this.#transferRoom.promise;
        }
        this.#transfers.push(channel);
      },
    });
    if (parts.keepaliveMs > 0) {
      // The heartbeat starts one interval in, by a timeout signal: its own
      // interval timer is the first setInterval, which loads node:timers, and
      // a client done sooner (a one-shot `rexec run`) never needs it.
      this.#heartbeatDue = AbortSignal.timeout(parts.keepaliveMs);
      this.#heartbeatDue.addEventListener("abort", this.#startHeartbeat, { once: true });
    }
    this.closed = this.#readLoop();
  }

  /**
   * Runs `argv` on the server, as given, without a shell.
   *
   * @throws {SessionBusyError} while another command runs on this connection.
   * @throws {ConnectionError} when the connection has ended.
   */
  spawn(argv: readonly string[], options: SpawnOptions = {}): RemoteProcess {
    if (argv.length === 0 || argv[0] === "") {
      throw new TypeError("argv must name a program");
    }
    return this.#start({ argv: [...argv] }, options);
  }

  /**
   * Runs `script` with the server's `/bin/sh -c`.
   *
   * @throws {SessionBusyError} while another command runs on this connection.
   * @throws {ConnectionError} when the connection has ended.
   */
  spawnShell(script: string, options: SpawnOptions = {}): RemoteProcess {
    return this.#start({ shell: script }, options);
  }

  /**
   * Starts the login shell of the account commands run in on the server (the
   * shell its passwd entry names, `/bin/sh` when none, with `-l`). On a
   * terminal (`tty`) it is an interactive shell, as `ssh HOST` gives; without
   * one it reads a script from its stdin, as `ssh HOST < script` does.
   *
   * @throws {SessionBusyError} while another command runs on this connection.
   * @throws {ConnectionError} when the connection has ended.
   * @throws {UnsupportedFeatureError} for `tty` when the server offers no terminals.
   *
   * @example A script with state across lines, read by the login shell
   * ```ts
   * import assert from "node:assert/strict";
   * import { serve } from "../server/server.ts";
   * import { connect } from "./client.ts";
   *
   * const token = "a-shared-secret-of-some-length";
   * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
   * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
   * const shell = client.spawnLogin({ stdin: "piped" });
   * const writer = shell.stdin.getWriter();
   * await writer.write(new TextEncoder().encode("cd /tmp\nif true; then pwd; fi\nexit 4\n"));
   * await writer.close();
   * const { code, stdout } = await shell.output();
   * assert.equal(code, 4);
   * assert.equal(new TextDecoder().decode(stdout), "/tmp\n");
   * ```
   */
  spawnLogin(options: SpawnOptions = {}): RemoteProcess {
    return this.#start({ login: true }, options);
  }

  /**
   * Uploads the local file `localPath` to `remotePath` on the server (see
   * {@link RemoteFiles.upload}).
   *
   * @throws {CopyError} when the file cannot be read, or the server refuses or fails it.
   */
  upload(localPath: string, remotePath: string, options?: TransferOptions): Promise<TransferStats> {
    return this.files.upload(localPath, remotePath, options);
  }

  /**
   * Downloads `remotePath` to the local file `localPath` (see {@link RemoteFiles.download}).
   *
   * @throws {CopyError} when the server refuses or fails it, or the file cannot be written.
   */
  download(
    remotePath: string,
    localPath: string,
    options?: TransferOptions,
  ): Promise<TransferStats> {
    return this.files.download(remotePath, localPath, options);
  }

  /** Closes the connection; a running command is terminated by the server. */
  close(): void {
    this.#fail(new ConnectionError(`connection to ${this.where} closed by the client`));
  }

  /** Closes the connection and waits until it has ended. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.closed;
  }

  #start(
    command: Pick<ExecRequest, "argv" | "shell" | "login">,
    options: SpawnOptions,
  ): RemoteProcess {
    if (this.#failure) throw this.#failure;
    if (options.tty && !this.serverFeatures.includes(FEATURE_TTY)) {
      throw new UnsupportedFeatureError(this.where, FEATURE_TTY, "a terminal (-t)");
    }
    if (this.#current || this.#transfers.length > 0) throw new SessionBusyError();
    const channel = new CommandChannel(this.#host, command, options);
    this.#current = channel;
    return channel.process;
  }

  /**
   * Sends the PING that would have been the heartbeat's first, and starts it;
   * a read already waiting counts as listening from now (see #nextFrame).
   */
  #startHeartbeat = (): void => {
    if (this.#failure) return;
    const sendPing = () => {
      this.#writer.write(FrameType.Ping).catch((error) => this.#fail(this.#lost(error)));
    };
    sendPing();
    this.#heartbeat = new Heartbeat({
      intervalMs: this.#keepaliveMs,
      sendPing,
      onSilence: (silentMs) =>
        this.#fail(
          new ConnectionError(
            `connection to ${this.where} lost: no word from the server for ${
              Math.round(silentMs / 1000)
            } s`,
          ),
        ),
    });
    this.#onHeartbeatStart?.();
  };

  /** The next frame, the wait counted by the heartbeat as listening, once it runs. */
  async #nextFrame(): Promise<Frame | null> {
    // Output bodies are copied on into the command's streams, and nothing
    // else keeps a body past its dispatch.
    const read = this.#reader.readBorrowed();
    if (this.#heartbeat) return await this.#heartbeat.listen(read);
    if (!this.#heartbeatDue) return await read;
    const started = Promise.withResolvers<typeof HEARTBEAT_STARTED>();
    this.#onHeartbeatStart = () => started.resolve(HEARTBEAT_STARTED);
    try {
      const first = await Promise.race([read, started.promise]);
      if (first !== HEARTBEAT_STARTED) return first;
    } finally {
      this.#onHeartbeatStart = undefined;
    }
    return await this.#heartbeat!.listen(read);
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const frame = await this.#nextFrame();
        if (frame === null) {
          this.#fail(new ConnectionError(`${this.where} closed the connection`));
          return;
        }
        await this.#dispatch(frame);
        // The end of a burst: output read together goes out together, and
        // the next read waits until it has gone (see outputReturned).
        const current = this.#current;
        if (current && !this.#reader.frameBuffered) {
          current.flushOutput();
          await current.outputReturned();
        }
      }
    } catch (error) {
      if (error instanceof ProtocolError && !this.#failure) await this.#sendFarewell(error);
      this.#fail(this.#failure ? this.#failure : this.#lost(error));
    }
  }

  /** Tells the server why the client is hanging up, so its log says so. */
  async #sendFarewell(error: ProtocolError): Promise<void> {
    await sendFarewell(this.#writer, { code: error.code, message: error.message });
  }

  async #dispatch({ type, body }: Frame): Promise<void> {
    const current = this.#current;
    switch (type) {
      case FrameType.Stdout:
      case FrameType.Stderr:
        if (!current) {
          throw new ProtocolError(`${frameTypeName(type)} frame with no command running`);
        }
        await current.deliver(type, body);
        return;
      case FrameType.StdinWindow:
        // A grant can trail the EXIT it raced with; it is stale, not wrong.
        current?.grant(decodeWindow(body));
        return;
      case FrameType.Exit:
        if (!current) throw new ProtocolError("EXIT frame with no command running");
        this.#current = undefined;
        current.finish(decodeExitReport(body));
        return;
      case FrameType.CopyInfo:
      case FrameType.CopyData:
      case FrameType.CopyWindow:
      case FrameType.CopyResult: {
        // The server answers operations in the order asked: its frames are the
        // oldest's, but for grants, which are for the upload still sending: the last.
        const transfer = type === FrameType.CopyWindow
          ? this.#transfers.at(-1)
          : this.#transfers[0];
        if (!transfer) {
          // A grant can trail the operation it was for.
          if (type === FrameType.CopyWindow) return;
          throw new ProtocolError(`${frameTypeName(type)} frame with no file operation running`);
        }
        if (await transfer.deliver(type, body)) {
          this.#transfers.splice(this.#transfers.indexOf(transfer), 1);
          this.#transferRoom?.resolve();
          this.#transferRoom = undefined;
        }
        return;
      }
      case FrameType.Error: {
        const report = decodeErrorReport(body);
        throw new RemoteError(report.code, `${this.where}: ${report.message}`);
      }
      case FrameType.Ping:
        await this.#writer.write(FrameType.Pong);
        return;
      case FrameType.Pong:
        return;
      default:
        throw new ProtocolError(`unexpected ${frameTypeName(type)} frame from the server`);
    }
  }

  #lost(error: unknown): Error {
    if (error instanceof RemoteError || error instanceof ProtocolError) return error;
    return new ConnectionError(
      `connection to ${this.where} lost: ${(error as Error).message}`,
      { cause: error },
    );
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#heartbeatDue?.removeEventListener("abort", this.#startHeartbeat);
    this.#heartbeat?.[Symbol.dispose]();
    this.#current?.fail(error);
    this.#current = undefined;
    for (const transfer of this.#transfers.splice(0)) transfer.fail(error);
    this.#transferRoom?.resolve();
    this.#transferRoom = undefined;
    closeQuietly(this.#conn);
  }
}

/**
 * {@link RemoteFiles} whose code (transfer.ts and the protocol's copy
 * messages, a good part of the client) loads with the first operation, so
 * that a client that only runs commands, such as a one-shot `rexec run`,
 * does not pay for it at start-up. Operations asked for while it loads
 * reach it in the order asked, as the server runs them.
 */
function loadedOnFirstUse(host: TransferHost): RemoteFiles {
  let loading: Promise<RemoteFiles> | undefined;
  const files = () =>
    loading ??= import("./transfer.ts").then(({ FileOperations }) => new FileOperations(host));
  return {
    upload: async (...args) => (await files()).upload(...args),
    uploadBytes: async (...args) => (await files()).uploadBytes(...args),
    uploadFrom: async (...args) => (await files()).uploadFrom(...args),
    download: async (...args) => (await files()).download(...args),
    stat: async (...args) => (await files()).stat(...args),
    list: async (...args) => (await files()).list(...args),
    mkdir: async (...args) => (await files()).mkdir(...args),
    symlink: async (...args) => (await files()).symlink(...args),
    setAttributes: async (...args) => (await files()).setAttributes(...args),
  };
}
