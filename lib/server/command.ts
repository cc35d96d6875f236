/**
 * One command run for a client: spawns it, streams its stdout and stderr to
 * the connection as frames, feeds it the stdin the client sends within a
 * flow-control window, enforces its timeout, and ends its whole process
 * group and session when it is cancelled or finishes.
 *
 * @module
 */

import { settlesWithin } from "../util/deadline.ts";
import { ProtocolError, SpawnError } from "../errors.ts";
import { ErrorCode } from "../protocol/error_code.ts";
import { EXIT_BUSY, EXIT_REFUSED } from "../protocol/exit_status.ts";
import { FrameType } from "../protocol/frame.ts";
import type { FrameWriter } from "../transport/frame_writer.ts";
import {
  encodeWindow,
  type ExecRequest,
  type ExitReason,
  type ExitReport,
  type WindowSize,
} from "../protocol/messages.ts";
import type { PolicyDecision } from "./policy.ts";
import { pumpOutput } from "./output_pump.ts";
import { directoryProblem, type GroupProcess, shellArgv, spawnProcess } from "./process.ts";

/** Why a command was ended early; `disconnected` is never reported to a client. */
export type EndReason =
  | Exclude<ExitReason, "spawn_failed" | "refused" | "busy">
  | "disconnected";

/**
 * Decides whether a request may run, and with which program file.
 *
 * @example A policy that allows only `echo`
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import type { ExecPolicy } from "./command.ts";
 * import { serve } from "./server.ts";
 *
 * const policy: ExecPolicy = {
 *   check: (request) =>
 *     Promise.resolve(
 *       request.argv?.[0] === "echo"
 *         ? { allowed: true }
 *         : { allowed: false, message: "only echo may run here" },
 *     ),
 * };
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0, policy });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * assert.equal((await client.spawn(["echo", "hi"]).status).code, 0);
 * const refused = await client.spawn(["ls"]).status;
 * assert.equal(refused.reason, "refused");
 * assert.equal(refused.message, "only echo may run here");
 * ```
 */
export interface ExecPolicy {
  /** Checks `request`; `program`, when given, is the resolved file that must run for argv[0]. */
  check(request: ExecRequest): Promise<PolicyDecision>;
}

/**
 * The account commands run in, as sshd sets one up: they start in its home
 * directory (`/` when that is missing or the account cannot enter it), and
 * its variables (`HOME`, `USER`, `LOGNAME`, `SHELL`) replace the server's.
 * With `uid` and `gid`, the server (running as root) switches to it; without,
 * it describes the server's own account.
 *
 * @example Commands start in the account's home, with its variables
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import type { RunAs } from "./command.ts";
 * import { serve } from "./server.ts";
 *
 * const home = await Deno.makeTempDir();
 * try {
 *   // No uid and gid: the server's own account, described by a home and variables.
 *   const runAs: RunAs = {
 *     home,
 *     env: { HOME: home, USER: "ada", LOGNAME: "ada", SHELL: "/bin/sh" },
 *   };
 *   const token = "a-shared-secret-of-some-length";
 *   await using server = await serve({ token, hostname: "127.0.0.1", port: 0, runAs });
 *   await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *   const { stdout } = await client.spawnShell('pwd; echo "$USER $HOME"').output();
 *   assert.equal(new TextDecoder().decode(stdout), `${home}\nada ${home}\n`);
 * } finally {
 *   await Deno.remove(home);
 * }
 * ```
 */
