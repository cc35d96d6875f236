/**
 * The rexec server: accepts TCP connections and serves each as an
 * independent session, until it is shut down.
 *
 * @module
 */

import { DEFAULT_PORT } from "./address.ts";
import { ConnectionError, RexecError, TokenError } from "./errors.ts";
import { DEFAULT_MAX_FRAME_SIZE, MAX_ENCODABLE_BODY, MIN_MAX_FRAME_SIZE } from "./frame.ts";
import { type Logger, silentLogger } from "./log.ts";
import { MAX_TIMEOUT_SECONDS } from "./messages.ts";
import { formatAddr, ServerSession, type SessionSettings } from "./server_session.ts";
import { MIN_TOKEN_LENGTH } from "./token.ts";
import { VERSION } from "./version.ts";

/**
 * The address the server listens on when none is given: loopback only.
 *
 * @example
 * ```ts
 * import { DEFAULT_HOSTNAME } from "./server.ts";
 *
 * console.assert(DEFAULT_HOSTNAME === "127.0.0.1");
 * ```
 */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/**
 * Default seconds between SIGTERM and SIGKILL when a command is ended.
 *
 * @example
 * ```ts
 * import { DEFAULT_KILL_GRACE } from "./server.ts";
 *
 * console.assert(DEFAULT_KILL_GRACE === 2);
 * ```
 */
export const DEFAULT_KILL_GRACE = 2;

/**
 * Default server maximum for a command's run time, in seconds: one day.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_TIMEOUT } from "./server.ts";
 *
 * console.assert(DEFAULT_MAX_TIMEOUT === 86_400);
 * ```
 */
export const DEFAULT_MAX_TIMEOUT = 24 * 60 * 60;

/**
 * Default stdin bytes a client may have in flight per command.
 *
 * @example
 * ```ts
 * import { DEFAULT_STDIN_WINDOW } from "./server.ts";
 *
 * console.assert(DEFAULT_STDIN_WINDOW === 256 * 1024);
 * ```
 */
export const DEFAULT_STDIN_WINDOW = 256 * 1024;

/** Pause after a failed accept (for example too many open files) before the next. */
const ACCEPT_RETRY_MS = 100;

/**
 * Options for {@link serve}.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "./server.ts";
 *
 * const options: ServeOptions = {
 *   token: "a-shared-secret-of-some-length",
 *   hostname: "::1",
 *   port: 7022,
 *   maxTimeout: 3600,
 *   killGrace: 5,
 * };
 * console.assert(options.maxFrameSize === undefined); // 1 MiB
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
}

/**
 * A running server.
 *
 * @example Stopping a server on a signal
 * ```ts ignore
 * import { serve } from "./server.ts";
 *
 * const server = serve({ token: Deno.env.get("REXEC_TOKEN")! });
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
 * ```ts ignore
 * import { serve } from "./server.ts";
 *
 * await using server = serve({ token: "a-long-shared-secret-token", port: 0 });
 * console.log(`listening on ${server.addr.hostname}:${server.addr.port}`);
 * ```
 */
export function serve(options: ServeOptions): Server {
  if (Deno.build.os === "windows") {
    throw new RexecError(
      "rexec serve needs Linux or macOS: it runs each command in its own process group; the Windows build is a client",
    );
  }
  if (options.token.length < MIN_TOKEN_LENGTH) {
    throw new TokenError(
      `the token is ${options.token.length} characters; use at least ${MIN_TOKEN_LENGTH} (delete the token file to have a random one created)`,
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
  const killGrace = options.killGrace ?? DEFAULT_KILL_GRACE;
  if (!(killGrace >= 0 && killGrace <= MAX_TIMEOUT_SECONDS)) {
    throw new RangeError(`killGrace must be from 0 to ${MAX_TIMEOUT_SECONDS} seconds`);
  }
  const settings: SessionSettings = {
    token: options.token,
    maxFrameSize,
    stdinWindow: options.stdinWindow ?? DEFAULT_STDIN_WINDOW,
    maxTimeout: maxTimeout > 0 ? maxTimeout : undefined,
    killGraceMs: killGrace * 1000,
    agent: `rexec/${VERSION}`,
    logger: options.logger ?? silentLogger,
  };
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const port = options.port ?? DEFAULT_PORT;
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname, port, transport: "tcp" });
  } catch (error) {
    const where = formatAddr({ transport: "tcp", hostname, port });
    throw new ConnectionError(
      `cannot listen on ${where}: ${describeListenError(error)}`,
      { cause: error },
    );
  }
  return new TcpServer(listener, settings, options.signal);
}

function describeListenError(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) {
    return "the address is already in use (is another rexec serve running?)";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return "no local interface has that address";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (ports below 1024 need privileges)";
  }
  return (error as Error).message;
}

class TcpServer implements Server {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  readonly #listener: Deno.TcpListener;
  readonly #settings: SessionSettings;
  readonly #sessions = new Map<ServerSession, Promise<void>>();
  #nextSessionId = 1;
  #stopping = false;
  #shutdown: Promise<void> | undefined;

  constructor(
    listener: Deno.TcpListener,
    settings: SessionSettings,
    signal: AbortSignal | undefined,
  ) {
    this.#listener = listener;
    this.#settings = settings;
    this.addr = listener.addr;
    const accepting = this.#acceptLoop();
    this.finished = accepting.then(() => this.#allSessionsEnded());
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
    while (!this.#stopping) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping || error instanceof Deno.errors.BadResource) return;
        this.#settings.logger({
          level: "error",
          message: "accept failed",
          fields: { error: (error as Error).message },
        });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.#stopping) {
        conn.close();
        return;
      }
      this.#startSession(conn);
    }
  }

  #startSession(conn: Deno.TcpConn): void {
    conn.setNoDelay(true);
    // Lets the kernel notice a client that vanished without closing.
    conn.setKeepAlive(true);
    const session = new ServerSession(conn, this.#nextSessionId++, this.#settings);
    this.#sessions.set(
      session,
      session.run().finally(() => this.#sessions.delete(session)),
    );
  }

  async #allSessionsEnded(): Promise<void> {
    while (this.#sessions.size > 0) {
      await Promise.all(this.#sessions.values());
    }
  }
}
