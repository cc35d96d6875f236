/**
 * Latency: how fast a short command comes back, each against its yardstick
 * measured alongside it (the runs interleaved, so that drift on a shared
 * machine touches both alike):
 *
 * - one-shot `rexec run -- true`, a new client process each time, against
 *   `deno run` of an empty script (Deno's own start-up), and against local
 *   `sh -c true` and one-shot ssh;
 * - `true` run over and over in one session through the library, against a
 *   minimal Deno server that spawns `true` per request over a loopback
 *   socket (`bench/spawn_server.ts`).
 *
 * @module
 */

import { connect } from "../lib/mod.ts";
import { childEnv, runOk, TempDir } from "./process.ts";
import {
  type BenchContext,
  rexecClientEnv,
  rexecRunArgs,
  RexecServer,
  SpawnServer,
  Sshd,
} from "./servers.ts";
import { spawnOverSocket } from "./spawn_server.ts";
import { type Sampled, sampled } from "./stats.ts";

/** Milliseconds per command, each a median over its runs. */
export interface LatencyResult {
  /** `rexec run -n HOST -- true`, a new client process each time. */
  readonly oneShot: Sampled;
  /** `deno run` of an empty script, as the one-shot client is started. */
  readonly emptyScript: Sampled;
  /** `sh -c true` spawned locally from Deno. */
  readonly localShell: Sampled;
  /** `ssh HOST true`, when an sshd could be started. */
  readonly ssh: Sampled | undefined;
  /** `true` in one open session, through the library. */
  readonly inSession: Sampled;
  /** `true` per request from the minimal spawn server, over one connection. */
  readonly spawnServer: Sampled;
}

/** Longest one short command may take before it counts as hung. */
const RUN_TIMEOUT_MS = 30_000;

/** In-session commands and yardstick requests alternate in blocks of this many. */
const BLOCK = 50;

/** Runs the latency measurements. */
export async function measureLatency(
  context: BenchContext,
  servers: { plain: RexecServer; spawn: SpawnServer; sshd: Sshd | undefined },
  counts: { oneShot: number; ssh: number; inSession: number },
): Promise<LatencyResult> {
  const base = { timeoutMs: RUN_TIMEOUT_MS, signal: context.signal };

  context.progress(
    `latency: ${counts.oneShot} one-shot rexec run -- true, each beside deno run of an empty script`,
  );
  await using scratch = await TempDir.create("rexec-bench-empty-");
  const empty = `${scratch.path}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  const emptyArgs = ["run", ...context.permissions, empty];
  const rexecArgs = rexecRunArgs(context, servers.plain, ["true"]);
  // Once each unmeasured, so that neither pays for a cold module cache.
  await runOk(Deno.execPath(), { ...base, env: childEnv(), args: emptyArgs });
  const oneShot: number[] = [];
  const emptyScript: number[] = [];
  for (let i = 0; i < counts.oneShot; i++) {
    emptyScript.push(
      (await runOk(Deno.execPath(), { ...base, env: childEnv(), args: emptyArgs })).ms,
    );
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

  context.progress(
    `latency: ${counts.inSession} true in one session, and from the minimal spawn server`,
  );
  const inSession: number[] = [];
  const spawnServer: number[] = [];
  {
    await using client = await connect({
      hostname: "127.0.0.1",
      port: servers.plain.port,
      token: context.token,
      signal: context.signal,
    });
    while (inSession.length < counts.inSession) {
      const block = Math.min(BLOCK, counts.inSession - inSession.length);
      for (let i = 0; i < block; i++) {
        context.signal.throwIfAborted();
        const start = performance.now();
        const { code } = await client.spawn(["true"]).output();
        inSession.push(performance.now() - start);
        if (code !== 0) throw new Error(`true exited ${code} on the server`);
      }
      spawnServer.push(...await spawnOverSocket(servers.spawn.port, block, context.signal));
    }
  }

  return {
    oneShot: sampled(oneShot),
    emptyScript: sampled(emptyScript),
    localShell: sampled(localShell),
    ssh,
    inSession: sampled(inSession),
    spawnServer: sampled(spawnServer),
  };
}
