/**
 * Runs one command as the leader of its own session and process group, so
 * that the command and everything it starts can be signalled, and
 * terminated, as one. Knows nothing of frames or connections: it hands out
 * the child's streams.
 *
 * Where setsid(1) is at hand (util-linux, on Linux), the command starts
 * through it: Deno spawns `setsid -- PROGRAM ARGS...` the cheap way (the
 * server is not copied), and setsid makes the session, then `execvp`s the
 * program with argv[0] exactly as the client gave it, so that `ps` and
 * `pgrep -f` show what the user ran. Without it, Deno's `detached: true`
 * makes the session, which forks the whole server per command and puts the
 * resolved path in argv[0].
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { RexecError, SpawnError } from "../errors.ts";
import { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND } from "../protocol/exit_status.ts";
import { sleep } from "../util/deadline.ts";
import {
  canonicalProgramPath,
  DEFAULT_EXEC_PATH,
  isRunnableFile,
  programCandidates,
} from "./program_search.ts";

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
  /**
   * The setsid(1) to start the command through ({@link findSetsid}); Deno's
   * `detached: true` when absent.
   */
  readonly setsid?: string;
  /**
   * The canonical path of the file an allowlist checked for `argv[0]`: the
   * command runs that file and no other. Through setsid, argv[0] is still
   * passed as given when the same search finds that file and nothing the
   * search could fall back to; otherwise, and without setsid, argv[0] is
   * this path.
   */
  readonly checkedProgram?: string;
  /** Whether the caller has just checked that `cwd` can be entered; it is not checked again. */
  readonly cwdChecked?: boolean;
}

/**
 * The process a {@link GroupProcess} leads: a `Deno.ChildProcess`, or a
 * command on a pseudo-terminal (see pty_process.ts), which has the terminal
 * for its streams.
 */
