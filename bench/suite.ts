/**
 * `deno task bench`: the frame codec microbenchmarks, then rexec end to end
 * against its yardsticks in the same run (a raw Deno TCP copy, a minimal
 * Deno server spawning per request, `deno run` of an empty script, and ssh
 * when openssh-server is installed), one command on 200 hosts against
 * parallel-ssh (Debian package pssh) when it is installed, then `rexec cp`
 * against `rexec run -- cat`, scp and tar (bench/copy.ts). Prints a markdown report to stdout,
 * progress to stderr, and writes the raw numbers to `bench/results/`.
 *
 * ```sh
 * deno task bench           # the full run, a few minutes
 * deno task bench --quick   # a smaller run, about a minute
 * ```
 *
 * Exits 1 when a client got a wrong answer or the run failed; a missed
 * performance target is reported, not an error.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { generateToken } from "../lib/mod.ts";
import { measureConcurrency } from "./concurrency.ts";
import { FLEET_SERVERS, fleetPlan, measureFleet } from "./fleet.ts";
import { type CopyPlan, copyReport, measureCopy } from "./copy.ts";
import { measureLatency } from "./latency.ts";
import { measureMicro } from "./micro.ts";
import { readProcText, runOk, sleep, taskPermissions } from "./process.ts";
import { type BenchResults, judgeTargets, markdownReport } from "./report.ts";
import {
  type BenchContext,
  RawCopyServer,
  rexecClientEnv,
  rexecRunArgs,
  RexecServer,
  Skipped,
  SpawnServer,
  Sshd,
} from "./servers.ts";
import { GiB, MiB } from "./stats.ts";
import { measureThroughput } from "./throughput.ts";
import { measureTerminal, type TerminalPlan, terminalReport } from "./terminal.ts";

/** How much the terminal section does, full and quick. */
const TERMINAL: Readonly<Record<"full" | "quick", TerminalPlan>> = {
  full: { keystrokes: 300, outputBytes: 128 * MiB, outputRounds: 3, startups: 40 },
  quick: { keystrokes: 60, outputBytes: 16 * MiB, outputRounds: 1, startups: 10 },
};

/** How much each section does. */
interface Plan {
  readonly bytes: number;
  readonly throughputRounds: number;
  readonly stallMs: number;
  readonly oneShots: number;
  readonly sshOneShots: number;
  readonly inSession: number;
  readonly parallelClients: number;
  readonly parallelRounds: number;
  readonly sessions: number;
  readonly copy: CopyPlan;
}

const FULL: Plan = {
  bytes: GiB,
  throughputRounds: 5,
  stallMs: 5000,
  oneShots: 200,
  sshOneShots: 200,
  inSession: 1000,
  parallelClients: 50,
  parallelRounds: 5,
  sessions: 200,
  copy: { bytes: GiB, files: 10_000, rounds: 3, stallMs: 5000 },
};

/** A smaller run: ssh clients started together cost seconds of CPU each, so fewer of them. */
const QUICK: Plan = {
  bytes: 256 * MiB,
  throughputRounds: 3,
  stallMs: 2000,
  oneShots: 20,
  sshOneShots: 5,
  inSession: 200,
  parallelClients: 10,
  parallelRounds: 1,
  sessions: 200,
  copy: { bytes: 256 * MiB, files: 2000, rounds: 1, stallMs: 2000 },
};

/** Lets a server's memory settle before its idle figure is read. */
const SETTLE_MS = 1000;

