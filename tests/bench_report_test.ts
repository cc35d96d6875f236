import assert from "node:assert/strict";
import { volumeOf } from "../bench/micro.ts";
import { type BenchResults, judgeTargets, markdownReport } from "../bench/report.ts";
import { sampled } from "../bench/stats.ts";

Deno.test("volumeOf(): a microbenchmark's payload is read off its name", () => {
  assert.equal(volumeOf("decode 1000 frames of 64 KiB from a byte stream"), 1000 * 64 * 1024);
  assert.equal(volumeOf("encode 1 frame of 16 B"), 16);
  assert.equal(volumeOf("encode header"), undefined);
});

function results(overrides: { sshMbps?: number; sshBatchMs?: number } = {}) {
  const ssh = overrides.sshMbps;
  return {
    date: "2026-11-29T00:00:00.000Z",
    quick: true,
    machine: { cpu: "test cpu", cores: 2, os: "linux test", deno: "2.9.6" },
    sshSkipped: ssh === undefined ? "no sshd" : undefined,
    micro: [],
    throughput: {
      bytes: 1024 * 1024 * 1024,
      raw: sampled([1000]),
      plain: sampled([950]),
      tls: sampled([500]),
      ssh: ssh === undefined ? undefined : sampled([ssh]),
      idleKib: 50 * 1024,
      fastPeakKib: 60 * 1024,
      tlsIdleKib: 70 * 1024,
      tlsPeakKib: 80 * 1024,
      stalledPeakKib: 120 * 1024,
      stallMs: 5000,
    },
    latency: {
      oneShot: sampled([40]),
      emptyScript: sampled([25]),
      localShell: sampled([1]),
      ssh: ssh === undefined ? undefined : sampled([200]),
      inSession: sampled([2.5]),
      spawnServer: sampled([2]),
    },
    concurrency: {
      oneShots: { clients: 50, batchMs: sampled([1000]), served: 50, failed: 0, failures: [] },
      ssh: overrides.sshBatchMs === undefined ? undefined : {
        clients: 50,
        batchMs: sampled([overrides.sshBatchMs]),
        served: 50,
        failed: 0,
        failures: [],
      },
      sessions: {
        clients: 200,
        batchMs: sampled([400]),
        served: 199,
        failed: 1,
        failures: ["session 7: refused"],
        idleKib: 50 * 1024,
        openKib: 80 * 1024,
      },
    },
  } satisfies Omit<BenchResults, "targets">;
}

Deno.test("judgeTargets(): targets are judged on ratios within the run", () => {
  const targets = judgeTargets(results({ sshMbps: 500, sshBatchMs: 3000 }));
  const byGoal = new Map(targets.map((t) => [t.goal, t]));
  assert.deepEqual(byGoal.get("plaintext throughput ≥ 1.0× raw Deno TCP copy"), {
    goal: "plaintext throughput ≥ 1.0× raw Deno TCP copy",
    measured: "0.95×",
    met: false,
  });
  assert.equal(byGoal.get("plaintext throughput ≥ 1.0× ssh aes128-gcm")?.met, true);
  assert.deepEqual(
    [
      byGoal.get("TLS throughput ≥ 1.0× ssh aes128-gcm")?.measured,
      byGoal.get("TLS throughput ≥ 1.0× ssh aes128-gcm")?.met,
    ],
    ["1.00×", true],
  );
  assert.deepEqual(
    byGoal.get("one-shot `rexec run -- true` ≤ 1.4× `deno run` of an empty script"),
    {
      goal: "one-shot `rexec run -- true` ≤ 1.4× `deno run` of an empty script",
      measured: "1.60×",
      met: false,
    },
  );
  assert.equal(byGoal.get("one-shot `rexec run -- true` ≤ 0.25× ssh")?.measured, "0.20×");
  assert.equal(byGoal.get("50 parallel one-shots ≤ 0.25× ssh's batch time")?.met, false);
  assert.deepEqual(
    byGoal.get("`true` in one session ≤ 1.5× a minimal Deno spawn server over a socket"),
    {
      goal: "`true` in one session ≤ 1.5× a minimal Deno spawn server over a socket",
      measured: "1.25×",
      met: true,
    },
  );
  // Every target is judged on a ratio within the run, or on memory and
  // served clients; none on an absolute time.
  assert.ok(targets.every((t) => !/ ms\b/.test(t.goal) && !/ ms\b/.test(t.measured)));
  const memory = targets.find((t) => t.goal.includes("stops for 5 s"));
  assert.deepEqual([memory?.measured, memory?.met], ["+70.0 MiB", false]);
  assert.deepEqual(targets.at(-1), {
    goal: "200 concurrent sessions all served, none dropped",
    measured: "199/200",
    met: false,
  });
});

Deno.test("judgeTargets(): without sshd, the ssh targets say skipped and are neither met nor missed", () => {
  const targets = judgeTargets(results());
  const ssh = targets.filter((t) => t.goal.includes("ssh"));
  assert.equal(ssh.length, 4);
  for (const target of ssh) {
    assert.equal(target.met, undefined);
    assert.equal(target.measured, "skipped: no sshd");
  }
});

Deno.test("markdownReport() shows skipped rows, missed targets and failed clients", () => {
  const measured = results();
  const report = markdownReport({ ...measured, targets: judgeTargets(measured) });
  assert.match(report, /\| ssh -c aes128-gcm@openssh\.com \| skipped: no sshd \|/);
  assert.match(report, /\| rexec, plaintext \| 950 MB\/s \| 0\.95× \|/);
  assert.match(
    report,
    /\| `rexec run -n HOST -- true`, client process start included \| 1 \| 40\.0 ms \(40\.0 ms\) \| 1\.60× \|/,
  );
  assert.match(
    report,
    /\| `true` in one session, through the library \| 1 \| 2\.50 ms \(2\.50 ms\) \| 1\.25× \|/,
  );
  assert.match(report, /\*\*no\*\*/);
  assert.match(report, /- session 7: refused/);
});
