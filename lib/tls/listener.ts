/**
 * The server's TLS listener, built on `node:net` and `node:tls`.
 *
 * Why not `Deno.listenTls`: in Deno 2.9 a TLS connection whose client never
 * starts the handshake cannot be closed (close waits for the handshake), so
 * a slowloris client would hold its socket forever. Here every connection
 * rests on a plain TCP socket that can always be destroyed, and only
 * TLS 1.3 is offered.
 *
 * Deno 2.9's `node:net` listener drops an accept that failed for want of
 * a file descriptor without trying again: once that happened with a client
 * waiting, it accepts nothing more, ever. So a watchdog checks every second
 * that a descriptor can still be had: while none can, the listener is
 * closed, so that new clients are refused at once rather than left waiting,
 * and it listens again as soon as one can. And when no client has come for
 * a while, it connects to the listener itself: a listener that does not
 * take that connection has stopped accepting, and is started again.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import type net from "node:net";
import type tls from "node:tls";
import { closeQuietly } from "../util/close_quietly.ts";
import { settlesWithin } from "../util/deadline.ts";
import { ConnectionError } from "../errors.ts";
import type { Logger } from "../util/log.ts";
import type { ConnListener, SessionConn } from "../transport/conn.ts";

/** Options for {@link listenTls}. */
export interface TlsListenOptions {
  /** Address to bind. */
  readonly hostname: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  /** Certificate chain, PEM. */
  readonly cert: string;
  /** Private key, PEM. */
  readonly key: string;
  /** Told when the listener stops for want of file descriptors, and when it listens again. */
  readonly logger?: Logger;
}

/** Largest chunk handed to the reader at once; TLS records are at most 16 KiB anyway. */
const READ_HIGH_WATER = 256 * 1024;

/** How often the watchdog checks that the process can still open a descriptor. */
const WATCHDOG_INTERVAL_MS = 1000;

/** How long without a client before the watchdog checks that the listener still accepts. */
const IDLE_CHECK_MS = 5000;

/** How long the listener has to accept the watchdog's own connection. */
const ACCEPT_CHECK_TIMEOUT_MS = 5000;

/**
 * Listens for TLS 1.3 connections.
 *
 * @throws {ConnectionError} when the certificate or key is unusable.
 * @throws {Error} with a Node error code (EADDRINUSE, EACCES, ...) when the address cannot be bound.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSelfSignedCertificate } from "./certificate.ts";
 * import { listenTls } from "./listener.ts";
 *
 * const { certPem, keyPem } = await createSelfSignedCertificate({ names: ["127.0.0.1"] });
 * const listener = await listenTls({ hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem });
 * try {
 *   using client = await Deno.connectTls({
 *     hostname: "127.0.0.1",
 *     port: listener.addr.port,
 *     caCerts: [certPem],
 *   });
 *   const conn = await listener.accept();
 *   try {
 *     await client.write(new TextEncoder().encode("hello"));
 *     const reader = conn.readable.getReader();
 *     assert.equal(new TextDecoder().decode((await reader.read()).value), "hello");
 *     reader.releaseLock();
 *   } finally {
 *     conn.close();
 *   }
 * } finally {
 *   listener.close();
 * }
 * ```
 */
