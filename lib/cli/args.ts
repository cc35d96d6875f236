/**
 * Turns `rexec`'s command line into a typed configuration. Pure: it reads
 * nothing but its argument, so every rule is tested without a process.
 *
 * @module
 */

import { DEFAULT_PORT, type HostPort, parseHostPort } from "../address.ts";
import { UsageError } from "../errors.ts";
import { DEFAULT_CONNECT_TIMEOUT } from "../client.ts";
import { DEFAULT_MAX_FRAME_SIZE, MAX_ENCODABLE_BODY, MIN_MAX_FRAME_SIZE } from "../frame.ts";
import { MAX_TIMEOUT_SECONDS } from "../messages.ts";
import { DEFAULT_HOSTNAME, DEFAULT_KILL_GRACE, DEFAULT_MAX_TIMEOUT } from "../server.ts";

/** `rexec --help`, `rexec help [MODE]`, `rexec MODE --help`. */
export interface HelpConfig {
  readonly mode: "help";
  /** The mode to explain; the overview when absent. */
  readonly topic?: "serve" | "run" | "shell";
}

/** `rexec --version`. */
export interface VersionConfig {
  readonly mode: "version";
}

/** `rexec serve`. */
export interface ServeConfig {
  readonly mode: "serve";
  /** Address to listen on. */
  readonly listen: HostPort;
  /** Token file given with `--token-file`. */
  readonly tokenFile?: string;
  /** Largest frame body accepted, in bytes. */
  readonly maxFrameSize: number;
  /** Longest any command may run, in seconds; 0 for no limit. */
  readonly maxTimeout: number;
  /** Seconds between SIGTERM and SIGKILL. */
  readonly killGrace: number;
}

/** Settings shared by `run` and `shell`: where to connect and how to run. */
export interface ClientConfig {
  /** Server address. */
  readonly target: HostPort;
  /** Token file given with `--token-file`. */
  readonly tokenFile?: string;
  /** Seconds allowed to connect and authenticate. */
  readonly connectTimeout: number;
  /** Variables set with `-e`. */
  readonly env: Readonly<Record<string, string>>;
  /** Remote working directory. */
  readonly cwd?: string;
  /** Seconds after which each command is terminated. */
  readonly timeout?: number;
}

/** `rexec run`. */
export interface RunConfig extends ClientConfig {
  readonly mode: "run";
  /** What to run: an argv, or a string for the remote shell (`-c`). */
  readonly command: { readonly argv: readonly string[] } | { readonly shell: string };
  /** `-n`: the command's stdin is empty, local stdin is not read. */
  readonly noStdin: boolean;
}

/** `rexec shell`. */
export interface ShellConfig extends ClientConfig {
  readonly mode: "shell";
}

/** Everything `rexec` can be asked to do. */
export type CliConfig = HelpConfig | VersionConfig | ServeConfig | RunConfig | ShellConfig;

interface OptionSpec {
  readonly name: string;
  readonly short?: string;
  readonly value: boolean;
}

const CLIENT_OPTIONS: readonly OptionSpec[] = [
  { name: "token-file", value: true },
  { name: "connect-timeout", value: true },
  { name: "env", short: "e", value: true },
  { name: "cwd", value: true },
  { name: "timeout", value: true },
  { name: "help", short: "h", value: false },
];

const OPTIONS: Record<"serve" | "run" | "shell", readonly OptionSpec[]> = {
  serve: [
    { name: "listen", short: "l", value: true },
    { name: "token-file", value: true },
    { name: "max-frame-size", value: true },
    { name: "max-timeout", value: true },
    { name: "kill-grace", value: true },
    { name: "help", short: "h", value: false },
  ],
  run: [
    ...CLIENT_OPTIONS,
    { name: "command", short: "c", value: true },
    { name: "no-stdin", short: "n", value: false },
  ],
  shell: CLIENT_OPTIONS,
};

type Parsed = {
  readonly values: ReadonlyMap<string, readonly string[]>;
  readonly positionals: readonly string[];
  /** Everything from the first positional after HOST, or after `--`. */
  readonly command: readonly string[] | undefined;
};

