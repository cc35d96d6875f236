/**
 * The suite's report: a markdown table per section and the targets the
 * issue set, each a ratio taken in this run, plus the raw numbers as JSON.
 *
 * @module
 */

import type { ConcurrencyResult } from "./concurrency.ts";
import type { FleetResult } from "./fleet.ts";
import type { LatencyResult } from "./latency.ts";
import type { MicroResult } from "./micro.ts";
import { SSH_CIPHER } from "./servers.ts";
import { mbps, mib, ms, percentile, size, times } from "./stats.ts";
import type { ThroughputResult } from "./throughput.ts";

/** Everything one run measured, and where. */
export interface BenchResults {
  /** When the run started, ISO 8601. */
  readonly date: string;
  /** Whether this was a `--quick` run. */
  readonly quick: boolean;
  /** The machine and runtime. */
  readonly machine: {
    readonly cpu: string;
    readonly cores: number;
    readonly os: string;
    readonly deno: string;
  };
  /** Why ssh rows are empty, when they are. */
  readonly sshSkipped: string | undefined;
  readonly micro: readonly MicroResult[];
  readonly throughput: ThroughputResult;
  readonly latency: LatencyResult;
  readonly concurrency: ConcurrencyResult;
  /** One command on many hosts; absent in results saved before it was measured. */
  readonly fleet?: FleetResult;
  /** The targets, judged. */
  readonly targets: readonly Target[];
}

/** A target of the performance issue, judged on this run's numbers. */
export interface Target {
  /** What it asks, in words. */
  readonly goal: string;
  /** The figure that decides it, such as `0.93×`. */
  readonly measured: string;
  /** Whether it was met; `undefined` when its yardstick was skipped. */
  readonly met: boolean | undefined;
}

/** The memory target: at most 64 MiB above idle, in kibibytes (as /proc counts). */
const MEMORY_LIMIT_KIB = 64 * 1024;

/** Judges the issue's targets on `results`. */
export function judgeTargets(
  results: Omit<BenchResults, "targets">,
): Target[] {
  const { throughput: t, latency: l, concurrency: c } = results;
  const skipped = (goal: string): Target => ({
    goal,
    measured: `skipped: ${results.sshSkipped}`,
    met: undefined,
  });
  const ratio = (goal: string, value: number, test: (value: number) => boolean): Target => ({
    goal,
    measured: times(value),
    met: test(value),
  });
  const targets: Target[] = [
    ratio(
      "plaintext throughput ≥ 1.0× raw Deno TCP copy",
      t.plain.value / t.raw.value,
      (v) => v >= 1.0,
    ),
  ];
  if (t.ssh) {
    targets.push(
      ratio(
        "plaintext throughput ≥ 1.0× ssh aes128-gcm",
        t.plain.value / t.ssh.value,
        (v) => v >= 1.0,
      ),
      ratio("TLS throughput ≥ 1.0× ssh aes128-gcm", t.tls.value / t.ssh.value, (v) => v >= 1.0),
    );
  } else {
    targets.push(
      skipped("plaintext throughput ≥ 1.0× ssh aes128-gcm"),
      skipped("TLS throughput ≥ 1.0× ssh aes128-gcm"),
    );
  }
  targets.push(
    ratio(
      "one-shot `rexec run -- true` ≤ 1.4× `deno run` of an empty script",
      l.oneShot.value / l.emptyScript.value,
      (v) => v <= 1.4,
    ),
    l.ssh
      ? ratio(
        "one-shot `rexec run -- true` ≤ 0.25× ssh",
        l.oneShot.value / l.ssh.value,
        (v) => v <= 0.25,
      )
      : skipped("one-shot `rexec run -- true` ≤ 0.25× ssh"),
    c.ssh
      ? ratio(
        `${c.oneShots.clients} parallel one-shots ≤ 0.25× ssh's batch time`,
        c.oneShots.batchMs.value / c.ssh.batchMs.value,
        (v) => v <= 0.25,
      )
      : skipped(`${c.oneShots.clients} parallel one-shots ≤ 0.25× ssh's batch time`),
    ratio(
      "`true` in one session ≤ 1.5× a minimal Deno spawn server over a socket",
      l.inSession.value / l.spawnServer.value,
      (v) => v <= 1.5,
    ),
  );
  const fast = t.fastPeakKib - t.idleKib;
  const stalled = t.stalledPeakKib - t.idleKib;
  targets.push(
    {
      goal: `server peak memory streaming ${size(t.bytes)}, fast reader, ≤ idle + 64 MiB`,
      measured: `+${mib(fast)}`,
      met: fast <= MEMORY_LIMIT_KIB,
    },
    {
      goal: `… and with a reader that stops for ${t.stallMs / 1000} s, ≤ idle + 64 MiB`,
      measured: `+${mib(stalled)}`,
      met: stalled <= MEMORY_LIMIT_KIB,
    },
    {
      goal: `${c.sessions.clients} concurrent sessions all served, none dropped`,
      measured: `${c.sessions.served}/${c.sessions.clients}`,
      met: c.sessions.failed === 0,
    },
  );
  if (results.fleet) targets.push(...fleetTargets(results.fleet));
  return targets;
}

