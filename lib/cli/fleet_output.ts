/**
 * What `rexec run` prints when several hosts ran: whole lines written one
 * batch at a time, the `--collapse` blocks, the summary line, and the exit
 * status pssh would give.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { foldHostNames } from "../fleet/hostlist.ts";
import type { HostResult } from "../fleet/run_many.ts";
import {
  EXIT_FLEET_COMMAND_FAILED,
  EXIT_FLEET_KILLED,
  EXIT_FLEET_REXEC_FAILED,
} from "../protocol/exit_status.ts";
import { type ByteSink, writeAll } from "../transport/frame_writer.ts";
import { concatBytes } from "../util/bytes.ts";

const encoder = new TextEncoder();

/** The most bytes of whole lines joined into one write (one piece may be longer). */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * Bytes an {@link OutputChannel} takes before its writers wait: a host's
 * output is taken from its connection at once while the batch is smaller,
 * so that bytes do not pile up in every host's own buffers instead.
 */
const CHANNEL_BUDGET = 1024 * 1024;

/**
 * The live count kept under the output on a terminal: a line on stderr,
 * taken away before any output is written and drawn again after it. The
 * channels that share it write one at a time, so that the line is never
 * left in the middle of the output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutputChannel, StatusLine } from "./fleet_output.ts";
 *
 * let screen = "";
 * const terminal = {
 *   write(bytes: Uint8Array) {
 *     screen += new TextDecoder().decode(bytes);
 *     return Promise.resolve(bytes.length);
 *   },
 * };
 * let done = 0;
 * const status = new StatusLine(terminal, () => `[${done}/2 done]`);
 * const stdout = new OutputChannel(terminal, { status });
 * done = 1;
 * await stdout.write(new TextEncoder().encode("web1: up\n"));
 * await status.clear();
 * assert.equal(screen, "web1: up\n[1/2 done]\r\x1b[K");
 * ```
 */
export class StatusLine {
  readonly #out: ByteSink;
  readonly #render: () => string;
  #shown = false;
  #queue: Promise<void> = Promise.resolve();

  /** Draws `render()` on `out` (local stderr). */
  constructor(out: ByteSink, render: () => string) {
    this.#out = out;
    this.#render = render;
  }

  /** Runs `write` (which writes output) with the line taken away, then draws it again. */
  around(write: () => Promise<void>): Promise<void> {
    const turn = this.#queue.then(async () => {
      if (this.#shown) await writeAll(this.#out, encoder.encode("\r\x1b[K"));
      this.#shown = false;
      await write();
      await writeAll(this.#out, encoder.encode(this.#render()));
      this.#shown = true;
    });
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  /** Draws the line again, with the count as it is now. */
  refresh(): void {
    this.around(() => Promise.resolve()).catch(() => undefined);
  }

  /** Takes the line away for good. */
  async clear(): Promise<void> {
    const turn = this.#queue.then(async () => {
      if (this.#shown) await writeAll(this.#out, encoder.encode("\r\x1b[K"));
      this.#shown = false;
    });
    this.#queue = turn.catch(() => undefined);
    await turn.catch(() => undefined);
  }
}

/**
 * Takes writes one at a time: local stdout and stderr share one when they
 * are the same file (`2>&1`), so that a write to one, cut short by a full
 * pipe and finished later, is never mixed with a write to the other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WriteTurns } from "./fleet_output.ts";
 *
 * const turns = new WriteTurns();
 * const order: string[] = [];
 * const slow = turns.run(async () => {
 *   await new Promise((resolve) => setTimeout(resolve, 10));
 *   order.push("first");
 * });
 * const quick = turns.run(() => {
 *   order.push("second");
 *   return Promise.resolve();
 * });
 * await Promise.all([slow, quick]);
 * assert.deepEqual(order, ["first", "second"]);
 * ```
 */
export class WriteTurns {
  #queue: Promise<void> = Promise.resolve();

  /** Runs `write` once every write given before it has ended. */
  run(write: () => Promise<void>): Promise<void> {
    const turn = this.#queue.then(write);
    this.#queue = turn.catch(() => undefined);
    return turn;
  }
}

/**
 * One local output shared by many hosts: each `write` is a run of whole
 * lines that goes out in one piece, never torn by another host's. Writes
 * that arrive while one is under way go out together in the next; a write
 * resolves at once while few bytes wait, else once they have gone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutputChannel } from "./fleet_output.ts";
 *
 * const written: string[] = [];
 * const sink = {
 *   write(bytes: Uint8Array) {
 *     written.push(new TextDecoder().decode(bytes));
 *     return Promise.resolve(bytes.length);
 *   },
 * };
 * const channel = new OutputChannel(sink);
 * await Promise.all([
 *   channel.write(new TextEncoder().encode("a: 1\n")),
 *   channel.write(new TextEncoder().encode("b: 1\n")),
 * ]);
 * assert.equal(written.join(""), "a: 1\nb: 1\n");
 * ```
 */