/**
 * Parses `rexec`'s arguments (without the program name).
 *
 * @throws {UsageError} naming the argument that is wrong and why.
 *
 * @example
 * ```ts
 * import { parseCli } from "./args.ts";
 *
 * const config = parseCli(["run", "-e", "A=1", "box:9000", "--", "ls", "-l"]);
 * console.assert(config.mode === "run" && "argv" in config.command);
 * ```
 */
export function parseCli(args: readonly string[]): CliConfig {
  const [first, ...rest] = args;
  const noMore = (allowed: number) => {
    if (rest.length > allowed) {
      throw new UsageError(`unexpected argument ${JSON.stringify(rest[allowed])}`);
    }
  };
  switch (first) {
    case undefined:
      throw new UsageError("missing mode: serve, run or shell");
    case "-h":
    case "--help":
      noMore(0);
      return { mode: "help" };
    case "help":
      noMore(1);
      return rest[0] === undefined
        ? { mode: "help" }
        : { mode: "help", topic: requireMode(rest[0]) };
    case "-V":
    case "--version":
    case "version":
      noMore(0);
      return { mode: "version" };
    case "serve":
      return parseServe(rest);
    case "run":
      return parseRun(rest);
    case "shell":
      return parseShell(rest);
    default:
      throw new UsageError(`unknown mode ${JSON.stringify(first)}: use serve, run or shell`);
  }
}

function requireMode(text: string): "serve" | "run" | "shell" {
  if (text === "serve" || text === "run" || text === "shell") return text;
  throw new UsageError(`no help for ${JSON.stringify(text)}: use serve, run or shell`);
}

function parseServe(args: readonly string[]): ServeConfig | HelpConfig {
  const parsed = tokenize("serve", args, false);
  if (parsed.values.has("help")) return { mode: "help", topic: "serve" };
  if (parsed.positionals.length > 0) {
    throw new UsageError(`serve takes no arguments, got ${JSON.stringify(parsed.positionals[0])}`);
  }
  const listen = last(parsed, "listen");
  const maxFrameSize = integerOption(parsed, "max-frame-size", DEFAULT_MAX_FRAME_SIZE);
  if (maxFrameSize < MIN_MAX_FRAME_SIZE || maxFrameSize > MAX_ENCODABLE_BODY) {
    throw new UsageError(
      `--max-frame-size must be from ${MIN_MAX_FRAME_SIZE} to ${MAX_ENCODABLE_BODY} bytes`,
    );
  }
  const tokenFile = last(parsed, "token-file");
  return {
    mode: "serve",
    listen: listen === undefined
      ? { hostname: DEFAULT_HOSTNAME, port: DEFAULT_PORT }
      : parseHostPort(listen, DEFAULT_PORT),
    ...(tokenFile !== undefined ? { tokenFile } : {}),
    maxFrameSize,
    maxTimeout: secondsOption(parsed, "max-timeout", { allowZero: true }) ?? DEFAULT_MAX_TIMEOUT,
    killGrace: secondsOption(parsed, "kill-grace", { allowZero: true }) ?? DEFAULT_KILL_GRACE,
  };
}

function parseRun(args: readonly string[]): RunConfig | HelpConfig {
  const parsed = tokenize("run", args, true);
  if (parsed.values.has("help")) return { mode: "help", topic: "run" };
  const client = clientConfig(parsed, "run");
  const shell = last(parsed, "command");
  const argv = parsed.command;
  if (shell !== undefined && argv !== undefined && argv.length > 0) {
    throw new UsageError("give either -c STRING or a command after HOST, not both");
  }
  if (shell === undefined && (argv === undefined || argv.length === 0)) {
    throw new UsageError(
      "missing command: rexec run HOST -- CMD [ARG...] or rexec run HOST -c STRING",
    );
  }
  if (shell === "") throw new UsageError("-c needs a non-empty command string");
  if (argv !== undefined && argv[0] === "") {
    throw new UsageError("the command name is empty");
  }
  return {
    mode: "run",
    ...client,
    command: shell !== undefined ? { shell } : { argv: argv! },
    noStdin: parsed.values.has("no-stdin"),
  };
}