/** The client's memory limit with 200 hosts streaming: 256 MiB, in KiB. */
const FLEET_MEMORY_LIMIT_KIB = 256 * 1024;

/** The fleet section's targets, judged. */
export function fleetTargets(f: FleetResult): Target[] {
  const psshGoal =
    `\`rexec run\` over ${f.targets} targets ≤ 0.1× \`parallel-ssh\` (-p ${f.parallel})`;
  return [
    f.psshMs
      ? {
        goal: psshGoal,
        measured: times(f.fleetMs.value / f.psshMs.value),
        met: f.fleetMs.value / f.psshMs.value <= 0.1,
      }
      : { goal: psshGoal, measured: `skipped: ${f.psshSkipped}`, met: undefined },
    {
      goal: `\`rexec run\` over ${f.targets} targets ≤ 3× one single-host \`rexec run\``,
      measured: times(f.fleetMs.value / f.singleMs.value),
      met: f.fleetMs.value / f.singleMs.value <= 3,
    },
    {
      goal: `client peak memory, ${f.targets} hosts streaming ${
        size(f.streamedBytes)
      } each, ≤ 256 MiB`,
      measured: mib(f.clientPeakKib),
      met: f.clientPeakKib <= FLEET_MEMORY_LIMIT_KIB,
    },
    {
      goal: "every fleet run's output right",
      measured: f.failures.length === 0 ? "yes" : f.failures[0],
      met: f.failures.length === 0,
    },
  ];
}

/** The fleet section as markdown lines: its table and its targets. */
export function fleetReport(f: FleetResult): string[] {
  const rounds = f.fleetMs.samples.length;
  const lines = [
    `**Fleet**: \`echo hi\` on ${f.targets} targets (inventory aliases over a few local servers), ` +
    `${f.parallel} at once, median of ${rounds}`,
    "",
    "| what | wall time | vs rexec fleet |",
    "|---|---|---|",
    `| \`rexec run -i INVENTORY fleet -- echo hi\` (${f.targets} hosts) | ${
      ms(f.fleetMs.value)
    } | ${times(1)} |`,
    `| one single-host \`rexec run HOST -- echo hi\` | ${ms(f.singleMs.value)} | ${
      times(f.singleMs.value / f.fleetMs.value)
    } |`,
    `| ${f.targets} \`echo\`s through sessions already open, one per server (the servers' floor) | ${
      ms(f.spawnFloorMs.value)
    } | ${times(f.spawnFloorMs.value / f.fleetMs.value)} |`,
    f.psshMs
      ? `| \`parallel-ssh -p ${f.parallel}\` over ${f.targets} targets | ${ms(f.psshMs.value)} | ${
        times(f.psshMs.value / f.fleetMs.value)
      } |`
      : `| \`parallel-ssh\` | skipped: ${f.psshSkipped} | |`,
    `| client peak memory, ${f.targets} hosts streaming ${size(f.streamedBytes)} each | ${
      mib(f.clientPeakKib)
    } | |`,
    "",
  ];
  return lines;
}

