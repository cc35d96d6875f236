/**
 * The server's command policy: which programs clients may run (`--allow`)
 * and which environment variables they may set (`--env-allow`). Pure of
 * sockets and frames: it looks at a request and the file system, and says
 * yes, with the exact file to execute, or no, with a message for the user.
 *
 * Variables follow one of three rules. `--env-allow` given: exactly the
 * names (or `PREFIX*`) it lists. Otherwise, with `--allow`: only
 * {@link DEFAULT_ENV_ALLOW}, each with a plain value, because a denylist
 * cannot be complete and every variable a program reads is a way to make it
 * run something else (`BROWSER`, `SYSTEMD_EDITOR`, `PYTHONWARNINGS`,
 * `GIT_DIR`, ...), which would defeat the allowlist. With neither: any name
 * except {@link DANGEROUS_ENV}; a client that may run any program gains
 * nothing from a variable, so that list guards against mistakes, not
 * against an attacker.
 *
 * Programs are compared by their canonical path: the directory resolved
 * with `Deno.realPath` (so `/bin/ls` and `/usr/bin/ls` are the same program
 * where `/bin` links to `/usr/bin`), the file name kept as it is. The last
 * component is deliberately not resolved: multi-call programs (busybox,
 * some coreutils builds) act on the name they are run by, and a link
 * `sh -> busybox` is a different program from `ls -> busybox`.
 *
 * @module
 */

import { RexecError } from "../errors.ts";

/** How the server was told to restrict commands. */
export interface CommandPolicyOptions {
  /** Programs clients may run (`--allow`, repeatable): names looked up in PATH or paths. Undefined: any program. */
  readonly allow?: readonly string[];
  /**
   * Environment variable names clients may set (`--env-allow`); an entry
   * ending in `*` is a prefix. Undefined: with `allow`, the names in
   * {@link DEFAULT_ENV_ALLOW} with plain values; without, any name except
   * the {@link DANGEROUS_ENV} ones.
   */
  readonly envAllow?: readonly string[];
  /** PATH used to look programs up; default the server's own PATH. */
  readonly path?: string;
}

/** The parts of an EXEC request the policy judges; an `ExecRequest` fits. */
export interface PolicyRequest {
  /** Program and arguments, run without a shell. */
  readonly argv?: readonly string[];
  /** A command line for `/bin/sh -c`. */
  readonly shell?: string;
  /** Variables the client sets for the command. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory on the server; the server's own when absent. */
  readonly cwd?: string;
}

/**
 * The policy's verdict. When an allowlist is active and the request is
 * allowed, `program` is the canonical absolute path of the file to execute
 * in place of `argv[0]` (or of `/bin/sh` for a shell request), so the server
 * runs exactly what was checked.
 */
export type PolicyDecision =
  | { readonly allowed: true; readonly program?: string }
  | { readonly allowed: false; readonly message: string };

/**
 * Environment variables a client may not set unless the server names them
 * with `--env-allow`: each one can make a program load or run code other
 * than what was asked for (dynamic loader, shells, interpreters, git, pagers
 * and editors), or redirect the program lookup itself (`PATH`).
 *
 * An entry ending in `*` is a prefix: `LD_*` covers `LD_PRELOAD`,
 * `LD_LIBRARY_PATH`, `LD_AUDIT`, and the rest. Names compare
 * case-sensitively, as the programs that read them do.
 *
 * @example Refused unless the server names them with `--env-allow`
 * ```ts
 * import assert from "node:assert/strict";
 * import { CommandPolicy, DANGEROUS_ENV } from "./policy.ts";
 *
 * assert.ok(DANGEROUS_ENV.includes("LD_*"));
 * const anyProgram = await CommandPolicy.create();
 * const refused = await anyProgram.check({ argv: ["make"], env: { LD_AUDIT: "/tmp/x.so" } });
 * assert.equal(refused.allowed, false);
 * const named = await CommandPolicy.create({ envAllow: ["LD_AUDIT"] });
 * const allowed = await named.check({ argv: ["make"], env: { LD_AUDIT: "/tmp/x.so" } });
 * assert.equal(allowed.allowed, true);
 * ```
 */
