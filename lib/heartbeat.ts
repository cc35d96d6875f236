/**
 * Keepalive for one connection: PING at a steady interval, and notice a peer
 * that has gone silent (a machine that vanished, a cable pulled) even while
 * a command runs without output.
 *
 * @module
 */

/** Options for {@link Heartbeat}. */
export interface HeartbeatOptions {
  /** Milliseconds between PINGs. */
  readonly intervalMs: number;
  /** Intervals of silence, while listening, after which the peer counts as gone; default 3. */
  readonly missesAllowed?: number;
  /** Sends one PING frame. */
  readonly sendPing: () => void;
  /** Called once when the peer has been silent too long. */
  readonly onSilence: (silentMs: number) => void;
}

/**
 * Pings the peer every interval, and calls `onSilence` when the owner has
 * waited on the socket for `missesAllowed` intervals without a frame.
 *
 * Silence counts only while the owner is actually waiting for the next frame
 * ({@link Heartbeat.listen}): time spent handing a frame to a slow local
 * consumer is not the peer's fault, and a peer that pings on its own
 * schedule is heard whatever the direction of the bulk data.
 *
 * @example
 * ```ts ignore
 * import { Heartbeat } from "./heartbeat.ts";
 *
 * using heartbeat = new Heartbeat({
 *   intervalMs: 30_000,
 *   sendPing: () => writer.write(FrameType.Ping).catch(() => {}),
 *   onSilence: () => conn.close(),
 * });
 * for (let frame = await heartbeat.listen(reader.read()); frame; frame = await heartbeat.listen(reader.read())) {
 *   handle(frame);
 * }
 * ```
 */
export class Heartbeat implements Disposable {
  readonly #options: HeartbeatOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  #listeningSince: number | undefined;
  #silent = false;

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
    const { intervalMs, missesAllowed = 3 } = this.#options;
    this.#options.sendPing();
    if (this.#listeningSince === undefined || this.#silent) return;
    const silentMs = Date.now() - this.#listeningSince;
    if (silentMs >= intervalMs * missesAllowed) {
      this.#silent = true;
      this.#options.onSilence(silentMs);
    }
  }
}
