/**
 * Summaries of repeated measurements, and units for the report.
 *
 * @module
 */

/** One mebibyte. */
export const MiB = 1024 * 1024;

/** One gibibyte. */
export const GiB = 1024 * MiB;

/** A measured value with the samples it summarises. */
export interface Sampled {
  /** The summary (a median unless said otherwise). */
  readonly value: number;
  /** Every sample, in the order taken. */
  readonly samples: readonly number[];
}

/**
 * The median of `values`.
 *
 * @throws {RangeError} when there are none.
 */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * The `p`th percentile of `values`, interpolated between neighbours.
 *
 * @throws {RangeError} when there are none.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("no samples");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

/** The median of `samples`, with the samples. */
export function sampled(samples: readonly number[]): Sampled {
  return { value: median(samples), samples };
}

/** Milliseconds, with precision that suits their size: `0.84 ms`, `12.3 ms`, `812 ms`. */
export function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ms`;
}

/** Megabytes (10^6 bytes) per second. */
export function mbps(value: number): string {
  return `${value.toFixed(0)} MB/s`;
}

/** Mebibytes, from kibibytes (as /proc reports them). */
export function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

/** A ratio, `0.83×`. */
export function times(value: number): string {
  return `${value.toFixed(2)}×`;
}

/** A byte count in the largest binary unit that divides it: `1 GiB`, `256 MiB`. */
export function size(bytes: number): string {
  if (bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes % MiB === 0) return `${bytes / MiB} MiB`;
  return `${bytes} B`;
}
