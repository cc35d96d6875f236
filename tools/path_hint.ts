/**
 * Run by `deno task install` after `deno install`: says where the `rexec`
 * command went and, when that directory is not on PATH (`~/.deno/bin`
 * usually is not), how to put it there.
 *
 * @module
 */

/** Where `deno install --global` puts commands, and what decides it. */
export interface InstallEnvironment {
  /** `DENO_INSTALL_ROOT`; the commands go in its `bin`. */
  readonly installRoot?: string;
  /** The home directory (`HOME`, or `USERPROFILE` on Windows). */
  readonly home?: string;
  /** `PATH`. */
  readonly path?: string;
  /** `SHELL`, to name the startup file that sets PATH. */
  readonly shell?: string;
  /** Whether this is Windows: `;` separates PATH, `\` paths, `.cmd` wrappers. */
  readonly windows: boolean;
}

/**
 * The directory `deno install --global` writes commands to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { installBinDir } from "./path_hint.ts";
 *
 * assert.equal(installBinDir({ home: "/home/ann", windows: false }), "/home/ann/.deno/bin");
 * assert.equal(installBinDir({ installRoot: "/opt/deno/", windows: false }), "/opt/deno/bin");
 * ```
 */
export function installBinDir(env: InstallEnvironment): string {
  const separator = env.windows ? "\\" : "/";
  const root = env.installRoot ?? `${env.home ?? "~"}${separator}.deno`;
  return `${root.replace(/[\\/]+$/, "")}${separator}bin`;
}

/**
 * What to tell the user once `rexec` is installed in `binDir`. `resolved` is
 * where `rexec` is found on PATH, if anywhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathHint } from "./path_hint.ts";
 *
 * const lines = pathHint({
 *   env: { home: "/home/ann", path: "/usr/bin:/bin", shell: "/bin/bash", windows: false },
 *   binDir: "/home/ann/.deno/bin",
 * });
 * assert.ok(lines.includes(`  export PATH="$HOME/.deno/bin:$PATH"`));
 * ```
 */
export function pathHint(
  options: { env: InstallEnvironment; binDir: string; resolved?: string },
): string[] {
  const { env, binDir, resolved } = options;
  const command = `${binDir}${env.windows ? "\\rexec.cmd" : "/rexec"}`;
  const onPath = pathEntries(env).some((entry) => sameDir(entry, binDir, env.windows));
  if (!onPath) {
    if (env.windows) {
      return [
        `installed ${command}; ${binDir} is not on your PATH.`,
        `Add it to your user's Path (Settings, "Edit environment variables for your account"),`,
        "then open a new terminal.",
      ];
    }
    const home = env.home?.replace(/\/+$/, "");
    const dir = home && binDir.startsWith(`${home}/`)
      ? `$HOME${binDir.slice(home.length)}`
      : binDir;
    const shell = env.shell?.split("/").at(-1);
    if (shell === "fish") {
      return [
        `installed ${command}; ${binDir} is not on your PATH. Add it, for good, with`,
        `  fish_add_path ${dir.replace(/^\$HOME/, "~")}`,
      ];
    }
    const startupFile = shell === "zsh"
      ? "~/.zshrc"
      : shell === "bash"
      ? "~/.bashrc"
      : "your shell's startup file (~/.profile)";
    return [
      `installed ${command}; ${binDir} is not on your PATH. Add it to this shell with`,
      `  export PATH="${dir}:$PATH"`,
      `and put that line in ${startupFile} for the shells you open later.`,
    ];
  }
  if (resolved !== undefined && resolved !== command) {
    return [
      `installed ${command}, but \`rexec\` runs ${resolved}, which comes first on your PATH:`,
      `remove that one, or put ${binDir} before it.`,
    ];
  }
  return [`installed ${command}; try \`rexec --help\`.`];
}

function pathEntries(env: InstallEnvironment): string[] {
  return (env.path ?? "").split(env.windows ? ";" : ":").filter((entry) => entry !== "");
}

function sameDir(a: string, b: string, windows: boolean): boolean {
  const normal = (dir: string) => {
    const trimmed = dir.replace(/[\\/]+$/, "");
    return windows ? trimmed.replaceAll("/", "\\").toLowerCase() : trimmed;
  };
  return normal(a) === normal(b);
}

/** The first `rexec` on PATH, as the shell would find it. */
async function findOnPath(env: InstallEnvironment): Promise<string | undefined> {
  const names = env.windows ? ["rexec.cmd", "rexec.exe", "rexec.bat"] : ["rexec"];
  for (const dir of pathEntries(env)) {
    for (const name of names) {
      const file = `${dir.replace(/[\\/]+$/, "")}${env.windows ? "\\" : "/"}${name}`;
      try {
        const info = await Deno.stat(file);
        if (info.isFile && (env.windows || ((info.mode ?? 0) & 0o111) !== 0)) return file;
      } catch (error) {
        // A PATH entry without a rexec, or one this user may not look into,
        // is what the shell skips as well.
        const skipped = error instanceof Deno.errors.NotFound ||
          error instanceof Deno.errors.NotADirectory ||
          error instanceof Deno.errors.PermissionDenied;
        if (!skipped) throw error;
      }
    }
  }
  return undefined;
}

if (import.meta.main) {
  const windows = Deno.build.os === "windows";
  const env: InstallEnvironment = {
    installRoot: Deno.env.get("DENO_INSTALL_ROOT"),
    home: Deno.env.get(windows ? "USERPROFILE" : "HOME"),
    path: Deno.env.get("PATH"),
    shell: Deno.env.get("SHELL"),
    windows,
  };
  const binDir = installBinDir(env);
  console.log(pathHint({ env, binDir, resolved: await findOnPath(env) }).join("\n"));
}