/** The report as markdown. */
export function markdownReport(results: BenchResults): string {
  const { throughput: t, latency: l, concurrency: c, machine } = results;
  const skippedCell = `skipped: ${results.sshSkipped}`;
  const lines: string[] = [];
  const table = (header: string[], rows: string[][]) => {
    lines.push(`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`);
    for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
    lines.push("");
  };
  const rounds = t.plain.samples.length;
  lines.push(
    `rexec benchmarks, ${results.date}${results.quick ? " (--quick)" : ""}: ` +
      `${machine.cpu}, ${machine.cores} cores, ${machine.os}, Deno ${machine.deno}`,
    "",
    `**Throughput**: ${size(t.bytes)} of \`head -c\` to a client writing to /dev/null, ` +
      `median of ${rounds}`,
    "",
  );
  const vsRaw = (value: number) => times(value / t.raw.value);
  table(["path", "throughput", "vs raw TCP copy"], [
    ["raw Deno TCP copy, no framing (the floor)", mbps(t.raw.value), times(1)],
    ["rexec, plaintext", mbps(t.plain.value), vsRaw(t.plain.value)],
    ["rexec, TLS 1.3", mbps(t.tls.value), vsRaw(t.tls.value)],
    t.ssh
      ? [`ssh -c ${SSH_CIPHER}`, mbps(t.ssh.value), vsRaw(t.ssh.value)]
      : [`ssh -c ${SSH_CIPHER}`, skippedCell, ""],
  ]);
  lines.push("**Latency**: per command, median (p90)", "");
  const perCommand = (s: { value: number; samples: readonly number[] }) =>
    `${ms(s.value)} (${ms(percentile(s.samples, 90))})`;
  table(["what", "runs", "per command", "vs its yardstick"], [
    [
      "`rexec run -n HOST -- true`, client process start included",
      String(l.oneShot.samples.length),
      perCommand(l.oneShot),
      times(l.oneShot.value / l.emptyScript.value),
    ],
    [
      "`deno run` of an empty script (the start-up yardstick)",
      String(l.emptyScript.samples.length),
      perCommand(l.emptyScript),
      times(1),
    ],
    ["local `sh -c true`", String(l.localShell.samples.length), perCommand(l.localShell), ""],
    l.ssh
      ? ["`ssh HOST true`", String(l.ssh.samples.length), perCommand(l.ssh), ""]
      : ["`ssh HOST true`", "", skippedCell, ""],
    [
      "`true` in one session, through the library",
      String(l.inSession.samples.length),
      perCommand(l.inSession),
      times(l.inSession.value / l.spawnServer.value),
    ],
    [
      "`true` from a minimal Deno spawn server over a socket (the session yardstick)",
      String(l.spawnServer.samples.length),
      perCommand(l.spawnServer),
      times(1),
    ],
  ]);
  lines.push(
    "**Concurrency**: clients started at once, each running `echo`, every output checked",
    "",
  );
  const batchRow = (what: string, batch: typeof c.oneShots) => [
    what,
    `${ms(batch.batchMs.value)}${
      batch.batchMs.samples.length > 1 ? ` (median of ${batch.batchMs.samples.length})` : ""
    }`,
    `${batch.served}`,
    `${batch.failed}`,
  ];
  table(["clients", "batch time", "served", "failed"], [
    batchRow(`${c.oneShots.clients} × \`rexec run\``, c.oneShots),
    c.ssh
      ? batchRow(`${c.ssh.clients} × \`ssh\``, c.ssh)
      : [`${c.oneShots.clients} × \`ssh\``, skippedCell, "", ""],
    batchRow(`${c.sessions.clients} library sessions held open together`, c.sessions),
  ]);
  lines.push("**Server memory** (resident)", "");
  const plus = (kib: number, idle: number) => `+${mib(kib - idle)}`;
  table(["server state", "resident", "above idle"], [
    ["plaintext, idle", mib(t.idleKib), ""],
    [
      `peak streaming ${size(t.bytes)}, fast reader`,
      mib(t.fastPeakKib),
      plus(t.fastPeakKib, t.idleKib),
    ],
    [
      `peak streaming ${size(t.bytes)}, reader stopped ${t.stallMs / 1000} s`,
      mib(t.stalledPeakKib),
      plus(t.stalledPeakKib, t.idleKib),
    ],
    ["TLS, idle", mib(t.tlsIdleKib), ""],
    [
      `TLS peak streaming ${size(t.bytes)}, fast reader`,
      mib(t.tlsPeakKib),
      plus(t.tlsPeakKib, t.tlsIdleKib),
    ],
    [
      `${c.sessions.clients} sessions open`,
      mib(c.sessions.openKib),
      plus(c.sessions.openKib, c.sessions.idleKib),
    ],
  ]);
  if (results.fleet) lines.push(...fleetReport(results.fleet));
  lines.push("**Frame codec** (`deno bench`)", "");
  table(
    ["bench", "mean", "p99", "payload throughput"],
    results.micro.map((m) => [
      m.name,
      nanoseconds(m.avgNs),
      nanoseconds(m.p99Ns),
      m.mbPerSecond === undefined ? "" : mbps(m.mbPerSecond),
    ]),
  );
  lines.push("**Targets** (ratios within this run)", "");
  table(
    ["target", "measured", "met"],
    results.targets.map((target) => [
      target.goal,
      target.measured,
      target.met === undefined ? "–" : target.met ? "yes" : "**no**",
    ]),
  );
  const failures = [...c.oneShots.failures, ...(c.ssh?.failures ?? []), ...c.sessions.failures];
  if (failures.length > 0) lines.push("Failed clients:", "", ...failures.map((f) => `- ${f}`), "");
  return lines.join("\n");
}

function nanoseconds(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(1)} µs`;
  return ms(ns / 1_000_000);
}