export interface RunAs {
  /** User id to switch to, with `gid`; the server's own (no switch) when absent. */
  readonly uid?: number;
  /** Primary group id to switch to, with `uid`. */
  readonly gid?: number;
  /** Home directory: where a command starts, and what a relative `cwd` is resolved against. */
  readonly home: string;
  /** Variables that describe the account: HOME, USER, LOGNAME, SHELL. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * A server-wide count of running commands, with a ceiling: `serve` keeps
 * one of `maxCommands` (see {@link EXIT_BUSY}).
 */
export interface CommandSlots {
  /** Takes a slot; false when all are taken. */
  tryAcquire(): boolean;
  /** Gives a slot back. */
  release(): void;
  /** How many slots there are. */
  readonly limit: number;
}

/** Options for {@link ServerCommand}. */
export interface ServerCommandOptions {
  /** The validated EXEC request. */
  readonly request: ExecRequest;
  /** The session's frame writer. */
  readonly writer: FrameWriter;
  /**
   * Largest body of an output frame; at most what the client accepts.
   * Frames grow towards it only while the client reads slower than the
   * command writes.
   */
  readonly outputChunkSize: number;
  /** Stdin bytes the client may have in flight; matches the HELLO. */
  readonly stdinWindow: number;
  /** Server maximum for the timeout, in seconds; none when undefined. */
  readonly maxTimeout?: number;
  /** Milliseconds between SIGTERM and SIGKILL. */
  readonly killGraceMs: number;
  /** Told about things the server operator should know, such as output cut off. */
  readonly onWarning?: (message: string) => void;
  /** Which requests may run; any when absent. */
  readonly policy?: ExecPolicy;
  /**
   * The account to run in; when absent, commands run as the server's user,
   * in its working directory, with its environment.
   */
  readonly runAs?: RunAs;
  /** Server-wide running-command limit; none when absent. */
  readonly slots?: CommandSlots;
  /** The setsid(1) commands start through (see `findSetsid`); a fork of the server when absent. */
  readonly setsid?: string;
  /** Refuse requests for a pseudo-terminal (`rexec serve --no-tty`). */
  readonly noTty?: boolean;
}

/** What a client asking for a terminal is told by a server started with `--no-tty`. */
const NO_TTY_REFUSAL = "this server gives commands no terminal (it runs with --no-tty); " +
  "run the command without -t, or pipe a script into rexec shell";

/** How a command went: the EXIT report plus what the server logs about it. */
export interface CommandOutcome {
  /** The EXIT report for the client. */
  readonly report: ExitReport;
  /** The argv that ran, `/bin/sh -c` included for shell requests. */
  readonly argv: readonly string[];
  /** Why the server ended the command, if it did. */
  readonly endReason?: EndReason;
  /** Wall time from request to exit, in milliseconds. */
  readonly durationMs: number;
  /** Stdin bytes received from the client. */
  readonly bytesIn: number;
  /** Stdout and stderr bytes sent to the client. */
  readonly bytesOut: number;
}

const END_MESSAGES: Record<Exclude<EndReason, "disconnected">, (timeout?: number) => string> = {
  timeout: (timeout) => `timed out after ${timeout} s`,
  cancelled: () => "terminated at the client's request",
  shutdown: () => "terminated because the server is shutting down",
};

/**
 * Runs one EXEC request. Construct it, feed it the client's STDIN, STDIN_EOF,
 * SIGNAL and CANCEL frames, and await {@link ServerCommand.finished}; it has
 * sent every output frame by the time that resolves, so the EXIT frame can
 * follow.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameType, HEADER_SIZE } from "../protocol/frame.ts";
 * import { FrameWriter } from "../transport/frame_writer.ts";
 * import { ServerCommand } from "./command.ts";
 *
 * // The frames the session would send to the client.
 * const frames: Uint8Array[] = [];
 * const writer = new FrameWriter({
 *   write: (bytes) => {
 *     frames.push(bytes.slice());
 *     return Promise.resolve(bytes.length);
 *   },
 * });
 * const command = new ServerCommand({
 *   request: { argv: ["echo", "hi"], stdin: false, stdout: true, stderr: true },
 *   writer,
 *   outputChunkSize: 65536,
 *   stdinWindow: 262144,
 *   killGraceMs: 2000,
 * });
 * const { report, argv } = await command.finished;
 * assert.deepEqual(report, { code: 0, signal: null });
 * assert.deepEqual(argv, ["echo", "hi"]);
 * assert.equal(frames.length, 1);
 * assert.equal(frames[0][4], FrameType.Stdout);
 * assert.equal(new TextDecoder().decode(frames[0].subarray(HEADER_SIZE)), "hi\n");
 * ```
 */
export class ServerCommand {
  /** Resolves once the command has ended and all its output was sent. */
  readonly finished: Promise<CommandOutcome>;
  readonly #options: ServerCommandOptions;
  readonly #argv: readonly string[];
  readonly #timeout: number | undefined;
  #child: GroupProcess | undefined;
  /** The child's terminal, for a command that runs on one. */
  #terminal: { resize(size: WindowSize): void } | undefined;
  /** The size the last WINDOW_SIZE asked for, for a terminal that was still opening. */
  #windowSize: WindowSize | undefined;
  #exited = false;
  #endReason: EndReason | undefined;
  readonly #outputCutOff = new AbortController();
  #termination: Promise<void> | undefined;
  #bytesIn = 0;
  #bytesOut = 0;
  #stdinQueue: Uint8Array[] = [];
  #stdinCredit: number;
  #stdinEof = false;
  #stdinDone = false;
  #stdinWake: (() => void) | undefined;
  #stdinWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;

