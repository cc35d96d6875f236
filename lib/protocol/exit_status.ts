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
 * import { EXIT_TIMED_OUT } from "./exit_status.ts";
 *
 * assert.ok(EXIT_TIMED_OUT < 128, "a timeout is not mistaken for a signal");
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
 * import { EXIT_NOT_FOUND, EXIT_REFUSED } from "./exit_status.ts";
 *
 * assert.notEqual(EXIT_REFUSED, EXIT_NOT_FOUND);
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
 * import { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND } from "./exit_status.ts";
 *
 * assert.equal(EXIT_NOT_FOUND - EXIT_CANNOT_EXECUTE, 1);
 * ```
 */
export const EXIT_CANNOT_EXECUTE = 126;

/**
 * The program was not found, as a shell reports it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_NOT_FOUND, exitStatusForSignal } from "./exit_status.ts";
 *
 * assert.ok(EXIT_NOT_FOUND < exitStatusForSignal(1));
 * ```
 */
export const EXIT_NOT_FOUND = 127;

/**
 * A process killed by signal N reports `EXIT_SIGNAL_BASE + N`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_SIGNAL_BASE, exitStatusForSignal } from "./exit_status.ts";
 *
 * assert.equal(exitStatusForSignal(9), EXIT_SIGNAL_BASE + 9);
 * ```
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
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_INTERRUPTED, exitStatusForSignal } from "./exit_status.ts";
 *
 * assert.equal(EXIT_INTERRUPTED, exitStatusForSignal(2));
 * ```
 */
export const EXIT_INTERRUPTED: number = exitStatusForSignal(2);

/**
 * Local stdout or stderr was closed before the output ended, as for a
 * process killed by SIGPIPE, signal 13.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_STDOUT_CLOSED, exitStatusForSignal } from "./exit_status.ts";
 *
 * assert.equal(EXIT_STDOUT_CLOSED, exitStatusForSignal(13));
 * ```
 */
export const EXIT_STDOUT_CLOSED: number = exitStatusForSignal(13);

/**
 * The largest exit status there is: a status is one byte.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_STATUS_MAX } from "./exit_status.ts";
 *
 * assert.equal(EXIT_STATUS_MAX, 0b1111_1111);
 * ```
 */
export const EXIT_STATUS_MAX = 255;

/**
 * rexec itself failed: usage, connection, TLS, authentication, protocol, a
 * server that shut down. The top status, as ssh gives for its own
 * failures.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_REXEC_FAILED, EXIT_STATUS_MAX } from "./exit_status.ts";
 *
 * assert.equal(EXIT_REXEC_FAILED, EXIT_STATUS_MAX);
 * ```
 */
export const EXIT_REXEC_FAILED = 255;

/**
 * The server did not run the command because it already runs as many
 * commands as it allows: a failure of rexec's, not of the command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_BUSY, EXIT_REXEC_FAILED } from "./exit_status.ts";
 *
 * assert.equal(EXIT_BUSY, EXIT_REXEC_FAILED);
 * ```
 */
export const EXIT_BUSY = 255;
