/**
 * Fleets: one `rexec run` over 200 targets (inventory aliases spread over a
 * few local servers) running `echo`, against `parallel-ssh` over the same
 * number of targets on the private sshd at the same parallelism, and
 * against one single-host `rexec run`; then the client's peak memory while
 * 200 hosts each stream 10 MB of lines to it.
 *
 * Runs inside `deno task bench`; alone, `deno run -A bench/fleet.ts [--quick]`
 * prints its own table.
 *
 * @module
 */

import { childEnv, MAIN, readProcText, ROOT, run, TempDir, which } from "./process.ts";
import { type BenchContext, rexecClientEnv, rexecRunArgs, RexecServer, Sshd } from "./servers.ts";
import { MiB, type Sampled, sampled } from "./stats.ts";
import { connect } from "../lib/mod.ts";

/** What the fleet section measured. */
export interface FleetResult {
  /** Targets in each fleet run. */
  readonly targets: number;
  /** Hosts at once (`--parallel`, `parallel-ssh -p`). */
  readonly parallel: number;
  /** Wall time of `rexec run` over every target, ms. */
  readonly fleetMs: Sampled;
  /** Wall time of one single-host `rexec run`, ms. */
  readonly singleMs: Sampled;
  /**
   * Wall time of as many `echo`s run through sessions already open, one per
   * server, ms: what the servers' spawning alone costs, the floor under any
   * fleet run.
   */
  readonly spawnFloorMs: Sampled;
  /** Wall time of `parallel-ssh` over every target, ms; undefined when it could not run. */
  readonly psshMs: Sampled | undefined;
  /** Why the parallel-ssh row is empty, when it is. */
  readonly psshSkipped: string | undefined;
  /** Bytes each host streamed in the memory run. */
  readonly streamedBytes: number;
  /** The client's peak resident memory in that run, KiB. */
  readonly clientPeakKib: number;
  /** Problems: a run whose output was not what every host should have said. */
  readonly failures: readonly string[];
}

/** Longest one fleet run may take. */
const RUN_TIMEOUT_MS = 300_000;

/** Runs the fleet measurements on `servers` (a few `rexec serve`) and, when given, the sshd. */
export async function measureFleet(
  context: BenchContext,
  servers: { rexec: readonly RexecServer[]; sshd: Sshd | undefined },
  options: { targets: number; parallel: number; rounds: number; streamedBytes: number },
): Promise<FleetResult> {
  await using dir = await TempDir.create("rexec-bench-fleet-");
  const inventory = `${dir.path}/inventory`;
  const lines = ["[fleet]"];
  for (let index = 1; index <= options.targets; index++) {
    const server = servers.rexec[(index - 1) % servers.rexec.length];
    lines.push(`h${index} ansible_host=127.0.0.1 rexec_port=${server.port}`);
  }
  await Deno.writeTextFile(inventory, `${lines.join("\n")}\n`);
  const failures: string[] = [];
  const fleetArgs = (command: string[]) => [
    "run",
    ...context.permissions,
    MAIN,
    "run",
    "-n",
    "-i",
    inventory,
    "--parallel",
    String(options.parallel),
    "fleet",
    "--",
    ...command,
  ];
  const expected = new Set(Array.from({ length: options.targets }, (_, i) => `h${i + 1}: hi`));

  const fleetTimes: number[] = [];
  const singleTimes: number[] = [];
  const floorTimes: number[] = [];
  const psshTimes: number[] = [];
  let psshSkipped: string | undefined = servers.sshd ? undefined : "no sshd";
  const pssh = servers.sshd ? await which("parallel-ssh") : undefined;
  if (servers.sshd && !pssh) psshSkipped = "no parallel-ssh (Debian package pssh)";
  const hostsFile = `${dir.path}/pssh-hosts`;
  if (servers.sshd && pssh) {
    const { host } = servers.sshd.loginFor;
    await Deno.writeTextFile(hostsFile, `${Array(options.targets).fill(host).join("\n")}\n`);
  }
  for (let round = 0; round < options.rounds; round++) {
    context.progress(`fleet: rexec run over ${options.targets} targets, round ${round + 1}`);
    const fleet = await run(Deno.execPath(), {
      args: fleetArgs(["echo", "hi"]),
      env: rexecClientEnv(context),
      stdout: "piped",
      timeoutMs: RUN_TIMEOUT_MS,
      signal: context.signal,
    });
    fleetTimes.push(fleet.ms);
    const got = new TextDecoder().decode(fleet.stdout).trimEnd().split("\n");
    if (fleet.code !== 0 || got.length !== expected.size || !got.every((l) => expected.has(l))) {
      failures.push(
        `fleet run: exit ${fleet.code}, ${got.length} lines, ${fleet.stderr.slice(-200)}`,
      );
    }
    const single = await run(Deno.execPath(), {
      args: rexecRunArgs(context, servers.rexec[0], ["echo", "hi"]),
      env: rexecClientEnv(context),
      stdout: "piped",
      timeoutMs: RUN_TIMEOUT_MS,
      signal: context.signal,
    });
    singleTimes.push(single.ms);
    if (single.code !== 0) failures.push(`single run: exit ${single.code}`);
    floorTimes.push(await spawnFloor(context, servers.rexec, options.targets));
    if (servers.sshd && pssh) {
      context.progress(`fleet: parallel-ssh over ${options.targets} targets, round ${round + 1}`);
      const { options: sshOptions } = servers.sshd.loginFor;
      const result = await run(pssh, {
        args: [
          "-h",
          hostsFile,
          "-p",
          String(options.parallel),
          "-t",
          "0",
          ...sshOptions.flatMap((option) => ["-X", option]),
          "echo",
          "hi",
        ],
        env: childEnv(),
        stdout: "piped",
        timeoutMs: RUN_TIMEOUT_MS,
        signal: context.signal,
      });
      psshTimes.push(result.ms);
      const successes = new TextDecoder().decode(result.stdout).match(/\[SUCCESS\]/g)?.length ?? 0;
      if (result.code !== 0 || successes !== options.targets) {
        failures.push(
          `parallel-ssh: exit ${result.code}, ${successes} successes, ${result.stderr.slice(-200)}`,
        );
      }
    }
  }

  context.progress(
    `fleet: client memory, ${options.targets} hosts streaming ${
      options.streamedBytes / MiB
    } MiB each`,
  );
  const clientPeakKib = await streamingPeak(context, fleetArgs, options.streamedBytes, failures);
  return {
    targets: options.targets,
    parallel: options.parallel,
    fleetMs: sampled(fleetTimes),
    singleMs: sampled(singleTimes),
    spawnFloorMs: sampled(floorTimes),
    psshMs: psshTimes.length > 0 ? sampled(psshTimes) : undefined,
    psshSkipped,
    streamedBytes: options.streamedBytes,
    clientPeakKib,
    failures,
  };
}

