/**
 * Connections that have not authenticated yet, capped in total and per
 * address (as sshd's MaxStartups and PerSourceMaxStartups), apart from the
 * authenticated sessions: a crowd of unfinished handshakes never takes a
 * token holder's session slot. When a cap is reached the oldest unfinished
 * handshake makes room, not the newcomer, so that sockets left idle (or an
 * attacker's) cannot keep a client with the token out.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/** Options for {@link PendingHandshakes}. */
export interface PendingHandshakesOptions {
  /** Most connections authenticating at once, over all addresses. */
  readonly max: number;
  /** Most connections authenticating at once from one address. */
  readonly maxPerSource: number;
}

/** A connection dropped to make room, and which cap made it go. */
export interface Crowded<T> {
  /** The oldest unfinished handshake, of the newcomer's address or of all. */
  readonly evicted: T;
  /** `source` when the newcomer's address was at its cap, `total` when the server was. */
  readonly cap: "source" | "total";
}

/**
 * The unfinished handshakes, oldest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PendingHandshakes } from "./pending_handshakes.ts";
 *
 * const pending = new PendingHandshakes<string>({ max: 10, maxPerSource: 2 });
 * assert.equal(pending.add("first", "192.0.2.1"), undefined);
 * assert.equal(pending.add("second", "192.0.2.1"), undefined);
 * assert.deepEqual(pending.add("third", "192.0.2.1"), { evicted: "first", cap: "source" });
 * assert.equal(pending.from("192.0.2.1"), 2);
 * ```
 */
export class PendingHandshakes<T> {
  readonly #max: number;
  readonly #maxPerSource: number;
  /** Every pending handshake with its address, in the order they arrived. */
  readonly #all = new Map<T, string>();
  readonly #bySource = new Map<string, Set<T>>();

  /** Creates an empty set with these caps. */
  constructor(options: PendingHandshakesOptions) {
    for (const [name, value] of Object.entries(options)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a whole number of at least 1`);
      }
    }
    this.#max = options.max;
    this.#maxPerSource = options.maxPerSource;
  }

  /**
   * Adds a new connection from `address`.
   *
   * @returns the connection the caller must end to stay within the caps,
   * already removed from the set; undefined when there was room.
   */
  add(item: T, address: string): Crowded<T> | undefined {
    let crowded: Crowded<T> | undefined;
    const mine = this.#bySource.get(address);
    if (mine && mine.size >= this.#maxPerSource) {
      crowded = { evicted: mine.values().next().value!, cap: "source" };
    } else if (this.#all.size >= this.#max) {
      crowded = { evicted: this.#all.keys().next().value!, cap: "total" };
    }
    if (crowded) this.delete(crowded.evicted);
    this.#all.set(item, address);
    const source = this.#bySource.get(address) ?? new Set();
    source.add(item);
    this.#bySource.set(address, source);
    return crowded;
  }

  /** Removes a connection that authenticated or ended; false when it was not there. */
  delete(item: T): boolean {
    const address = this.#all.get(item);
    if (address === undefined) return false;
    this.#all.delete(item);
    const source = this.#bySource.get(address)!;
    source.delete(item);
    if (source.size === 0) this.#bySource.delete(address);
    return true;
  }

  /** Whether `item` is still authenticating. */
  has(item: T): boolean {
    return this.#all.has(item);
  }

  /** Connections authenticating from `address`. */
  from(address: string): number {
    return this.#bySource.get(address)?.size ?? 0;
  }

  /** Connections authenticating in all. */
  get size(): number {
    return this.#all.size;
  }
}
