/**
 * Sessions on a remote terminal, against ssh in the same run: the time a
 * typed key takes to come back (`rexec run -t HOST -- cat` against
 * `ssh -tt HOST cat`), the rate of output through a terminal, both read by
 * a terminal this process holds (node-pty), and the start-up of a one-shot
 * `rexec run` without `-t` before and after terminals came in (the tree of
 * the commit before lib/server/pty_process.ts, from git, against this one).
 *
 * @module
 */

import { spawn } from "npm:@lydell/node-pty@^1.1.0";
import { commandLine, MAIN, ROOT, run, runOk, TempDir } from "./process.ts";
import {
  type BenchContext,
  rexecClientEnv,
  type RexecServer,
  Skipped,
  type Sshd,
} from "./servers.ts";
import { mbps, MiB, ms, type Sampled, sampled, times } from "./stats.ts";

/** What the terminal section measured. */
export interface TerminalResults {
  /** Milliseconds from a key typed to its echo, through rexec and through ssh. */
  readonly echo: { readonly rexec: Sampled; readonly ssh?: Sampled };
  /** MB/s of `cat FILE` on a remote terminal, read by a local one. */
  readonly output: { readonly bytes: number; readonly rexec: Sampled; readonly ssh?: Sampled };
  /** Milliseconds of a one-shot `rexec run -n HOST -- true`, before and after, alternated. */
  readonly startup?: { readonly base: string; readonly before: Sampled; readonly after: Sampled };
  /** Why the start-up comparison is missing. */
  readonly startupSkipped?: string;
}

/** How much the section does. */
export interface TerminalPlan {
  readonly keystrokes: number;
  readonly outputBytes: number;
  readonly outputRounds: number;
  readonly startups: number;
}

/** Seconds any one terminal session may take. */
const SESSION_TIMEOUT_MS = 120_000;

/** A command on a terminal this process holds, with what it has shown. */
class HeldTerminal {
  readonly exited: Promise<number>;
  readonly #pty: ReturnType<typeof spawn>;
  #shown = "";
  #bytes = 0;
  #wake: (() => void) | undefined;

