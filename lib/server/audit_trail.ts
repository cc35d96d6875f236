/**
 * The server's side of the audit trail. It hands each record to the sink
 * and says in the server log, once per run of failures, when records cannot
 * be written and again when they can; it tells sessions whether commands
 * may run meanwhile (failing closed, the default, or open); and it keeps
 * connections that never authenticate from flooding the trail, by limiting
 * their records per address and writing a summary of what it left out.
 *
 * @module
 */

import type { AuditEvent, AuditEventName, AuditSink } from "./audit.ts";
import { type Logger, silentLogger } from "../util/log.ts";

/**
 * What the server does while the audit log cannot be written: `closed`
 * refuses new commands until it can (the default), `open` runs them
 * unaudited.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import type { AuditSink } from "./audit.ts";
 * import type { AuditFailMode } from "./audit_trail.ts";
 * import { serve } from "./server.ts";
 *
 * const brokenDisk: AuditSink = () => {
 *   throw new Error("no space left on device");
 * };
 * const token = "a-shared-secret-of-some-length";
 * const run = async (auditFail: AuditFailMode) => {
 *   await using server = await serve({
 *     token,
 *     hostname: "127.0.0.1",
 *     port: 0,
 *     audit: brokenDisk,
 *     auditFail,
 *   });
 *   await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *   return await client.spawn(["true"]).status;
 * };
 * assert.equal((await run("closed")).reason, "refused"); // nothing runs unrecorded
 * assert.equal((await run("open")).code, 0); // runs, unaudited
 * ```
 */
export type AuditFailMode = "closed" | "open";

/**
 * Records per second an address that has not authenticated may add, unless
 * {@link AuditTrailOptions.preAuthRate} says otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_PRE_AUTH_RATE } from "./audit_trail.ts";
 *
 * assert.ok(DEFAULT_PRE_AUTH_RATE >= 1, "a client that fails once is always recorded");
 * ```
 */
export const DEFAULT_PRE_AUTH_RATE = 10;

/** Options for {@link AuditTrail}. */
export interface AuditTrailOptions {
  /** Where records go; it throws when it cannot keep one. */
  readonly sink: AuditSink;
  /** What to do while records cannot be written; default `closed`. */
  readonly failMode?: AuditFailMode;
  /** The server log, told when writing fails and when it works again. */
  readonly logger?: Logger;
  /** Records per second an address that has not authenticated may add; default {@link DEFAULT_PRE_AUTH_RATE}. */
  readonly preAuthRate?: number;
  /** Records such an address may add at once before the rate applies; default 30. */
  readonly preAuthBurst?: number;
  /** Milliseconds between summaries of the records left out; default 10 000. */
  readonly summaryIntervalMs?: number;
  /** Most addresses tracked at once; the stalest is summarised and dropped beyond it. Default 10 000. */
  readonly maxAddresses?: number;
  /** The clock, in milliseconds; replaceable in tests. */
  readonly now?: () => number;
}

/** What the limit knows about one address. */
interface Bucket {
  /** Records it may still add now. */
  tokens: number;
  /** When `tokens` was last brought up to date. */
  updated: number;
  /** Records left out since the last summary, by event. */
  suppressed: Partial<Record<AuditEventName, number>>;
  /** When the first of them was left out. */
  since?: number;
}

/**
 * Writes audit records for a server's sessions. A session calls
 * {@link AuditTrail.admitPreAuth} before each record it writes while not
 * authenticated, and {@link AuditTrail.suppressed} when it ends without
 * authenticating, with the records it left out; records of authenticated
 * sessions are never left out.
 *
 * @example A sink that fails, then works again
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LogRecord } from "../util/log.ts";
 * import { AuditTrail } from "./audit_trail.ts";
 *
 * let full = true;
 * const logs: LogRecord[] = [];
 * using trail = new AuditTrail({
 *   sink: () => {
 *     if (full) throw new Error("no space left on device");
 *   },
 *   logger: (record) => logs.push(record),
 * });
 * assert.equal(trail.write({ event: "exec", session: 1, peer: "127.0.0.1:5000" }), false);
 * assert.equal(trail.write({ event: "exec", session: 1, peer: "127.0.0.1:5000" }), false);
 * assert.ok(trail.failClosed);
 * full = false;
 * assert.equal(trail.write({ event: "exec", session: 1, peer: "127.0.0.1:5000" }), true);
 * assert.deepEqual(logs.map((record) => record.level), ["error", "info"]);
 * ```
 */
export class AuditTrail implements Disposable {
  readonly #sink: AuditSink;
  readonly #failMode: AuditFailMode;
  readonly #logger: Logger;
  readonly #rate: number;
  readonly #burst: number;
  readonly #summaryIntervalMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  #summaryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Records not written in the current run of failures; undefined while writing works. */
  #lost: number | undefined;

