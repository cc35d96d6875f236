/**
 * Runs one command on a pseudo-terminal, through the npm package
 * `@lydell/node-pty` (Deno has no PTY API of its own). The package is a
 * native addon, loaded only when the first PTY is asked for, so that a
 * server or client that never opens one does not pay for it, and needs
 * Deno's `--allow-ffi`.
 *
 * The command leads a session of its own with the terminal as its
 * controlling terminal (forkpty), so it is a {@link GroupProcess} like any
 * other: signals go to its process group, and ending it ends everything its
 * session started. Its stdin, stdout and stderr are the terminal: what it
 * writes comes out of {@link PtyProcess.stdout}, a byte stream that pauses
 * the terminal while nobody reads it, so a command whose client stopped
 * reading is held back, as with a pipe.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { constants } from "node:os";
import { SpawnError } from "../errors.ts";
import { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND } from "../protocol/exit_status.ts";
import type { WindowSize } from "../protocol/messages.ts";
import { sleep } from "../util/deadline.ts";
import { directoryProblem, GroupProcess } from "./process.ts";
import { programCandidates } from "./program_search.ts";

/** What to run on a terminal. */
export interface PtySpec {
  /** Program and arguments; the program is looked up in the `PATH` of `env`. */
  readonly argv: readonly string[];
  /** The whole environment of the command (nothing is inherited), `TERM` included. */
  readonly env: Readonly<Record<string, string>>;
  /** Absolute working directory. */
  readonly cwd: string;
  /** The terminal's first size. */
  readonly size: WindowSize;
  /** The file an allowlist checked for argv[0]: it is what runs. */
  readonly checkedProgram?: string;
  /** User id to run as; needs a server running as root. */
  readonly uid?: number;
  /** Group id to run as, with `uid`. */
  readonly gid?: number;
}

/**
 * Output the terminal may have read ahead before it is paused: a few reads'
 * worth, so that a fast command keeps the client's window full.
 */
const READ_AHEAD = 256 * 1024;

/** The end-of-file character of a terminal in its default modes (Ctrl-D). */
const END_OF_FILE = new Uint8Array([0x04]);

/** The part of node-pty's terminal this module uses. */
interface Terminal {
  readonly pid: number;
  onData(listener: (data: Uint8Array) => void): unknown;
  onExit(listener: (event: { exitCode: number; signal?: number }) => void): unknown;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  /** node-pty throws an error of the terminal's from its event handler unless someone listens. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** The master side's file descriptor, non-blocking. */
  readonly _fd: number;
  /** The slave side's device, such as `/dev/pts/3`. */
  readonly _pty: string;
  /** The master side as a stream, which reads it; destroyed once node-pty closes the descriptor. */
  readonly _socket: { readonly destroyed: boolean };
}

interface NodePty {
  spawn(file: string, args: string[], options: Record<string, unknown>): Terminal;
}

let loaded: Promise<NodePty> | undefined;

/** Loads node-pty once. @throws {SpawnError} 126 when it cannot be loaded. */
async function loadNodePty(): Promise<NodePty> {
  loaded ??= import("npm:@lydell/node-pty@^1.1.0") as Promise<unknown> as Promise<NodePty>;
  try {
    return await loaded;
  } catch (error) {
    loaded = undefined;
    throw new SpawnError(
      EXIT_CANNOT_EXECUTE,
      `the server cannot open a pseudo-terminal: loading @lydell/node-pty failed (${
        (error as Error).message
      }); the server needs --allow-ffi and its npm packages installed (deno install)`,
      { cause: error },
    );
  }
}

/**
 * The C library calls that write to a terminal. Node-pty writes through a
 * `tty.ReadStream`, and under Deno such a write that meets a full terminal
 * never resumes once the program reads again (a paste larger than the
 * terminal's few kilobytes of buffer would hang for ever); write(2) on the
 * non-blocking descriptor, retried while it says EAGAIN, does not.
 */
