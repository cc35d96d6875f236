/**
 * Child processes for the benchmark suite, always bounded: every run has a
 * deadline after which it is killed, every long-running service is stopped
 * (SIGTERM, then SIGKILL) when its scope ends, and each child gets a clean,
 * explicit environment.
 *
 * @module
 */

/** The repository root, with a trailing slash. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** The `rexec` entry point. */
export const MAIN: string = new URL("../main.ts", import.meta.url).pathname;

/** Milliseconds a service has to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5000;

/** Lines of a service's stderr kept for error messages. */
const TAIL_LINES = 40;

/** The command line of a task in deno.json, such as `rexec`. */
export async function taskCommand(task: string): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
    tasks?: Record<string, string>;
  };
  const line = config.tasks?.[task];
  if (line === undefined) throw new Error(`deno.json has no ${task} task`);
  return line;
}

/**
 * The permission flags of a task in deno.json, so that the CLI runs here
 * exactly as `deno task rexec` runs it.
 */
export async function taskPermissions(task: string): Promise<string[]> {
  return (await taskCommand(task)).split(/\s+/).filter((word) =>
    /^(--allow-|--deny-|-A$)/.test(word)
  );
}

/**
 * A minimal environment for a child: PATH, HOME and where Deno keeps its
 * cache, taken from ours, plus `extra`. Nothing else of ours leaks in (no
 * REXEC_TOKEN from the caller's shell, for example).
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR", "LANG"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Options for {@link run}. */
export interface RunOptions {
  /** Arguments after the program. */
  args: readonly string[];
  /** The whole environment of the child (see {@link childEnv}). */
  env: Record<string, string>;
  /** Kill the child (SIGKILL) after this long. */
  timeoutMs: number;
  /** `piped` to collect stdout; default `null` (/dev/null). */
  stdout?: "piped" | "null";
  /** Kills the child when aborted. */
  signal?: AbortSignal;
}

/** What a bounded run produced. */
export interface RunResult {
  /** Exit code; 128+N when killed by signal N. */
  readonly code: number;
  /** Stdout, when piped; otherwise empty. */
  readonly stdout: Uint8Array;
  /** The end of stderr, as text. */
  readonly stderr: string;
  /** Milliseconds from spawn to exit, output read. */
  readonly ms: number;
  /** Whether the deadline or the abort signal ended the run. */
  readonly killed: boolean;
}

/**
 * Runs `program` to its end, or kills it at the deadline or on `signal`.
 * Stdin is /dev/null.
 */