export const DANGEROUS_ENV: readonly string[] = Object.freeze([
  // Program lookup.
  "PATH",
  // Dynamic loaders (glibc, musl, macOS) and glibc's own knobs.
  "LD_*",
  "DYLD_*",
  "GLIBC_TUNABLES",
  "GCONV_PATH",
  "LOCPATH",
  "NLSPATH",
  "HOSTALIASES",
  "LOCALDOMAIN",
  "RES_OPTIONS",
  // POSIX shells, bash, zsh.
  "ENV",
  "BASH_ENV",
  "BASH_FUNC_*",
  "BASH_LOADABLES_PATH",
  "SHELLOPTS",
  "BASHOPTS",
  "IFS",
  "PS4",
  "PROMPT_COMMAND",
  "CDPATH",
  "ZDOTDIR",
  // Interpreters and runtimes.
  "NODE_OPTIONS",
  "NODE_PATH",
  "PYTHONPATH",
  "PYTHONHOME",
  "PYTHONSTARTUP",
  "PYTHONBREAKPOINT",
  "PYTHONUSERBASE",
  "PERL5LIB",
  "PERLLIB",
  "PERL5OPT",
  "PERL5DB",
  "RUBYOPT",
  "RUBYLIB",
  "LUA_*",
  "PHPRC",
  "PHP_INI_SCAN_DIR",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "CLASSPATH",
  "DOTNET_STARTUP_HOOKS",
  "OPENSSL_CONF",
  "OPENSSL_ENGINES",
  "OPENSSL_MODULES",
  // git runs commands named in its configuration and environment.
  "GIT_CONFIG*",
  "GIT_EXEC_PATH",
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_ASKPASS",
  "GIT_PAGER",
  "GIT_EDITOR",
  "GIT_PROXY_COMMAND",
  "GIT_EXTERNAL_DIFF",
  "GIT_TEMPLATE_DIR",
  // Other programs that run a command named in a variable.
  "PAGER",
  "EDITOR",
  "VISUAL",
  "LESSOPEN",
  "LESSCLOSE",
  "SSH_ASKPASS",
  "SUDO_ASKPASS",
  "BROWSER",
  "MANPAGER",
  "SYSTEMD_EDITOR",
  "SYSTEMD_PAGER",
  "PYTHONWARNINGS",
  "GIT_DIR",
]);

/** A locale name (`C.UTF-8`, `de_DE@euro`): no path, and no `.` or `..` alone. */
const LOCALE_VALUE = /^(?:[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63})?$/;

/**
 * A time zone by name (`Europe/Paris`) or as a POSIX rule
 * (`EST5EDT,M3.2.0/2,M11.1.0/2`): never an absolute path, never `..`.
 */
const TZ_VALUE =
  /^(?!.*\.\.)(?!:?\/):?[A-Za-z0-9_+,.<>:-]{1,64}(?:\/[A-Za-z0-9_+,.<>:-]{1,64}){0,4}$/;

/**
 * Environment variables a client may set on a server with an allowlist
 * (`--allow`) that has no `--env-allow` of its own: the terminal type, its
 * size, the language and the time zone, as `AcceptEnv LANG LC_*` in
 * Debian's sshd and the `TERM` ssh always sends. None of them names a
 * program, a library or a configuration file, and each is accepted only
 * with a value that cannot be a path (`LANG=C.UTF-8` and `TZ=Europe/Paris`
 * pass, `LANG=/tmp/x` and `TZ=/tmp/zone` do not), since glibc reads a
 * locale or zone file from a path given there. An entry ending in `*` is a
 * prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CommandPolicy, DEFAULT_ENV_ALLOW } from "./policy.ts";
 *
 * assert.ok(DEFAULT_ENV_ALLOW.includes("LC_*"));
 * assert.ok(!DEFAULT_ENV_ALLOW.includes("PAGER"));
 * const policy = await CommandPolicy.create({ allow: ["ls"], path: "/usr/bin:/bin" });
 * const check = (env: Record<string, string>) => policy.check({ argv: ["ls"], env });
 * assert.equal((await check({ LC_ALL: "C.UTF-8", TZ: "Europe/Paris" })).allowed, true);
 * assert.equal((await check({ LANG: "/tmp/locale" })).allowed, false); // a path, not a name
 * assert.equal((await check({ PAGER: "less" })).allowed, false);
 * ```
 */
