/**
 * Latency: how fast a short command comes back. One-shot `rexec run -- true`
 * as separate client processes (client start included) against local
 * `sh -c true` and one-shot ssh; and `true` run over and over in one session
 * through the library, against spawning `true` locally from Deno.
 *
 * @module
 */

import { connect } from "../lib/mod.ts";
import { childEnv, runOk } from "./process.ts";
import { type BenchContext, rexecClientEnv, rexecRunArgs, RexecServer, Sshd } from "./servers.ts";
import { type Sampled, sampled } from "./stats.ts";

/** Milliseconds per command, each a median over its runs. */
export interface LatencyResult {
  /** `rexec run -n HOST -- true`, a new client process each time. */
  readonly oneShot: Sampled;
  /** `sh -c true` spawned locally from Deno. */
  readonly localShell: Sampled;
  /** `ssh HOST true`, when an sshd could be started. */
  readonly ssh: Sampled | undefined;
  /** `true` in one open session, through the library. */
  readonly inSession: Sampled;
  /** `true` spawned locally from Deno, output collected. */
  readonly localSpawn: Sampled;
}

/** Longest one short command may take before it counts as hung. */
const RUN_TIMEOUT_MS = 30_000;

/** Runs the latency measurements. */
export async function measureLatency(
  context: BenchContext,
  servers: { plain: RexecServer; sshd: Sshd | undefined },
  counts: { oneShot: number; ssh: number; inSession: number },
): Promise<LatencyResult> {
  const base = { timeoutMs: RUN_TIMEOUT_MS, signal: context.signal };

  context.progress(`latency: ${counts.oneShot} one-shot rexec run -- true`);
  const oneShot: number[] = [];
  const rexecArgs = rexecRunArgs(context, servers.plain, ["true"]);
  for (let i = 0; i < counts.oneShot; i++) {
    const result = await runOk(Deno.execPath(), {
      ...base,
      env: rexecClientEnv(context),
      args: rexecArgs,
    });
    oneShot.push(result.ms);
  }

  context.progress(`latency: ${counts.oneShot} local sh -c true`);
  const localShell: number[] = [];
  for (let i = 0; i < counts.oneShot; i++) {
    localShell.push((await runOk("sh", { ...base, env: childEnv(), args: ["-c", "true"] })).ms);
  }

  let ssh: Sampled | undefined;
  if (servers.sshd) {
    context.progress(`latency: ${counts.ssh} one-shot ssh true`);
    const samples: number[] = [];
    for (let i = 0; i < counts.ssh; i++) {
      const result = await runOk("ssh", {
        ...base,
        env: childEnv(),
        args: servers.sshd.sshArgs(["true"]),
      });
      samples.push(result.ms);
    }
    ssh = sampled(samples);
  }

  context.progress(`latency: ${counts.inSession} true in one session, and locally`);
  const inSession: number[] = [];
  {
    await using client = await connect({
      hostname: "127.0.0.1",
      port: servers.plain.port,
      token: context.token,
      signal: context.signal,
    });
    for (let i = 0; i < counts.inSession; i++) {
      const start = performance.now();
      const { code } = await client.spawn(["true"]).output();
      inSession.push(performance.now() - start);
      if (code !== 0) throw new Error(`true exited ${code} on the server`);
    }
  }
  const localSpawn: number[] = [];
  for (let i = 0; i < counts.inSession; i++) {
    const start = performance.now();
    const { code } = await new Deno.Command("true", { stdin: "null" }).output();
    localSpawn.push(performance.now() - start);
    if (code !== 0) throw new Error(`true exited ${code} here`);
  }

  return {
    oneShot: sampled(oneShot),
    localShell: sampled(localShell),
    ssh,
    inSession: sampled(inSession),
    localSpawn: sampled(localSpawn),
  };
}
