/**
 * Bounds how fast one address can test tokens, without ever slowing down a
 * client that holds the right one.
 *
 * An attacker learns whether a guess was right from how the server answers,
 * and a right proof is answered at once; so what has to be bounded is how
 * many proofs from one address get checked, not merely how late the wrong
 * ones hear back. The throttle keeps, per address, the wrong proofs whose
 * answers it is still holding back. A wrong answer is held for a delay that
 * doubles with each recent failure of the address (up to a cap), and the
 * answers of one address go out one after another, each that delay after
 * the previous one. A proof is checked at once while its address has fewer
 * than `maxHeld` answers held; beyond that it waits, unchecked, for the next
 * answer to go out. A held answer keeps its place until its time whatever
 * happens to its connection, so closing connections early gains nothing.
 *
 * What that gives: an address tests at most `maxHeld` wrong tokens at once
 * and then one per delay (4 per second at first with the defaults, one
 * every 4 s under a sustained attack), however many connections it opens.
 * A right proof is answered at once and counts against nothing; it waits
 * only while its own address has `maxHeld` wrong answers held, at most one
 * delay after the wrong attempts stop. A success does not wipe the
 * address's failures: only time does.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * How many times the first hold the longest hold is, unless
 * {@link AuthThrottleOptions.maxDelayMs} says otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_DELAY_FACTOR } from "./auth_throttle.ts";
 *
 * assert.equal(Math.log2(DEFAULT_MAX_DELAY_FACTOR), 4, "the fifth failure in a row reaches the cap");
 * ```
 */
export const DEFAULT_MAX_DELAY_FACTOR = 16;

/**
 * Wrong answers one address may have held before its next proof waits,
 * unless {@link AuthThrottleOptions.maxHeld} says otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_HELD } from "./auth_throttle.ts";
 *
 * assert.ok(DEFAULT_MAX_HELD > 1, "a few typos in a row never wait");
 * ```
 */
export const DEFAULT_MAX_HELD = 8;

/** The time source and timers the throttle uses; replaceable in tests. */
export interface ThrottleClock {
  /** Milliseconds on a clock that never goes back. */
  now(): number;
  /** Calls `callback` after `ms` milliseconds; returns a function that cancels it. */
  setTimer(callback: () => void, ms: number): () => void;
}

/** Options for {@link AuthThrottle}. */
export interface AuthThrottleOptions {
  /** How long the answer to an address's first wrong proof is held, in milliseconds; doubles with each further recent failure. Default 250. */
  readonly baseDelayMs?: number;
  /** Longest hold, in milliseconds. Default {@link DEFAULT_MAX_DELAY_FACTOR} times `baseDelayMs`. */
  readonly maxDelayMs?: number;
  /** Wrong answers one address may have held before its next proof waits to be checked. Default {@link DEFAULT_MAX_HELD}. */
  readonly maxHeld?: number;
  /** An address's failures are forgotten after this long without one. Default 15 minutes. */
  readonly forgetAfterMs?: number;
  /** Most addresses with failures remembered; the stalest are dropped beyond it. Default 10 000. */
  readonly maxAddresses?: number;
  /** The clock; real time by default. */
  readonly clock?: ThrottleClock;
}

/**
 * Permission to check one proof, from {@link AuthThrottle.admit}. Say how
 * the check went with {@link passed} or {@link failed}; disposing of an
 * undecided check gives its place back, as if it never happened.
 */
export interface ProofCheck extends Disposable {
  /** Milliseconds the proof waited to be checked: 0 unless its address had too many wrong answers held. */
  readonly waitedMs: number;
  /** The proof was right: its place is free again at once. */
  passed(): void;
  /**
   * The proof was wrong: counts a failure for the address, and holds its
   * place until the answer's time.
   *
   * @returns milliseconds to hold the answer back.
   */
  failed(): number;
}

interface AddressRecord {
  failures: number;
  lastFailure: number;
  /** When the held wrong answers go out, earliest first. */
  readonly held: number[];
  /** When the last wrong answer was (or will be) sent: the next one is spaced from it. */
  lastAnswer: number;
  /** Proofs admitted and still being checked. */
  checking: number;
  /**
   * Proofs waiting to be checked. The newest is checked first: a client
   * that arrives after a burst of guesses from its address waits for one
   * place, not behind every guess still queued (those run into their
   * handshake timeout).
   */
  readonly waiting: Waiter[];
  cancelTimer: (() => void) | undefined;
}

interface Waiter {
  readonly admit: () => void;
}

