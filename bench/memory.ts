/**
 * Resident memory of another process, from Linux's /proc.
 *
 * Deno lets a program read another process's /proc entries only with
 * --allow-all, so they are read by `cat` and written by `sh`, which
 * --allow-run covers; a reading costs a process spawn, so a peak is taken
 * from the kernel's own high-water mark rather than by frequent sampling.
 *
 * @module
 */

import { childEnv, readProcText, run } from "./process.ts";

/** Milliseconds between samples where the high-water mark cannot be reset. */
const SAMPLE_INTERVAL_MS = 100;

/** Fields of /proc/PID/status in kibibytes. */
async function statusKib(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readProcText(`/proc/${pid}/status`);
  const field = (name: string) => {
    const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m"));
    if (!match) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]);
  };
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/** The resident memory of `pid` now, in KiB. */
export async function residentKib(pid: number): Promise<number> {
  return (await statusKib(pid)).rss;
}

/**
 * Watches the peak resident memory of `pid` from now until {@link stop}.
 *
 * The kernel's high-water mark (VmHWM) is reset at the start through
 * /proc/PID/clear_refs, so no spike between readings is missed; where the
 * kernel refuses the reset, samples taken every 100 ms stand in for it.
 */
export class PeakWatch {
  readonly #pid: number;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  #sampled: number;
  #pending: Promise<void> = Promise.resolve();

  private constructor(pid: number, startKib: number, sample: boolean) {
    this.#pid = pid;
    this.#sampled = startKib;
    if (sample) {
      this.#timer = setInterval(() => {
        this.#pending = this.#pending.then(async () => {
          this.#sampled = Math.max(this.#sampled, await residentKib(this.#pid));
        });
      }, SAMPLE_INTERVAL_MS);
    }
  }

  /** Starts watching. */
  static async start(pid: number): Promise<PeakWatch> {
    // "5" resets the peak resident set size (Linux 4.0 and later).
    const reset = await run("sh", {
      args: ["-c", 'echo 5 > "/proc/$0/clear_refs"', String(pid)],
      env: childEnv(),
      timeoutMs: 10_000,
    });
    return new PeakWatch(pid, await residentKib(pid), reset.code !== 0);
  }

  /** Stops watching; resolves to the peak in KiB. */
  async stop(): Promise<number> {
    clearInterval(this.#timer);
    await this.#pending;
    const { rss, hwm } = await statusKib(this.#pid);
    return Math.max(this.#sampled, rss, this.#timer === undefined ? hwm : 0);
  }
}