export async function run(program: string, options: RunOptions): Promise<RunResult> {
  options.signal?.throwIfAborted();
  const start = performance.now();
  const child = new Deno.Command(program, {
    args: [...options.args],
    env: options.env,
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: options.stdout ?? "null",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const kill = () => {
    killed = true;
    killQuietly(child, "SIGKILL");
  };
  const timer = setTimeout(kill, options.timeoutMs);
  options.signal?.addEventListener("abort", kill, { once: true });
  try {
    const [status, stdout, stderr] = await Promise.all([
      child.status,
      options.stdout === "piped" ? new Response(child.stdout).bytes() : new Uint8Array(0),
      new Response(child.stderr).text(),
    ]);
    return {
      code: status.code,
      stdout,
      stderr: stderr.slice(-2000),
      ms: performance.now() - start,
      killed,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", kill);
  }
}

/**
 * Runs `program` like {@link run}, requiring success.
 *
 * @throws {Error} with the end of its stderr unless it exited 0 in time.
 */
export async function runOk(program: string, options: RunOptions): Promise<RunResult> {
  const result = await run(program, options);
  if (result.code !== 0 || result.killed) {
    const why = result.killed
      ? options.signal?.aborted ? "was stopped" : `timed out after ${options.timeoutMs / 1000} s`
      : `exited ${result.code}`;
    throw new Error(`${commandLine(program, options.args)} ${why}: ${lastLine(result.stderr)}`);
  }
  return result;
}

/**
 * The text of a file under /proc. Deno reads /proc only with --allow-all,
 * so `cat` reads it, which --allow-run covers.
 */
export async function readProcText(path: string): Promise<string> {
  const { stdout } = await runOk("cat", {
    args: [path],
    env: childEnv(),
    stdout: "piped",
    timeoutMs: 10_000,
  });
  return new TextDecoder().decode(stdout);
}

/** A command line for messages and the report, words with spaces quoted. */
export function commandLine(program: string, args: readonly string[]): string {
  return [program, ...args].map((word) => /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word}'`)
    .join(" ");
}

/** The last non-empty line of `text`, or "(no output)". */
export function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() || "(no output)";
}

function killQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch (error) {
    // It has already exited: nothing to kill.
    if (!(error instanceof TypeError)) throw error;
  }
}

/**
 * A long-running child such as a server: its stderr is read line by line as
 * it comes (so that a chatty server never blocks on a full pipe), the last
 * lines kept for error messages. Disposing it stops it: SIGTERM, then SIGKILL
 * after a grace period.
 */
export class Service implements AsyncDisposable {
  /** What it is, for messages. */
  readonly name: string;
  /** Its process id. */
  readonly pid: number;
  /** Resolves when it has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #tail: string[] = [];
  readonly #waiters = new Set<{ pattern: RegExp; found: (match: RegExpMatchArray) => void }>();
  readonly #stderrDone: Promise<void>;

  /** Starts `program` with stdin and stdout on /dev/null. */
  constructor(name: string, program: string, args: readonly string[], env: Record<string, string>) {
    this.name = name;
    this.#child = new Deno.Command(program, {
      args: [...args],
      env,
      clearEnv: true,
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.exited = this.#child.status;
    this.#stderrDone = this.#readStderr();
  }

  /** The last lines it wrote to stderr. */
  tail(): string {
    return this.#tail.join("\n");
  }

  /**
   * Waits for a line of its stderr that matches `pattern`.
   *
   * @throws {Error} when it exits first or `timeoutMs` passes, with what it said.
   */
  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    for (const line of this.#tail) {
      const match = line.match(pattern);
      if (match) return match;
    }
    const found = Promise.withResolvers<RegExpMatchArray>();
    const waiter = { pattern, found: found.resolve };
    this.#waiters.add(waiter);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name}: no ${pattern} within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    const ended = this.#stderrDone.then(async () => {
      const status = await this.exited;
      throw new Error(
        `${this.name} exited (code ${status.code}) before ${pattern}: ${lastLine(this.tail())}`,
      );
    });
    try {
      return await Promise.race([found.promise, expired, ended]);
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(waiter);
      // The losers of the race must not become unhandled rejections.
      expired.catch(() => {});
      ended.catch(() => {});
    }
  }

  /** Stops it: SIGTERM, SIGKILL after a grace period; resolves once it has exited. */
  async stop(): Promise<void> {
    killQuietly(this.#child, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<"grace">((resolve) => {
      timer = setTimeout(() => resolve("grace"), STOP_GRACE_MS);
    });
    try {
      if (await Promise.race([this.exited, grace]) === "grace") {
        killQuietly(this.#child, "SIGKILL");
        await this.exited;
      }
    } finally {
      clearTimeout(timer);
    }
    await this.#stderrDone;
  }

  /** Same as {@link stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #readStderr(): Promise<void> {
    let pending = "";
    const keep = (line: string) => {
      this.#tail.push(line);
      if (this.#tail.length > TAIL_LINES) this.#tail.shift();
      for (const waiter of this.#waiters) {
        const match = line.match(waiter.pattern);
        if (match) waiter.found(match);
      }
    };
    for await (const text of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (pending + text).split("\n");
      pending = lines.pop()!;
      lines.forEach(keep);
    }
    if (pending) keep(pending);
  }
}

/** A temporary directory, removed with everything in it when disposed. */
export class TempDir implements AsyncDisposable {
  /** Its path. */
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Makes a new private (0700) directory under the system's temporary directory. */
  static async create(prefix: string): Promise<TempDir> {
    return new TempDir(await Deno.makeTempDir({ prefix }));
  }

  /** Removes the directory and its contents. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.path, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Where `program` is on PATH, or undefined. */
export async function which(program: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const path = `${dir}/${program}`;
    try {
      const info = await Deno.stat(path);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return path;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1, for a child that must be told its port. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Resolves after `ms`, or rejects at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