  /** Starts running `options.request`. */
  constructor(options: ServerCommandOptions) {
    this.#options = options;
    const { request } = options;
    this.#argv = request.login
      ? loginShellArgv(options.runAs)
      : request.shell !== undefined
      ? shellArgv(request.shell)
      : request.argv!;
    this.#timeout = effectiveTimeout(request.timeout, options.maxTimeout);
    this.#stdinCredit = options.stdinWindow;
    // Begun once the constructor has returned: no callback (onWarning) may
    // run before the caller holds the command.
    this.finished = Promise.resolve().then(() => this.#run());
  }

  /** The argv being run. */
  get argv(): readonly string[] {
    return this.#argv;
  }

  /**
   * Takes a STDIN frame's bytes.
   *
   * @throws {ProtocolError} when the command was started without stdin,
   * stdin already ended, the frame is empty (EOF has a frame of its own), or
   * the client overran its window.
   */
  pushStdin(bytes: Uint8Array): void {
    this.#requireStdinOpen("STDIN");
    if (bytes.length === 0) {
      throw new ProtocolError("STDIN frame with an empty body; end of input is STDIN_EOF");
    }
    if (bytes.length > this.#stdinCredit) {
      throw new ProtocolError(
        `client sent ${bytes.length} stdin bytes with only ${this.#stdinCredit} left in its window`,
        ErrorCode.WindowExceeded,
      );
    }
    this.#stdinCredit -= bytes.length;
    this.#bytesIn += bytes.length;
    // Once the command stopped reading stdin, bytes still in flight are
    // dropped, as a local pipe would; no window is granted for them.
    if (this.#stdinDone) return;
    this.#stdinQueue.push(bytes);
    this.#stdinWake?.();
  }

  /**
   * Takes a STDIN_EOF frame: the command sees end of file once it has read
   * what came before.
   *
   * @throws {ProtocolError} when stdin was not requested or already ended.
   */
  endStdin(): void {
    this.#requireStdinOpen("STDIN_EOF");
    this.#stdinEof = true;
    this.#stdinWake?.();
  }

  /** Delivers a signal to the command's process group, if it is still running. */
  signal(signal: Deno.Signal): void {
    if (this.#child && !this.#exited && this.#endReason === undefined) {
      this.#child.signalGroup(signal);
    }
  }

  /**
   * Takes a WINDOW_SIZE frame: the terminal gets the new size, and the
   * command SIGWINCH. One that arrives while the terminal is still opening
   * is kept and given to the terminal once it is open: the client's window
   * changed after the EXEC was sent.
   *
   * @throws {ProtocolError} when the command was started without a terminal.
   */
  resize(size: WindowSize): void {
    if (!this.#options.request.tty) {
      throw new ProtocolError("WINDOW_SIZE frame for a command started without a terminal");
    }
    if (this.#exited) return;
    this.#windowSize = size;
    this.#terminal?.resize(size);
  }

  /**
   * Ends the command, its process group and the rest of its session:
   * SIGTERM, then SIGKILL after the grace period. The first reason given is
   * the one reported; none is once the command has exited by itself, though
   * what it left running is still ended.
   */
  cancel(reason: EndReason): void {
    if (this.#endReason !== undefined) return;
    if (!this.#exited) this.#endReason = reason;
    if (this.#child) this.#terminate(this.#child);
  }

  #requireStdinOpen(frame: string): void {
    if (!this.#options.request.stdin) {
      throw new ProtocolError(
        `${frame} frame for a command started without stdin`,
      );
    }
    if (this.#stdinEof) {
      throw new ProtocolError(`${frame} frame after STDIN_EOF`);
    }
  }

  #terminate(child: GroupProcess): Promise<void> {
    this.#termination ??= child.terminate({
      graceMs: this.#options.killGraceMs,
      ...(this.#options.onWarning ? { onWarning: this.#options.onWarning } : {}),
    });
    return this.#termination;
  }

  async #run(): Promise<CommandOutcome> {
    const started = performance.now();
    const { slots } = this.#options;
    if (slots && !slots.tryAcquire()) {
      return this.#notRun(started, {
        code: EXIT_BUSY,
        signal: null,
        reason: "busy",
        message:
          `the server is busy: it already runs ${slots.limit} commands, its limit; try again later`,
      });
    }
    try {
      return await this.#runWithSlot(started);
    } finally {
      slots?.release();
    }
  }

