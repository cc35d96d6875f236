/**
 * The microbenchmarks: `deno bench --json` over the `*_bench.ts` files, each
 * result summarised, with a throughput where the bench's name says how many
 * bytes one iteration moves ("1000 frames of 64 KiB").
 *
 * @module
 */

import { childEnv, runOk } from "./process.ts";

/** One microbenchmark's result. */
export interface MicroResult {
  /** Its name, as `Deno.bench` was given it. */
  readonly name: string;
  /** Mean nanoseconds per iteration. */
  readonly avgNs: number;
  /** 99th percentile nanoseconds per iteration. */
  readonly p99Ns: number;
  /** Iterations measured. */
  readonly iterations: number;
  /** Megabytes (10^6) per second of payload, where the name gives a volume. */
  readonly mbPerSecond: number | undefined;
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 * 1024 };

/** Bytes one iteration moves, read off a name such as "decode 1000 frames of 64 KiB". */
export function volumeOf(name: string): number | undefined {
  const match = name.match(/\b(\d+) frames? of (\d+) (B|KiB|MiB)\b/);
  return match ? Number(match[1]) * Number(match[2]) * UNITS[match[3]] : undefined;
}

interface BenchJson {
  benches: {
    name: string;
    results: { ok?: { n: number; avg: number; p99: number }; failed?: unknown }[];
  }[];
}

/** Runs the microbenchmarks in `dir`. */
export async function measureMicro(
  dir: string,
  options: { signal: AbortSignal },
): Promise<MicroResult[]> {
  const result = await runOk(Deno.execPath(), {
    args: ["bench", "--json", dir],
    env: childEnv(),
    stdout: "piped",
    timeoutMs: 120_000,
    signal: options.signal,
  });
  const report = JSON.parse(new TextDecoder().decode(result.stdout)) as BenchJson;
  return report.benches.map(({ name, results }) => {
    const ok = results[0]?.ok;
    if (!ok) throw new Error(`bench "${name}" failed: ${JSON.stringify(results[0])}`);
    const volume = volumeOf(name);
    return {
      name,
      avgNs: ok.avg,
      p99Ns: ok.p99,
      iterations: ok.n,
      mbPerSecond: volume === undefined ? undefined : volume / 1e6 / (ok.avg / 1e9),
    };
  });
}