export interface GroupLeader {
  /** Process id, which is also the group's and the session's. */
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Its stdin, when piped. */
  readonly stdin: WritableStream<Uint8Array>;
  /** Its stdout, when piped. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** Its stderr, when piped. */
  readonly stderr: ReadableStream<Uint8Array>;
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
 * const child = spawnProcess({
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
 * const child = spawnProcess({
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
export function spawnProcess(spec: ProcessSpec): GroupProcess {
  const [name, ...args] = spec.argv;
  if (spec.cwd !== undefined && !spec.cwdChecked) {
    const user = spec.uid !== undefined && spec.gid !== undefined
      ? { uid: spec.uid, gid: spec.gid }
      : undefined;
    const problem = directoryProblem(spec.cwd, user);
    if (problem !== undefined) {
      throw new SpawnError(
        EXIT_CANNOT_EXECUTE,
        `cannot change to directory ${spec.cwd}: ${problem}`,
      );
    }
  }
  const { setsid } = spec;
  const [program, programArgs] = setsid === undefined
    ? [spec.checkedProgram ?? name, args]
    : [setsid, ["--", programForExecvp(name, spec), ...args]];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args: programArgs,
      env: spec.env ? { ...spec.env } : undefined,
      cwd: spec.cwd,
      stdin: spec.stdin,
      stdout: spec.stdout,
      stderr: spec.stderr,
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
      detached: setsid === undefined,
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
  return new GroupProcess(child, { leaderLater: setsid !== undefined });
}

/** The setsid(1) commands start through, or why they start with a fork of the server instead. */
export type SetsidLookup = { readonly path: string } | { readonly reason: string };

/**
 * Finds setsid(1) on the server's PATH and checks that it runs a program in
 * place (in the process Deno started, whose status the server waits for),
 * with one trial run. Only for a server that may run any program: through
 * setsid, a narrower `--allow-run` would judge setsid alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSetsid, spawnProcess } from "./process.ts";
 *
 * const found = await findSetsid();
 * const child = spawnProcess({
 *   argv: ["true"],
 *   stdin: "null",
 *   stdout: "null",
 *   stderr: "null",
 *   ...("path" in found ? { setsid: found.path } : {}),
 * });
 * assert.equal((await child.status).code, 0);
 * ```
 */
export async function findSetsid(): Promise<SetsidLookup> {
  if ((await Deno.permissions.query({ name: "env", variable: "PATH" })).state !== "granted") {
    return { reason: "the server may not read PATH (--allow-env=PATH), which setsid searches" };
  }
  const path = Deno.env.get("PATH");
  let found: string | undefined;
  for (const candidate of programCandidates("setsid", { path, cwd: Deno.cwd() })) {
    if (candidate.runnable) {
      found = candidate.file;
      break;
    }
  }
  if (found === undefined) return { reason: "setsid(1) is not on the server's PATH" };
  try {
    const child = new Deno.Command(found, {
      args: ["--", "/bin/sh", "-c", "echo $$"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const { success, stdout, stderr } = await child.output();
    const said = new TextDecoder().decode(stdout).trim();
    if (success && said === String(child.pid)) return { path: found };
    const detail = new TextDecoder().decode(stderr).trim();
    return {
      reason: success
        ? `${found} runs the program in a process of its own (pid ${said}, not ${child.pid})`
        : `${found} failed a trial run${detail ? `: ${detail}` : ""}`,
    };
  } catch (error) {
    return { reason: `${found} cannot be run: ${(error as Error).message}` };
  }
}

/** Most programs whose files {@link programForExecvp} remembers. */
const FOUND_PROGRAMS_KEPT = 64;

/**
 * The file each program was last found at, by working directory, PATH and
 * name, the least recently used first.
 */
const foundPrograms = new Map<string, string>();

/**
 * What setsid is to `execvp`: the name as given, once the same search has
 * shown that it finds a file that can be run, so that "not found" and
 * "cannot execute" are the server's to report (127 and 126, with a
 * message), not lines on the command's stderr.
 *
 * With a checked program, the name stays only while `execvp` cannot end up
 * anywhere else: the search finds that very file first, and no other file
 * of the name further on, where `execvp` would go on to if running the first
 * failed (an account without its execute bit, a `noexec` mount, the file
 * removed meanwhile). Otherwise the checked path itself is run.
 *
 * @throws {SpawnError} 127 when the search finds nothing, 126 when it finds
 * only files that cannot be run.
 */
function programForExecvp(name: string, spec: ProcessSpec): string {
  const cwd = spec.cwd === undefined
    ? Deno.cwd()
    : spec.cwd.startsWith("/")
    ? spec.cwd
    : `${Deno.cwd()}/${spec.cwd}`;
  // The child's PATH: the request's, else the one it inherits from the server.
  const path = spec.env !== undefined && Object.hasOwn(spec.env, "PATH")
    ? spec.env.PATH
    : Deno.env.get("PATH");
  const checked = spec.checkedProgram;
  // Without a checked program, what was found only decides whether the
  // server or execvp reports a failure: a file found before that is still
  // there will do, even if the search would now find another first.
  const key = `${cwd}\0${path ?? DEFAULT_EXEC_PATH}\0${name}`;
  if (checked === undefined) {
    const known = foundPrograms.get(key);
    if (known !== undefined) {
      foundPrograms.delete(key);
      if (isRunnableFile(known)) {
        foundPrograms.set(key, known);
        return name;
      }
    }
  }
  const search = programCandidates(name, { path, cwd });
  let denied = false;
  for (const candidate of search) {
    if (!candidate.runnable) {
      denied = true;
      continue;
    }
    if (checked === undefined) {
      if (foundPrograms.size >= FOUND_PROGRAMS_KEPT) {
        foundPrograms.delete(foundPrograms.keys().next().value!);
      }
      foundPrograms.set(key, candidate.file);
      return name;
    }
    if (canonicalProgramPath(candidate.file) !== checked) return checked;
    for (const later of search) {
      if (later.runnable && canonicalProgramPath(later.file) !== checked) return checked;
    }
    return name;
  }
  if (denied) throw new SpawnError(126, `${name}: cannot execute: permission denied`);
  throw new SpawnError(127, `${name}: command not found`);
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
 * It stats synchronously: a spawn blocks the server on the same directory
 * anyway (the child changes to it before the spawn returns), and a stat
 * through the thread pool costs two thread switches, which on a busy
 * machine add more to every command than the stat itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { directoryProblem } from "./process.ts";
 *
 * assert.equal(directoryProblem("/"), undefined);
 * assert.equal(directoryProblem("/rexec/no/such/dir"), "no such directory");
 * ```
 */
export function directoryProblem(
  path: string,
  user?: DirectoryUser,
): string | undefined {
  if (path === "") return "no directory named";
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "no such directory";
    if (error instanceof Deno.errors.NotADirectory) return "a component is not a directory";
    return (error as Error).message;
  }
  if (!info.isDirectory) return "not a directory";
  // Root searches any directory.
  if (user === undefined || user.uid === 0) return undefined;
  const walked = new Set(ancestors(Deno.realPathSync(path)));
  // The kernel walks the path as written too, symbolic links and `..` included.
  if (path.startsWith("/")) { for (const directory of ancestors(path)) walked.add(directory); }
  for (const directory of walked) {
    if (!searchableBy(Deno.statSync(directory), user)) {
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
 * const child = spawnProcess({
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
  readonly #child: GroupLeader;
  /** Resolves when the group leader, the command itself, has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /**
   * Whether the child may not lead its group yet: setsid(1) makes it the
   * leader only after it has started, so for a moment there is no group
   * by its pid, while the child is there, and alone.
   */
  #leaderLater: boolean;
  #exited = false;

  /**
   * Wraps a child spawned with `detached: true` (the leader of its group
   * from the start), or through setsid(1), with `leaderLater`.
   */
  constructor(child: GroupLeader, options: { leaderLater?: boolean } = {}) {
    this.#child = child;
    this.#leaderLater = options.leaderLater ?? false;
    this.status = child.status;
    this.status.then(() => this.#exited = true, () => this.#exited = true);
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
    const result = signalProcess(-this.#child.pid, signal);
    if (result !== "gone" || !this.#leaderLater) {
      if (result === "sent") this.#leaderLater = false;
      return result;
    }
    // No group yet: the child has not called setsid(), so it has not run the
    // command either, and started nothing. Never once it has exited: its pid
    // may belong to another process by then.
    if (this.#exited) return "gone";
    return signalProcess(this.#child.pid, signal);
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
