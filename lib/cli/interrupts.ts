/**
 * Watching for the signals that ask an interactive program to stop.
 *
 * @module
 */

import { exitStatusForSignal } from "../protocol/exit_status.ts";

/** Signals a client treats as "stop": Ctrl-C, a terminal hang-up, a kill. */
const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM", "SIGHUP"];

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGTERM: 15,
};

/**
 * The exit status a process killed by one of the stop signals reports, as a
 * shell shows it: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.
 *
 * @example
 * ```ts
 * import { exitCodeForSignal } from "./interrupts.ts";
 *
 * console.assert(exitCodeForSignal("SIGINT") === 130);
 * ```
 */
export function exitCodeForSignal(signal: Deno.Signal): number {
  return exitStatusForSignal(SIGNAL_NUMBERS[signal] ?? 0);
}

/**
 * Calls `handler` with each stop signal received (and how many have come so
 * far) until disposed. While installed, the signals no longer end the
 * process by default.
 *
 * @example
 * ```ts ignore
 * import { watchInterrupts } from "./interrupts.ts";
 *
 * using _ = watchInterrupts((signal, count) => console.error(signal, count));
 * ```
 */
export function watchInterrupts(
  handler: (signal: Deno.Signal, count: number) => void,
): Disposable {
  let count = 0;
  const listeners = STOP_SIGNALS.map((signal) => {
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
