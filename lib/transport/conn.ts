/**
 * The connection types the server is written against, so that a plain TCP
 * connection (`Deno.Conn`) and the TLS listener's connections serve alike.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/** What a session needs of a connection; `Deno.Conn` has it too. */
export interface SessionConn {
  /** Bytes from the peer, as a byte stream for BYOB reads. */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * Reads bytes from the peer straight into `buffer`, as `Deno.Conn` does;
   * resolves with the count, or `null` at the end. Where a connection has
   * it, the server reads with it rather than through `readable`, which
   * costs the streams machinery on every read.
   */
  read?(buffer: Uint8Array): Promise<number | null>;
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
