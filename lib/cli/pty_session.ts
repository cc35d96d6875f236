/**
 * An interactive session on a remote terminal: `rexec run -t` and the
 * interactive `rexec shell`. The local terminal goes raw for the session,
 * so that each key reaches the remote terminal as typed (Ctrl-C included,
 * which the remote terminal turns into SIGINT there); its size follows the
 * local window; `~.` at the start of a line ends the session. Whichever way
 * the session ends, the local terminal is restored before rexec says
 * anything or exits.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import {
  DEFAULT_TERM,
  outputQueue,
  type RemoteProcess,
  type RemoteStatus,
  type SpawnOptions,
  stdinSink,
} from "../client/remote_process.ts";
import { EXIT_REXEC_FAILED, EXIT_STDOUT_CLOSED } from "../protocol/exit_status.ts";
import { EscapeFilter } from "./escape.ts";
import { exitCodeForSignal, watchInterrupts } from "./interrupts.ts";
import { DEFAULT_WINDOW_SIZE, localWindowSize, rawMode } from "./raw_terminal.ts";
import { exitCodeFor, printError } from "./terminal.ts";

/** Bytes of local stdin read at a time: keys come a few at a time, pastes in bursts. */
const KEYS_CHUNK = 16 * 1024;

/**
 * Output up to this size is written to a local terminal with one synchronous
 * call. Deno's asynchronous write hands each write to a thread of its own
 * and wakes the event loop when it is done: a hop of tens of microseconds on
 * the path of every echoed key (see {@link copyOutput}). Larger output, a
 * flood, is written asynchronously, so that a terminal slow to take it never
 * stalls the event loop for long.
 */
const SYNC_WRITE_LIMIT = 4 * 1024;

/** How an interactive session is set up. */
export interface TerminalSessionOptions {
  /** Starts the remote command with the terminal asked for. */
  readonly start: (tty: NonNullable<SpawnOptions["tty"]>) => RemoteProcess;
  /** Whether local stdin is sent to the command; false for `run -n`. */
  readonly stdin: boolean;
  /** Whether `~.` and `~~` are escapes (`--no-escape` turns them off). */
  readonly escape: boolean;
  /** The server, for the message `~.` leaves. */
  readonly where: string;
}

/** How a session ended, for {@link runOnTerminal} to report once the terminal is restored. */
type Ending =
  | { readonly kind: "status"; readonly status: RemoteStatus; readonly closedEarly: boolean }
  | { readonly kind: "escape" }
  | { readonly kind: "signal"; readonly signal: Deno.Signal };

/**
 * Runs the session to its end and returns rexec's exit status: the remote
 * command's, 128+N for signal N, 124 for a timeout, 255 after `~.` or for
 * rexec's own failures (which are thrown, the terminal restored).
 *
 * When local stdin is not a terminal (`rexec run -t` in a pipeline, as
 * `ssh -tt`), the remote terminal is 80x24, nothing is made raw, there is
 * no escape, and the end of local stdin types Ctrl-D. Without `stdin`
 * (`run -n`) the local terminal is not made raw either, so that Ctrl-C
 * ends the session as it does in pipe mode.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it takes over this process's terminal.
 * import { runOnTerminal } from "./pty_session.ts";
 *
 * const code = await runOnTerminal({
 *   start: (tty) => client.spawn(["top"], { tty }), // client: a connected Client
 *   stdin: true,
 *   escape: true,
 *   where: client.where,
 * });
 * ```
 */
export async function runOnTerminal(options: TerminalSessionOptions): Promise<number> {
  const ending = await runSession(options);
  switch (ending.kind) {
    case "escape":
      printError(`rexec: session to ${options.where} ended (~.)`);
      return EXIT_REXEC_FAILED;
    case "signal":
      return exitCodeForSignal(ending.signal);
    case "status": {
      const { status } = ending;
      if (ending.closedEarly) return EXIT_STDOUT_CLOSED;
      if (status.reason !== undefined && status.reason !== "cancelled" && status.message) {
        printError(`rexec: ${status.message}`);
      }
      return exitCodeFor(status);
    }
  }
}

