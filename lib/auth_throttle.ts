/**
 * Slows down token guessing: each address that fails to authenticate waits
 * longer before its next attempt, while every other address goes on at full
 * speed.
 *
 * @module
 */

/** Options for {@link AuthThrottle}. */
export interface AuthThrottleOptions {
  /** Delay after the first failure, in milliseconds; doubles with each further one. Default 250. */
  readonly baseDelayMs?: number;
  /** Longest delay, in milliseconds. Default 30 000. */
  readonly maxDelayMs?: number;
  /** An address's failures are forgotten after this long without one. Default 15 minutes. */
  readonly forgetAfterMs?: number;
  /** Most addresses remembered; the stalest are dropped beyond it. Default 10 000. */
  readonly maxAddresses?: number;
  /** The clock; replaceable in tests. */
  readonly now?: () => number;
}

interface Record {
  failures: number;
  lastFailure: number;
  /** When the next attempt from this address may start. */
  nextSlot: number;
}

/**
 * Per-address backoff for authentication: after N failures an address waits
 * `base × 2^(N-1)` (capped) before each attempt, and parallel attempts from
 * it queue one behind another instead of sharing one wait.
 *
 * @example
 * ```ts
 * import { AuthThrottle } from "./auth_throttle.ts";
 *
 * const throttle = new AuthThrottle({ baseDelayMs: 100 });
 * console.assert(throttle.reserve("192.0.2.1") === 0);
 * throttle.failed("192.0.2.1");
 * console.assert(throttle.reserve("192.0.2.1") === 100);
 * console.assert(throttle.reserve("198.51.100.7") === 0);
 * ```
 */
export class AuthThrottle {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #forgetAfterMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  readonly #records = new Map<string, Record>();

  /** Creates an empty throttle. */
  constructor(options: AuthThrottleOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Claims the next attempt for `address`, unless it would have to wait
   * longer than `maxWaitMs`.
   *
   * @returns milliseconds to wait before authenticating (0 for an address
   * with no recent failures), or null when the wait would be longer than
   * `maxWaitMs`; then no attempt is claimed.
   */
  reserve(address: string, maxWaitMs = Infinity): number | null {
    const record = this.#current(address);
    if (!record) return 0;
    const now = this.#now();
    const slot = Math.max(now, record.nextSlot);
    if (slot - now > maxWaitMs) return null;
    record.nextSlot = slot + this.#delay(record.failures);
    return slot - now;
  }

  /** Records a failed attempt from `address`. */
  failed(address: string): void {
    const now = this.#now();
    const record = this.#current(address) ?? { failures: 0, lastFailure: now, nextSlot: now };
    record.failures++;
    record.lastFailure = now;
    record.nextSlot = Math.max(record.nextSlot, now + this.#delay(record.failures));
    // Re-inserting keeps the map ordered from stalest to freshest failure.
    this.#records.delete(address);
    this.#records.set(address, record);
    for (const stalest of this.#records.keys()) {
      if (this.#records.size <= this.#maxAddresses) break;
      this.#records.delete(stalest);
    }
  }

  /** Forgets `address`'s failures: it proved it holds the token. */
  succeeded(address: string): void {
    this.#records.delete(address);
  }

  /** Addresses with failures remembered. */
  get size(): number {
    return this.#records.size;
  }

  #current(address: string): Record | undefined {
    const record = this.#records.get(address);
    if (record && this.#now() - record.lastFailure >= this.#forgetAfterMs) {
      this.#records.delete(address);
      return undefined;
    }
    return record;
  }

  #delay(failures: number): number {
    return Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }
}
