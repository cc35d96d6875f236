/**
 * Concurrency: many clients at once, each running `echo` with its own
 * argument, every output checked. One-shot client processes (against ssh),
 * and a crowd of sessions held open together through the library while the
 * server's resident memory is read.
 *
 * @module
 */

import { connect } from "../lib/mod.ts";
import { residentKib } from "./memory.ts";
import { childEnv, run } from "./process.ts";
import { type BenchContext, rexecClientEnv, rexecRunArgs, RexecServer, Sshd } from "./servers.ts";
import { type Sampled, sampled } from "./stats.ts";

/** A batch of clients started together. */
export interface BatchResult {
  /** Clients in the batch. */
  readonly clients: number;
  /** Milliseconds from the first start to the last end, per round. */
  readonly batchMs: Sampled;
  /** Clients, over all rounds, whose output and exit code were right. */
  readonly served: number;
  /** Clients, over all rounds, that failed or printed something else; the first few reasons. */
  readonly failed: number;
  /** Why some failed. */
  readonly failures: readonly string[];
}

/** The crowd of open sessions. */
export interface SessionCrowdResult extends BatchResult {
  /** The server's resident memory before the crowd, KiB. */
  readonly idleKib: number;
  /** Its resident memory with every session open and its command done, KiB. */
  readonly openKib: number;
}

/** Everything the concurrency section measured. */
export interface ConcurrencyResult {
  /** Parallel `rexec run` client processes. */
  readonly oneShots: BatchResult;
  /** Parallel `ssh` client processes, when an sshd could be started. */
  readonly ssh: BatchResult | undefined;
  /** Sessions open at once through the library. */
  readonly sessions: SessionCrowdResult;
}

/** Longest one batch may take before its stragglers count as hung. */
const BATCH_TIMEOUT_MS = 120_000;

/** Failure reasons kept per batch. */
const MAX_REASONS = 5;

/** Runs the concurrency measurements. */
export async function measureConcurrency(
  context: BenchContext,
  servers: { plain: RexecServer; sshd: Sshd | undefined },
  options: { oneShots: number; sessions: number; rounds: number },
): Promise<ConcurrencyResult> {
  context.progress(`concurrency: ${options.oneShots} rexec run clients at once`);
  const oneShots = await batches(options.rounds, options.oneShots, (i) => ({
    program: Deno.execPath(),
    args: rexecRunArgs(context, servers.plain, ["echo", `client-${i}`]),
    env: rexecClientEnv(context),
  }), context.signal);

  let ssh: BatchResult | undefined;
  if (servers.sshd) {
    const sshd = servers.sshd;
    context.progress(`concurrency: ${options.oneShots} ssh clients at once`);
    ssh = await batches(options.rounds, options.oneShots, (i) => ({
      program: "ssh",
      args: sshd.sshArgs(["echo", `client-${i}`]),
      env: childEnv(),
    }), context.signal);
  }

  context.progress(`concurrency: ${options.sessions} sessions open at once`);
  const sessions = await sessionCrowd(context, servers.plain, options.sessions);
  return { oneShots, ssh, sessions };
}

interface ClientCommand {
  program: string;
  args: string[];
  env: Record<string, string>;
}

async function batches(
  rounds: number,
  clients: number,
  command: (i: number) => ClientCommand,
  signal: AbortSignal,
): Promise<BatchResult> {
  const times: number[] = [];
  const failures: string[] = [];
  let served = 0;
  let failed = 0;
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const { program, args, env } = command(i);
        const result = await run(program, {
          args,
          env,
          stdout: "piped",
          timeoutMs: BATCH_TIMEOUT_MS,
          signal,
        });
        const output = new TextDecoder().decode(result.stdout);
        if (result.code === 0 && output === `client-${i}\n`) return undefined;
        return `client ${i}: exit ${result.code}, stdout ${JSON.stringify(output.slice(0, 40))}, ${
          result.stderr.trim().split("\n").at(-1) ?? ""
        }`;
      }),
    );
    times.push(performance.now() - start);
    for (const outcome of outcomes) {
      if (outcome === undefined) {
        served++;
      } else {
        failed++;
        if (failures.length < MAX_REASONS) failures.push(outcome);
      }
    }
  }
  return { clients, batchMs: sampled(times), served, failed, failures };
}

async function sessionCrowd(
  context: BenchContext,
  server: RexecServer,
  count: number,
): Promise<SessionCrowdResult> {
  const idleKib = await residentKib(server.pid);
  await using stack = new AsyncDisposableStack();
  const failures: string[] = [];
  const start = performance.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: count }, async (_, i) => {
      const client = stack.use(
        await connect({
          hostname: "127.0.0.1",
          port: server.port,
          token: context.token,
          signal: context.signal,
        }),
      );
      const { code, stdout } = await client.spawn(["echo", `client-${i}`]).output();
      const output = new TextDecoder().decode(stdout);
      if (code !== 0 || output !== `client-${i}\n`) {
        throw new Error(`exit ${code}, stdout ${JSON.stringify(output.slice(0, 40))}`);
      }
    }),
  );
  const elapsed = performance.now() - start;
  const openKib = await residentKib(server.pid);
  let served = 0;
  outcomes.forEach((outcome, i) => {
    if (outcome.status === "fulfilled") {
      served++;
    } else if (failures.length < MAX_REASONS) {
      failures.push(`session ${i}: ${outcome.reason}`);
    }
  });
  return {
    clients: count,
    batchMs: sampled([elapsed]),
    served,
    failed: count - served,
    failures,
    idleKib,
    openKib,
  };
}
