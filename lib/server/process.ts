/**
 * Runs one command as the leader of its own session and process group, so
 * that the command and everything it starts can be signalled, and
 * terminated, as one. Knows nothing of frames or connections: it hands out
 * the child's streams.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { RexecError, SpawnError } from "../errors.ts";
import { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND } from "../protocol/exit_status.ts";
import { sleep } from "../util/deadline.ts";

/** Where a standard stream of the child goes. */
export type StdioMode = "piped" | "null";

/** What to run. */
export interface ProcessSpec {
  /** Program and arguments; the program is looked up in `PATH` when it has no slash. */
  readonly argv: readonly string[];
  /** Variables added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory; the server's own when absent. */
  readonly cwd?: string;
  /** Child's stdin. */
  readonly stdin: StdioMode;
  /** Child's stdout. */
  readonly stdout: StdioMode;
  /** Child's stderr. */
  readonly stderr: StdioMode;
  /** User id to run as; needs a server running as root. */
  readonly uid?: number;
  /** Group id to run as; needs a server running as root. */
  readonly gid?: number;
}

/** What became of a signal sent to a process group; see {@link GroupProcess.signalGroup}. */
export type GroupSignalResult = "sent" | "gone" | "denied";

/** How long to wait between checks for a process group that is going away. */
const GROUP_POLL_MS = 25;

/** Most looks for processes left after SIGKILL, which may have forked meanwhile. */
const KILL_SWEEPS = 5;

/**
 * The argv that runs `script` with the system shell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shellArgv, spawnProcess } from "./process.ts";
 *
 * assert.deepEqual(shellArgv("echo $((6 * 7))"), ["/bin/sh", "-c", "echo $((6 * 7))"]);
 * const child = await spawnProcess({
 *   argv: shellArgv("echo $((6 * 7))"),
 *   stdin: "null",
 *   stdout: "piped",
 *   stderr: "null",
 * });
 * assert.equal(await new Response(child.stdout).text(), "42\n");
 * assert.equal((await child.status).code, 0);
 * ```
 */
export function shellArgv(script: string): string[] {
  return ["/bin/sh", "-c", script];
}

/**
 * Starts a command in a new session and process group.
 *
 * @throws {SpawnError} {@link EXIT_NOT_FOUND} when the program is not found,
 * {@link EXIT_CANNOT_EXECUTE} when it cannot be executed or the working
 * directory is unusable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { spawnProcess } from "./process.ts";
 *
 * const child = await spawnProcess({
 *   argv: ["sh", "-c", "echo $$; ps -o pgid= -p $$"],
 *   stdin: "null",
 *   stdout: "piped",
 *   stderr: "null",
 * });
 * const [pid, group] = (await new Response(child.stdout).text()).trim().split(/\s+/);
 * assert.equal(Number(pid), child.pid);
 * assert.equal(Number(group), child.pid); // it leads its own process group
 * assert.equal((await child.status).code, 0);
 * ```
 */
export async function spawnProcess(spec: ProcessSpec): Promise<GroupProcess> {
  const [program, ...args] = spec.argv;
  if (spec.cwd !== undefined) {
    const user = spec.uid !== undefined && spec.gid !== undefined
      ? { uid: spec.uid, gid: spec.gid }
      : undefined;
    const problem = await directoryProblem(spec.cwd, user);
    if (problem !== undefined) {
      throw new SpawnError(
        EXIT_CANNOT_EXECUTE,
        `cannot change to directory ${spec.cwd}: ${problem}`,
      );
    }
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      env: spec.env ? { ...spec.env } : undefined,
      cwd: spec.cwd,
      stdin: spec.stdin,
      stdout: spec.stdout,
      stderr: spec.stderr,
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
      detached: true,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SpawnError(EXIT_NOT_FOUND, `${program}: command not found`, {
        cause: error,
      });
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new SpawnError(EXIT_CANNOT_EXECUTE, missingRunPermission(program), { cause: error });
    }
    const reason = error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (error as Error).message;
    throw new SpawnError(EXIT_CANNOT_EXECUTE, `${program}: cannot execute: ${reason}`, {
      cause: error,
    });
  }
  return new GroupProcess(child);
}

/**
 * Deno's own words ("run again with the --allow-run flag") read as if the
 * client lacked something; it is the server process that does.
 */
function missingRunPermission(program: string): string {
  return `${program}: cannot execute: the server process may not run it ` +
    `(Deno's run permission: start the server with --allow-run)`;
}

/**
 * An account a command switches to, which must be able to enter its working
 * directory.
 */
export interface DirectoryUser {
  /** User id. */
  readonly uid: number;
  /** Primary group id: the only group a command that switched accounts has. */
  readonly gid: number;
}

