/**
 * Keepalive for one connection: PING at a steady interval, and notice a peer
 * that has gone silent (a machine that vanished, a cable pulled) even while
 * a command runs without output, or that has stopped reading what it is
 * sent.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import type { ByteSink } from "./frame_writer.ts";

/**
 * Intervals without a frame from the peer, or without it taking a byte,
 * after which it counts as gone, unless {@link HeartbeatOptions} say
 * otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MISSES_ALLOWED } from "./heartbeat.ts";
 *
 * assert.ok(DEFAULT_MISSES_ALLOWED > 1, "one late PONG is not a dead peer");
 * ```
 */
export const DEFAULT_MISSES_ALLOWED = 3;

/** Options for {@link Heartbeat}. */
export interface HeartbeatOptions {
  /** Milliseconds between PINGs. */
  readonly intervalMs: number;
  /** Intervals of silence, while listening, after which the peer counts as gone; default {@link DEFAULT_MISSES_ALLOWED}. */
  readonly missesAllowed?: number;
  /** Sends one PING frame. */
  readonly sendPing: () => void;
  /** Called once when the peer has been silent too long. */
  readonly onSilence: (silentMs: number) => void;
  /**
   * The sink the owner writes to. When given, a peer that has taken no
   * byte of a pending write for `missesAllowed` intervals counts as gone
   * too: one that keeps sending but never reads would otherwise hold the
   * connection, and whatever waits to write to it, forever.
   */
  readonly outbound?: WatchedSink;
  /** Called once when the peer has taken nothing written to it for too long. */
  readonly onStalled?: (stalledMs: number) => void;
}

/**
 * A byte sink that knows how long its pending write has been waiting for
 * the peer to take bytes: any progress, however small, counts, so a slow
 * reader is told apart from one that reads nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WatchedSink } from "./heartbeat.ts";
 *
 * const sink = new WatchedSink({ write: (bytes) => Promise.resolve(bytes.length) });
 * assert.equal(await sink.write(new Uint8Array(3)), 3);
 * assert.equal(sink.stalledMs, 0); // nothing pending
 *
 * // A peer that reads nothing: the write waits, and the wait is counted.
 * const stuck = new WatchedSink({ write: () => new Promise<number>(() => {}) });
 * void stuck.write(new Uint8Array(3));
 * await new Promise((resolve) => setTimeout(resolve, 10));
 * assert.ok(stuck.stalledMs > 0);
 * ```
 */
export class WatchedSink implements ByteSink {
  readonly #inner: ByteSink;
  #pending = 0;
  #lastProgress = 0;

  /** Watches writes to `inner`. */
  constructor(inner: ByteSink) {
    this.#inner = inner;
  }

  /** Writes to the inner sink, noting when it took bytes. */
  async write(bytes: Uint8Array): Promise<number> {
    if (this.#pending++ === 0) this.#lastProgress = performance.now();
    try {
      const written = await this.#inner.write(bytes);
      this.#lastProgress = performance.now();
      return written;
    } finally {
      this.#pending--;
    }
  }

  /** Milliseconds since a pending write last made progress; 0 when none is pending. */
  get stalledMs(): number {
    return this.#pending > 0 ? performance.now() - this.#lastProgress : 0;
  }
}

/**
 * Pings the peer every interval, and calls `onSilence` when the owner has
 * waited on the socket for `missesAllowed` intervals without a frame, or
 * `onStalled` when the peer has taken nothing written to it for as long.
 *
 * Silence counts only while the owner is actually waiting for the next frame
 * ({@link Heartbeat.listen}): time spent handing a frame to a slow local
 * consumer is not the peer's fault, and a peer that pings on its own
 * schedule is heard whatever the direction of the bulk data.
 *
 * @example Giving up on a peer that has gone silent
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameType } from "../protocol/frame.ts";
 * import { FrameReader } from "./frame_reader.ts";
 * import { FrameWriter } from "./frame_writer.ts";
 * import { Heartbeat } from "./heartbeat.ts";
 *
 * // A peer that accepts the connection, then never says a word.
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using _silentPeer = await listener.accept();
 * const reader = new FrameReader(conn, { maxFrameSize: 1024 });
 * const writer = new FrameWriter(conn);
 * let silentFor = 0;
 * using heartbeat = new Heartbeat({
 *   intervalMs: 20,
 *   sendPing: () => void writer.write(FrameType.Ping).catch(() => {}),
 *   onSilence: (silentMs) => {
 *     silentFor = silentMs;
 *     conn.close();
 *   },
 * });
 * // The read that never completes ends when onSilence closes the connection.
 * await assert.rejects(heartbeat.listen(reader.read()));
 * assert.ok(silentFor >= 3 * 20, `gave up after ${silentFor} ms`);
 * ```
 */
export class Heartbeat implements Disposable {
  readonly #options: HeartbeatOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  #listeningSince: number | undefined;
  #gone = false;

  /** Starts the interval; dispose of the heartbeat to stop it. */
  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.#tick(), options.intervalMs);
    // The heartbeat alone must not keep a process alive.
    Deno.unrefTimer(this.#timer);
  }

  /** Waits for `read`, the owner's next frame from the peer, counting the wait as listening. */
  async listen<T>(read: Promise<T>): Promise<T> {
    this.#listeningSince = Date.now();
    try {
      return await read;
    } finally {
      this.#listeningSince = undefined;
    }
  }

  /** Stops pinging and watching. */
  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const { intervalMs, missesAllowed = DEFAULT_MISSES_ALLOWED, outbound, onStalled } =
      this.#options;
    if (this.#gone) return;
    const limitMs = intervalMs * missesAllowed;
    const stalledMs = outbound?.stalledMs ?? 0;
    if (onStalled && stalledMs >= limitMs) {
      this.#gone = true;
      onStalled(stalledMs);
      return;
    }
    this.#options.sendPing();
    if (this.#listeningSince === undefined) return;
    const silentMs = Date.now() - this.#listeningSince;
    if (silentMs >= limitMs) {
      this.#gone = true;
      this.#options.onSilence(silentMs);
    }
  }
}