export const DEFAULT_ENV_ALLOW: readonly string[] = Object.freeze([
  "TERM",
  "LANG",
  "LC_*",
  "TZ",
  "COLUMNS",
  "LINES",
]);

/** The values each {@link DEFAULT_ENV_ALLOW} entry accepts, in the same order. */
const DEFAULT_ENV_VALUES: readonly RegExp[] = [
  /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/,
  LOCALE_VALUE,
  LOCALE_VALUE,
  TZ_VALUE,
  /^[0-9]{1,6}$/,
  /^[0-9]{1,6}$/,
];

/**
 * Whether `name` is in {@link DANGEROUS_ENV}, exactly or by prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDangerousEnvName } from "./policy.ts";
 *
 * assert.equal(isDangerousEnvName("LD_PRELOAD"), true); // by the prefix LD_*
 * assert.equal(isDangerousEnvName("PATH"), true);
 * assert.equal(isDangerousEnvName("LANG"), false);
 * assert.equal(isDangerousEnvName("path"), false); // names compare case-sensitively
 * ```
 */
export function isDangerousEnvName(name: string): boolean {
  return DANGEROUS_ENV.some((entry) => matchesEnvEntry(entry, name));
}

/** Whether `name` is `entry`, or starts with it when `entry` ends in `*`. */
function matchesEnvEntry(entry: string, name: string): boolean {
  return entry.endsWith("*") ? name.startsWith(entry.slice(0, -1)) : name === entry;
}

/**
 * Which variables a policy lets clients set: every name but the dangerous
 * ones, the defaults for an allowlist, or an explicit list.
 */
type EnvRule =
  | { readonly kind: "denylist" }
  | { readonly kind: "defaults" }
  | { readonly kind: "list"; readonly entries: readonly string[] };

/**
 * The server's policy options cannot be used: an `--allow` entry that cannot
 * be found or is not an executable file, an invalid `--env-allow` name, or a
 * PATH the server may not read. The message says which and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CommandPolicy, PolicyError } from "./policy.ts";
 *
 * await assert.rejects(
 *   CommandPolicy.create({ allow: ["rexec-no-such-program"], path: "/usr/bin:/bin" }),
 *   (error) =>
 *     error instanceof PolicyError &&
 *     error.message.startsWith('--allow "rexec-no-such-program": '),
 * );
 * await assert.rejects(CommandPolicy.create({ envAllow: ["A=B"] }), PolicyError);
 * ```
 */
export class PolicyError extends RexecError {}

/** The shell a shell request runs; see `shellArgv` in process.ts. */
const SHELL = "/bin/sh";

/** What `execvp` searches when PATH is unset (glibc's `_CS_PATH`). */
const DEFAULT_PATH = "/bin:/usr/bin";

/** How many allowed programs or variables a refusal lists before "and N more". */
const LIST_LIMIT = 10;

/** Where a program lookup ended. */
type Lookup = { readonly file: string } | { readonly problem: string };

/**
 * Decides whether a request may run. Build one with {@link CommandPolicy.create}
 * when the server starts, then call {@link CommandPolicy.check} for each
 * request; `check` never throws.
 *
 * @example An allowlist of two programs
 * ```ts
 * import assert from "node:assert/strict";
 * import { CommandPolicy } from "./policy.ts";
 *
 * const policy = await CommandPolicy.create({ allow: ["ls", "cat"], path: "/usr/bin:/bin" });
 * const ok = await policy.check({ argv: ["ls", "-l"] });
 * assert.ok(ok.allowed);
 * assert.match(ok.program ?? "", /^\/.*\/ls$/); // the file the server will execute
 * const no = await policy.check({ argv: ["rm", "-rf", "/tmp/x"] });
 * assert.ok(!no.allowed);
 * assert.match(no.message, /^"rm" \(.*\/rm\) is not allowed on this server \(allowed: /);
 * ```
 *
 * @example No allowlist: any program, but no dangerous variables
 * ```ts
 * import assert from "node:assert/strict";
 * import { CommandPolicy } from "./policy.ts";
 *
 * const policy = await CommandPolicy.create({});
 * assert.deepEqual(await policy.check({ shell: "echo hi" }), { allowed: true });
 * const no = await policy.check({ argv: ["ls"], env: { LD_PRELOAD: "/tmp/x.so" } });
 * assert.ok(!no.allowed);
 * assert.match(no.message, /--env-allow LD_PRELOAD/);
 * ```
 */
