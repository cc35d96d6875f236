/**
 * The exit statuses rexec reports, beside the remote command's own: the
 * server's, in the EXIT frame of a command it did not run or could not
 * start, and the client's, for what happened on its side. They follow the
 * shell's conventions (and coreutils `timeout`), so that a script reads a
 * status from rexec as it would one from a local command.
 *
 * One home for both sides: the server (which may not import the command
 * line) and the command line (which shows them in `--help`) use these, and
 * a test checks that `--help` and README list them all. Imports nothing.
 *
 * @module
 */

/**
 * `--timeout`, or the server's maximum run time, ended the command, as
 * coreutils `timeout` reports it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { serve } from "../server/server.ts";
 * import { exitCodeFor } from "../cli/terminal.ts";
 * import { EXIT_TIMED_OUT } from "./exit_status.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * // The server ends the command (it reports SIGTERM and the reason); the
 * // command line turns that reason into its status.
 * const status = await client.spawn(["sleep", "30"], { timeout: 0.2 }).status;
 * assert.equal(status.reason, "timeout");
 * assert.equal(exitCodeFor(status), EXIT_TIMED_OUT);
 * ```
 */
export const EXIT_TIMED_OUT = 124;

/**
 * The server refused to run the command: its policy does not allow it, or
 * the request is over a limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { EXIT_REFUSED } from "./exit_status.ts";
 * import { serve } from "../server/server.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * // The server's default policy refuses what could change the program run.
 * const status = await client.spawn(["true"], { env: { LD_PRELOAD: "/tmp/evil.so" } }).status;
 * assert.equal(status.code, EXIT_REFUSED);
 * assert.equal(status.reason, "refused");
 * ```
 */
export const EXIT_REFUSED = 125;

/**
 * The program exists but could not be executed, or the working directory
 * is unusable, as a shell reports it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { serve } from "../server/server.ts";
 * import { EXIT_CANNOT_EXECUTE } from "./exit_status.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const status = await client.spawn(["true"], { cwd: "/rexec/no/such/dir" }).status;
 * assert.equal(status.code, EXIT_CANNOT_EXECUTE);
 * ```
 */
export const EXIT_CANNOT_EXECUTE = 126;

/**
 * The program was not found, as a shell reports it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { serve } from "../server/server.ts";
 * import { EXIT_NOT_FOUND } from "./exit_status.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const status = await client.spawn(["rexec-no-such-program"]).status;
 * assert.equal(status.code, EXIT_NOT_FOUND);
 * ```
 */
export const EXIT_NOT_FOUND = 127;

/**
 * A process killed by signal N reports `EXIT_SIGNAL_BASE + N`.
 */
export const EXIT_SIGNAL_BASE = 128;

/**
 * The status a shell shows for a process killed by signal `signalNumber`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitStatusForSignal } from "./exit_status.ts";
 *
 * assert.equal(exitStatusForSignal(15), 143);
 * ```
 */
export function exitStatusForSignal(signalNumber: number): number {
  return EXIT_SIGNAL_BASE + signalNumber;
}

/**
 * Ctrl-C ended `rexec` (after it terminated the remote command): SIGINT,
 * signal 2, as a shell reports it.
 */
export const EXIT_INTERRUPTED: number = exitStatusForSignal(2);

/**
 * Local stdout or stderr was closed before the output ended, as for a
 * process killed by SIGPIPE, signal 13.
 */
export const EXIT_STDOUT_CLOSED: number = exitStatusForSignal(13);

/**
 * The largest exit status there is: a status is one byte.
 */
export const EXIT_STATUS_MAX = 255;

/**
 * rexec itself failed: usage, connection, TLS, authentication, protocol, a
 * server that shut down. The top status, as ssh gives for its own
 * failures.
 */
export const EXIT_REXEC_FAILED = 255;

/**
 * The server did not run the command because it already runs as many
 * commands as it allows: a failure of rexec's, not of the command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { EXIT_BUSY } from "./exit_status.ts";
 * import { serve } from "../server/server.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0, maxCommands: 1 });
 * const options = { hostname: "127.0.0.1", port: server.addr.port, token };
 * await using first = await connect(options);
 * await using second = await connect(options);
 *
 * const holder = first.spawnShell("echo started; exec sleep 60");
 * await holder.stdout.getReader().read(); // "started": it holds the server's one slot
 * const status = await second.spawn(["true"]).status;
 * assert.equal(status.code, EXIT_BUSY);
 * assert.equal(status.reason, "busy");
 * holder.cancel();
 * await holder.status;
 * ```
 */
export const EXIT_BUSY = 255;

/**
 * Several hosts ran (`rexec run TARGETS`), and on at least one the command
 * was killed by a signal or timed out: pssh's status for it.
 */
export const EXIT_FLEET_KILLED = 3;

/**
 * Several hosts ran, none was killed, and rexec itself failed on at least
 * one: unreachable, authentication, refused, connection lost.
 */
export const EXIT_FLEET_REXEC_FAILED = 4;

/** Several hosts ran, rexec failed on none, and at least one command exited non-zero. */
export const EXIT_FLEET_COMMAND_FAILED = 5;