const realClock: ThrottleClock = {
  now: () => performance.now(),
  setTimer: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

/**
 * Per-address limit on the rate of wrong proofs. Before checking a proof,
 * {@link admit} it; then report the result on the {@link ProofCheck}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthThrottle } from "./auth_throttle.ts";
 *
 * const throttle = new AuthThrottle({ baseDelayMs: 100 });
 * {
 *   using check = await throttle.admit("192.0.2.1");
 *   assert.equal(check.failed(), 100); // hold the "wrong token" answer 100 ms
 * }
 * {
 *   using check = await throttle.admit("192.0.2.1");
 *   check.passed(); // the right token: answered at once, whatever failed before
 * }
 * assert.equal(throttle.failures("192.0.2.1"), 1);
 * ```
 */
export class AuthThrottle {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxHeld: number;
  readonly #forgetAfterMs: number;
  readonly #maxAddresses: number;
  readonly #clock: ThrottleClock;
  /** Ordered from the stalest failure to the freshest. */
  readonly #records = new Map<string, AddressRecord>();

  /** Creates an empty throttle. */
  constructor(options: AuthThrottleOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_FACTOR * this.#baseDelayMs;
    this.#maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
    this.#forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#clock = options.clock ?? realClock;
    if (!(this.#maxHeld >= 1)) throw new RangeError("maxHeld must be at least 1");
  }

  /**
   * Waits until a proof from `address` may be checked: at once, unless the
   * address already has `maxHeld` wrong answers held (or proofs being
   * checked), then until the next of them is sent.
   *
   * @throws the signal's reason when `signal` aborts first.
   */
  admit(address: string, signal?: AbortSignal): Promise<ProofCheck> {
    signal?.throwIfAborted();
    const record = this.#record(address);
    this.#release(record);
    if (record.waiting.length === 0 && this.#hasRoom(record)) {
      return Promise.resolve(this.#check(address, record, 0));
    }
    const { promise, resolve, reject } = Promise.withResolvers<ProofCheck>();
    const since = this.#clock.now();
    const waiter: Waiter = {
      admit: () => {
        signal?.removeEventListener("abort", abandon);
        resolve(this.#check(address, record, this.#clock.now() - since));
      },
    };
    const abandon = () => {
      const index = record.waiting.indexOf(waiter);
      if (index !== -1) record.waiting.splice(index, 1);
      this.#settle(address, record);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abandon, { once: true });
    record.waiting.push(waiter);
    this.#settle(address, record);
    return promise;
  }

  /** Recent failures remembered for `address`. */
  failures(address: string): number {
    const record = this.#records.get(address);
    if (!record) return 0;
    this.#forgetStale(record);
    return record.failures;
  }

  /** Wrong answers of `address` still held. */
  held(address: string): number {
    const record = this.#records.get(address);
    if (!record) return 0;
    this.#release(record);
    return record.held.length;
  }

  /** Proofs of `address` waiting to be checked. */
  waiting(address: string): number {
    return this.#records.get(address)?.waiting.length ?? 0;
  }

  /** Addresses remembered: those with recent failures, held answers or proofs in progress. */
  get size(): number {
    return this.#records.size;
  }

  #check(address: string, record: AddressRecord, waitedMs: number): ProofCheck {
    record.checking++;
    let decided = false;
    const decide = () => {
      if (decided) throw new Error("this proof check was already decided");
      decided = true;
      record.checking--;
    };
    return {
      waitedMs,
      passed: () => {
        decide();
        this.#settle(address, record);
      },
      failed: () => {
        decide();
        const now = this.#clock.now();
        this.#forgetStale(record);
        record.failures++;
        record.lastFailure = now;
        // The hold is computed apart from the clock's value, so that it is
        // exactly the delay when no earlier answer is pending.
        const holdMs = Math.max(0, record.lastAnswer - now) + this.#delay(record.failures);
        const answerAt = now + holdMs;
        record.lastAnswer = answerAt;
        record.held.push(answerAt);
        // Re-inserted so that the map stays ordered by the freshest failure.
        this.#records.delete(address);
        this.#records.set(address, record);
        this.#dropStalest();
        this.#settle(address, record);
        return holdMs;
      },
      [Symbol.dispose]: () => {
        if (decided) return;
        decide();
        this.#settle(address, record);
      },
    };
  }

  #record(address: string): AddressRecord {
    let record = this.#records.get(address);
    if (!record) {
      record = {
        failures: 0,
        lastFailure: -Infinity,
        held: [],
        lastAnswer: -Infinity,
        checking: 0,
        waiting: [],
        cancelTimer: undefined,
      };
      this.#records.set(address, record);
    }
    return record;
  }

  #hasRoom(record: AddressRecord): boolean {
    return record.held.length + record.checking < this.#maxHeld;
  }

  /** Frees the places of answers whose time has come. */
  #release(record: AddressRecord): void {
    const now = this.#clock.now();
    let sent = 0;
    while (sent < record.held.length && record.held[sent] <= now) sent++;
    record.held.splice(0, sent);
  }

  #forgetStale(record: AddressRecord): void {
    if (this.#clock.now() - record.lastFailure >= this.#forgetAfterMs) record.failures = 0;
  }

  /**
   * After any change: admits waiters while there is room, sets a timer for
   * the next held answer while some still wait, and forgets an address that
   * has nothing left to remember.
   */
  #settle(address: string, record: AddressRecord): void {
    this.#release(record);
    while (record.waiting.length > 0 && this.#hasRoom(record)) {
      record.waiting.pop()!.admit();
    }
    record.cancelTimer?.();
    record.cancelTimer = undefined;
    if (record.waiting.length > 0 && record.held.length > 0) {
      const waitMs = Math.max(0, record.held[0] - this.#clock.now());
      record.cancelTimer = this.#clock.setTimer(() => {
        record.cancelTimer = undefined;
        this.#settle(address, record);
      }, waitMs);
    }
    this.#forgetStale(record);
    if (
      record.failures === 0 && record.held.length === 0 && record.checking === 0 &&
      record.waiting.length === 0 && this.#records.get(address) === record
    ) {
      this.#records.delete(address);
    }
  }

  /**
   * Keeps memory bounded: beyond `maxAddresses`, the addresses with the
   * stalest failures are forgotten. Those with proofs in progress are kept:
   * there are no more of them than open connections.
   */
  #dropStalest(): void {
    if (this.#records.size <= this.#maxAddresses) return;
    for (const [address, record] of this.#records) {
      if (this.#records.size <= this.#maxAddresses) return;
      if (record.checking > 0 || record.waiting.length > 0) continue;
      record.cancelTimer?.();
      this.#records.delete(address);
    }
  }

  #delay(failures: number): number {
    return Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }
}
