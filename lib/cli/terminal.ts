/**
 * What `run` and `shell` share: carrying a remote command's output to the
 * local terminal or pipe, and saying how a command ended.
 *
 * @module
 */

import type { RemoteProcess, RemoteStatus } from "../client/remote_process.ts";
import { writeStderr } from "../util/stderr.ts";

/** Exit status when local stdout was closed under us, as for a process killed by SIGPIPE. */
export const EXIT_STDOUT_CLOSED = 141;

/** Exit status for rexec's own failures. */
export const EXIT_REXEC_FAILED = 255;

/** Exit status when `--timeout` ended the command, as coreutils `timeout`. */
export const EXIT_TIMED_OUT = 124;

const encoder = new TextEncoder();

/**
 * Most bytes written to local stdout or stderr in one call. Each write to
 * them costs a hop to a worker thread, so whatever output queued up while
 * the last write ran goes out together in the next.
 */
const WRITE_BATCH_SIZE = 1024 * 1024;

/**
 * Writes a line to local stderr, for rexec's own messages.
 *
 * @example
 * ```ts ignore
 * import { printError } from "./terminal.ts";
 *
 * printError("rexec: connection refused");
 * ```
 */
export function printError(line: string): void {
  writeStderr(encoder.encode(`${line}\n`));
}

/**
 * Streams the command's stdout and stderr to the local ones until both end.
 * When the local side is closed (the reader of a pipeline went away), the
 * command is cancelled, as SIGPIPE would stop a local one.
 *
 * @returns whether local stdout or stderr was closed before the output ended.
 *
 * @example
 * ```ts ignore
 * import { forwardOutput } from "./terminal.ts";
 *
 * const closedEarly = await forwardOutput(child);
 * ```
 */
export async function forwardOutput(child: RemoteProcess): Promise<boolean> {
  let closedEarly = false;
  const forward = async (
    source: ReadableStream<Uint8Array>,
    target: LocalOutput,
  ) => {
    try {
      await copyBatched(source, target);
    } catch (error) {
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
      closedEarly = true;
      child.cancel();
    }
  };
  await Promise.all([
    forward(child.stdout, Deno.stdout),
    forward(child.stderr, Deno.stderr),
  ]);
  return closedEarly;
}

/** Local stdout or stderr: a write may take only part of what it is given. */
interface LocalOutput {
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Copies `source` to `target` in batches of what has queued up. The target
 * is never closed, so that rexec's own messages can follow; when a write
 * fails, the source is cancelled and the error rethrown.
 */
async function copyBatched(source: ReadableStream<Uint8Array>, target: LocalOutput): Promise<void> {
  const reader = source.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(WRITE_BATCH_SIZE);
  try {
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(buffer));
      if (value === undefined) return;
      buffer = value.buffer as ArrayBuffer;
      try {
        for (let offset = 0; offset < value.length;) {
          offset += await target.write(value.subarray(offset));
        }
      } catch (error) {
        // The source may have failed as well (the connection went down);
        // the local write's failure is the one this copy reports.
        await reader.cancel(error).catch(() => {});
        throw error;
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Forwards local stdin to the command, end of file included. Stops quietly
 * when the command ends first: whatever it did not read is not needed.
 *
 * @example
 * ```ts ignore
 * import { forwardStdin } from "./terminal.ts";
 *
 * forwardStdin(child);
 * ```
 */
export function forwardStdin(child: RemoteProcess): void {
  Deno.stdin.readable.pipeTo(child.stdin).catch((error) => {
    if (!(error instanceof Deno.errors.BrokenPipe)) {
      printError(`rexec: reading local stdin failed: ${(error as Error).message}`);
      child.cancel();
    }
  });
}

/**
 * The exit status `rexec run` reports for a remote command's status.
 *
 * @example
 * ```ts
 * import { exitCodeFor } from "./terminal.ts";
 *
 * console.assert(exitCodeFor({ success: false, code: 143, signal: "SIGTERM", reason: "timeout" }) === 124);
 * console.assert(exitCodeFor({ success: false, code: 42, signal: null }) === 42);
 * ```
 */
export function exitCodeFor(status: RemoteStatus): number {
  switch (status.reason) {
    case "timeout":
      return EXIT_TIMED_OUT;
    case "shutdown":
      return EXIT_REXEC_FAILED;
    default:
      return status.code;
  }
}

/**
 * One line about how a command ended, for the user; undefined for success.
 *
 * @example
 * ```ts
 * import { describeStatus } from "./terminal.ts";
 *
 * console.assert(describeStatus({ success: false, code: 3, signal: null }) === "exit 3");
 * console.assert(describeStatus({ success: false, code: 137, signal: "SIGKILL" }) === "killed by SIGKILL");
 * ```
 */
export function describeStatus(status: RemoteStatus): string | undefined {
  if (status.message !== undefined) return status.message;
  if (status.signal !== null) return `killed by ${status.signal}`;
  if (status.code !== 0) return `exit ${status.code}`;
  return undefined;
}
