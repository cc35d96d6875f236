/**
 * Runs one command as the leader of its own process group, so that the
 * command and everything it starts can be signalled, and terminated, as one.
 * Knows nothing of frames or connections: it hands out the child's streams.
 *
 * @module
 */

import { SpawnError } from "./errors.ts";

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

/**
 * The argv that runs `script` with the system shell.
 *
 * @example
 * ```ts
 * import { shellArgv } from "./process.ts";
 *
 * console.assert(shellArgv("echo hi").join(" ") === "/bin/sh -c echo hi");
 * ```
 */
export function shellArgv(script: string): string[] {
  return ["/bin/sh", "-c", script];
}

/**
 * Starts a command in a new session and process group.
 *
 * @throws {SpawnError} 127 when the program is not found, 126 when it cannot
 * be executed or the working directory is unusable.
 *
 * @example
 * ```ts ignore
 * import { spawnProcess } from "./process.ts";
 *
 * const child = await spawnProcess({
 *   argv: ["echo", "hi"],
 *   stdin: "null",
 *   stdout: "piped",
 *   stderr: "null",
 * });
 * console.log((await child.status).code);
 * ```
 */
export async function spawnProcess(spec: ProcessSpec): Promise<GroupProcess> {
  const [program, ...args] = spec.argv;
  if (spec.cwd !== undefined) await checkDirectory(spec.cwd);
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
      throw new SpawnError(127, `${program}: command not found`, {
        cause: error,
      });
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new SpawnError(126, missingRunPermission(program), { cause: error });
    }
    const reason = error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (error as Error).message;
    throw new SpawnError(126, `${program}: cannot execute: ${reason}`, {
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

async function checkDirectory(cwd: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(cwd);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such directory"
      : (error as Error).message;
    throw new SpawnError(126, `cannot change to directory ${cwd}: ${reason}`, {
      cause: error,
    });
  }
  if (!info.isDirectory) {
    throw new SpawnError(
      126,
      `cannot change to directory ${cwd}: not a directory`,
    );
  }
}

/**
 * A running command that leads its own process group.
 *
 * @example Ending a command and everything it started
 * ```ts ignore
 * import { spawnProcess } from "./process.ts";
 *
 * const child = await spawnProcess({
 *   argv: ["sh", "-c", "sleep 60 & sleep 60"],
 *   stdin: "null",
 *   stdout: "null",
 *   stderr: "null",
 * });
 * await child.terminate({ graceMs: 2000 });
 * console.log((await child.status).signal); // "SIGTERM"
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

  /** Process id of the command, which is also its process group id. */
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
    try {
      Deno.kill(-this.#child.pid, signal);
      return "sent";
    } catch (error) {
      // ESRCH and EPERM describe the group, not a fault of the caller.
      if (error instanceof Deno.errors.NotFound) return "gone";
      if (error instanceof Deno.errors.PermissionDenied) return "denied";
      throw error;
    }
  }

  /**
   * Ends the whole group: SIGTERM, then SIGKILL to whatever is still there
   * after `graceMs`. Resolves once the group is gone or SIGKILL was sent.
   */
  async terminate(options: { graceMs: number }): Promise<void> {
    if (this.signalGroup("SIGTERM") !== "sent") return;
    // A stopped process acts on SIGTERM only once continued; SIGCONT also
    // serves as the probe below, since it harms nothing that is running.
    const deadline = Date.now() + options.graceMs;
    while (this.signalGroup("SIGCONT") === "sent") {
      if (Date.now() >= deadline) {
        this.signalGroup("SIGKILL");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, GROUP_POLL_MS));
    }
  }
}
