/**
 * What `run` and `shell` share: carrying a remote command's output to the
 * local terminal or pipe, and saying how a command ended.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import type { PushedByteStream } from "../client/pushed_stream.ts";
import {
  outputQueue,
  type RemoteProcess,
  type RemoteStatus,
  stdinSink,
} from "../client/remote_process.ts";
import { EXIT_REXEC_FAILED, EXIT_STDOUT_CLOSED, EXIT_TIMED_OUT } from "../protocol/exit_status.ts";
import { type ByteSink, writeAll } from "../transport/frame_writer.ts";
import { writeStderr } from "../util/stderr.ts";
import { exitCodeForSignal, watchInterrupts } from "./interrupts.ts";

const encoder = new TextEncoder();

/** Bytes of local stdin read at a time. */
const STDIN_CHUNK = 64 * 1024;

/**
 * Writes a line to local stderr, for rexec's own messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * // In a child process, so that what it writes to stderr can be read back.
 * const script = `
 *   import { printError } from "${import.meta.resolve("./terminal.ts")}";
 *   printError("rexec: connection refused");
 * `;
 * const { success, stderr } = await new Deno.Command(Deno.execPath(), {
 *   args: ["eval", script],
 *   stdout: "null",
 *   stderr: "piped",
 * }).output();
 * assert.ok(success);
 * assert.equal(new TextDecoder().decode(stderr), "rexec: connection refused\n");
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
 * @example How `rexec run` ends: the output, then the exit status
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { serve } from "../server/server.ts";
 * import { exitCodeFor, forwardOutput } from "./terminal.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * // A command that writes nothing, so that the test's own output stays clean.
 * const child = client.spawnShell("exit 3");
 * const closedEarly = await forwardOutput(child);
 * assert.equal(closedEarly, false);
 * assert.equal(exitCodeFor(await child.status), 3);
 * ```
 */
export async function forwardOutput(child: RemoteProcess): Promise<boolean> {
  let closedEarly = false;
  const forward = async (source: PushedByteStream, target: ByteSink) => {
    try {
      await copyBatched(source, target);
    } catch (error) {
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
      closedEarly = true;
      child.cancel();
    }
  };
  await Promise.all([
    forward(outputQueue(child, "stdout"), Deno.stdout),
    forward(outputQueue(child, "stderr"), Deno.stderr),
  ]);
  return closedEarly;
}

/**
 * Copies `source` to `target`, each write taking everything that came since
 * the last one began: local stdout and stderr cost a hop to a worker thread
 * per write, so output that arrives while a write runs goes out together in
 * the next. The target is never closed, so that rexec's own messages can
 * follow; when a write fails, the source is cancelled and the error rethrown.
 */
async function copyBatched(source: PushedByteStream, target: ByteSink): Promise<void> {
  for (let bytes = await source.take(); bytes !== null; bytes = await source.take()) {
    try {
      await writeAll(target, bytes);
    } catch (error) {
      // The source may have failed as well (the connection went down); the
      // local write's failure is the one this copy reports.
      source.cancel();
      throw error;
    }
  }
}

/**
 * Forwards local stdin to the command, end of file included. Stops quietly
 * when the command ends first: whatever it did not read is not needed.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it reads this process's stdin, which may be a terminal.
 * import { forwardOutput, forwardStdin } from "./terminal.ts";
 *
 * const child = client.spawn(["sort"], { stdin: "piped" }); // client: a connected Client
 * forwardStdin(child);
 * await forwardOutput(child);
 * ```
 */
export function forwardStdin(child: RemoteProcess): void {
  copyStdin(stdinSink(child)).catch((error) => {
    if (!(error instanceof Deno.errors.BrokenPipe)) {
      printError(`rexec: reading local stdin failed: ${(error as Error).message}`);
      child.cancel();
    }
  });
}

/**
 * Copies local stdin to `sink` until end of file, reading straight into one
 * buffer (a write resolves once its bytes were sent).
 */
async function copyStdin(
  sink: { write(bytes: Uint8Array): Promise<void>; close(): void },
): Promise<void> {
  const buffer = new Uint8Array(STDIN_CHUNK);
  for (let count = await Deno.stdin.read(buffer); count !== null;) {
    if (count > 0) await sink.write(buffer.subarray(0, count));
    count = await Deno.stdin.read(buffer);
  }
  sink.close();
}

/**
 * The exit status `rexec run` reports for a remote command's status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitCodeFor } from "./terminal.ts";
 *
 * // Ended by --timeout: 124, as coreutils timeout says.
 * const timedOut = { success: false, code: 143, signal: "SIGTERM", reason: "timeout" } as const;
 * assert.equal(exitCodeFor(timedOut), 124);
 * assert.equal(exitCodeFor({ success: false, code: 42, signal: null }), 42);
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
 * import assert from "node:assert/strict";
 * import { describeStatus } from "./terminal.ts";
 *
 * assert.equal(describeStatus({ success: true, code: 0, signal: null }), undefined);
 * assert.equal(describeStatus({ success: false, code: 3, signal: null }), "exit 3");
 * const killed = { success: false, code: 137, signal: "SIGKILL" } as const;
 * assert.equal(describeStatus(killed), "killed by SIGKILL");
 * ```
 */
export function describeStatus(status: RemoteStatus): string | undefined {
  if (status.message !== undefined) return status.message;
  if (status.signal !== null) return `killed by ${status.signal}`;
  if (status.code !== 0) return `exit ${status.code}`;
  return undefined;
}

/**
 * Sees a remote command without a terminal through to its end: its output
 * to local stdout and stderr, local stdin to it when `stdin` says so, the
 * first stop signal ending it cleanly and a second leaving at once.
 *
 * @returns the exit status for rexec: the command's, 128+N after signal N,
 * 141 when local stdout closed early.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it copies this process's stdin and stdout.
 * import { connect } from "../client/client.ts";
 * import { finishPiped } from "./terminal.ts";
 *
 * await using client = await connect({ hostname: "web1", port: 7022, token: "secret" });
 * Deno.exitCode = await finishPiped(client.spawn(["uptime"]), { stdin: false });
 * ```
 */
export async function finishPiped(
  child: RemoteProcess,
  options: { stdin: boolean; hint?: (status: RemoteStatus) => string },
): Promise<number> {
  let interrupted: Deno.Signal | undefined;
  const forced = Promise.withResolvers<number>();
  using _interrupts = watchInterrupts((signal, count) => {
    interrupted ??= signal;
    // First signal: end the remote command cleanly and report how. A second
    // one means the user will not wait; the server still ends the command
    // when the connection drops.
    if (count === 1) child.cancel();
    else forced.resolve(exitCodeForSignal(interrupted));
  });

  if (options.stdin) forwardStdin(child);
  const finished = Promise.all([forwardOutput(child), child.status]);
  const outcome = await Promise.race([finished, forced.promise]);
  if (typeof outcome === "number") return outcome;
  const [closedEarly, status] = outcome;
  if (interrupted) return exitCodeForSignal(interrupted);
  if (closedEarly) return EXIT_STDOUT_CLOSED;
  if (status.reason !== undefined && status.reason !== "cancelled" && status.message) {
    printError(`rexec: ${status.message}${options.hint?.(status) ?? ""}`);
  }
  return exitCodeFor(status);
}
