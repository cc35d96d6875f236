/**
 * `rexec shell`: a prompt that runs line after line through the remote
 * shell on one connection. Reads a script from a pipe just as well.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import type { RemoteProcess } from "../client/remote_process.ts";
import { writeStderr } from "../util/stderr.ts";
import type { ShellConfig } from "./args.ts";
import { connectFromConfig } from "./connect.ts";
import { exitCodeForSignal, watchInterrupts } from "./interrupts.ts";
import { readLines } from "./lines.ts";
import { EXIT_STDOUT_CLOSED } from "../protocol/exit_status.ts";
import { describeStatus, exitCodeFor, forwardOutput, printError } from "./terminal.ts";

const encoder = new TextEncoder();

/**
 * Runs the prompt loop until `exit`, `quit` or end of input.
 *
 * @returns the last command's exit status, N for `exit N`, or 128+N when
 * signal N (SIGTERM, SIGHUP) ended the shell.
 * @throws {RexecError} for rexec's own failures; the caller exits 255.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it reads commands from this process's stdin, a terminal, and exits.
 * import { parseCli } from "./args.ts";
 * import { runShell } from "./shell.ts";
 *
 * const config = parseCli(["shell", "build-box"]);
 * if (config.mode === "shell") Deno.exit(await runShell(config));
 * ```
 */
export async function runShell(config: ShellConfig): Promise<number> {
  await using client = await connectFromConfig(config);
  const interactive = Deno.stdin.isTerminal();
  const prompt = encoder.encode(`rexec ${client.where}> `);
  const showPrompt = () => {
    if (interactive) writeStderr(prompt);
  };

  let running: RemoteProcess | undefined;
  let stoppedBy: Deno.Signal | undefined;
  const stop = Promise.withResolvers<undefined>();
  using _interrupts = watchInterrupts((signal) => {
    if (signal !== "SIGINT") {
      // A hang-up or kill ends the shell, and the running command with it.
      stoppedBy ??= signal;
      running?.cancel();
      stop.resolve(undefined);
    } else if (running) {
      running.cancel();
    } else {
      // Ctrl-C at the prompt drops the line being typed, as in a shell.
      printError("");
      showPrompt();
    }
  });

  let lastCode = 0;
  showPrompt();
  const lines = readLines(Deno.stdin.readable);
  for (;;) {
    const next = await Promise.race([lines.next(), stop.promise]);
    if (stoppedBy) return exitCodeForSignal(stoppedBy);
    if (next === undefined || next.done) break;
    const command = next.value.trim();
    const exit = /^exit(?:\s+(\d+))?$/.exec(command);
    if (exit) return exit[1] === undefined ? lastCode : Number(exit[1]) & 0xff;
    if (command === "quit") return lastCode;
    if (command === "") {
      showPrompt();
      continue;
    }
    running = client.spawnShell(command, {
      env: { ...config.env },
      ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
      ...(config.timeout !== undefined ? { timeout: config.timeout } : {}),
      stdin: "null",
    });
    const [closedEarly, status] = await Promise.all([forwardOutput(running), running.status]);
    running = undefined;
    if (stoppedBy) return exitCodeForSignal(stoppedBy);
    if (closedEarly) return EXIT_STDOUT_CLOSED;
    lastCode = exitCodeFor(status);
    const description = describeStatus(status);
    if (description !== undefined) printError(`[${description}]`);
    showPrompt();
  }
  if (interactive) printError("");
  return lastCode;
}