interface Libc {
  write(fd: number, bytes: Uint8Array, length: bigint): number | bigint;
  /** chown(2) and chmod(2) of a NUL-terminated path: 0, or -1 and errno. */
  chown(path: Uint8Array, uid: number, gid: number): number;
  chmod(path: Uint8Array, mode: number): number;
  /** The calling thread's errno, read right after a failed call. */
  errno(): number;
  readonly eagain: number;
}

/** errno values that are the same on Linux and macOS. */
const EINTR = 4;
const EIO = 5;

let libc: Libc | undefined;

/** Opens the C library once. @throws {SpawnError} 126 when it cannot be opened. */
function openLibc(): Libc {
  if (libc) return libc;
  const darwin = Deno.build.os === "darwin";
  const errnoSymbol = darwin ? "__error" : "__errno_location";
  try {
    const { symbols } = Deno.dlopen(
      darwin ? "/usr/lib/libSystem.B.dylib" : "libc.so.6",
      {
        write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
        chown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
        chmod: { parameters: ["buffer", "u32"], result: "i32" },
        [errnoSymbol]: { parameters: [], result: "pointer" },
      } as const,
    );
    const where = symbols[errnoSymbol] as () => Deno.PointerValue;
    libc = {
      write: symbols.write,
      chown: symbols.chown,
      chmod: symbols.chmod,
      errno: () => new Deno.UnsafePointerView(where()!).getInt32(),
      eagain: darwin ? 35 : 11,
    };
    return libc;
  } catch (error) {
    throw new SpawnError(
      EXIT_CANNOT_EXECUTE,
      `the server cannot write to a pseudo-terminal: opening the C library failed (${
        (error as Error).message
      }); the server needs --allow-ffi`,
      { cause: error },
    );
  }
}

/** Signal numbers to names, for a command that a signal ended. */
const SIGNAL_NAMES: ReadonlyMap<number, Deno.Signal> = new Map(
  Object.entries(constants.signals).map(([name, number]) => [number, name as Deno.Signal]),
);

/**
 * Starts `spec.argv` on a new pseudo-terminal.
 *
 * @throws {SpawnError} 127 when the program is not found, 126 when it
 * cannot be run, the directory is unusable or no terminal can be opened.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { spawnPty } from "./pty_process.ts";
 *
 * const child = await spawnPty({
 *   argv: ["sh", "-c", "tty; stty size"],
 *   env: { PATH: "/usr/bin:/bin", TERM: "dumb" },
 *   cwd: "/",
 *   size: { rows: 30, cols: 100 },
 * });
 * const text = await new Response(child.stdout).text();
 * assert.match(text, /^\/dev\/pts\/\d+\r\n30 100\r\n$/);
 * assert.equal((await child.status).code, 0);
 * ```
 */
