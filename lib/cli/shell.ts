/**
 * `rexec shell`: the login shell of the server's account. On a terminal, an
 * interactive shell on a remote terminal, as `ssh HOST` gives; otherwise the
 * same shell without a terminal, reading the script piped into rexec, as
 * `ssh HOST < steps.sh` does.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import type { ShellConfig } from "./args.ts";
import { connectFromConfig } from "./connect.ts";
import { finishPiped } from "./terminal.ts";

/**
 * Runs the remote login shell until it exits.
 *
 * @returns the shell's exit status (N for `exit N`), 128+N when signal N
 * ended it, 124 when `--timeout` did, 255 after `~.`.
 * @throws {RexecError} for rexec's own failures; the caller exits 255.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it takes this process's terminal, or reads a script from its stdin.
 * import { parseCli } from "./args.ts";
 * import { runShell } from "./shell.ts";
 *
 * const config = parseCli(["shell", "build-box"]);
 * if (config.mode === "shell") Deno.exit(await runShell(config));
 * ```
 */
export async function runShell(config: ShellConfig): Promise<number> {
  await using client = await connectFromConfig(config);
  const options = {
    env: { ...config.env },
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    ...(config.timeout !== undefined ? { timeout: config.timeout } : {}),
  };
  if (Deno.stdin.isTerminal() && Deno.stdout.isTerminal()) {
    const { runOnTerminal } = await import("./pty_session.ts");
    return await runOnTerminal({
      start: (tty) => client.spawnLogin({ ...options, tty }),
      stdin: true,
      escape: !config.noEscape,
      where: client.where,
    });
  }
  return await finishPiped(client.spawnLogin({ ...options, stdin: "piped" }), { stdin: true });
}
