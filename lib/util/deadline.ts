/**
 * Bounded waits for best-effort steps: a farewell frame, the drain of a
 * command's output, a session's last command.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * Waits for `promise` at most `ms` milliseconds. A rejection counts as
 * settled: callers use this for steps whose failure is handled where the
 * promise was made, or does not matter because a connection is closing.
 *
 * @returns whether the promise settled in time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settlesWithin } from "./deadline.ts";
 *
 * assert.equal(await settlesWithin(Promise.resolve(), 10), true);
 * assert.equal(await settlesWithin(Promise.reject(new Error("lost")), 10), true);
 * assert.equal(await settlesWithin(new Promise(() => {}), 10), false);
 * ```
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason once
 * `signal` aborts (at once when it already has).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep } from "./deadline.ts";
 *
 * await sleep(1);
 * await assert.rejects(sleep(60_000, AbortSignal.abort(new Error("stop"))), /stop/);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
