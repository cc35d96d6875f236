/**
 * The server's TLS listener, built on `node:net` and `node:tls`.
 *
 * Why not `Deno.listenTls`: in Deno 2.9 a TLS connection whose client never
 * starts the handshake cannot be closed (close waits for the handshake), so
 * a slowloris client would hold its socket forever. Here every connection
 * rests on a plain TCP socket that can always be destroyed, and only
 * TLS 1.3 is offered.
 *
 * @module
 */

import type net from "node:net";
import type tls from "node:tls";
import { ConnectionError } from "./errors.ts";

/** What a session needs of a connection; `Deno.Conn` has it too. */
export interface SessionConn {
  /** Bytes from the peer, as a byte stream for BYOB reads. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Writes some prefix of `bytes`; resolves with its length once it was taken. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes the connection; closing twice is harmless. */
  close(): void;
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
}

/** Accepts connections for the server. */
export interface ConnListener {
  /** The bound address, with the real port when 0 was asked. */
  readonly addr: Deno.NetAddr;
  /** The next connection; rejects with `Deno.errors.BadResource` once closed. */
  accept(): Promise<SessionConn>;
  /** Stops listening. */
  close(): void;
}

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
}

/** Largest chunk handed to the reader at once; TLS records are at most 16 KiB anyway. */
const READ_HIGH_WATER = 256 * 1024;

/**
 * Listens for TLS 1.3 connections.
 *
 * @throws {ConnectionError} when the certificate or key is unusable.
 * @throws {Error} with a Node error code (EADDRINUSE, EACCES, ...) when the address cannot be bound.
 *
 * @example
 * ```ts ignore
 * import { listenTls } from "./tls_listener.ts";
 *
 * const listener = await listenTls({ hostname: "0.0.0.0", port: 7022, cert, key });
 * const conn = await listener.accept();
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
  const waiting: PromiseWithResolvers<SessionConn>[] = [];
  const ready: SessionConn[] = [];
  let closed = false;
  const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
    const conn = new NodeTlsConn(
      socket,
      new tls.TLSSocket(socket, { isServer: true, secureContext }),
    );
    const taker = waiting.shift();
    if (taker) taker.resolve(conn);
    else ready.push(conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: options.hostname, port: options.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => {
    for (const taker of waiting.splice(0)) taker.reject(error);
  });
  const address = server.address() as net.AddressInfo;
  return {
    addr: { transport: "tcp", hostname: address.address, port: address.port },
    accept() {
      if (closed) return Promise.reject(new Deno.errors.BadResource("the listener is closed"));
      const conn = ready.shift();
      if (conn) return Promise.resolve(conn);
      const taker = Promise.withResolvers<SessionConn>();
      waiting.push(taker);
      return taker.promise;
    },
    close() {
      if (closed) return;
      closed = true;
      server.close();
      for (const conn of ready.splice(0)) conn.close();
      for (const taker of waiting.splice(0)) {
        taker.reject(new Deno.errors.BadResource("the listener is closed"));
      }
    },
  };
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