  /** Creates a trail that writes to `options.sink`. */
  constructor(options: AuditTrailOptions) {
    this.#sink = options.sink;
    this.#failMode = options.failMode ?? "closed";
    this.#logger = options.logger ?? silentLogger;
    this.#rate = options.preAuthRate ?? DEFAULT_PRE_AUTH_RATE;
    this.#burst = options.preAuthBurst ?? 30;
    this.#summaryIntervalMs = options.summaryIntervalMs ?? 10_000;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#now = options.now ?? Date.now;
    if (this.#failMode !== "closed" && this.#failMode !== "open") {
      throw new RangeError(`auditFail must be "closed" or "open", not ${String(this.#failMode)}`);
    }
  }

  /** Whether commands are refused while records cannot be written. */
  get failClosed(): boolean {
    return this.#failMode === "closed";
  }

  /**
   * Writes one record, never left out.
   *
   * @returns whether the sink kept it.
   */
  write(record: AuditEvent): boolean {
    try {
      this.#sink(record);
    } catch (error) {
      this.#failed(error);
      return false;
    }
    if (this.#lost !== undefined) {
      this.#logger({
        level: "info",
        message: "the audit log can be written again",
        fields: { lost_records: this.#lost },
      });
      this.#lost = undefined;
    }
    return true;
  }

  /**
   * Whether a connection from `address` that has not authenticated may add
   * a record now; each yes uses up one of the address's allowance.
   */
  admitPreAuth(address: string): boolean {
    const bucket = this.#bucket(address);
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  /**
   * Counts the records a session from `address` left out, for the next
   * summary; called once the session ended without authenticating.
   */
  suppressed(address: string, events: readonly AuditEventName[]): void {
    if (events.length === 0) return;
    const bucket = this.#bucket(address);
    bucket.since ??= this.#now();
    for (const event of events) {
      bucket.suppressed[event] = (bucket.suppressed[event] ?? 0) + 1;
    }
    if (this.#summaryTimer === undefined) {
      const timer = setTimeout(() => {
        this.#summaryTimer = undefined;
        this.flush();
      }, this.#summaryIntervalMs);
      // Summaries alone must not keep a process alive; the server flushes at its end.
      Deno.unrefTimer(timer);
      this.#summaryTimer = timer;
    }
  }

  /** Writes a summary for each address that had records left out since the last one. */
  flush(): void {
    for (const [address, bucket] of this.#buckets) this.#summarise(address, bucket);
    this.#forgetIdle();
  }

  /** Writes the pending summaries and stops the summary timer. */
  [Symbol.dispose](): void {
    clearTimeout(this.#summaryTimer);
    this.#summaryTimer = undefined;
    this.flush();
  }

  #failed(error: unknown): void {
    if (this.#lost === undefined) {
      this.#lost = 0;
      this.#logger({
        level: "error",
        message: this.failClosed
          ? "cannot write the audit log: refusing new commands until it can be written"
          : "cannot write the audit log: commands keep running, unaudited",
        fields: { error: error instanceof Error ? error.message : String(error) },
      });
    }
    this.#lost++;
  }

  /** The address's bucket, its allowance brought up to date. */
  #bucket(address: string): Bucket {
    const now = this.#now();
    let bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxAddresses) this.#makeRoom();
      bucket = { tokens: this.#burst, updated: now, suppressed: {} };
      this.#buckets.set(address, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(
      this.#burst,
      bucket.tokens + (now - bucket.updated) * this.#rate / 1000,
    );
    bucket.updated = now;
    return bucket;
  }

  /** Drops idle addresses; when none is idle, the stalest, summarised first so no count is lost. */
  #makeRoom(): void {
    this.#forgetIdle();
    if (this.#buckets.size < this.#maxAddresses) return;
    const [address, bucket] = this.#buckets.entries().next().value!;
    this.#summarise(address, bucket);
    this.#buckets.delete(address);
  }

  /** Forgets addresses whose allowance is whole again and that have nothing to summarise. */
  #forgetIdle(): void {
    const now = this.#now();
    for (const [address, bucket] of this.#buckets) {
      const tokens = bucket.tokens + (now - bucket.updated) * this.#rate / 1000;
      if (tokens >= this.#burst && bucket.since === undefined) this.#buckets.delete(address);
    }
  }

  #summarise(address: string, bucket: Bucket): void {
    if (bucket.since === undefined) return;
    const counts = bucket.suppressed;
    const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
    this.write({
      event: "suppressed",
      peer: address,
      suppressed: total,
      events: counts,
      since: new Date(bucket.since).toISOString(),
    });
    bucket.suppressed = {};
    bucket.since = undefined;
  }
}