export class CommandPolicy {
  readonly #allowed: readonly string[] | undefined;
  readonly #env: EnvRule;
  readonly #path: string;
  readonly #shell: Lookup | undefined;

  private constructor(
    allowed: readonly string[] | undefined,
    env: EnvRule,
    path: string,
    shell: Lookup | undefined,
  ) {
    this.#allowed = allowed;
    this.#env = env;
    this.#path = path;
    this.#shell = shell;
  }

  /**
   * Resolves every `allow` entry to its canonical path: a name without `/`
   * through PATH as `execvp` would (the first executable regular file), a
   * path as given (relative to the server's working directory).
   *
   * Needs `--allow-read`, and `--allow-env=PATH` when `allow` is given
   * without `path`.
   *
   * @throws {PolicyError} naming the entry that cannot be used, and why.
   */
  static async create(options: CommandPolicyOptions = {}): Promise<CommandPolicy> {
    for (const name of options.envAllow ?? []) {
      if (!isValidEnvName(name)) {
        throw new PolicyError(
          `--env-allow ${showEnv(name)}: not a valid environment variable name`,
        );
      }
    }
    const env: EnvRule = options.envAllow !== undefined
      ? { kind: "list", entries: [...new Set(options.envAllow)] }
      : options.allow !== undefined
      ? { kind: "defaults" }
      : { kind: "denylist" };
    if (options.allow === undefined) {
      return new CommandPolicy(undefined, env, options.path ?? "", undefined);
    }
    const path = options.path ?? serverPath();
    const cwd = serverCwd();
    const allowed: string[] = [];
    for (const entry of options.allow) {
      if (entry === "") throw new PolicyError("--allow: the program name is empty");
      const found = await lookUp(entry, cwd, path, "the server's PATH");
      if ("problem" in found) {
        const searched = entry.includes("/") ? "" : ` (${path})`;
        throw new PolicyError(`--allow ${showProgram(entry)}: ${found.problem}${searched}`);
      }
      let canonical: string;
      try {
        canonical = await canonicalPath(found.file);
      } catch (error) {
        throw new PolicyError(
          `--allow ${showProgram(entry)}: cannot resolve ${found.file}: ${describe(error)}`,
          { cause: error },
        );
      }
      if (!allowed.includes(canonical)) allowed.push(canonical);
    }
    return new CommandPolicy(allowed, env, path, await lookUpShell());
  }

  /** Canonical paths of the allowed programs, or undefined when any program may run. */
  get allowed(): readonly string[] | undefined {
    return this.#allowed;
  }

  /**
   * Judges a request: its environment first, then its program. Never
   * throws and never hangs on odd input; anything it cannot make sense of
   * is refused with a message.
   */
  async check(request: PolicyRequest): Promise<PolicyDecision> {
    try {
      return await this.#check(request);
    } catch (error) {
      return refuse(`the server could not check this command: ${describe(error)}`);
    }
  }

  async #check(request: PolicyRequest): Promise<PolicyDecision> {
    const envRefusal = this.#checkEnv(request.env);
    if (envRefusal !== undefined) return refuse(envRefusal);
    const { argv, shell } = request;
    if ((argv === undefined) === (shell === undefined)) {
      return refuse("the request must name either a program (argv) or a shell command");
    }
    if (shell !== undefined) return this.#checkShell(shell);
    if (!Array.isArray(argv) || argv.length === 0) return refuse("the request names no program");
    const name: unknown = argv[0];
    if (typeof name !== "string") return refuse("the program name is not a string");
    if (name === "") return refuse("the program name is empty");
    if (name.includes("\0")) return refuse("the program name contains a NUL byte");
    const allowed = this.#allowed;
    if (allowed === undefined) return { allowed: true };

