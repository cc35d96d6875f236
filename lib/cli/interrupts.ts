/**
 * Watching for the signals that ask an interactive program to stop.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { exitStatusForSignal } from "../protocol/exit_status.ts";

/** Signals a client treats as "stop": Ctrl-C, a terminal hang-up, a kill. */
const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * The stop signals of a session on a remote terminal. With the local
 * terminal raw, SIGQUIT comes only from a kill, never from Ctrl-\ (a byte
 * then); left to its default it would end rexec with the terminal still raw.
 */
const TERMINAL_STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? STOP_SIGNALS
  : [...STOP_SIGNALS, "SIGQUIT"];

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
};

/**
 * The exit status a process killed by one of the stop signals reports, as a
 * shell shows it: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 131 for
 * SIGQUIT.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitCodeForSignal } from "./interrupts.ts";
 *
 * assert.equal(exitCodeForSignal("SIGINT"), 130);
 * assert.equal(exitCodeForSignal("SIGTERM"), 143);
 * assert.equal(exitCodeForSignal("SIGHUP"), 129);
 * assert.equal(exitCodeForSignal("SIGQUIT"), 131);
 * ```
 */
export function exitCodeForSignal(signal: Deno.Signal): number {
  return exitStatusForSignal(SIGNAL_NUMBERS[signal] ?? 0);
}

/**
 * Calls `handler` with each stop signal received (and how many have come so
 * far) until disposed. While installed, the signals no longer end the
 * process by default. With `terminal`, for a session whose local terminal is
 * raw, SIGQUIT is one of them too.
 *
 * @example Cancelling at the first Ctrl-C, giving up at the second
 * ```ts ignore
 * // Not run as a test: it waits for a signal sent to this process, the test runner.
 * import { exitCodeForSignal, watchInterrupts } from "./interrupts.ts";
 *
 * using _interrupts = watchInterrupts((signal, count) => {
 *   if (count === 1) child.cancel(); // child: the RemoteProcess running
 *   else Deno.exit(exitCodeForSignal(signal));
 * });
 * ```
 */
export function watchInterrupts(
  handler: (signal: Deno.Signal, count: number) => void,
  options: { terminal?: boolean } = {},
): Disposable {
  let count = 0;
  const signals = options.terminal ? TERMINAL_STOP_SIGNALS : STOP_SIGNALS;
  const listeners = signals.map((signal) => {
    const listener = () => handler(signal, ++count);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return {
    [Symbol.dispose]() {
      for (const [signal, listener] of listeners) {
        Deno.removeSignalListener(signal, listener);
      }
    },
  };
}
