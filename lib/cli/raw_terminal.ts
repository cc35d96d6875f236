/**
 * The local terminal during an interactive session: raw mode, so that every
 * key goes to the remote terminal as it is typed, and its size.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import type { WindowSize } from "../protocol/messages.ts";

/** The size a terminal is given when there is no local one to measure, as ssh -tt does. */
export const DEFAULT_WINDOW_SIZE: WindowSize = { rows: 24, cols: 80 };

/**
 * Puts local stdin, a terminal, in raw mode until disposed: no echo, no line
 * editing, and Ctrl-C, Ctrl-Z and Ctrl-\\ are bytes rather than signals to
 * rexec. Output processing goes off too (`stty -opost`), which Deno's raw
 * mode leaves on: the remote terminal has already turned each newline into
 * CR LF where the program wanted it, and a full-screen program that moves
 * the cursor down with a bare LF must not have it turned into CR LF again
 * here. Disposing restores the modes the terminal had, whichever way the
 * session ends; so does Deno when the process exits with the terminal
 * still raw.
 *
 * @param warn told when output processing could not be turned off (no
 * stty); the session goes on with it.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: the test runner's stdin is no terminal.
 * import { rawMode } from "./raw_terminal.ts";
 *
 * {
 *   using _raw = rawMode((message) => console.error(message));
 *   // ... every key reaches Deno.stdin.read() as typed
 * } // the terminal is as it was
 * ```
 */
export function rawMode(warn: (message: string) => void): Disposable {
  // cbreak: false: Ctrl-C must reach the remote terminal as a byte.
  Deno.stdin.setRaw(true, { cbreak: false });
  // A Windows console has no termios, and so no stty.
  if (Deno.build.os !== "windows") turnOffOutputProcessing(warn);
  return {
    [Symbol.dispose]() {
      // Back to the modes saved at setRaw(true), output processing included.
      Deno.stdin.setRaw(false);
    },
  };
}

function turnOffOutputProcessing(warn: (message: string) => void): void {
  try {
    const { success, stderr } = new Deno.Command("stty", {
      args: ["-opost"],
      stdin: "inherit",
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (!success) warn(`stty -opost failed: ${new TextDecoder().decode(stderr).trim()}`);
  } catch (error) {
    warn(`cannot run stty -opost: ${(error as Error).message}`);
  }
}

/**
 * The size of the local terminal, or {@link DEFAULT_WINDOW_SIZE} when
 * neither stdin, stdout nor stderr is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localWindowSize } from "./raw_terminal.ts";
 *
 * const { rows, cols } = localWindowSize();
 * assert.ok(rows > 0 && cols > 0);
 * ```
 */
export function localWindowSize(): WindowSize {
  const streams = [Deno.stdin, Deno.stdout, Deno.stderr];
  if (!streams.some((stream) => stream.isTerminal())) return DEFAULT_WINDOW_SIZE;
  const { columns, rows } = Deno.consoleSize();
  // A terminal that reports no size (a serial line, some emulators) gets the default.
  return columns > 0 && rows > 0 ? { rows, cols: columns } : DEFAULT_WINDOW_SIZE;
}
