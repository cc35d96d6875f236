/**
 * Bounded waits for best-effort steps: a farewell frame, the drain of a
 * command's output, a session's last command.
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
 * import { settlesWithin } from "./deadline.ts";
 *
 * console.assert(await settlesWithin(Promise.resolve(), 10));
 * console.assert(!(await settlesWithin(new Promise(() => {}), 10)));
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