/**
 * Why `path` cannot be a command's working directory, or undefined when it
 * can. With `user`, every directory on the way there must also let that
 * account search it, judged by the mode bits (ACLs are not consulted), so
 * that a command run as another user is not started somewhere it cannot
 * enter, which the child would report as a failure to execute.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { directoryProblem } from "./process.ts";
 *
 * assert.equal(await directoryProblem("/"), undefined);
 * assert.equal(await directoryProblem("/rexec/no/such/dir"), "no such directory");
 * ```
 */
export async function directoryProblem(
  path: string,
  user?: DirectoryUser,
): Promise<string | undefined> {
  if (path === "") return "no directory named";
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "no such directory";
    if (error instanceof Deno.errors.NotADirectory) return "a component is not a directory";
    return (error as Error).message;
  }
  if (!info.isDirectory) return "not a directory";
  // Root searches any directory.
  if (user === undefined || user.uid === 0) return undefined;
  const walked = new Set(ancestors(await Deno.realPath(path)));
  // The kernel walks the path as written too, symbolic links and `..` included.
  if (path.startsWith("/")) { for (const directory of ancestors(path)) walked.add(directory); }
  for (const directory of walked) {
    if (!searchableBy(await Deno.stat(directory), user)) {
      return `permission denied (uid ${user.uid} cannot enter ${directory})`;
    }
  }
  return undefined;
}

/** `/a/b` gives `/`, `/a`, `/a/b`. */
function ancestors(path: string): string[] {
  const parts = path.split("/").filter((part) => part !== "");
  return ["/", ...parts.map((_, index) => `/${parts.slice(0, index + 1).join("/")}`)];
}

/** Whether the execute bit of the class `user` falls in (owner, group or other) is set. */
function searchableBy(info: Deno.FileInfo, user: DirectoryUser): boolean {
  if (info.mode === null) return true;
  const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
  return (info.mode & bit) !== 0;
}

/**
 * The processes of the command's session outside its process group could
 * not be listed, so only the group is ended. It never reaches a caller of
 * {@link GroupProcess.terminate}, which turns it into its `onWarning`.
 */
export class SessionListError extends RexecError {}

/** Options for {@link GroupProcess.terminate}. */
export interface TerminateOptions {
  /** Milliseconds between SIGTERM and SIGKILL. */
  readonly graceMs: number;
  /**
   * Told when the processes that left the group could not be looked for
   * (no `pgrep` on this system); only the group is ended then.
   */
  readonly onWarning?: (message: string) => void;
}

/**
 * A running command that leads its own process group and session.
 *
 * @example Ending a command and everything it started
 * ```ts
 * import assert from "node:assert/strict";
 * import { spawnProcess } from "./process.ts";
 *
 * const child = await spawnProcess({
 *   argv: ["sh", "-c", "sleep 60 & echo started; sleep 60"],
 *   stdin: "null",
 *   stdout: "piped",
 *   stderr: "null",
 * });
 * const output = child.stdout.getReader();
 * await output.read(); // "started": the background sleep runs too
 * await child.terminate({ graceMs: 2000 });
 * assert.equal((await child.status).signal, "SIGTERM");
 * assert.equal(child.signalGroup("SIGTERM"), "gone"); // the background sleep as well
 * output.releaseLock();
 * await child.stdout.cancel();
 * ```
 */
export class GroupProcess {
  readonly #child: Deno.ChildProcess;
  /** Resolves when the group leader, the command itself, has exited. */
  readonly status: Promise<Deno.CommandStatus>;