  async #runWithSlot(started: number): Promise<CommandOutcome> {
    const { request, policy, runAs, setsid } = this.#options;
    if (request.tty && this.#options.noTty) {
      return this.#notRun(started, {
        code: EXIT_REFUSED,
        signal: null,
        reason: "refused",
        message: NO_TTY_REFUSAL,
      });
    }
    const { cwd, checked: cwdChecked } = this.#workingDirectory();
    let checkedProgram: string | undefined;
    if (policy) {
      // The login shell is judged as the program it is.
      const { login: _login, ...rest } = request;
      const judged = request.login ? { ...rest, argv: this.#argv } : request;
      // A relative program path is looked up from where the command will start.
      const decision = await policy.check(cwd === undefined ? judged : { ...judged, cwd });
      if (!decision.allowed) {
        return this.#notRun(started, {
          code: EXIT_REFUSED,
          signal: null,
          reason: "refused",
          message: decision.message,
        });
      }
      checkedProgram = decision.program;
    }
    let child: GroupProcess;
    try {
      child = request.tty ? await this.#spawnOnTerminal(cwd, checkedProgram) : spawnProcess({
        argv: this.#argv,
        ...(checkedProgram !== undefined ? { checkedProgram } : {}),
        ...(setsid !== undefined ? { setsid } : {}),
        cwdChecked,
        env: runAs ? { ...runAs.env, ...request.env } : request.env,
        cwd,
        stdin: request.stdin ? "piped" : "null",
        stdout: request.stdout ? "piped" : "null",
        stderr: request.stderr ? "piped" : "null",
        ...(runAs?.uid !== undefined && runAs.gid !== undefined
          ? { uid: runAs.uid, gid: runAs.gid }
          : {}),
      });
    } catch (error) {
      if (!(error instanceof SpawnError)) throw error;
      // A permission the server lacks is its operator's to fix, not the client's alone.
      if (error.cause instanceof Deno.errors.NotCapable) this.#options.onWarning?.(error.message);
      return this.#notRun(started, {
        code: error.exitCode,
        signal: null,
        reason: "spawn_failed",
        message: error.message,
      });
    }
    this.#child = child;
    if (this.#endReason !== undefined) this.#terminate(child);
    let timer = this.#timeout === undefined
      ? undefined
      : setTimeout(() => this.cancel("timeout"), this.#timeout * 1000);
    try {
      if (request.stdin) {
        // A failed STDIN_WINDOW write: the connection is gone, as for output.
        this.#pumpStdin(child.stdin).catch(() => this.#connectionLost());
      }
      const output = Promise.all([
        request.stdout
          ? this.#pumpOutput(child.stdout, FrameType.Stdout)
          : request.tty
          ? this.#discardOutput(child.stdout)
          : undefined,
        // On a terminal, stderr is the terminal too: all comes as STDOUT.
        request.stderr && !request.tty
          ? this.#pumpOutput(child.stderr, FrameType.Stderr)
          : undefined,
      ]);
      const status = await child.status;
      this.#exited = true;
      clearTimeout(timer);
      timer = undefined;
      await this.#drain(child, output);
      // The terminal is gone with its command, as a terminal that hangs up:
      // jobs it left in its session (a shell's `sleep 60 &`) end with it.
      if (request.tty) await this.#terminate(child);
      const reason = this.#endReason === "disconnected" ? undefined : this.#endReason;
      return this.#outcome(started, {
        code: status.code,
        signal: status.signal,
        ...(reason ? { reason, message: END_MESSAGES[reason](this.#timeout) } : {}),
      });
    } finally {
      clearTimeout(timer);
      this.#stopStdin();
    }
  }

  /**
   * Starts the command on a new terminal. Its module, and the native addon
   * behind it, load with the first such command.
   */
  async #spawnOnTerminal(
    cwd: string | undefined,
    checkedProgram: string | undefined,
  ): Promise<GroupProcess> {
    const { request, runAs } = this.#options;
    const { spawnPty, terminalEnvironment } = await import("./pty_process.ts");
    const size = this.#windowSize ?? request.tty!;
    const child = await spawnPty({
      argv: this.#argv,
      env: terminalEnvironment({ ...runAs?.env, ...request.env, TERM: request.tty!.term }),
      cwd: cwd ?? Deno.cwd(),
      size,
      ...(checkedProgram !== undefined ? { checkedProgram } : {}),
      ...(runAs?.uid !== undefined && runAs.gid !== undefined
        ? { uid: runAs.uid, gid: runAs.gid }
        : {}),
    });
    this.#terminal = child;
    // A WINDOW_SIZE that came while the terminal was opening.
    if (this.#windowSize && this.#windowSize !== size) child.resize(this.#windowSize);
    return child;
  }

  /**
   * Where the command starts, as sshd and sftp decide: the directory the
   * client asked for, a relative one taken from the account's home; the home
   * itself when the client named none. A home the account cannot use gives
   * way to `/`, with a warning. Undefined without an account: the server's own
   * working directory, a relative `cwd` taken from it. `checked` when the
   * directory is one just found usable, which the spawn need not check again.
   */
  #workingDirectory(): { cwd: string | undefined; checked: boolean } {
    const { request, runAs } = this.#options;
    if (runAs === undefined || request.cwd?.startsWith("/")) {
      return { cwd: request.cwd, checked: false };
    }
    const user = runAs.uid !== undefined && runAs.gid !== undefined
      ? { uid: runAs.uid, gid: runAs.gid }
      : undefined;
    const problem = directoryProblem(runAs.home, user);
    if (problem !== undefined) {
      this.#options.onWarning?.(
        `cannot start in the home directory ${JSON.stringify(runAs.home)}: ${problem}; ` +
          "the command starts in / instead",
      );
    }
    const start = problem === undefined ? runAs.home : "/";
    if (request.cwd === undefined || request.cwd === "" || request.cwd === ".") {
      return { cwd: start, checked: problem === undefined };
    }
    return {
      cwd: start.endsWith("/") ? `${start}${request.cwd}` : `${start}/${request.cwd}`,
      checked: false,
    };
  }

  /**
   * Waits for the output pipes to close after the command exited. Background
   * processes that still hold them would otherwise keep the client waiting
   * forever (the classic `ssh host 'cmd &'` hang): they get the grace period,
   * then the group and the rest of the command's session are ended. A
   * process that started a session of its own (setsid) cannot be reached
   * that way; after a second grace period its output is cut off.
   */
  async #drain(child: GroupProcess, output: Promise<unknown>): Promise<void> {
    const graceMs = this.#options.killGraceMs;
    if (await settlesWithin(output, graceMs)) return;
    await this.#terminate(child);
    if (await settlesWithin(output, graceMs)) return;
    this.#options.onWarning?.(
      "output cut off: a process outside the command's session (setsid) still held it open",
    );
    this.#outputCutOff.abort();
    await output;
  }

  /** The report for a command that never started; its stdin is not wanted. */
  #notRun(started: number, report: ExitReport): CommandOutcome {
    this.#stdinDone = true;
    return this.#outcome(started, report);
  }

  #outcome(started: number, report: ExitReport): CommandOutcome {
    return {
      report,
      argv: this.#argv,
      ...(this.#endReason ? { endReason: this.#endReason } : {}),
      durationMs: Math.round(performance.now() - started),
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
    };
  }

  /**
   * Streams one output pipe to the client (see {@link pumpOutput}). A write
   * resolves only when the socket took the frame, so a slow client stalls
   * the pipe and the command, and memory stays bounded per stream.
   */
  async #pumpOutput(
    stream: ReadableStream<Uint8Array>,
    type: FrameType,
  ): Promise<void> {
    const reader = stream.getReader({ mode: "byob" });
    const cutOff = () => reader.cancel().catch(ignoreClosed);
    this.#outputCutOff.signal.addEventListener("abort", cutOff, { once: true });
    let writeFailed = false;
    try {
      await pumpOutput(reader, {
        type,
        maxBody: this.#options.outputChunkSize,
        write: (frame) =>
          this.#options.writer.writeEncoded(frame).catch((error) => {
            writeFailed = true;
            throw error;
          }),
        onSent: (bytes) => this.#bytesOut += bytes,
      });
    } catch (error) {
      if (writeFailed) {
        // A frame write failed, so the connection did: nobody can receive
        // the output any more. (The pump has cancelled the pipe.)
        this.#connectionLost();
      } else {
        // The pipe itself failed: what was read has been sent, and the
        // command's end is reported as usual.
        this.#options.onWarning?.(
          `reading the command's ${type === FrameType.Stdout ? "stdout" : "stderr"} failed: ${
            (error as Error).message
          }`,
        );
      }
    } finally {
      this.#outputCutOff.signal.removeEventListener("abort", cutOff);
    }
  }

  /**
   * Reads and drops what a terminal shows when the client wants no output:
   * a terminal has no /dev/null behind it as a pipe does, and output left
   * unread would hold the command back for ever.
   */
  async #discardOutput(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader();
    const cutOff = () => reader.cancel().catch(ignoreClosed);
    this.#outputCutOff.signal.addEventListener("abort", cutOff, { once: true });
    try {
      while (!(await reader.read()).done);
    } finally {
      this.#outputCutOff.signal.removeEventListener("abort", cutOff);
    }
  }

  /**
   * Nobody can receive output or send stdin any more; the session reports
   * the lost connection itself.
   */
  #connectionLost(): void {
    this.cancel("disconnected");
    // Also after the command exited: the outcome is one nobody will hear of.
    this.#endReason ??= "disconnected";
  }

  async #pumpStdin(stdin: WritableStream<Uint8Array>): Promise<void> {
    const writer = stdin.getWriter();
    this.#stdinWriter = writer;
    let closed = false;
    try {
      for (;;) {
        const chunk = this.#stdinQueue.shift();
        if (chunk === undefined) {
          if (this.#stdinEof || this.#stdinDone) break;
          await new Promise<void>((resolve) => this.#stdinWake = resolve);
          continue;
        }
        if (!(await this.#feed(() => writer.write(chunk)))) return;
        // Once the command is over, a grant would land after its EXIT and be
        // taken by the client as credit for the next command.
        if (this.#stdinDone) return;
        this.#stdinCredit += chunk.length;
        // A failure here is the connection's, not the command's: it propagates.
        await this.#options.writer.write(FrameType.StdinWindow, encodeWindow(chunk.length));
      }
      if (!this.#stdinDone) closed = await this.#feed(() => writer.close());
    } finally {
      this.#stdinDone = true;
      this.#stdinQueue = [];
      // Whatever ended the pump, the command's end of the pipe is released now
      // rather than when the writer is garbage collected.
      if (!closed) writer.abort().catch(ignoreClosed);
    }
  }

  /**
   * Runs one operation on the command's stdin.
   *
   * @returns false when the command no longer takes stdin: it closed it or
   * exited (BrokenPipe), which is its right, or the server stopped feeding it.
   */
  async #feed(operation: () => Promise<void>): Promise<boolean> {
    try {
      await operation();
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe || this.#stdinDone) return false;
      throw error;
    }
  }

  #stopStdin(): void {
    if (this.#stdinDone) return;
    this.#stdinDone = true;
    this.#stdinQueue = [];
    this.#stdinWake?.();
    // A process the command left behind may hold stdin without reading it;
    // aborting frees the pipe and any write stuck on it.
    this.#stdinWriter?.abort().catch(ignoreClosed);
  }
}

/**
 * The account's login shell, started as a login shell: the shell of its
 * passwd entry (`SHELL` of the account's variables), `/bin/sh` when it names
 * none or the server runs as no particular account.
 */
function loginShellArgv(runAs: RunAs | undefined): string[] {
  const shell = runAs?.env.SHELL;
  return [shell ? shell : "/bin/sh", "-l"];
}

function effectiveTimeout(
  requested: number | undefined,
  maximum: number | undefined,
): number | undefined {
  if (requested === undefined) return maximum;
  if (maximum === undefined) return requested;
  return Math.min(requested, maximum);
}

/** Cancelling or aborting a stream that already closed rejects; that is the expected case here. */
function ignoreClosed(): void {}
