/**
 * The rexec server: accepts TCP connections and serves each as an
 * independent session, until it is shut down.
 *
 * @module
 */

import { DEFAULT_PORT, formatAddr, isLoopback } from "../transport/address.ts";
import type { AuditSink } from "./audit.ts";
import { type AuditFailMode, AuditTrail } from "./audit_trail.ts";
import { CommandPolicy } from "./policy.ts";
import { AuthThrottle } from "./auth_throttle.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { settlesWithin, sleep } from "../util/deadline.ts";
import { ConnectionError, RexecError, TokenError } from "../errors.ts";
import { ErrorCode } from "../protocol/error_code.ts";
import { FrameType } from "../protocol/frame.ts";
import { FrameWriter } from "../transport/frame_writer.ts";
import type { ConnListener, SessionConn } from "../transport/conn.ts";
import { listenTls } from "../tls/listener.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  MAX_ENCODABLE_BODY,
  MIN_MAX_FRAME_SIZE,
} from "../protocol/frame.ts";
import { type Logger, type LogRecord, silentLogger } from "../util/log.ts";
import { encodeJson, type ErrorReport, MAX_TIMEOUT_SECONDS } from "../protocol/messages.ts";
import { PendingHandshakes } from "./pending_handshakes.ts";
import { findSetsid } from "./process.ts";
import type { CommandSlots, ExecPolicy, RunAs } from "./command.ts";
import { ServerSession, type SessionSettings } from "./session.ts";
import { MIN_TOKEN_LENGTH } from "../config/token.ts";
import { VERSION } from "../version.ts";
import {
  DEFAULT_HOSTNAME,
  DEFAULT_KILL_GRACE,
  DEFAULT_LIMITS,
  DEFAULT_MAX_TIMEOUT,
  DEFAULT_STDIN_WINDOW,
} from "./defaults.ts";

/** Pause after a failed accept before the next. */
const ACCEPT_RETRY_MS = 100;

/** How long a refusal may take to be written before its connection is closed anyway. */
const REFUSAL_TIMEOUT_MS = 1000;

/**
 * Options for {@link serve}.
 *
 * @example A server that logs to an array and caps commands at an hour
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import type { LogRecord } from "../util/log.ts";
 * import { serve, type ServeOptions } from "./server.ts";
 *
 * const logs: LogRecord[] = [];
 * const options: ServeOptions = {
 *   token: "a-shared-secret-of-some-length",
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   maxTimeout: 3600,
 *   killGrace: 5,
 *   logger: (record) => logs.push(record),
 * };
 * {
 *   await using server = await serve(options);
 *   await using client = await connect({
 *     hostname: "127.0.0.1",
 *     port: server.addr.port,
 *     token: options.token,
 *   });
 *   await client.spawn(["true"]).status;
 * } // the client closes, then the server shuts down: every record is in
 * assert.deepEqual(logs.map((record) => record.message), [
 *   "connection opened",
 *   "authenticated",
 *   "exec",
 *   "exit",
 *   "connection closed",
 * ]);
 * assert.equal(logs[3].fields?.code, 0);
 * ```
 */