export async function spawnPty(spec: PtySpec): Promise<PtyProcess> {
  const problem = directoryProblem(
    spec.cwd,
    spec.uid !== undefined && spec.gid !== undefined ? { uid: spec.uid, gid: spec.gid } : undefined,
  );
  if (problem !== undefined) {
    throw new SpawnError(EXIT_CANNOT_EXECUTE, `cannot change to directory ${spec.cwd}: ${problem}`);
  }
  const [name, ...args] = spec.argv;
  const program = spec.checkedProgram ?? findProgram(name, spec);
  // node-pty switches the account without dropping the server's supplementary
  // groups (root's among them); setpriv(1) switches it the whole way.
  const [file, fileArgs] = spec.uid === undefined ? [program, args] : [findSetpriv(), [
    `--reuid=${spec.uid}`,
    `--regid=${spec.gid}`,
    "--clear-groups",
    "--",
    program,
    ...args,
  ]];
  const nodePty = await loadNodePty();
  const writer = openLibc();
  let terminal: Terminal;
  try {
    terminal = nodePty.spawn(file, fileArgs, {
      name: spec.env.TERM,
      rows: spec.size.rows,
      cols: spec.size.cols,
      cwd: spec.cwd,
      env: { ...spec.env },
      // Bytes, not text: a character split across two reads stays whole.
      encoding: null,
    });
  } catch (error) {
    throw new SpawnError(
      EXIT_CANNOT_EXECUTE,
      `${name}: cannot open a pseudo-terminal: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (spec.uid !== undefined && spec.gid !== undefined) {
    giveTerminal(terminal, writer, spec.uid, spec.gid);
  }
  return new PtyProcess(terminal, writer);
}

/**
 * Gives the terminal's device to the account the command runs as, as sshd
 * does: the server opened it as root, and a program that opens it again by
 * name (screen, write, GPG_TTY) must be let in. Done as soon as node-pty
 * has forked, while the child is still switching accounts through setpriv.
 *
 * @throws {SpawnError} 126 when it cannot be done; the command is killed.
 */
function giveTerminal(terminal: Terminal, libc: Libc, uid: number, gid: number): void {
  // Through the C library: Deno lets a program change a device under /dev
  // only with every permission granted, which `deno task serve` does not.
  const path = new TextEncoder().encode(`${terminal._pty}\0`);
  if (libc.chown(path, uid, gid) !== 0 || libc.chmod(path, 0o600) !== 0) {
    const errno = libc.errno();
    Deno.kill(terminal.pid, "SIGKILL");
    throw new SpawnError(
      EXIT_CANNOT_EXECUTE,
      `cannot give the terminal ${terminal._pty} to the account (errno ${errno})`,
    );
  }
}

/**
 * The file `execvp` would run for `name`, so that a missing program is the
 * server's to report (127), not a line on the terminal.
 */
function findProgram(name: string, spec: PtySpec): string {
  let denied = false;
  for (const candidate of programCandidates(name, { path: spec.env.PATH, cwd: spec.cwd })) {
    if (candidate.runnable) return candidate.file;
    denied = true;
  }
  if (denied) {
    throw new SpawnError(EXIT_CANNOT_EXECUTE, `${name}: cannot execute: permission denied`);
  }
  throw new SpawnError(EXIT_NOT_FOUND, `${name}: command not found`);
}

/**
 * The setpriv(1) that switches a command on a terminal to another account.
 *
 * @throws {SpawnError} 126 when the server has none.
 */
function findSetpriv(): string {
  const path = Deno.permissions.querySync({ name: "env", variable: "PATH" }).state === "granted"
    ? Deno.env.get("PATH")
    : undefined;
  for (const candidate of programCandidates("setpriv", { path, cwd: "/" })) {
    if (candidate.runnable) return candidate.file;
  }
  throw new SpawnError(
    EXIT_CANNOT_EXECUTE,
    "the server cannot give a terminal to a command run as another user: setpriv(1) " +
      "(util-linux) is not on its PATH",
  );
}

/**
 * A command running on a pseudo-terminal: a {@link GroupProcess} whose
 * `stdin` writes to the terminal (closing it types Ctrl-D), whose `stdout`
 * is everything the terminal shows, and which can be resized.
 */
export class PtyProcess extends GroupProcess {
  readonly #terminal: Terminal;

  /** Wraps a terminal node-pty has started; what is typed into it is written through `libc`. */
  constructor(terminal: Terminal, libc: Libc) {
    const status = Promise.withResolvers<Deno.CommandStatus>();
    let output: ReadableByteStreamController | undefined;
    let ended = false;
    let paused = false;
    const stdout = new ReadableStream<Uint8Array>({
      type: "bytes",
      start: (controller) => {
        output = controller as ReadableByteStreamController;
      },
      pull: () => {
        if (paused) {
          paused = false;
          terminal.resume();
        }
      },
      cancel: () => {
        ended = true;
        if (paused) terminal.resume();
      },
    }, { highWaterMark: READ_AHEAD });
    terminal.onData((data) => {
      if (ended) return;
      // A copy: node's buffers may share a pool, which enqueue would detach.
      output!.enqueue(new Uint8Array(data));
      if ((output!.desiredSize ?? 0) <= 0 && !paused) {
        paused = true;
        terminal.pause();
      }
    });
    // Failures of the terminal (EIO once the command's side has closed, a
    // write it can no longer take) reach the writes that meet them (see
    // writeTo); unheard, node-pty would throw them out of the event loop.
    terminal.on("error", () => {});
    // node-pty reports the exit once the terminal has nothing more to read.
    terminal.onExit(({ exitCode, signal }) => {
      if (!ended) {
        ended = true;
        output!.close();
        output!.byobRequest?.respond(0);
      }
      const name = signal ? SIGNAL_NAMES.get(signal) ?? null : null;
      status.resolve({
        success: exitCode === 0 && !signal,
        code: signal ? 128 + signal : exitCode,
        signal: name,
      });
    });
    const stdin = new WritableStream<Uint8Array>({
      write: (chunk, controller) => writeTo(terminal, libc, chunk, controller.signal),
      close: () => writeTo(terminal, libc, END_OF_FILE),
    });
    super({
      pid: terminal.pid,
      status: status.promise,
      stdin,
      stdout,
      get stderr(): ReadableStream<Uint8Array> {
        throw new TypeError("a command on a terminal writes its stderr to the terminal");
      },
    });
    this.#terminal = terminal;
  }

  /**
   * Sets the terminal's size; the command gets SIGWINCH. Nothing once the
   * terminal has closed: its descriptor's number may be another terminal's.
   */
  resize(size: WindowSize): void {
    if (this.#terminal._socket.destroyed) return;
    this.#terminal.resize(size.cols, size.rows);
  }
}

/** Longest pause, in milliseconds, between tries to write to a full terminal. */
const MAX_WRITE_PAUSE_MS = 50;

/**
 * Writes to the terminal; resolves once the bytes have left for it. While
 * the terminal is full (the program is not reading), tries again after a
 * pause that grows to {@link MAX_WRITE_PAUSE_MS}, until `stop` is aborted.
 *
 * @throws {Deno.errors.BrokenPipe} once the terminal is closed or nothing
 * holds its other side any more.
 */
async function writeTo(
  terminal: Terminal,
  libc: Libc,
  bytes: Uint8Array,
  stop?: AbortSignal,
): Promise<void> {
  let pauseMs = 1;
  for (let offset = 0; offset < bytes.length;) {
    stop?.throwIfAborted();
    // Once node-pty has closed the descriptor its number may be another file's.
    if (terminal._socket.destroyed) throw new Deno.errors.BrokenPipe("the terminal is closed");
    const left = bytes.subarray(offset);
    const written = Number(libc.write(terminal._fd, left, BigInt(left.length)));
    if (written >= 0) {
      offset += written;
      pauseMs = 1;
      continue;
    }
    const errno = libc.errno();
    if (errno === EINTR) continue;
    if (errno === EIO) throw new Deno.errors.BrokenPipe("the terminal has no program on it");
    if (errno !== libc.eagain) throw new Error(`writing to the terminal failed: errno ${errno}`);
    await sleep(pauseMs, stop);
    pauseMs = Math.min(pauseMs * 2, MAX_WRITE_PAUSE_MS);
  }
}

/**
 * The whole environment of a command on a terminal, which inherits nothing:
 * the server's own, as far as it may read it (all of it with a plain
 * `--allow-env`, else only `PATH`), then `variables` over it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { terminalEnvironment } from "./pty_process.ts";
 *
 * const env = terminalEnvironment({ TERM: "vt100", HOME: "/home/ada" });
 * assert.equal(env.TERM, "vt100");
 * assert.equal(env.HOME, "/home/ada");
 * assert.ok(env.PATH);
 * ```
 */
export function terminalEnvironment(
  variables: Readonly<Record<string, string>>,
): Record<string, string> {
  const granted = (variable?: string) =>
    Deno.permissions.querySync(variable ? { name: "env", variable } : { name: "env" }).state ===
      "granted";
  const own = granted() ? Deno.env.toObject() : {};
  if (own.PATH === undefined) own.PATH = (granted("PATH") && Deno.env.get("PATH")) || DEFAULT_PATH;
  return { ...own, ...variables };
}

/** The PATH of a command on a terminal when the server's cannot be read. */
const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";