const USAGE = `Usage: deno task bench [--quick]

Benchmarks rexec against a raw TCP copy, a minimal spawn server, Deno's
own start-up and (when openssh-server is installed) ssh, all on
127.0.0.1. Prints a markdown report; writes the raw numbers to
bench/results/.

  --quick   a smaller run, about a minute
  -h, --help`;

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { quick: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick ?? false;
  const plan = quick ? QUICK : FULL;
  const abort = new AbortController();
  const interrupt = () => abort.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", interrupt);
  const started = performance.now();
  const context: BenchContext = {
    quick,
    signal: abort.signal,
    permissions: await taskPermissions("rexec"),
    token: generateToken(),
    progress: (message) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
      console.error(`[${seconds} s] ${message}`);
    },
  };
  try {
    const date = new Date().toISOString();
    context.progress("frame codec microbenchmarks (deno bench)");
    const micro = await measureMicro(new URL("./", import.meta.url).pathname, {
      signal: abort.signal,
    });

    context.progress("starting servers");
    await using plain = await RexecServer.start(context);
    await using tls = await RexecServer.start(context, { tls: true });
    await using raw = await RawCopyServer.start();
    await using spawn = await SpawnServer.start();
    let sshSkipped: string | undefined;
    await using resources = new AsyncDisposableStack();
    let sshd: Sshd | undefined;
    const fleetServers: RexecServer[] = [];
    try {
      sshd = resources.use(await Sshd.start(context));
    } catch (error) {
      if (!(error instanceof Skipped)) throw error;
      sshSkipped = error.message;
      context.progress(`ssh rows skipped: ${error.message}`);
    }
    for (const server of [plain, tls]) {
      await runOk(Deno.execPath(), {
        args: rexecRunArgs(context, server, ["true"]),
        env: rexecClientEnv(context),
        timeoutMs: 30_000,
        signal: abort.signal,
      });
    }
    await sleep(SETTLE_MS, abort.signal);

    const throughput = await measureThroughput(context, { plain, tls, raw, sshd }, {
      bytes: plan.bytes,
      rounds: plan.throughputRounds,
      stallMs: plan.stallMs,
    });
    const latency = await measureLatency(context, { plain, spawn, sshd }, {
      oneShot: plan.oneShots,
      ssh: plan.sshOneShots,
      inSession: plan.inSession,
    });
    const concurrency = await measureConcurrency(context, { plain, sshd }, {
      oneShots: plan.parallelClients,
      sessions: plan.sessions,
      rounds: plan.parallelRounds,
    });
    const terminal = await measureTerminal(
      context,
      { plain, ...(sshd ? { sshd } : {}) },
      TERMINAL[quick ? "quick" : "full"],
    );

    context.progress("fleet: starting servers");
    for (let count = 1; count < FLEET_SERVERS; count++) {
      fleetServers.push(resources.use(await RexecServer.start(context)));
    }
    const fleet = await measureFleet(
      context,
      { rexec: [plain, ...fleetServers], sshd },
      fleetPlan(quick),
    );

    const copy = await measureCopy(context, { server: plain, sshd }, plan.copy);

    const measured = {
      date,
      quick,
      machine: await machine(),
      sshSkipped,
      micro,
      throughput,
      latency,
      concurrency,
      fleet,
    };
    const results: BenchResults = { ...measured, targets: judgeTargets(measured) };
    const file = await saveResults({ ...results, terminal } as BenchResults);
    console.log(markdownReport(results) + "\n" + terminalReport(terminal));
    console.log(copyReport(copy));
    await Deno.writeTextFile(
      file.replace(/\.json$/, "-copy.json"),
      JSON.stringify(copy, null, 2) + "\n",
    );
    context.progress(`done; raw numbers in ${file}`);
    const failed = concurrency.oneShots.failed + concurrency.sessions.failed +
      fleet.failures.length;
    return failed === 0 ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", interrupt);
  }
}

async function machine(): Promise<BenchResults["machine"]> {
  const cpuinfo = await readProcText("/proc/cpuinfo");
  return {
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
  };
}

/** Writes `results` as JSON under bench/results/; returns the file's path. */
async function saveResults(results: BenchResults): Promise<string> {
  const dir = new URL("./results/", import.meta.url).pathname;
  const stamp = results.date.replace(/[:.]/g, "-");
  const file = `${dir}${stamp}${results.quick ? "-quick" : ""}.json`;
  await Deno.writeTextFile(file, JSON.stringify(results, null, 2) + "\n");
  return file;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`bench failed: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