/** The session itself, with the terminal raw; it is restored when this returns or throws. */
async function runSession(options: TerminalSessionOptions): Promise<Ending> {
  const interactive = Deno.stdin.isTerminal();
  const child = options.start({
    ...(interactive ? localWindowSize() : DEFAULT_WINDOW_SIZE),
    term: localTerm(),
  });
  // Without keys to send (run -n), the terminal stays cooked: raw, Ctrl-C
  // would be a byte nobody reads, and the session could not be left.
  const raw = interactive && options.stdin;
  using _raw = raw
    ? rawMode((problem) => printError(`rexec: warning: ${problem}; lines may show doubled ends`))
    : undefined;
  using _window = interactive ? followWindowSize(child) : undefined;

  const forced = Promise.withResolvers<Ending>();
  let signalled: Deno.Signal | undefined;
  // Raw, the terminal sends Ctrl-C as a byte; a signal comes from elsewhere
  // (kill, a hang-up). The first ends the remote command cleanly, a second
  // leaves at once: the server ends the command when the connection drops.
  using _interrupts = watchInterrupts((signal, count) => {
    signalled ??= signal;
    if (count === 1) child.cancel();
    else forced.resolve({ kind: "signal", signal: signalled });
  }, { terminal: raw });
  if (options.stdin) {
    const escapes = interactive && options.escape ? new EscapeFilter() : undefined;
    sendKeys(child, escapes, () => forced.resolve({ kind: "escape" }));
  }
  const finished = Promise.all([copyOutput(child), child.status]).then((
    [closedEarly, status],
  ): Ending =>
    signalled ? { kind: "signal", signal: signalled } : { kind: "status", status, closedEarly }
  );
  return await Promise.race([finished, forced.promise]);
}

/** The local `TERM`, as ssh passes it; {@link DEFAULT_TERM} when unset or unreadable. */
function localTerm(): string {
  const readable = Deno.permissions.querySync({ name: "env", variable: "TERM" }).state ===
    "granted";
  const term = readable ? Deno.env.get("TERM") : undefined;
  return term !== undefined && /^[A-Za-z0-9._+-]{1,64}$/.test(term) ? term : DEFAULT_TERM;
}

/**
 * Sends the local window's size on each SIGWINCH, until disposed. Windows
 * has no SIGWINCH: there the remote terminal keeps the size it started with.
 */
function followWindowSize(child: RemoteProcess): Disposable | undefined {
  if (Deno.build.os === "windows") return undefined;
  const listener = () => child.resize(localWindowSize());
  Deno.addSignalListener("SIGWINCH", listener);
  return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGWINCH", listener) };
}

/**
 * Forwards local stdin to the remote terminal through the escape filter,
 * until `~.`, the end of stdin (sent as Ctrl-D) or the command's end.
 */
function sendKeys(
  child: RemoteProcess,
  escapes: EscapeFilter | undefined,
  onEscape: () => void,
): void {
  const sink = stdinSink(child);
  (async () => {
    const buffer = new Uint8Array(KEYS_CHUNK);
    for (let count = await Deno.stdin.read(buffer); count !== null;) {
      const keys = buffer.subarray(0, count);
      const { send, disconnect } = escapes ? escapes.take(keys) : { send: keys, disconnect: false };
      if (send.length > 0) await sink.write(send);
      if (disconnect) return onEscape();
      count = await Deno.stdin.read(buffer);
    }
    sink.close();
  })().catch((error) => {
    // The command ended first: what it did not read is not needed.
    if (error instanceof Deno.errors.BrokenPipe) return;
    printError(`rexec: reading local stdin failed: ${(error as Error).message}`);
    child.cancel();
  });
}

/**
 * Copies what the terminal shows to local stdout.
 *
 * @returns whether local stdout was closed before the output ended; the
 * command is then cancelled, as in pipe mode.
 */
async function copyOutput(child: RemoteProcess): Promise<boolean> {
  const output = outputQueue(child, "stdout");
  const terminal = Deno.stdout.isTerminal();
  for (let bytes = await output.take(); bytes !== null; bytes = await output.take()) {
    try {
      for (let offset = 0; offset < bytes.length;) {
        const rest = bytes.subarray(offset);
        offset += terminal && rest.length <= SYNC_WRITE_LIMIT
          ? Deno.stdout.writeSync(rest)
          : await Deno.stdout.write(rest);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
      output.cancel();
      child.cancel();
      return true;
    }
  }
  return false;
}
