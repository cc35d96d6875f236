/**
 * `rexec run`: one command on a remote host, wired to local stdin, stdout
 * and stderr, exiting with the remote command's status.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import type { RemoteProcess, RemoteStatus } from "../client/remote_process.ts";
import type { RunConfig } from "./args.ts";
import { findDefaultInventory } from "../config/inventory_path.ts";
import { connectFromConfig } from "./connect.ts";
import { EXIT_NOT_FOUND } from "../protocol/exit_status.ts";
import { finishPiped } from "./terminal.ts";

/**
 * Runs the configured command and returns the exit status for rexec.
 *
 * @throws {RexecError} for rexec's own failures (token, connection,
 * authentication, protocol); the caller reports them and exits 255.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it copies this process's stdin and stdout, and exits with the status.
 * import { parseCli } from "./args.ts";
 * import { runRemote } from "./run.ts";
 *
 * const config = parseCli(["run", "localhost", "--", "uname", "-a"]);
 * if (config.mode === "run") Deno.exit(await runRemote(config));
 * ```
 */
export async function runRemote(config: RunConfig): Promise<number> {
  // The fleet code loads only for a fleet, or when an inventory may name the host.
  const defaultInventory = config.fleet ? undefined : await findDefaultInventory();
  if (config.fleet || defaultInventory !== undefined) {
    const { runFleet } = await import("./fleet.ts");
    return await runFleet(config, { single: runSingle, defaultInventory });
  }
  return await runSingle(config);
}

/**
 * Runs the configured command on its one host, `config.target`.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it copies this process's stdin and stdout, and exits with the status.
 * import { parseCli } from "./args.ts";
 * import { runSingle } from "./run.ts";
 *
 * const config = parseCli(["run", "localhost", "--", "uname", "-a"]);
 * if (config.mode === "run") Deno.exit(await runSingle(config));
 * ```
 */
export async function runSingle(config: RunConfig): Promise<number> {
  await using client = await connectFromConfig(config);
  const options = {
    env: { ...config.env },
    ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    ...(config.timeout !== undefined ? { timeout: config.timeout } : {}),
    stdin: config.noStdin ? "null" as const : "piped" as const,
  };
  if (config.tty) {
    const { runOnTerminal } = await import("./pty_session.ts");
    const { command } = config;
    return await runOnTerminal({
      start: (tty) =>
        "shell" in command
          ? client.spawnShell(command.shell, { ...options, tty })
          : client.spawn(command.argv, { ...options, tty }),
      stdin: !config.noStdin,
      escape: !config.noEscape,
      where: client.where,
    });
  }
  const child: RemoteProcess = "shell" in config.command
    ? client.spawnShell(config.command.shell, options)
    : client.spawn(config.command.argv, options);
  return await finishPiped(child, {
    stdin: !config.noStdin,
    hint: (status) => shellLineHint(config.command, status),
  });
}

/** Characters that mean something to a shell, and whitespace. */
const SHELL_SYNTAX = /[\s$`'"\\|&;<>()*?[\]{}~]/;

/**
 * When a whole shell command line was given as the program's name (`rexec
 * run HOST 'echo $HOME'`, as one would with ssh) and so was not found, how
 * to run it with the remote shell instead.
 */
function shellLineHint(command: RunConfig["command"], status: RemoteStatus): string {
  if (!("argv" in command) || command.argv.length !== 1) return "";
  if (status.code !== EXIT_NOT_FOUND || status.reason !== "spawn_failed") return "";
  const [line] = command.argv;
  if (!SHELL_SYNTAX.test(line)) return "";
  return `; to run a shell command line, give it with -c: -c '${line.replaceAll("'", "'\\''")}'`;
}