/** Runs `count` `echo`s spread over one open session per server; the wall time, ms. */
async function spawnFloor(
  context: BenchContext,
  servers: readonly RexecServer[],
  count: number,
): Promise<number> {
  await using stack = new AsyncDisposableStack();
  const clients = await Promise.all(servers.map(async (server) =>
    stack.use(
      await connect({ hostname: "127.0.0.1", port: server.port, token: context.token }),
    )
  ));
  const start = performance.now();
  await Promise.all(clients.map(async (client, index) => {
    for (let i = index; i < count; i += clients.length) {
      await client.spawn(["echo", "hi"]).output();
    }
  }));
  return performance.now() - start;
}

/** Every host streams `bytes` of 64-byte lines to a client writing to /dev/null; its peak. */
async function streamingPeak(
  context: BenchContext,
  fleetArgs: (command: string[]) => string[],
  bytes: number,
  failures: string[],
): Promise<number> {
  const line = `${"0123456789abcdef".repeat(4).slice(0, 63)}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: fleetArgs(["sh", "-c", `yes ${line} | head -c ${bytes}`]),
    env: rexecClientEnv(context),
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const kill = () => child.kill("SIGKILL");
  const timer = setTimeout(kill, RUN_TIMEOUT_MS);
  context.signal.addEventListener("abort", kill, { once: true });
  try {
    const stderr = new Response(child.stderr).text();
    // The kernel's high-water mark is read while the process is there to read
    // it from; reset at the start, it misses no spike between readings.
    await run("sh", {
      args: ["-c", 'echo 5 > "/proc/$0/clear_refs"', String(child.pid)],
      env: childEnv(),
      timeoutMs: 10_000,
    });
    let peak = 0;
    let exited = false;
    const status = child.status.finally(() => exited = true);
    while (!exited) {
      const text = await readProcText(`/proc/${child.pid}/status`).catch(() => "");
      for (const field of ["VmHWM", "VmRSS"]) {
        const match = text.match(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m"));
        if (match) peak = Math.max(peak, Number(match[1]));
      }
      await Promise.race([status, new Promise((resolve) => setTimeout(resolve, 250))]);
    }
    const { code } = await status;
    if (code !== 0) failures.push(`streaming run: exit ${code}, ${(await stderr).slice(-200)}`);
    return peak;
  } finally {
    clearTimeout(timer);
    context.signal.removeEventListener("abort", kill);
  }
}

/** `deno run -A bench/fleet.ts [--quick]`: this section alone, on servers of its own. */
async function main(args: string[]): Promise<number> {
  const quick = args.includes("--quick");
  const { generateToken } = await import("../lib/mod.ts");
  const { taskPermissions } = await import("./process.ts");
  const { Skipped } = await import("./servers.ts");
  const { fleetReport, fleetTargets } = await import("./report.ts");
  const started = performance.now();
  const context: BenchContext = {
    quick,
    signal: new AbortController().signal,
    permissions: await taskPermissions("rexec"),
    token: generateToken(),
    progress: (message) =>
      console.error(
        `[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`,
      ),
  };
  await using stack = new AsyncDisposableStack();
  const rexec = await Promise.all(
    Array.from({ length: FLEET_SERVERS }, () => RexecServer.start(context)),
  );
  for (const server of rexec) stack.use(server);
  let sshd: Sshd | undefined;
  try {
    sshd = stack.use(await Sshd.start(context));
  } catch (error) {
    if (!(error instanceof Skipped)) throw error;
  }
  const result = await measureFleet(context, { rexec, sshd }, fleetPlan(quick));
  console.log(fleetReport(result).join("\n"));
  for (const target of fleetTargets(result)) {
    console.log(`- ${target.goal}: ${target.measured} (${target.met ? "met" : "not met"})`);
  }
  return result.failures.length === 0 ? 0 : 1;
}

/** Servers the fleet's targets are spread over. */
export const FLEET_SERVERS = 4;

/** How much the fleet section does: 200 targets, 32 at once; 10 MB a host (2 MB quick). */
export function fleetPlan(
  quick: boolean,
): { targets: number; parallel: number; rounds: number; streamedBytes: number } {
  return {
    targets: 200,
    parallel: 32,
    rounds: quick ? 1 : 3,
    streamedBytes: quick ? 2 * 1000 * 1000 : 10 * 1000 * 1000,
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