export async function listenTls(options: TlsListenOptions): Promise<ConnListener> {
  // Loaded here, not at the top: Node's compatibility layer costs every
  // `rexec run` tens of milliseconds at start-up, and only a TLS server needs it.
  const [{ default: net }, { default: tls }] = await Promise.all([
    import("node:net"),
    import("node:tls"),
  ]);
  let secureContext: tls.SecureContext;
  try {
    secureContext = tls.createSecureContext({
      cert: options.cert,
      key: options.key,
      minVersion: "TLSv1.3",
    });
  } catch (error) {
    throw new ConnectionError(
      `cannot use the TLS certificate and key: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const listener = new NodeTlsListener(net, tls, secureContext, options);
  await listener.start();
  return listener;
}

/** The connection the watchdog makes to check that the listener accepts. */
interface AcceptCheck {
  /** The address it connects to, and so comes from. */
  readonly hostname: string;
  /** Its local port, once the connection is made. */
  port: number | undefined;
  /** Connections from that address that came before the port was known. */
  readonly parked: net.Socket[];
  readonly arrived: () => void;
}

class NodeTlsListener implements ConnListener {
  addr: Deno.NetAddr;
  readonly #net: typeof net;
  readonly #tls: typeof tls;
  readonly #secureContext: tls.SecureContext;
  readonly #log: Logger;
  readonly #waiting: PromiseWithResolvers<SessionConn>[] = [];
  readonly #ready: SessionConn[] = [];
  #server: net.Server | undefined;
  #restarting = false;
  #closed = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #lastArrival = performance.now();
  #acceptCheck: AcceptCheck | undefined;
  /** False once connecting to itself proved impossible (no permission to connect). */
  #canCheckAccepting = true;

  constructor(
    netModule: typeof net,
    tlsModule: typeof tls,
    secureContext: tls.SecureContext,
    options: TlsListenOptions,
  ) {
    this.#net = netModule;
    this.#tls = tlsModule;
    this.#secureContext = secureContext;
    this.#log = options.logger ?? (() => {});
    this.addr = { transport: "tcp", hostname: options.hostname, port: options.port };
  }

  async start(): Promise<void> {
    this.#server = await this.#listen(this.addr.port);
    const address = this.#server.address() as net.AddressInfo;
    this.addr = { transport: "tcp", hostname: address.address, port: address.port };
    this.#watchdog = setInterval(() => this.#watch(), WATCHDOG_INTERVAL_MS);
    Deno.unrefTimer(this.#watchdog);
  }

  accept(): Promise<SessionConn> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("the listener is closed"));
    const conn = this.#ready.shift();
    if (conn) return Promise.resolve(conn);
    const taker = Promise.withResolvers<SessionConn>();
    this.#waiting.push(taker);
    return taker.promise;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    if (this.#acceptCheck) this.#endCheck(this.#acceptCheck);
    this.#server?.close();
    this.#server = undefined;
    for (const conn of this.#ready.splice(0)) conn.close();
    for (const taker of this.#waiting.splice(0)) {
      taker.reject(new Deno.errors.BadResource("the listener is closed"));
    }
  }

  async #listen(port: number): Promise<net.Server> {
    const server = this.#net.createServer(
      { noDelay: true, keepAlive: true },
      (socket) => this.#connected(socket),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: this.addr.hostname, port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (error) => {
      for (const taker of this.#waiting.splice(0)) taker.reject(error);
    });
    return server;
  }

  #connected(socket: net.Socket): void {
    this.#lastArrival = performance.now();
    const check = this.#acceptCheck;
    if (check && socket.remoteAddress?.replace(/^::ffff:/, "") === check.hostname) {
      if (check.port === undefined) {
        // The check's own connection may arrive before its port is known.
        check.parked.push(socket);
        return;
      }
      if (socket.remotePort === check.port) {
        socket.destroy();
        check.arrived();
        return;
      }
    }
    this.#admit(socket);
  }

  #admit(socket: net.Socket): void {
    const conn = new NodeTlsConn(
      socket,
      new this.#tls.TLSSocket(socket, { isServer: true, secureContext: this.#secureContext }),
    );
    const taker = this.#waiting.shift();
    if (taker) taker.resolve(conn);
    else this.#ready.push(conn);
  }

  #watch(): void {
    if (this.#closed || this.#restarting) return;
    const starved = isOutOfDescriptors();
    if (starved && this.#server) {
      this.#stopListening();
      this.#log({
        level: "error",
        message: "out of file descriptors: refusing TLS connections until some are free",
        fields: {
          hint: "raise the descriptor limit (ulimit -n, LimitNOFILE=) or lower --max-sessions",
        },
      });
    } else if (!starved && !this.#server) {
      this.#restart();
    } else if (
      this.#server && this.#canCheckAccepting && !this.#acceptCheck &&
      performance.now() - this.#lastArrival >= IDLE_CHECK_MS
    ) {
      this.#checkAccepting(this.#server);
    }
  }

  #stopListening(): void {
    this.#server?.close();
    this.#server = undefined;
  }

  #restart(): void {
    this.#restarting = true;
    this.#listen(this.addr.port).then(
      (server) => {
        this.#restarting = false;
        if (this.#closed) {
          server.close();
          return;
        }
        this.#server = server;
        this.#lastArrival = performance.now();
        this.#log({ level: "info", message: "accepting TLS connections again" });
      },
      (error) => {
        this.#restarting = false;
        this.#log({
          level: "error",
          message: "cannot listen again",
          fields: { error: (error as Error).message },
        });
      },
    );
  }

  /** Ends a check, handing on the connections it held back. */
  #endCheck(check: AcceptCheck): void {
    if (this.#acceptCheck === check) this.#acceptCheck = undefined;
    check.arrived();
    for (const socket of check.parked.splice(0)) {
      if (this.#closed) socket.destroy();
      else this.#admit(socket);
    }
  }

  /**
   * Connects to the listener: a listener that does not take a connection the
   * kernel has queued for it has stopped accepting, and is started again.
   * A connection that cannot be made (no descriptor, no permission, a
   * firewall) tells nothing.
   */
  async #checkAccepting(server: net.Server): Promise<void> {
    const hostname = this.addr.hostname === "0.0.0.0"
      ? "127.0.0.1"
      : this.addr.hostname === "::"
      ? "::1"
      : this.addr.hostname;
    const arrived = Promise.withResolvers<void>();
    const check: AcceptCheck = { hostname, port: undefined, parked: [], arrived: arrived.resolve };
    this.#acceptCheck = check;
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname, port: this.addr.port });
    } catch (error) {
      this.#endCheck(check);
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        this.#canCheckAccepting = false;
      }
      return;
    }
    check.port = conn.localAddr.port;
    for (const socket of check.parked.splice(0)) this.#connected(socket);
    const accepted = await settlesWithin(arrived.promise, ACCEPT_CHECK_TIMEOUT_MS);
    this.#endCheck(check);
    closeQuietly(conn);
    if (accepted || server !== this.#server || this.#closed) return;
    this.#log({
      level: "error",
      message: "the TLS listener stopped accepting connections; listening again",
    });
    this.#stopListening();
    this.#restart();
  }
}

/**
 * Whether the process has no file descriptor left, found by opening one.
 * Any other failure (no permission to read /dev/null) tells nothing, and
 * the listener is left as it is.
 */
function isOutOfDescriptors(): boolean {
  try {
    Deno.openSync("/dev/null").close();
    return false;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return code === "EMFILE" || code === "ENFILE";
  }
}

/** A server-side TLS connection over a TCP socket that can always be destroyed. */
class NodeTlsConn implements SessionConn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: net.Socket;
  readonly #tls: tls.TLSSocket;

  constructor(socket: net.Socket, secure: tls.TLSSocket) {
    this.#socket = socket;
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "unknown",
      port: socket.remotePort ?? 0,
    };
    this.#tls = secure;
    // An unhandled 'error' event would end the process: every failure is
    // delivered to the reader instead, and ends this connection only.
    socket.on("error", () => secure.destroy());
    const source: UnderlyingByteSource = {
      type: "bytes",
      start(controller: ReadableByteStreamController) {
        let finished = false;
        const finish = (error?: Error) => {
          if (finished) return;
          finished = true;
          if (error) {
            controller.error(error);
          } else {
            controller.close();
            controller.byobRequest?.respond(0);
          }
        };
        secure.on("data", (chunk: Uint8Array) => {
          if (finished) return;
          // Copied: the chunk may share a pooled buffer with others.
          controller.enqueue(chunk.slice());
          if ((controller.desiredSize ?? 0) <= 0) secure.pause();
        });
        secure.on("end", () => finish());
        secure.on("error", (error) => finish(error));
        // A destroy without an error or an end still ends the stream.
        secure.on("close", () => finish());
      },
      pull() {
        secure.resume();
      },
      cancel() {
        secure.destroy();
      },
    };
    this.readable = new ReadableStream(source, { highWaterMark: READ_HIGH_WATER });
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#tls.destroyed) {
        reject(new Deno.errors.BrokenPipe("the connection is closed"));
        return;
      }
      this.#tls.write(bytes, (error) => error ? reject(error) : resolve(bytes.length));
    });
  }

  close(): void {
    this.#tls.destroy();
    this.#socket.destroy();
  }
}
