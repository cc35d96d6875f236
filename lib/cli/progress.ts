/**
 * The progress line of `rexec cp`: bytes done, total, rate and time left,
 * redrawn in place on stderr a few times a second. Only on a terminal: the
 * caller decides, and passes no line at all otherwise.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/** Milliseconds between redraws. */
const REDRAW_MS = 250;

/** Where the line goes, and the clock; replaceable in tests. */
export interface ProgressOptions {
  /** Writes text to the terminal. */
  readonly write: (text: string) => void;
  /** Columns the line may use; it is cut to fit. */
  readonly columns?: number;
  /** Milliseconds, monotonic. */
  readonly now?: () => number;
}

/**
 * A progress line. {@link add} what is to come, {@link advance} as bytes
 * move, {@link end} to clear the line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProgressLine } from "./progress.ts";
 *
 * const drawn: string[] = [];
 * let clock = 0;
 * const line = new ProgressLine({ write: (text) => drawn.push(text), now: () => clock });
 * line.add(4 * 1024 * 1024);
 * clock = 1000;
 * line.advance(1024 * 1024);
 * line.draw();
 * assert.match(drawn.at(-1)!, /1\.0 MiB \/ 4\.0 MiB +25% +1\.0 MiB\/s +0:03 left/);
 * line.end();
 * assert.equal(drawn.at(-1), "\r\x1b[K");
 * ```
 */
export class ProgressLine implements Disposable {
  readonly #write: (text: string) => void;
  readonly #columns: number;
  readonly #now: () => number;
  readonly #started: number;
  #total = 0;
  #done = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #drawn = false;
  #running = false;

  /** A line that draws with `options.write`, starting now. */
  constructor(options: ProgressOptions) {
    this.#write = options.write;
    this.#columns = options.columns ?? 80;
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
  }

  /** Adds `bytes` to the total. */
  add(bytes: number): void {
    this.#total += bytes;
    // The first sign of work, once there is something to show.
    if (this.#running && !this.#drawn) this.draw();
  }

  /** Counts `bytes` as done. */
  advance(bytes: number): void {
    this.#done += bytes;
  }

  /** Draws a few times a second until {@link end}, from the first {@link add}. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#timer = setInterval(() => this.draw(), REDRAW_MS);
  }

  /** Draws the line now. */
  draw(): void {
    if (this.#total === 0 && this.#done === 0) return;
    const seconds = (this.#now() - this.#started) / 1000;
    const rate = seconds > 0 ? this.#done / seconds : 0;
    const percent = this.#total > 0 ? Math.floor((this.#done / this.#total) * 100) : 100;
    const left = rate > 0 ? formatDuration((this.#total - this.#done) / rate) : "--:--";
    const text = `${formatBytes(this.#done)} / ${formatBytes(this.#total)}  ${percent}%  ` +
      `${formatBytes(rate)}/s  ${left} left`;
    // A line as wide as the terminal would wrap, and the next \r would not return to its start.
    const fitted = this.#columns >= 40 ? text.slice(0, this.#columns - 1) : text;
    this.#write(`\r\x1b[K${fitted}`);
    this.#drawn = true;
  }

  /** Stops redrawing and clears the line. */
  end(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#running = false;
    if (this.#drawn) this.#write("\r\x1b[K");
    this.#drawn = false;
  }

  /** Same as {@link end}. */
  [Symbol.dispose](): void {
    this.end();
  }
}

/**
 * Bytes in binary units with one decimal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./progress.ts";
 *
 * assert.equal(formatBytes(512), "512 B");
 * assert.equal(formatBytes(1536), "1.5 KiB");
 * assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Seconds as `M:SS`, or `H:MM:SS` from an hour.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./progress.ts";
 *
 * assert.equal(formatDuration(65), "1:05");
 * assert.equal(formatDuration(3725), "1:02:05");
 * ```
 */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}