  /** Wraps a child spawned with `detached: true`. */
  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.status = child.status;
  }

  /** Process id of the command, which is also its process group id and session id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The command's stdin, when piped. */
  get stdin(): WritableStream<Uint8Array> {
    return this.#child.stdin;
  }

  /** The command's stdout, when piped. */
  get stdout(): ReadableStream<Uint8Array> {
    return this.#child.stdout;
  }

  /** The command's stderr, when piped. */
  get stderr(): ReadableStream<Uint8Array> {
    return this.#child.stderr;
  }

  /**
   * Sends `signal` to every process in the group.
   *
   * @returns `"sent"` when at least one process got it; `"gone"` when no
   * process is left in the group; `"denied"` when the processes left belong
   * to another user (a setuid program the command started), which this
   * server may not signal.
   */
  signalGroup(signal: Deno.Signal): GroupSignalResult {
    return signalProcess(-this.#child.pid, signal);
  }

  /**
   * Ends the whole group, and every process of the command's session that
   * left the group (`setpgid`, `setpgrp`): SIGTERM, then SIGKILL to
   * whatever is still there after `graceMs`. Resolves once they are all
   * gone or SIGKILL was sent. A process that started a session of its own
   * (`setsid`) is beyond reach.
   */
  async terminate(options: TerminateOptions): Promise<void> {
    const deadline = Date.now() + options.graceMs;
    let warned = false;
    // Once per command, however many looks fail.
    const warn = (message: string) => {
      if (!warned) options.onWarning?.(message);
      warned = true;
    };
    // The group first and at once: listing the session takes a process
    // start, and most commands leave nothing outside their group.
    let group = this.signalGroup("SIGTERM") === "sent";
    let strays = signalEach(await this.#strays(warn), "SIGTERM");
    if (!group && strays.length === 0) return;
    for (;;) {
      // A stopped process acts on SIGTERM only once continued; SIGCONT also
      // serves as the probe, since it harms nothing that is running.
      group = group && this.signalGroup("SIGCONT") === "sent";
      strays = signalEach(strays, "SIGCONT");
      if (!group && strays.length === 0) {
        // Those that went may have started others that left the group.
        strays = signalEach(await this.#sessionMembers(warn), "SIGTERM");
        if (strays.length === 0) return;
      }
      if (Date.now() >= deadline) break;
      await sleep(GROUP_POLL_MS);
    }
    this.signalGroup("SIGKILL");
    // Until a look finds none left: a process may fork between the look and the kill.
    for (let sweep = 0; sweep < KILL_SWEEPS; sweep++) {
      if (signalEach(await this.#sessionMembers(warn), "SIGKILL").length === 0) return;
      await sleep(GROUP_POLL_MS);
    }
  }

  /**
   * Processes of the command's session outside its group. Those still in the
   * group are left out, so that they get one SIGTERM, not two (a trap would
   * run twice).
   */
  async #strays(warn: (message: string) => void): Promise<number[]> {
    const [session, group] = await Promise.all([
      this.#sessionMembers(warn),
      listProcesses(["-g", String(this.pid)], warn),
    ]);
    return session.filter((pid) => !group.includes(pid));
  }

  #sessionMembers(warn: (message: string) => void): Promise<number[]> {
    return listProcesses(["-s", String(this.pid)], warn);
  }
}

/** Sends `signal` to process `pid` (a process group when negative). */
function signalProcess(pid: number, signal: Deno.Signal): GroupSignalResult {
  try {
    Deno.kill(pid, signal);
    return "sent";
  } catch (error) {
    // ESRCH and EPERM describe the target, not a fault of the caller.
    if (error instanceof Deno.errors.NotFound) return "gone";
    if (error instanceof Deno.errors.PermissionDenied) return "denied";
    throw error;
  }
}

/** Sends `signal` to each process; returns those that got it. */
function signalEach(pids: readonly number[], signal: Deno.Signal): number[] {
  return pids.filter((pid) => signalProcess(pid, signal) === "sent");
}

/**
 * Lists processes with `pgrep` (`-s SID` or `-g PGID`); none, after telling
 * `warn`, when that fails. Deno reads `/proc/PID/stat` only with
 * `--allow-all`, and `pgrep` also works where there is no `/proc` (macOS,
 * the BSDs).
 */
async function listProcesses(
  selector: readonly string[],
  warn: (message: string) => void,
): Promise<number[]> {
  try {
    return await runPgrep(selector);
  } catch (error) {
    if (!(error instanceof SessionListError)) throw error;
    warn(
      `${error.message}; only the command's process group is ended, so a process that left ` +
        "it (setpgid) keeps running",
    );
    return [];
  }
}

/**
 * How many pgrep processes run at once: when many commands end together (a
 * server shutting down), the rest wait their turn rather than start hundreds
 * of processes at the same moment. Their groups were signalled already.
 */
const PGREP_CONCURRENCY = 4;
let pgrepRunning = 0;
const pgrepWaiting: (() => void)[] = [];

/** Runs `task` once fewer than {@link PGREP_CONCURRENCY} others run. */
async function inPgrepTurn<T>(task: () => Promise<T>): Promise<T> {
  if (pgrepRunning < PGREP_CONCURRENCY) pgrepRunning++;
  else await new Promise<void>((resolve) => pgrepWaiting.push(resolve));
  try {
    return await task();
  } finally {
    // The turn passes straight to the next in line, if any.
    const next = pgrepWaiting.shift();
    if (next) next();
    else pgrepRunning--;
  }
}

/** @throws {SessionListError} when pgrep cannot be run or fails. */
function runPgrep(selector: readonly string[]): Promise<number[]> {
  return inPgrepTurn(() => pgrep(selector));
}

/** @throws {SessionListError} when pgrep cannot be run or fails. */
async function pgrep(selector: readonly string[]): Promise<number[]> {
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command("pgrep", {
      args: [...selector],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "not found on the server's PATH"
      : (error as Error).message;
    throw new SessionListError(`cannot run pgrep to find the command's processes: ${reason}`, {
      cause: error,
    });
  }
  // pgrep exits 1 when nothing matched.
  if (result.code === 1) return [];
  if (result.code !== 0) {
    const detail = new TextDecoder().decode(result.stderr).trim();
    throw new SessionListError(
      `pgrep ${selector.join(" ")} failed with status ${result.code}${detail ? `: ${detail}` : ""}`,
    );
  }
  return new TextDecoder().decode(result.stdout).split("\n").filter((line) => /^[0-9]+$/.test(line))
    .map(Number);
}
