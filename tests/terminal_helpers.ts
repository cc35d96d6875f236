/**
 * A terminal for tests, as a person has one: the test holds the master side
 * of a pseudo-terminal (node-pty), runs a shell script on its slave side,
 * types bytes into it and reads what it shows.
 *
 * @module
 */

import { spawn } from "npm:@lydell/node-pty@^1.1.0";
import { CLI_PERMISSIONS, MAIN, TOKEN } from "./helpers.ts";

/** The shell words that run the rexec CLI with the permissions `deno task rexec` grants. */
export const REXEC = [Deno.execPath(), "run", ...CLI_PERMISSIONS, MAIN]
  .map((word) => `'${word}'`).join(" ");

/** A script running on a terminal the test holds. */
export class TestTerminal implements AsyncDisposable {
  /** Resolves with the script's exit code. */
  readonly exited: Promise<number>;
  readonly #pty: ReturnType<typeof spawn>;
  #screen = "";
  #changed = Promise.withResolvers<void>();

  /** Runs `script` with `sh -c` on a new terminal of `rows` x `cols`, its `TERM` `term`. */
  constructor(script: string, options: { rows?: number; cols?: number; term?: string } = {}) {
    this.#pty = spawn("/bin/sh", ["-c", script], {
      name: options.term ?? "xterm-256color",
      rows: options.rows ?? 24,
      cols: options.cols ?? 80,
      cwd: Deno.cwd(),
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", REXEC_TOKEN: TOKEN },
    });
    const exited = Promise.withResolvers<number>();
    this.exited = exited.promise;
    this.#pty.onData((data) => {
      this.#screen += data;
      this.#changed.resolve();
      this.#changed = Promise.withResolvers<void>();
    });
    this.#pty.onExit(({ exitCode }) => exited.resolve(exitCode));
  }

  /** The process id of the script's shell. */
  get pid(): number {
    return this.#pty.pid;
  }

  /** Everything the terminal has shown. */
  get screen(): string {
    return this.#screen;
  }

  /** Types `keys`. */
  type(keys: string): void {
    this.#pty.write(keys);
  }

  /** Resizes the terminal: the program in the foreground gets SIGWINCH. */
  resize(rows: number, cols: number): void {
    this.#pty.resize(cols, rows);
  }

  /**
   * Waits until the screen matches `pattern`; fails after `timeoutMs` with
   * what it shows.
   */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.#screen.match(pattern);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `the terminal never showed ${pattern}; it shows ${JSON.stringify(this.#screen)}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#changed.promise,
        new Promise((resolve) => timer = setTimeout(resolve, left)),
      ]);
      clearTimeout(timer);
    }
  }

  /** Ends the script if it still runs. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      Deno.kill(this.#pty.pid, "SIGKILL");
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await this.exited;
  }
}

/** The process ids of `parent`'s children. */
export async function childrenOf(parent: number): Promise<number[]> {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-P", String(parent)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line !== "").map(Number);
}