export class OutputChannel {
  readonly #target: ByteSink;
  readonly #status: StatusLine | undefined;
  readonly #turns: WriteTurns | undefined;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Where a batch is put together, reused: a new buffer per batch would churn memory. */
  #batch: Uint8Array | undefined;
  #flushing: Promise<void> | undefined;
  #closed = false;
  #failure: Error | undefined;

  /**
   * Writes to `target`, keeping `status`, when given, under the output;
   * without a status line, writes take their `turns` when given.
   */
  constructor(target: ByteSink, options: { status?: StatusLine; turns?: WriteTurns } = {}) {
    this.#target = target;
    this.#status = options.status;
    this.#turns = options.turns;
  }

  /** Whether the reader of the output went away (a write failed with a broken pipe). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why a write failed otherwise (a full disk, an I/O error), if one did; nothing more is written then. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Queues `bytes` (whole lines; not to be changed after) and resolves at
   * once while few bytes wait, else once they were written.
   *
   * @throws {Deno.errors.BrokenPipe} once the output was closed.
   * @throws {Error} the {@link OutputChannel.failure}, once a write failed.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Deno.errors.BrokenPipe("output closed"));
    if (this.#failure) return Promise.reject(this.#failure);
    if (bytes.length === 0) return this.#flushing ?? Promise.resolve();
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    const flushing = this.#flushing ??= this.#flush();
    if (this.#pendingBytes <= CHANNEL_BUDGET) {
      // The flush reports a failure to whoever writes next, or to finish().
      flushing.catch(() => undefined);
      return Promise.resolve();
    }
    return flushing;
  }

  /** Resolves once everything queued was written (or could not be). */
  async finish(): Promise<void> {
    while (this.#flushing) await this.#flushing.catch(() => undefined);
  }

  async #flush(): Promise<void> {
    try {
      // Yield once, so that writes made in the same turn join this batch.
      await Promise.resolve();
      while (this.#pending.length > 0) {
        const parts = this.#pending;
        this.#pending = [];
        this.#pendingBytes = 0;
        // One turn for the whole batch: a write to the same file from the
        // other channel (2>&1) comes before or after it, never inside.
        const write = () => this.#writeParts(parts);
        if (this.#status) await this.#status.around(write);
        else if (this.#turns) await this.#turns.run(write);
        else await write();
      }
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe) this.#closed = true;
      else this.#failure ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      this.#flushing = undefined;
    }
  }

  /**
   * Writes `parts` in order, joined into writes of up to MAX_BATCH_BYTES
   * (whole parts each) in one reused buffer: one copy of a few hundred
   * hosts' output at once would double what the client holds.
   */
  async #writeParts(parts: readonly Uint8Array[]): Promise<void> {
    const batch = this.#batch ??= new Uint8Array(MAX_BATCH_BYTES);
    let filled = 0;
    for (const part of parts) {
      if (filled + part.length > batch.length && filled > 0) {
        await writeAll(this.#target, batch.subarray(0, filled));
        filled = 0;
      }
      if (part.length > batch.length) {
        await writeAll(this.#target, part);
        continue;
      }
      batch.set(part, filled);
      filled += part.length;
    }
    if (filled > 0) await writeAll(this.#target, batch.subarray(0, filled));
  }
}

/**
 * The status `rexec run` exits with when several hosts ran (pssh's): 0 when
 * every command exited 0; 3 when one was killed by a signal or timed out;
 * else 4 when rexec failed on a host; else 5 when a command exited non-zero.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fleetExitStatus } from "./fleet_output.ts";
 *
 * const ok = { exitCode: 0, signal: null, timedOut: false, error: null };
 * const down = { exitCode: null, signal: null, timedOut: false, error: "refused" };
 * assert.equal(fleetExitStatus([ok, ok]), 0);
 * assert.equal(fleetExitStatus([ok, { ...ok, exitCode: 2 }]), 5);
 * assert.equal(fleetExitStatus([down, { ...ok, exitCode: 2 }]), 4);
 * assert.equal(fleetExitStatus([down, { ...ok, exitCode: 124, timedOut: true }]), 3);
 * ```
 */
export function fleetExitStatus(
  results: Iterable<Pick<HostResult, "exitCode" | "signal" | "timedOut" | "error">>,
): number {
  let status = 0;
  for (const result of results) {
    if (result.signal !== null || result.timedOut) return EXIT_FLEET_KILLED;
    if (result.error !== null) status = EXIT_FLEET_REXEC_FAILED;
    else if (result.exitCode !== 0 && status === 0) status = EXIT_FLEET_COMMAND_FAILED;
  }
  return status;
}

/**
 * The one line shown on a terminal after several hosts ran, such as
 * `12 ok, 1 failed (exit 2): web3, 1 unreachable: db9`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summaryLine } from "./fleet_output.ts";
 *
 * const ok = { exitCode: 0, signal: null, timedOut: false, error: null };
 * const results = [
 *   ...["web1", "web2", "web4"].map((host) => ({ ...ok, host })),
 *   { ...ok, host: "web3", exitCode: 2 },
 *   { ...ok, host: "db9", exitCode: null, error: "cannot connect to db9:7022: connection refused" },
 * ];
 * assert.equal(summaryLine(results), "3 ok, 1 failed (exit 2): web3, 1 unreachable: db9");
 * ```
 */
export function summaryLine(
  results: Iterable<Pick<HostResult, "host" | "exitCode" | "signal" | "timedOut" | "error">>,
): string {
  const kinds = new Map<string, string[]>();
  let ok = 0;
  for (const result of results) {
    let kind: string;
    if (result.error !== null) {
      kind = result.error.startsWith("not started")
        ? "not started"
        : /cannot connect|no answer|lost|closed the connection/.test(result.error)
        ? "unreachable"
        : "failed (rexec)";
    } else if (result.timedOut) kind = "timed out";
    else if (result.signal !== null) kind = `killed (${result.signal})`;
    else if (result.exitCode !== 0) kind = `failed (exit ${result.exitCode})`;
    else {
      ok++;
      continue;
    }
    kinds.set(kind, [...(kinds.get(kind) ?? []), result.host]);
  }
  return [
    `${ok} ok`,
    ...[...kinds].map(([kind, hosts]) => `${hosts.length} ${kind}: ${foldHostNames(hosts)}`),
  ].join(", ");
}

/**
 * `--collapse`: each distinct output once, under a header naming the hosts
 * that wrote it (folded, `web[1-3,5]`), in the order first written; hosts
 * that wrote nothing are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collapseOutputs } from "./fleet_output.ts";
 *
 * const up = new TextEncoder().encode("up\n");
 * const text = new TextDecoder().decode(collapseOutputs([
 *   { host: "web1", output: up },
 *   { host: "web2", output: up },
 *   { host: "db1", output: new TextEncoder().encode("down") },
 * ]));
 * assert.equal(
 *   text,
 *   "---------------\nweb[1-2] (2)\n---------------\nup\n" +
 *     "---------------\ndb1\n---------------\ndown\n",
 * );
 * ```
 */
export function collapseOutputs(
  outputs: Iterable<{ readonly host: string; readonly output: Uint8Array }>,
): Uint8Array {
  // Outputs are told apart by their bytes, compared only within a bucket of
  // the same length and hash: no output is ever made one string, which could
  // be longer than a string may be.
  const buckets = new Map<string, { output: Uint8Array; hosts: string[] }[]>();
  const groups: { output: Uint8Array; hosts: string[] }[] = [];
  for (const { host, output } of outputs) {
    if (output.length === 0) continue;
    const key = `${output.length}:${hashBytes(output)}`;
    const bucket = buckets.get(key) ?? [];
    buckets.set(key, bucket);
    const group = bucket.find((group) => sameBytes(group.output, output));
    if (group) group.hosts.push(host);
    else {
      const created = { output, hosts: [host] };
      bucket.push(created);
      groups.push(created);
    }
  }
  const rule = "---------------\n";
  const parts: Uint8Array[] = [];
  for (const { output, hosts } of groups) {
    const count = hosts.length > 1 ? ` (${hosts.length})` : "";
    parts.push(encoder.encode(`${rule}${foldHostNames(hosts)}${count}\n${rule}`), output);
    if (output[output.length - 1] !== 0x0a) parts.push(encoder.encode("\n"));
  }
  return concatBytes(parts);
}

/** FNV-1a, 32 bits: enough to keep different outputs apart in most cases, cheaply. */
function hashBytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < bytes.length; index++) {
    hash = Math.imul(hash ^ bytes[index], 0x01000193);
  }
  return hash >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}