    if (request.cwd !== undefined && typeof request.cwd !== "string") {
      return refuse("the working directory is not a string");
    }
    const cwd = absolute(request.cwd ?? ".", serverCwd());
    const requestPath = request.env !== undefined && Object.hasOwn(request.env, "PATH")
      ? request.env.PATH
      : undefined;
    const found = requestPath === undefined
      ? await lookUp(name, cwd, this.#path, "this server's PATH")
      : await lookUp(name, cwd, requestPath, "the PATH this request sets");
    if ("problem" in found) return refuse(`${showProgram(name)} ${found.problem}`);
    const program = await canonicalPath(found.file);
    if (allowed.includes(program)) return { allowed: true, program };
    const resolved = program === name ? "" : ` (${program})`;
    return refuse(
      `${showProgram(name)}${resolved} is not allowed on this server (allowed: ${list(allowed)})`,
    );
  }

  #checkShell(shell: unknown): PolicyDecision {
    if (typeof shell !== "string") return refuse("the shell command is not a string");
    if (this.#allowed === undefined) return { allowed: true };
    const found = this.#shell;
    if (found !== undefined && "file" in found && this.#allowed.includes(found.file)) {
      return { allowed: true, program: found.file };
    }
    return refuse(
      `shell mode (-c) is not allowed on this server: it runs ${SHELL}, which is not on the ` +
        `server's allowlist (the server needs --allow ${SHELL}, or --allow sh; ` +
        `allowed: ${list(this.#allowed)})`,
    );
  }

  /** A refusal message, or undefined when every variable may be set. */
  #checkEnv(env: unknown): string | undefined {
    if (env === undefined) return undefined;
    if (env === null || typeof env !== "object" || Array.isArray(env)) {
      return "the environment is not a set of variables";
    }
    const refused: string[] = [];
    for (const [name, value] of Object.entries(env)) {
      if (!isValidEnvName(name)) {
        return `${showProgram(name)} is not a valid environment variable name`;
      }
      if (typeof value !== "string") return `environment variable ${showEnv(name)} is not a string`;
      const rule = this.#env;
      if (rule.kind === "defaults") {
        const index = DEFAULT_ENV_ALLOW.findIndex((entry) => matchesEnvEntry(entry, name));
        if (index === -1) refused.push(name);
        else if (!DEFAULT_ENV_VALUES[index].test(value)) return refuseDefaultValue(name, value);
        continue;
      }
      const allowed = rule.kind === "denylist"
        ? !isDangerousEnvName(name)
        : rule.entries.some((entry) => matchesEnvEntry(entry, name));
      if (!allowed) refused.push(name);
    }
    if (refused.length === 0) return undefined;
    const names = list(refused.map(showEnv));
    const flags = refused.slice(0, LIST_LIMIT).map((name) => `--env-allow ${showEnv(name)}`).join(
      " ",
    );
    const [subject, verb] = refused.length === 1
      ? [`environment variable ${names}`, "is"]
      : [`environment variables ${names}`, "are"];
    const them = refused.length === 1 ? "it" : "them";
    switch (this.#env.kind) {
      case "denylist":
        return `${subject} ${verb} not allowed on this server: ` +
          `${refused.length === 1 ? "it" : "they"} can change which program or code runs ` +
          `(the server can allow ${them} with ${flags})`;
      case "defaults":
        return `${subject} ${verb} not allowed on this server: with --allow, clients may set ` +
          `only ${DEFAULT_ENV_ALLOW.join(", ")}, since any other variable could make an ` +
          `allowed program run another (the server can allow ${them} with ${flags})`;
      case "list": {
        const { entries } = this.#env;
        const permitted = entries.length === 0
          ? "none are allowed"
          : `allowed: ${list(entries.map(showEnv))}`;
        return `${subject} ${verb} not allowed on this server (${permitted}; ` +
          `the server can allow ${them} with ${flags})`;
      }
    }
  }
}