  constructor(program: string, args: readonly string[], env: Record<string, string>) {
    this.#pty = spawn(program, [...args], {
      name: "xterm-256color",
      rows: 24,
      cols: 80,
      cwd: ROOT,
      env,
      encoding: null,
    });
    const exited = Promise.withResolvers<number>();
    this.exited = exited.promise;
    const decoder = new TextDecoder();
    this.#pty.onData((data: unknown) => {
      const bytes = data as Uint8Array;
      this.#bytes += bytes.length;
      // Only the echo phase reads the text, and it is short.
      if (this.#shown.length < 4096) this.#shown += decoder.decode(bytes, { stream: true });
      this.#wake?.();
    });
    this.#pty.onExit(({ exitCode }) => {
      exited.resolve(exitCode);
      this.#wake?.();
    });
  }

  /** Bytes the terminal has shown. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Types `key` and resolves, with the milliseconds it took, once it has been shown. */
  async echo(key: string, signal: AbortSignal): Promise<number> {
    this.#shown = "";
    const started = performance.now();
    this.#pty.write(key);
    while (!this.#shown.includes(key)) {
      signal.throwIfAborted();
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    return performance.now() - started;
  }

  /** Waits until the terminal shows `text`. */
  async shows(text: string, signal: AbortSignal): Promise<void> {
    const deadline = performance.now() + SESSION_TIMEOUT_MS;
    while (!this.#shown.includes(text)) {
      signal.throwIfAborted();
      if (performance.now() > deadline) throw new Error(`never showed ${text}: ${this.#shown}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, 100);
      });
      clearTimeout(timer);
    }
  }

  kill(): void {
    this.#pty.kill("SIGKILL");
  }
}

const KEYS = "abcdefghijklmnopqrstuvwxyz";

/** What the remote side says once it runs; none of {@link KEYS} is in it. */
const READY = "READY";

/** The remote command of the echo measurement: `cat`, once it has said it runs. */
const ECHO_COMMAND = ["sh", "-c", `echo ${READY}; exec cat`];

/**
 * Keystroke echo times through each session, all open at once and typed
 * into in turn, one key each, who goes first rotating: a machine busy with
 * other work slows them alike, and none always follows the same one.
 */
async function echoTimes(
  context: BenchContext,
  sessions: readonly { program: string; args: readonly string[] }[],
  env: Record<string, string>,
  count: number,
): Promise<Sampled[]> {
  const terminals = sessions.map(({ program, args }) => new HeldTerminal(program, args, env));
  try {
    // Only once the remote side has spoken is the local terminal raw: a key
    // typed before would be echoed by the local terminal itself.
    for (const terminal of terminals) await terminal.shows(READY, context.signal);
    const samples = terminals.map((): number[] => []);
    // The same number of keys first, not counted, through each: what is
    // measured is a session in use, not the first keys after start-up
    // (rexec's client and server are JavaScript, compiled as they run).
    for (let i = 0; i < 2 * count; i++) {
      for (let turn = 0; turn < terminals.length; turn++) {
        const which = (i + turn) % terminals.length;
        const ms = await terminals[which].echo(KEYS[i % KEYS.length], context.signal);
        if (i >= count) samples[which].push(ms);
      }
    }
    return samples.map(sampled);
  } finally {
    for (const terminal of terminals) terminal.kill();
    await Promise.all(terminals.map((terminal) => terminal.exited));
  }
}

async function outputRate(
  program: string,
  args: readonly string[],
  env: Record<string, string>,
  minimumBytes: number,
): Promise<number> {
  const started = performance.now();
  const terminal = new HeldTerminal(program, args, env);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([
    terminal.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        terminal.kill();
        reject(new Error(`${commandLine(program, args)} timed out`));
      }, SESSION_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 || terminal.bytes < minimumBytes) {
    throw new Error(
      `${commandLine(program, args)} exited ${code} after ${terminal.bytes} bytes`,
    );
  }
  return terminal.bytes / seconds / 1e6;
}

/** Measures the section; ssh rows are left out when there is no sshd. */
export async function measureTerminal(
  context: BenchContext,
  servers: { plain: RexecServer; sshd?: Sshd },
  plan: TerminalPlan,
): Promise<TerminalResults> {
  const { plain, sshd } = servers;
  const env = rexecClientEnv(context);
  const rexec = (command: readonly string[]) => [
    "run",
    ...context.permissions,
    MAIN,
    "run",
    "-t",
    ...plain.target,
    "--",
    ...command,
  ];
  // ssh's own arguments, on a terminal (-tt), reading it rather than /dev/null.
  const ssh = (command: readonly string[]) => [
    "-tt",
    ...sshd!.sshArgs(command).filter((arg) => arg !== "-n"),
  ];

  context.progress(`terminal: ${plan.keystrokes} keystrokes through rexec run -t and ssh -tt`);
  const [rexecEcho, sshEcho] = await echoTimes(
    context,
    [
      { program: Deno.execPath(), args: rexec(ECHO_COMMAND) },
      ...(sshd
        ? [{
          program: "ssh",
          args: ssh([ECHO_COMMAND.slice(0, 2).join(" ") + ` '${ECHO_COMMAND[2]}'`]),
        }]
        : []),
    ],
    env,
    plan.keystrokes,
  );
  const echo = { rexec: rexecEcho, ...(sshEcho ? { ssh: sshEcho } : {}) };

  await using dir = await TempDir.create("rexec-bench-tty-");
  const file = `${dir.path}/text`;
  // Lines of printable text, as a log or a listing would be.
  const line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+/\n";
  await Deno.writeTextFile(file, line.repeat(Math.ceil(plan.outputBytes / line.length)));
  context.progress(`terminal: cat of ${plan.outputBytes / MiB} MiB through the terminal`);
  const rexecRates: number[] = [];
  const sshRates: number[] = [];
  for (let round = 0; round < plan.outputRounds; round++) {
    rexecRates.push(await outputRate(Deno.execPath(), rexec(["cat", file]), env, plan.outputBytes));
    if (sshd) sshRates.push(await outputRate("ssh", ssh(["cat", file]), env, plan.outputBytes));
  }
  const output = {
    bytes: plan.outputBytes,
    rexec: sampled(rexecRates),
    ...(sshd ? { ssh: sampled(sshRates) } : {}),
  };

  try {
    return { echo, output, startup: await startupBeforeAfter(context, plain, plan.startups) };
  } catch (error) {
    if (!(error instanceof Skipped)) throw error;
    return { echo, output, startupSkipped: error.message };
  }
}

/**
 * One-shot start-up of the tree before terminals came in, and of this one,
 * alternated so that both see the same machine.
 *
 * @throws {Skipped} when git cannot say which tree that was.
 */
async function startupBeforeAfter(
  context: BenchContext,
  server: RexecServer,
  count: number,
): Promise<NonNullable<TerminalResults["startup"]>> {
  const git = (args: string[]) =>
    run("git", {
      args: ["-C", ROOT, ...args],
      env: rexecClientEnv(context),
      timeoutMs: 30_000,
      stdout: "piped",
    });
  const added = await git([
    "log",
    "--diff-filter=A",
    "--format=%H",
    "--",
    "lib/server/pty_process.ts",
  ]);
  const first = new TextDecoder().decode(added.stdout).trim().split("\n").at(-1);
  if (added.code !== 0 || !first) throw new Skipped("git does not know when terminals came in");
  const base = `${first.slice(0, 12)}^`;
  await using tree = await TempDir.create("rexec-bench-base-");
  const archive = await git(["archive", "--format=tar", base]);
  if (archive.code !== 0) throw new Skipped(`git archive ${base} failed`);
  const untar = new Deno.Command("tar", { args: ["-x", "-C", tree.path], stdin: "piped" }).spawn();
  const writer = untar.stdin.getWriter();
  await writer.write(archive.stdout);
  await writer.close();
  if (!(await untar.status).success) throw new Skipped("cannot unpack the base tree");

  context.progress(`terminal: ${count} one-shot runs without -t, before (${base}) and after`);
  const env = rexecClientEnv(context);
  const oneShot = async (main: string) =>
    (await runOk(Deno.execPath(), {
      args: ["run", ...context.permissions, main, "run", "-n", ...server.target, "--", "true"],
      env,
      timeoutMs: 30_000,
      signal: context.signal,
    })).ms;
  // Each tree once first, so that both are compiled and cached before counting.
  await oneShot(`${tree.path}/main.ts`);
  await oneShot(MAIN);
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < count; i++) {
    before.push(await oneShot(`${tree.path}/main.ts`));
    after.push(await oneShot(MAIN));
  }
  return { base, before: sampled(before), after: sampled(after) };
}

/** The section of the markdown report, with the targets judged. */
export function terminalReport(results: TerminalResults): string {
  const { echo, output, startup } = results;
  const rows = [
    "## Terminals (rexec run -t)",
    "",
    "| measure | rexec | ssh -tt | rexec vs ssh | target | met |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const echoRatio = echo.ssh ? echo.rexec.value / echo.ssh.value : undefined;
  rows.push(
    `| keystroke echo, median | ${ms(echo.rexec.value)} | ${
      echo.ssh ? ms(echo.ssh.value) : "-"
    } | ` +
      `${echoRatio === undefined ? "-" : times(echoRatio)} | ≤ 1.5× ssh | ${
        echoRatio === undefined ? "-" : echoRatio <= 1.5 ? "yes" : "no"
      } |`,
  );
  const outputRatio = output.ssh ? output.rexec.value / output.ssh.value : undefined;
  rows.push(
    `| cat of ${output.bytes / MiB} MiB to a terminal | ${mbps(output.rexec.value)} | ${
      output.ssh ? mbps(output.ssh.value) : "-"
    } | ${outputRatio === undefined ? "-" : times(outputRatio)} | ≥ ssh | ${
      outputRatio === undefined ? "-" : outputRatio >= 1 ? "yes" : "no"
    } |`,
  );
  if (startup) {
    const ratio = startup.after.value / startup.before.value;
    rows.push(
      "",
      `One-shot \`rexec run\` without \`-t\`, median of ${startup.after.samples.length} alternated: ` +
        `before terminals (${startup.base}) ${ms(startup.before.value)}, now ${
          ms(startup.after.value)
        } ` +
        `(${times(ratio)}); target: no slower (${ratio <= 1.05 ? "met" : "not met"}, within 5%).`,
    );
  } else {
    rows.push("", `One-shot start-up before and after: skipped (${results.startupSkipped}).`);
  }
  return rows.join("\n") + "\n";
}
