/**
 * The `rexec` command: parses the arguments and hands over to the mode.
 * The only place that calls `Deno.exit`.
 *
 * @module
 */

import { parseCli } from "./lib/cli/args.ts";
import { printError } from "./lib/cli/terminal.ts";
import { RexecError, UsageError } from "./lib/errors.ts";
import { EXIT_REXEC_FAILED } from "./lib/protocol/exit_status.ts";
import { VERSION } from "./lib/version.ts";

/**
 * Runs `rexec` with `args` (without the program name) and returns the exit
 * status.
 *
 * @example
 * ```ts ignore
 * import { main } from "./main.ts";
 *
 * const code = await main(["run", "localhost", "--", "true"]);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  try {
    const config = parseCli(args);
    // Each mode's code is loaded only when that mode runs, so a one-shot
    // `rexec run` does not pay at start-up for the server, TLS serving or
    // certificate making.
    switch (config.mode) {
      case "help": {
        const { helpText } = await import("./lib/cli/help.ts");
        console.log(helpText(config.topic));
        return 0;
      }
      case "version":
        console.log(`rexec ${VERSION}`);
        return 0;
      case "serve": {
        const { runServe } = await import("./lib/cli/serve.ts");
        return await runServe(config);
      }
      case "run": {
        const { runRemote } = await import("./lib/cli/run.ts");
        return await runRemote(config);
      }
      case "shell": {
        const { runShell } = await import("./lib/cli/shell.ts");
        return await runShell(config);
      }
      case "cp": {
        const { runCp } = await import("./lib/cli/cp.ts");
        return await runCp(config);
      }
      case "cert": {
        const { runCert } = await import("./lib/cli/cert.ts");
        return await runCert(config);
      }
    }
  } catch (error) {
    if (error instanceof RexecError) {
      // One line, as README promises, the pointer to help included.
      printError(
        `rexec: ${error.message}${error instanceof UsageError ? " (see rexec --help)" : ""}`,
      );
    } else {
      // Not an error rexec raises on purpose, so a bug or an environment
      // problem (a missing permission): show all of it, but still exit 255
      // so that scripts never mistake it for the remote command's status.
      printError(`rexec: unexpected error: ${(error as Error)?.stack ?? error}`);
    }
    return EXIT_REXEC_FAILED;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