function parseShell(args: readonly string[]): ShellConfig | HelpConfig {
  const parsed = tokenize("shell", args, false);
  if (parsed.values.has("help")) return { mode: "help", topic: "shell" };
  return { mode: "shell", ...clientConfig(parsed, "shell") };
}

function clientConfig(parsed: Parsed, mode: "run" | "shell"): ClientConfig {
  const [host, ...extra] = parsed.positionals;
  if (host === undefined) throw new UsageError(`missing HOST: rexec ${mode} HOST[:PORT]`);
  if (extra.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  }
  const target = parseHostPort(host, DEFAULT_PORT);
  if (target.port === 0) {
    throw new UsageError(`cannot connect to port 0 in ${JSON.stringify(host)}`);
  }
  const env: Record<string, string> = {};
  for (const assignment of parsed.values.get("env") ?? []) {
    const equals = assignment.indexOf("=");
    const name = assignment.slice(0, equals);
    if (equals <= 0 || name.includes("\0")) {
      throw new UsageError(`-e takes KEY=VALUE, got ${JSON.stringify(assignment)}`);
    }
    env[name] = assignment.slice(equals + 1);
  }
  const tokenFile = last(parsed, "token-file");
  const cwd = last(parsed, "cwd");
  const timeout = secondsOption(parsed, "timeout", { allowZero: false });
  return {
    target,
    ...(tokenFile !== undefined ? { tokenFile } : {}),
    connectTimeout: secondsOption(parsed, "connect-timeout", { allowZero: false }) ??
      DEFAULT_CONNECT_TIMEOUT,
    env,
    ...(cwd !== undefined ? { cwd } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
  };
}

/**
 * Splits arguments into options and positionals. With `commandAfterHost`,
 * the first positional after HOST, or whatever follows `--`, starts the
 * command and is not parsed further: `rexec run box ls -l` passes `-l` to ls.
 */
function tokenize(
  mode: "serve" | "run" | "shell",
  args: readonly string[],
  commandAfterHost: boolean,
): Parsed {
  const specs = OPTIONS[mode];
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      if (!commandAfterHost) {
        throw new UsageError(`${mode} takes no command; unexpected --`);
      }
      if (positionals.length === 0) throw new UsageError("missing HOST before --");
      return { values, positionals, command: args.slice(i + 1) };
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (commandAfterHost && positionals.length === 1) {
        return { values, positionals, command: args.slice(i) };
      }
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const equals = long ? arg.indexOf("=") : -1;
    const key = long ? arg.slice(2, equals === -1 ? undefined : equals) : arg.slice(1, 2);
    const spec = specs.find((option) => long ? option.name === key : option.short === key);
    if (!spec) {
      throw new UsageError(`unknown option ${long ? `--${key}` : `-${key}`} for ${mode}`);
    }
    const label = long ? `--${spec.name}` : `-${spec.short}`;
    let value: string;
    if (!spec.value) {
      if (equals !== -1 || (!long && arg.length > 2)) {
        throw new UsageError(`${label} takes no value`);
      }
      value = "";
    } else if (equals !== -1) {
      value = arg.slice(equals + 1);
    } else if (!long && arg.length > 2) {
      value = arg.slice(2);
    } else {
      if (i + 1 >= args.length) throw new UsageError(`${label} needs a value`);
      value = args[++i];
    }
    values.set(spec.name, [...(values.get(spec.name) ?? []), value]);
  }
  return { values, positionals, command: undefined };
}

function last(parsed: Parsed, name: string): string | undefined {
  return parsed.values.get(name)?.at(-1);
}

function secondsOption(
  parsed: Parsed,
  name: string,
  { allowZero }: { allowZero: boolean },
): number | undefined {
  const text = last(parsed, name);
  if (text === undefined) return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds <= MAX_TIMEOUT_SECONDS) || (!allowZero && seconds === 0)) {
    throw new UsageError(
      `--${name} takes a ${allowZero ? "non-negative" : "positive"} number of seconds ` +
        `up to ${MAX_TIMEOUT_SECONDS}, got ${JSON.stringify(text)}`,
    );
  }
  return seconds;
}

function integerOption(parsed: Parsed, name: string, fallback: number): number {
  const text = last(parsed, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) {
    throw new UsageError(`--${name} takes a whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}