export interface ServeOptions {
  /** The shared token clients must prove they hold (at least 16 characters). */
  token: string;
  /** Address to listen on; default `127.0.0.1`. `::1` or `::` for IPv6. */
  hostname?: string;
  /** Port to listen on; default 7022; 0 picks a free one. */
  port?: number;
  /** Largest frame body accepted from an authenticated client; default 1 MiB. */
  maxFrameSize?: number;
  /** Longest a command may run, in seconds, whatever the client asks; default one day. 0 means no limit. */
  maxTimeout?: number;
  /** Seconds between SIGTERM and SIGKILL when a command is ended; default 2. */
  killGrace?: number;
  /** Stdin bytes a client may have in flight per command; default 256 KiB. */
  stdinWindow?: number;
  /** Receives log records; default none. */
  logger?: Logger;
  /** Shuts the server down when aborted. */
  signal?: AbortSignal;
  /** Serve TLS with this certificate chain and private key, both PEM. */
  tls?: { readonly cert: string; readonly key: string };
  /** Allow plaintext on an address other than loopback; default false. */
  insecurePlaintext?: boolean;
  /** Seconds a connection has to authenticate; default 10; 0 for no limit. */
  handshakeTimeout?: number;
  /** Seconds an authenticated session may go without a command; default 3600; 0 for no limit. */
  idleTimeout?: number;
  /** Seconds between keepalive PINGs; a peer silent for three is dropped. Default 30; 0 disables. */
  keepalive?: number;
  /** Most authenticated sessions open at once; the next client is told the server is busy. Default 512. */
  maxSessions?: number;
  /** Most connections authenticating at once; beyond it the oldest is closed to make room. Default 512. */
  maxStartups?: number;
  /** Most connections authenticating at once from one address; beyond it that address's oldest is closed. Default 256. */
  maxStartupsPerSource?: number;
  /** Most commands running at once, over all sessions. Default 256. */
  maxCommands?: number;
  /** Largest EXEC request (argv or shell string, env, cwd), in bytes. Default 256 KiB. */
  maxExecSize?: number;
  /**
   * Seconds the answer to an address's first wrong token is held back,
   * doubling with each further recent failure up to 16 times as long; its
   * answers go out one at a time, and while 8 are held its next proof waits
   * to be checked. Default 0.25; 0 disables the throttle.
   */
  authFailureDelay?: number;
  /** Which requests may run (`--allow`, `--env-allow`); by default any program, with PATH, LD_PRELOAD and the like refused. */
  policy?: ExecPolicy;
  /** The account commands run in: its home and variables, and its uid (`--user`, needs root) when given. */
  runAs?: RunAs;
  /** Refuse commands that ask for a pseudo-terminal (`--no-tty`), with status 125; default false. */
  noTty?: boolean;
  /**
   * Receives one audit record per connection, authentication, command start
   * and end; it throws when it cannot keep one. Records of connections that
   * never authenticate are limited to about 10 per second per address, with
   * a `suppressed` summary of the rest.
   */
  audit?: AuditSink;
  /**
   * While `audit` throws: `closed` (the default) refuses new commands until
   * it works again, `open` runs them unaudited. The server log says so once
   * per run of failures.
   */
  auditFail?: AuditFailMode;
  /**
   * Confines file transfers (`rexec cp`) to this directory: relative paths
   * start there, and paths or links that lead out are refused. Without it,
   * relative paths start in the account's home.
   */
  copyRoot?: string;
  /** Refuse every file transfer (`--no-copy`). */
  noCopy?: boolean;
}

/**
 * A running server.
 *
 * @example Stopping a server with an AbortSignal
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { RemoteError } from "../errors.ts";
 * import { serve } from "./server.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * const stop = new AbortController();
 * const server = await serve({ token, hostname: "127.0.0.1", port: 0, signal: stop.signal });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const running = client.spawnShell("echo started; exec sleep 60");
 * await running.stdout.getReader().read(); // "started": it runs
 *
 * stop.abort();
 * await server.finished; // the command was ended, and its client told
 * assert.equal((await running.status).reason, "shutdown");
 * await client.closed;
 * assert.throws(() => client.spawn(["true"]), RemoteError);
 * ```
 *
 * @example Stopping a server on SIGTERM, as `rexec serve` does
 * ```ts ignore
 * // Not run as a test: it waits for a SIGTERM sent to this process.
 * import { serve } from "./server.ts";
 *
 * const server = await serve({ token: Deno.env.get("REXEC_TOKEN")! });
 * Deno.addSignalListener("SIGTERM", () => server.shutdown());
 * await server.finished;
 * ```
 */
export interface Server extends AsyncDisposable {
  /** The address the server is bound to, with the real port when 0 was asked. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has stopped and every session has ended. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, terminates running commands (SIGTERM, then SIGKILL after
   * the grace period), tells their clients, and resolves once all sessions
   * have ended.
   */
  shutdown(): Promise<void>;
}

/**
 * Starts a rexec server.
 *
 * @throws {ConnectionError} when the address cannot be bound.
 * @throws {TokenError} when the token is too short to be safe.
 *
 * @example Serving on a free loopback port
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { TokenError } from "../errors.ts";
 * import { serve } from "./server.ts";
 *
 * const token = "a-long-shared-secret-token";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * assert.equal(server.addr.hostname, "127.0.0.1");
 * assert.notEqual(server.addr.port, 0); // the port the system picked
 *
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const { stdout } = await client.spawnShell("echo $((6 * 7))").output();
 * assert.equal(new TextDecoder().decode(stdout), "42\n");
 *
 * await assert.rejects(serve({ token: "too-short", port: 0 }), TokenError);
 * ```
 */
