/**
 * Throughput: `head -c BYTES /dev/zero` streamed to a client writing to
 * /dev/null, through rexec (plaintext and TLS), through a raw Deno TCP copy
 * and through ssh, the rounds interleaved so that drift on a shared machine
 * touches every row alike. The rexec server's peak resident memory is watched
 * during each of its runs, and once more while a client stops reading.
 *
 * @module
 */

import { PeakWatch, residentKib } from "./memory.ts";
import { childEnv, runOk } from "./process.ts";
import {
  type BenchContext,
  RawCopyServer,
  rexecClientEnv,
  rexecRunArgs,
  RexecServer,
  Sshd,
} from "./servers.ts";
import { type Sampled, sampled } from "./stats.ts";

/** What was measured, per row; `undefined` where the yardstick was skipped. */
export interface ThroughputResult {
  /** Bytes per run. */
  readonly bytes: number;
  /** Megabytes (10^6) per second over the raw TCP copy. */
  readonly raw: Sampled;
  /** Through `rexec run`, plaintext. */
  readonly plain: Sampled;
  /** Through `rexec run --tls`. */
  readonly tls: Sampled;
  /** Through `ssh -c aes128-gcm`, when an sshd could be started. */
  readonly ssh: Sampled | undefined;
  /** The plaintext server's resident memory before the runs, KiB. */
  readonly idleKib: number;
  /** Its peak while a fast client read, KiB (the highest of the runs). */
  readonly fastPeakKib: number;
  /** The TLS server's idle and peak resident memory, KiB. */
  readonly tlsIdleKib: number;
  /** Its peak while a fast client read, KiB. */
  readonly tlsPeakKib: number;
  /** The plaintext server's peak while its client read nothing for a while, KiB. */
  readonly stalledPeakKib: number;
  /** How long that client read nothing, ms. */
  readonly stallMs: number;
}

/** Longest a single transfer may take before it counts as hung. */
const RUN_TIMEOUT_MS = 180_000;

/** The servers a throughput run needs, started by the caller. */
export interface ThroughputServers {
  readonly plain: RexecServer;
  readonly tls: RexecServer;
  readonly raw: RawCopyServer;
  readonly sshd: Sshd | undefined;
}

/** Runs the throughput rounds. */
export async function measureThroughput(
  context: BenchContext,
  servers: ThroughputServers,
  options: { bytes: number; rounds: number; stallMs: number },
): Promise<ThroughputResult> {
  const { bytes, rounds } = options;
  const source = ["head", "-c", String(bytes), "/dev/zero"];
  const base = { env: rexecClientEnv(context), timeoutMs: RUN_TIMEOUT_MS, signal: context.signal };
  const idleKib = await residentKib(servers.plain.pid);
  const tlsIdleKib = await residentKib(servers.tls.pid);
  const seconds = { raw: [] as number[], plain: [] as number[], tls: [] as number[] };
  const sshSeconds: number[] = [];
  let fastPeakKib = idleKib;
  let tlsPeakKib = tlsIdleKib;
  for (let round = 1; round <= rounds; round++) {
    context.progress(`throughput round ${round}/${rounds}`);
    const raw = await runOk(Deno.execPath(), { ...base, args: servers.raw.readerArgs(bytes) });
    seconds.raw.push(raw.ms / 1000);

    const plainWatch = await PeakWatch.start(servers.plain.pid);
    const plain = await runOk(Deno.execPath(), {
      ...base,
      args: rexecRunArgs(context, servers.plain, source),
    });
    fastPeakKib = Math.max(fastPeakKib, await plainWatch.stop());
    seconds.plain.push(plain.ms / 1000);

    const tlsWatch = await PeakWatch.start(servers.tls.pid);
    const tls = await runOk(Deno.execPath(), {
      ...base,
      args: rexecRunArgs(context, servers.tls, source),
    });
    tlsPeakKib = Math.max(tlsPeakKib, await tlsWatch.stop());
    seconds.tls.push(tls.ms / 1000);

    if (servers.sshd) {
      const ssh = await runOk("ssh", {
        ...base,
        env: childEnv(),
        args: servers.sshd.sshArgs(source),
      });
      sshSeconds.push(ssh.ms / 1000);
    }
  }

  context.progress(`throughput: a client that reads nothing for ${options.stallMs / 1000} s`);
  const stalledWatch = await PeakWatch.start(servers.plain.pid);
  // The client's stdout is a pipe that nobody drains until the sleep ends, so
  // the client stops reading its socket and the server must hold back.
  await runOk("sh", {
    ...base,
    args: [
      "-c",
      `"$0" "$@" | { sleep ${options.stallMs / 1000}; cat; }`,
      Deno.execPath(),
      ...rexecRunArgs(context, servers.plain, source),
    ],
  });
  const stalledPeakKib = await stalledWatch.stop();

  const rate = (list: number[]) => sampled(list.map((s) => bytes / 1e6 / s));
  return {
    bytes,
    raw: rate(seconds.raw),
    plain: rate(seconds.plain),
    tls: rate(seconds.tls),
    ssh: servers.sshd ? rate(sshSeconds) : undefined,
    idleKib,
    fastPeakKib,
    tlsIdleKib,
    tlsPeakKib,
    stalledPeakKib,
    stallMs: options.stallMs,
  };
}