/** Why a default variable's value is refused: it could name a file. */
function refuseDefaultValue(name: string, value: string): string {
  return `environment variable ${showEnv(name)}=${showProgram(value)} is not allowed on this ` +
    `server: with --allow, ${showEnv(name)} may only have a plain value, not a path ` +
    `(the server can allow any value with --env-allow ${showEnv(name)})`;
}

function refuse(message: string): PolicyDecision {
  return { allowed: false, message };
}

function isValidEnvName(name: unknown): name is string {
  return typeof name === "string" && name !== "" && !name.includes("=") && !name.includes("\0");
}

/** A program name or path as a message shows it: quoted, never huge. */
function showProgram(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
}

/** A variable name as a message shows it: plain when it is a simple word, quoted otherwise. */
function showEnv(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,79}$/.test(name) ? name : showProgram(name);
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, LIST_LIMIT).join(", ");
  return items.length > LIST_LIMIT ? `${shown} and ${items.length - LIST_LIMIT} more` : shown;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function serverPath(): string {
  try {
    return Deno.env.get("PATH") ?? DEFAULT_PATH;
  } catch (error) {
    throw new PolicyError(
      `--allow needs the server's PATH to look programs up, and reading it was refused ` +
        `(${describe(error)}); give the server --allow-env=PATH`,
      { cause: error },
    );
  }
}

function serverCwd(): string {
  return Deno.cwd();
}

/** `path` made absolute against `base`, without resolving anything. */
function absolute(path: string, base: string): string {
  if (path.startsWith("/")) return path;
  const rest = path.replace(/^(\.\/+)+/, "");
  if (rest === "" || rest === ".") return base;
  return base.endsWith("/") ? `${base}${rest}` : `${base}/${rest}`;
}

/**
 * The canonical path of an existing file: its directory resolved with
 * `Deno.realPath`, its own name kept (see the module documentation).
 */
async function canonicalPath(file: string): Promise<string> {
  const slash = file.lastIndexOf("/");
  const directory = await Deno.realPath(slash === 0 ? "/" : file.slice(0, slash));
  const base = file.slice(slash + 1);
  return directory.endsWith("/") ? `${directory}${base}` : `${directory}/${base}`;
}

/**
 * Finds the file `name` runs as `execvp` would: with a `/`, the path itself
 * (relative to `cwd`); without, the first executable regular file in the
 * PATH entries, an empty or relative entry counting from `cwd`. `pathLabel`
 * names the PATH in the message when nothing is found.
 */
async function lookUp(
  name: string,
  cwd: string,
  path: string,
  pathLabel: string,
): Promise<Lookup> {
  if (name.includes("/")) {
    const file = absolute(name, cwd);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return { problem: `not found (no such file ${file})` };
      }
      if (error instanceof Deno.errors.NotADirectory) {
        return { problem: `not found (${file}: a component is not a directory)` };
      }
      return { problem: `cannot be used: ${file}: ${describe(error)}` };
    }
    if (info.isDirectory) return { problem: `cannot be run: ${file} is a directory` };
    if (!info.isFile) return { problem: `cannot be run: ${file} is not a regular file` };
    if (!isExecutable(info)) return { problem: `cannot be run: ${file} is not executable` };
    return { file };
  }
  for (const entry of path.split(":")) {
    const file = absolute(name, absolute(entry === "" ? "." : entry, cwd));
    try {
      const info = await Deno.stat(file);
      if (info.isFile && isExecutable(info)) return { file };
    } catch {
      // Missing or unreadable: execvp moves on to the next entry too.
    }
  }
  return { problem: `not found on ${pathLabel}` };
}

async function lookUpShell(): Promise<Lookup> {
  const found = await lookUp(SHELL, "/", "", "");
  if ("problem" in found) return found;
  try {
    return { file: await canonicalPath(found.file) };
  } catch (error) {
    return { problem: describe(error) };
  }
}

/** Any execute bit: what `access(X_OK)` checks for root. Unknown modes count as executable. */
function isExecutable(info: Deno.FileInfo): boolean {
  return info.mode === null || (info.mode & 0o111) !== 0;
}