export async function serve(options: ServeOptions): Promise<Server> {
  if (Deno.build.os === "windows") {
    throw new RexecError(
      "rexec serve needs Linux or macOS: it runs each command in its own process group; the Windows build is a client",
    );
  }
  if (options.token.length < MIN_TOKEN_LENGTH) {
    throw new TokenError(
      `the token is ${options.token.length} characters; use at least ${MIN_TOKEN_LENGTH} (generateToken() makes one)`,
    );
  }
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (
    !Number.isInteger(maxFrameSize) || maxFrameSize < MIN_MAX_FRAME_SIZE ||
    maxFrameSize > MAX_ENCODABLE_BODY
  ) {
    throw new RangeError(
      `maxFrameSize must be an integer from ${MIN_MAX_FRAME_SIZE} to ${MAX_ENCODABLE_BODY}`,
    );
  }
  const maxTimeout = options.maxTimeout ?? DEFAULT_MAX_TIMEOUT;
  if (!(maxTimeout >= 0 && maxTimeout <= MAX_TIMEOUT_SECONDS)) {
    throw new RangeError(`maxTimeout must be from 0 to ${MAX_TIMEOUT_SECONDS} seconds`);
  }
  const seconds = (name: keyof typeof DEFAULT_LIMITS | "killGrace", fallback: number) => {
    const value = options[name] ?? fallback;
    if (!(value >= 0 && value <= MAX_TIMEOUT_SECONDS)) {
      throw new RangeError(`${name} must be from 0 to ${MAX_TIMEOUT_SECONDS} seconds`);
    }
    return value * 1000;
  };
  const count = (
    name: "maxSessions" | "maxCommands" | "maxStartups" | "maxStartupsPerSource" | "maxExecSize",
  ) => {
    const value = options[name] ?? DEFAULT_LIMITS[name];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a whole number of at least 1`);
    }
    return value;
  };
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const port = options.port ?? DEFAULT_PORT;
  const where = formatAddr({ transport: "tcp", hostname, port });
  requireSafeTransport({ ...options, hostname, port });
  const authFailureDelayMs = seconds("authFailureDelay", DEFAULT_LIMITS.authFailureDelay);
  const logger = options.logger ?? silentLogger;
  // Through setsid, a narrower run permission (--allow-run=LIST) would judge
  // setsid alone: such a server, or one that may run nothing, lets Deno make
  // each command's session, and Deno checks each program.
  const setsid = Deno.permissions.querySync({ name: "run" }).state === "granted"
    ? await findSetsid()
    : undefined;
  if (setsid !== undefined && "reason" in setsid) {
    logger({
      level: "warn",
      message: "commands start with a fork of the whole server, which is slower, and show " +
        "their program's full path as argv[0]: " + setsid.reason,
    });
  }
  const policy = options.policy ?? await CommandPolicy.create();
  const settings: SessionSettings = {
    token: options.token,
    maxFrameSize,
    stdinWindow: options.stdinWindow ?? DEFAULT_STDIN_WINDOW,
    maxTimeout: maxTimeout > 0 ? maxTimeout : undefined,
    killGraceMs: seconds("killGrace", DEFAULT_KILL_GRACE),
    agent: `rexec/${VERSION}`,
    logger,
    handshakeTimeoutMs: seconds("handshakeTimeout", DEFAULT_LIMITS.handshakeTimeout),
    idleTimeoutMs: seconds("idleTimeout", DEFAULT_LIMITS.idleTimeout),
    keepaliveMs: seconds("keepalive", DEFAULT_LIMITS.keepalive),
    maxExecSize: count("maxExecSize"),
    ...(authFailureDelayMs > 0
      ? { throttle: new AuthThrottle({ baseDelayMs: authFailureDelayMs }) }
      : {}),
    // Without a policy of its own the server still refuses PATH, LD_PRELOAD and the like.
    policy,
    copy: await copySettings(options, policy),
    ...(options.runAs ? { runAs: options.runAs } : {}),
    slots: new RunningCommands(count("maxCommands")),
    ...(setsid !== undefined && "path" in setsid ? { setsid: setsid.path } : {}),
    ...(options.noTty ? { noTty: true } : {}),
    ...(options.audit
      ? {
        audit: new AuditTrail({
          sink: options.audit,
          failMode: options.auditFail,
          logger: options.logger,
        }),
      }
      : {}),
  };
  let listener: ConnListener;
  try {
    listener = options.tls
      ? await listenTls({ hostname, port, ...options.tls, logger: settings.logger })
      : listenTcp(hostname, port);
  } catch (error) {
    if (error instanceof RexecError) throw error;
    throw new ConnectionError(
      `cannot listen on ${where}: ${describeListenError(error)}`,
      { cause: error },
    );
  }
  return new TcpServer(listener, settings, {
    maxSessions: count("maxSessions"),
    handshakes: new PendingHandshakes({
      max: count("maxStartups"),
      maxPerSource: count("maxStartupsPerSource"),
    }),
    signal: options.signal,
  });
}

/**
 * Refuses plaintext on an address beyond loopback, unless `insecurePlaintext`.
 *
 * @throws {RexecError} saying how to enable TLS.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireSafeTransport } from "./server.ts";
 *
 * requireSafeTransport({ hostname: "127.0.0.1", port: 7022 });
 * requireSafeTransport({ hostname: "0.0.0.0", port: 7022, tls: { cert: "…", key: "…" } });
 * requireSafeTransport({ hostname: "0.0.0.0", port: 7022, insecurePlaintext: true });
 * assert.throws(
 *   () => requireSafeTransport({ hostname: "0.0.0.0", port: 7022 }),
 *   /refusing to serve 0\.0\.0\.0:7022 without TLS/,
 * );
 * ```
 */
export function requireSafeTransport(
  options: { hostname: string; port: number; tls?: unknown; insecurePlaintext?: boolean },
): void {
  if (options.tls || options.insecurePlaintext || isLoopback(options.hostname)) return;
  throw new RexecError(
    `refusing to serve ${formatAddr({ transport: "tcp", ...options })} without TLS: tokens are ` +
      `safe, but commands and their output would cross the network readable by anyone on the ` +
      `path. Use --tls (a certificate is created for you), or --insecure-plaintext on a network ` +
      `you trust`,
  );
}

/**
 * Where file transfers go, or why they are refused: `noCopy`; a server
 * that restricts commands, unless a copy root keeps transfers away from
 * the programs it allows; a server that runs commands as another account,
 * whose files it would write as root.
 *
 * @throws {RexecError} when the copy root is not a directory.
 */
async function copySettings(
  options: ServeOptions,
  policy: ExecPolicy,
): Promise<SessionSettings["copy"]> {
  const base = options.runAs?.home ?? Deno.cwd();
  const refuse = (refusal: string) => ({ places: { base }, refusal });
  if (options.noCopy) return refuse("this server refuses file transfers (rexec serve --no-copy)");
  if (options.runAs?.uid !== undefined) {
    return refuse(
      "this server runs commands as another account (--user), and refuses file transfers, " +
        "which it would make as root",
    );
  }
  if (options.copyRoot === undefined) {
    const restricted = !(policy instanceof CommandPolicy) || policy.allowed !== undefined;
    if (restricted && options.policy !== undefined) {
      return refuse(
        "this server restricts the commands it runs (--allow), and takes file transfers only " +
          "inside a --copy-root",
      );
    }
    return { places: { base } };
  }
  let root: string;
  try {
    root = await Deno.realPath(options.copyRoot);
    if (!(await Deno.stat(root)).isDirectory) {
      throw new Deno.errors.NotADirectory("not a directory");
    }
  } catch (error) {
    throw new RexecError(
      `--copy-root ${options.copyRoot} cannot be used: ${(error as Error).message}; ` +
        `give an existing directory`,
      { cause: error },
    );
  }
  return { places: { base: root, root } };
}

/** Counts running commands against the server's limit. */
class RunningCommands implements CommandSlots {
  #running = 0;

  constructor(readonly limit: number) {}

  tryAcquire(): boolean {
    if (this.#running >= this.limit) return false;
    this.#running++;
    return true;
  }

  release(): void {
    this.#running--;
  }
}

function listenTcp(hostname: string, port: number): ConnListener {
  const listener = Deno.listen({ hostname, port, transport: "tcp" });
  return {
    addr: listener.addr,
    accept: () => listener.accept(),
    close: () => listener.close(),
  };
}

/** Says why binding failed; Deno and `node:net` (the TLS listener) report it differently. */
function describeListenError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (error instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") {
    return "the address is already in use (is another rexec serve running?)";
  }
  if (error instanceof Deno.errors.AddrNotAvailable || code === "EADDRNOTAVAIL") {
    return "no local interface has that address";
  }
  if (error instanceof Deno.errors.PermissionDenied || code === "EACCES") {
    return "permission denied (ports below 1024 need privileges)";
  }
  return (error as Error).message;
}

class TcpServer implements Server {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  readonly #listener: ConnListener;
  readonly #settings: SessionSettings;
  readonly #maxSessions: number;
  /** Every open connection, authenticated or not. */
  readonly #sessions = new Map<ServerSession, Promise<void>>();
  /** Connections that have not authenticated yet, with their own caps. */
  readonly #handshakes: PendingHandshakes<ServerSession>;
  /** Sessions that authenticated: these hold the `maxSessions` slots. */
  readonly #authenticated = new Set<ServerSession>();
  /** A descriptor kept in reserve to answer clients when the process has run out of them. */
  #spare: Deno.FsFile | undefined;
  readonly #acceptTrouble = new OncePerSecond();
  #nextSessionId = 1;
  #stopping = false;
  #shutdown: Promise<void> | undefined;

  constructor(
    listener: ConnListener,
    settings: SessionSettings,
    limits: {
      maxSessions: number;
      handshakes: PendingHandshakes<ServerSession>;
      signal: AbortSignal | undefined;
    },
  ) {
    this.#listener = listener;
    this.#settings = { ...settings, onAuthenticated: (session) => this.#claimSlot(session) };
    this.#maxSessions = limits.maxSessions;
    this.#handshakes = limits.handshakes;
    this.#spare = openSpareDescriptor();
    if (!this.#spare) {
      // Only a server without permission to read files gets here, and a
      // warning would cry wolf at each start of one embedded that way.
      this.#settings.logger({
        level: "info",
        message:
          "cannot keep a descriptor in reserve (/dev/null is not readable): if descriptors run out, new clients wait until one frees",
      });
    }
    this.addr = listener.addr;
    const accepting = this.#acceptLoop();
    this.finished = accepting.then(() => this.#allSessionsEnded())
      .finally(() => settings.audit?.[Symbol.dispose]());
    const { signal } = limits;
    if (signal?.aborted) this.shutdown();
    signal?.addEventListener("abort", () => this.shutdown(), { once: true });
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    this.#listener.close();
    const deadlineMs = this.#settings.killGraceMs + 1000;
    await Promise.all(
      [...this.#sessions.keys()].map((session) => session.shutdown({ deadlineMs })),
    );
    await this.finished;
  }

  async #acceptLoop(): Promise<void> {
    try {
      while (!this.#stopping) {
        let conn: SessionConn;
        try {
          conn = await this.#listener.accept();
        } catch (error) {
          if (this.#stopping || error instanceof Deno.errors.BadResource) return;
          if (isOutOfDescriptors(error) && await this.#refuseWithSpare()) continue;
          this.#acceptTrouble.log(this.#settings.logger, {
            level: "error",
            message: "accept failed",
            fields: { error: (error as Error).message },
          });
          await sleep(ACCEPT_RETRY_MS);
          continue;
        }
        if (this.#stopping) {
          conn.close();
          return;
        }
        this.#startSession(conn);
      }
    } finally {
      this.#spare?.close();
      this.#spare = undefined;
    }
  }

  /**
   * The process is out of descriptors, and the client waiting in the
   * listen queue would hang there until it gives up: the spare descriptor
   * is given up for long enough to take the client, tell it the server is
   * busy and close it, then taken back.
   *
   * @returns false when there was no spare to give up.
   */
  async #refuseWithSpare(): Promise<boolean> {
    if (!this.#spare) {
      this.#spare = openSpareDescriptor();
      return false;
    }
    this.#spare.close();
    this.#spare = undefined;
    try {
      const conn = await this.#listener.accept();
      this.#acceptTrouble.log(this.#settings.logger, {
        level: "error",
        message: "refused a connection: out of file descriptors",
        fields: {
          peer: formatAddr(conn.remoteAddr),
          hint: "raise the descriptor limit (ulimit -n, LimitNOFILE=) or lower --max-sessions",
        },
      });
      await this.#refuse(conn, {
        code: ErrorCode.ServerBusy,
        message: "the server is busy: it has run out of file descriptors; try again later",
      });
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.BadResource) return true;
      // Most likely something else took the freed descriptor first: logged,
      // and the caller tries again shortly.
      this.#acceptTrouble.log(this.#settings.logger, {
        level: "error",
        message: "accept failed",
        fields: { error: (error as Error).message },
      });
      return false;
    } finally {
      this.#spare = openSpareDescriptor();
    }
  }

  #startSession(conn: SessionConn): void {
    // The TLS listener sets these itself; plain TCP ones need them. Keepalive
    // lets the kernel notice a client that vanished without closing.
    const tcp = conn as Partial<Deno.TcpConn>;
    tcp.setNoDelay?.(true);
    tcp.setKeepAlive?.(true);
    if (this.#authenticated.size >= this.#maxSessions) {
      this.#settings.logger({
        level: "warn",
        message: "refused a connection: too many sessions",
        fields: { peer: formatAddr(conn.remoteAddr), limit: this.#maxSessions },
      });
      this.#refuse(conn, this.#busyReport());
      return;
    }
    const session = new ServerSession(conn, this.#nextSessionId++, this.#settings);
    const crowded = this.#handshakes.add(session, session.address);
    if (crowded) {
      const { evicted, cap } = crowded;
      const limit = cap === "source" ? "--max-startups-per-source" : "--max-startups";
      this.#settings.logger({
        level: "warn",
        message: "closed the oldest unauthenticated connection to make room",
        fields: { session: evicted.id, peer: evicted.peer, limit },
      });
      evicted.evict(
        `the server is busy: too many connections ${
          cap === "source" ? "from your address " : ""
        }are authenticating at once (${limit}), and this one was the oldest; try again`,
      );
    }
    this.#sessions.set(
      session,
      session.run().finally(() => {
        this.#sessions.delete(session);
        this.#handshakes.delete(session);
        this.#authenticated.delete(session);
      }),
    );
  }

  /** Gives a session that just authenticated its slot, or says why there is none. */
  #claimSlot(session: ServerSession): ErrorReport | undefined {
    if (!this.#handshakes.delete(session)) {
      return { code: ErrorCode.ServerBusy, message: "the server is busy; try again" };
    }
    if (this.#authenticated.size >= this.#maxSessions) return this.#busyReport();
    this.#authenticated.add(session);
    return undefined;
  }

  #busyReport(): ErrorReport {
    return {
      code: ErrorCode.ServerBusy,
      message:
        `the server is busy: it already has ${this.#maxSessions} sessions open, its limit; try again later`,
    };
  }

  /** Tells a client it is refused, instead of leaving it to hang, and closes its connection. */
  async #refuse(conn: SessionConn, report: ErrorReport): Promise<void> {
    const refusal = new FrameWriter(conn).write(FrameType.Error, encodeJson(report));
    await settlesWithin(refusal, REFUSAL_TIMEOUT_MS);
    closeQuietly(conn);
  }

  async #allSessionsEnded(): Promise<void> {
    while (this.#sessions.size > 0) {
      await Promise.all(this.#sessions.values());
    }
  }
}

/** Whether a failed accept means the process, or the system, has no descriptor left. */
function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "EMFILE" || code === "ENFILE";
}

/**
 * Opens the descriptor kept in reserve for refusing clients when the
 * process has no other; undefined when it cannot (no descriptor left, or no
 * permission to read /dev/null), and then such clients wait in the listen
 * queue until a descriptor frees.
 */
function openSpareDescriptor(): Deno.FsFile | undefined {
  try {
    return Deno.openSync("/dev/null");
  } catch (error) {
    if (
      isOutOfDescriptors(error) || error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      return undefined;
    }
    throw error;
  }
}

/** Passes on at most one record per second, counting those it held back. */
class OncePerSecond {
  #last = -Infinity;
  #suppressed = 0;

  log(logger: Logger, record: LogRecord): void {
    const now = performance.now();
    if (now - this.#last < 1000) {
      this.#suppressed++;
      return;
    }
    this.#last = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    logger(
      suppressed > 0 ? { ...record, fields: { ...record.fields, since_last: suppressed } } : record,
    );
  }
}
