/**
 * Turns `rexec`'s command line into a typed configuration. Pure: it reads
 * nothing but its argument, so every rule is tested without a process.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { DEFAULT_PORT, type HostPort, parseHostPort } from "../transport/address.ts";
import { UsageError } from "../errors.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  MAX_ENCODABLE_BODY,
  MIN_MAX_FRAME_SIZE,
} from "../protocol/frame.ts";
import { MAX_TIMEOUT_SECONDS } from "../protocol/messages.ts";
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_KEEPALIVE,
  DEFAULT_PARALLEL,
} from "../client/defaults.ts";
import {
  DEFAULT_HOSTNAME,
  DEFAULT_KILL_GRACE,
  DEFAULT_LIMITS,
  DEFAULT_MAX_TIMEOUT,
} from "../server/defaults.ts";

/** `rexec --help`, `rexec help [MODE]`, `rexec MODE --help`. */
export interface HelpConfig {
  readonly mode: "help";
  /** The mode to explain; the overview when absent. */
  readonly topic?: Mode;
}

/** The modes `rexec` has. */
export type Mode = "serve" | "run" | "shell" | "cert" | "cp";

/** `rexec cert`. */
export interface CertConfig {
  readonly mode: "cert";
  /** Extra host names and addresses the certificate is valid for. */
  readonly names: readonly string[];
  /** Replace an existing pair. */
  readonly force: boolean;
  /**
   * `--ca-init`: make the fleet's CA; `--ca-sign`: issue a server
   * certificate for `names` signed by it. Absent: this host's own pair.
   */
  readonly ca?: "init" | "sign";
  /** `--out DIR`: where `--ca-sign` writes the certificate and key; default `.`. */
  readonly out?: string;
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
  /** TLS, when on: the given files, or the default pair when they are absent. */
  readonly tls?: { readonly certFile?: string; readonly keyFile?: string };
  /** Allow plaintext beyond loopback. */
  readonly insecurePlaintext: boolean;
  /** Seconds a connection has to authenticate; 0 for no limit. */
  readonly handshakeTimeout: number;
  /** Seconds a session may go without a command; 0 for no limit. */
  readonly idleTimeout: number;
  /** Seconds between keepalive PINGs; 0 disables. */
  readonly keepalive: number;
  /** Most authenticated sessions open at once. */
  readonly maxSessions: number;
  /** Most connections authenticating at once. */
  readonly maxStartups: number;
  /** Most connections authenticating at once from one address. */
  readonly maxStartupsPerSource: number;
  /** Most commands running at once. */
  readonly maxCommands: number;
  /** Largest EXEC request in bytes. */
  readonly maxExecSize: number;
  /** Seconds the answer to an address's first wrong token is held back; 0 disables. */
  readonly authFailureDelay: number;
  /** Programs clients may run; any when absent. */
  readonly allow?: readonly string[];
  /** Variables clients may set; when absent, the defaults with `--allow`, else any but the dangerous ones. */
  readonly envAllow?: readonly string[];
  /** Account to run commands as. */
  readonly user?: string;
  /** Where audit records go: a file, or `-` for stderr. */
  readonly auditLog?: string;
  /** While the audit log cannot be written: refuse new commands (`closed`) or run them (`open`). */
  readonly auditFail?: "closed" | "open";
  /** `--no-tty`: refuse commands that ask for a terminal. */
  readonly noTty?: boolean;
  /** The directory file transfers are confined to. */
  readonly copyRoot?: string;
  /** Refuse file transfers. */
  readonly noCopy?: boolean;
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
  /** TLS, when on; `caFile` is a certificate to trust instead of the system roots. */
  readonly tls?: { readonly caFile?: string };
  /** Seconds between keepalive PINGs; 0 disables. */
  readonly keepalive: number;
}

/** `rexec run`. */
export interface RunConfig extends ClientConfig {
  readonly mode: "run";
  /** What to run: an argv, or a string for the remote shell (`-c`). */
  readonly command: { readonly argv: readonly string[] } | { readonly shell: string };
  /** `-n`: the command's stdin is empty, local stdin is not read. */
  readonly noStdin: boolean;
  /** `-t`: run the command on a remote terminal. */
  readonly tty?: boolean;
  /** `--no-escape`: `~.` and `~~` are plain keys in a session on a terminal. */
  readonly noEscape?: boolean;
  /**
   * Set when the command line asks for a fleet: a list of targets,
   * `--hosts-file`, or a fleet option; `target` is then empty
   * ({@link NO_TARGET}) unless TARGETS is one host. Without it, one host
   * runs as it always has, unless the default inventory names it.
   */
  readonly fleet?: FleetConfig;
}

/** The fleet side of `rexec run`: which hosts, how many at once, what output. */
export interface FleetConfig {
  /** TARGETS as written: hosts and inventory names, comma-separated; absent with `--hosts-file` alone. */
  readonly targets?: string;
  /** `--hosts-file FILE`, each one given, in order; absent when none was. */
  readonly hostsFiles?: readonly string[];
  /** `-i FILE`: the inventory; else the default one, when it exists. */
  readonly inventory?: string;
  /** Most hosts at once. */
  readonly parallel: number;
  /** `prefix` (`HOST: line`, the default), `raw` (`--no-prefix`), `collapse` or `json`. */
  readonly output: "prefix" | "raw" | "collapse" | "json";
}

/** The `target` of a run whose TARGETS is not one host. */
export const NO_TARGET: HostPort = Object.freeze({ hostname: "", port: DEFAULT_PORT });

/** `rexec shell`. */
export interface ShellConfig extends ClientConfig {
  readonly mode: "shell";
  /** `--no-escape`: `~.` and `~~` are plain keys in an interactive shell. */
  readonly noEscape?: boolean;
}

/** A place `rexec cp` copies from or to: a local path, or a path on the hosts TARGETS names. */
export type CopyLocation =
  | { readonly local: string }
  | { readonly targets: string; readonly path: string };

/** `rexec cp`. */
export interface CpConfig {
  readonly mode: "cp";
  /** Local files for an upload, or remote ones (all on the same TARGETS) for a download. */
  readonly sources: readonly CopyLocation[];
  /** Where they go: remote for an upload, local for a download. */
  readonly destination: CopyLocation;
  /** `-r`: copy directories with what they hold. */
  readonly recursive: boolean;
  /** Keep modes and modification times (`--no-preserve` turns it off). */
  readonly preserve: boolean;
  /** `--json`: one line per file copied on stdout, and nothing else there. */
  readonly json: boolean;
  /** `--quiet`: no progress line. */
  readonly quiet: boolean;
  /** Token file given with `--token-file`. */
  readonly tokenFile?: string;
  /** Seconds allowed to connect and authenticate. */
  readonly connectTimeout: number;
  /** TLS for every host, when on; `caFile` is a certificate to trust. */
  readonly tls?: { readonly caFile?: string };
  /** Seconds between keepalive PINGs; 0 disables. */
  readonly keepalive: number;
  /** The inventory whose host aliases and groups TARGETS may name. */
  readonly inventory?: string;
}

/** Everything `rexec` can be asked to do. */
export type CliConfig =
  | HelpConfig
  | VersionConfig
  | ServeConfig
  | RunConfig
  | ShellConfig
  | CertConfig
  | CpConfig;

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
  { name: "tls", value: false },
  { name: "ca", value: true },
  { name: "keepalive", value: true },
  { name: "help", short: "h", value: false },
];

const OPTIONS: Record<Mode, readonly OptionSpec[]> = {
  serve: [
    { name: "listen", short: "l", value: true },
    { name: "token-file", value: true },
    { name: "max-frame-size", value: true },
    { name: "max-timeout", value: true },
    { name: "kill-grace", value: true },
    { name: "tls", value: false },
    { name: "tls-cert", value: true },
    { name: "tls-key", value: true },
    { name: "insecure-plaintext", value: false },
    { name: "handshake-timeout", value: true },
    { name: "idle-timeout", value: true },
    { name: "keepalive", value: true },
    { name: "max-sessions", value: true },
    { name: "max-commands", value: true },
    { name: "max-startups", value: true },
    { name: "max-startups-per-source", value: true },
    { name: "max-exec-size", value: true },
    { name: "auth-failure-delay", value: true },
    { name: "allow", value: true },
    { name: "env-allow", value: true },
    { name: "user", value: true },
    { name: "audit-log", value: true },
    { name: "audit-fail", value: true },
    { name: "no-tty", value: false },
    { name: "copy-root", value: true },
    { name: "no-copy", value: false },
    { name: "help", short: "h", value: false },
  ],
  cert: [
    { name: "name", value: true },
    { name: "force", value: false },
    { name: "ca-init", value: false },
    { name: "ca-sign", value: false },
    { name: "out", value: true },
    { name: "help", short: "h", value: false },
  ],
  run: [
    ...CLIENT_OPTIONS,
    { name: "command", short: "c", value: true },
    { name: "no-stdin", short: "n", value: false },
    { name: "tty", short: "t", value: false },
    { name: "no-escape", value: false },
    { name: "inventory", short: "i", value: true },
    { name: "hosts-file", value: true },
    { name: "parallel", value: true },
    { name: "no-prefix", value: false },
    { name: "collapse", value: false },
    { name: "json", value: false },
  ],
  shell: [...CLIENT_OPTIONS, { name: "no-escape", value: false }],
  cp: [
    { name: "recursive", short: "r", value: false },
    { name: "preserve", short: "p", value: false },
    { name: "no-preserve", value: false },
    { name: "json", value: false },
    { name: "quiet", short: "q", value: false },
    { name: "inventory", short: "i", value: true },
    ...CLIENT_OPTIONS.filter((option) => !["env", "cwd", "timeout"].includes(option.name)),
  ],
};

/** Who a command runs as, for those who expect to choose it as with ssh. */
const RUNS_AS = "commands run as the user the server runs as (or as its --user)";

/**
 * Options people bring from ssh, with what rexec takes instead; client modes
 * only (`serve -l` is `--listen`).
 */
const SSH_HABITS: Readonly<Record<string, string>> = {
  p: "give the port with the host, as HOST:PORT",
  l: `there is no login name to give; ${RUNS_AS}`,
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
 * import assert from "node:assert/strict";
 * import { UsageError } from "../errors.ts";
 * import { parseCli } from "./args.ts";
 *
 * const config = parseCli(["run", "-e", "A=1", "box:9000", "--", "ls", "-l"]);
 * assert(config.mode === "run");
 * assert.deepEqual(config.target, { hostname: "box", port: 9000 });
 * assert.deepEqual(config.env, { A: "1" });
 * assert.deepEqual(config.command, { argv: ["ls", "-l"] });
 * assert.throws(() => parseCli(["run", "box", "--timeout", "soon", "--", "ls"]), UsageError);
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
      throw new UsageError("missing mode: serve, run, shell, cp or cert");
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
    case "cert":
      return parseCert(rest);
    case "cp":
      return parseCp(rest);
    default:
      throw new UsageError(
        `unknown mode ${JSON.stringify(first)}: use serve, run, shell, cp or cert`,
      );
  }
}

function requireMode(text: string): Mode {
  if (text === "serve" || text === "run" || text === "shell" || text === "cert" || text === "cp") {
    return text;
  }
  throw new UsageError(`no help for ${JSON.stringify(text)}: use serve, run, shell, cp or cert`);
}

function parseCp(args: readonly string[]): CpConfig | HelpConfig {
  const parsed = tokenize("cp", args, false);
  if (parsed.values.has("help")) return { mode: "help", topic: "cp" };
  if (parsed.positionals.length < 2) {
    throw new UsageError(
      "rexec cp needs SRC... DST: rexec cp FILE HOST:PATH or rexec cp HOST:PATH DIR",
    );
  }
  const locations = parsed.positionals.map(parseCopyLocation);
  const destination = locations.at(-1)!;
  const sources = locations.slice(0, -1);
  const remote = (location: CopyLocation) => "targets" in location;
  if (remote(destination)) {
    if (sources.some(remote)) {
      throw new UsageError(
        "copying from one server to another is not supported: one side must be local " +
          "(write a local path that holds a colon as ./NAME)",
      );
    }
  } else {
    if (!sources.every(remote)) {
      throw new UsageError(
        "one side must be remote: HOST:PATH (a local path that holds a colon is written ./NAME)",
      );
    }
    const hosts = new Set(sources.map((source) => "targets" in source ? source.targets : ""));
    if (hosts.size > 1) {
      throw new UsageError(
        "the sources of a download name different hosts; name them once, as HOSTS:PATH",
      );
    }
  }
  if (parsed.values.has("preserve") && parsed.values.has("no-preserve")) {
    throw new UsageError("-p contradicts --no-preserve: choose one");
  }
  const tokenFile = last(parsed, "token-file");
  const inventory = inventoryOption(parsed);
  const caFile = last(parsed, "ca");
  const tls = caFile !== undefined ? { caFile } : parsed.values.has("tls") ? {} : undefined;
  return {
    mode: "cp",
    sources,
    destination,
    recursive: parsed.values.has("recursive"),
    preserve: !parsed.values.has("no-preserve"),
    json: parsed.values.has("json"),
    quiet: parsed.values.has("quiet"),
    ...(tokenFile !== undefined ? { tokenFile } : {}),
    connectTimeout: secondsOption(parsed, "connect-timeout", { allowZero: false }) ??
      DEFAULT_CONNECT_TIMEOUT,
    ...(tls ? { tls } : {}),
    keepalive: secondsOption(parsed, "keepalive", { allowZero: true }) ?? DEFAULT_KEEPALIVE,
    ...(inventory !== undefined ? { inventory } : {}),
  };
}

/**
 * Reads one argument of `rexec cp`: a local path (one with no colon, or one
 * starting with `/` or `./`), or `TARGETS:PATH`, where TARGETS is a host
 * (`HOST`, `HOST:PORT`, `[IPV6]:PORT`, `tls://HOST`), a comma-separated
 * list of them, or an inventory name. A colon followed by digits and
 * another colon or a comma belongs to a port; the first other colon starts
 * the path. An empty PATH is the remote home directory (or copy root).
 *
 * @throws {UsageError} for an empty TARGETS.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCopyLocation } from "./args.ts";
 *
 * assert.deepEqual(parseCopyLocation("box:/tmp/f"), { targets: "box", path: "/tmp/f" });
 * assert.deepEqual(parseCopyLocation("127.0.0.1:7022:/tmp/f"), {
 *   targets: "127.0.0.1:7022",
 *   path: "/tmp/f",
 * });
 * assert.deepEqual(parseCopyLocation("[::1]:7022:notes"), { targets: "[::1]:7022", path: "notes" });
 * assert.deepEqual(parseCopyLocation("web1,web2:7023:dir/"), {
 *   targets: "web1,web2:7023",
 *   path: "dir/",
 * });
 * assert.deepEqual(parseCopyLocation("box:"), { targets: "box", path: "." });
 * assert.deepEqual(parseCopyLocation("./a:b"), { local: "./a:b" });
 * assert.deepEqual(parseCopyLocation("plain.txt"), { local: "plain.txt" });
 * ```
 */
export function parseCopyLocation(text: string): CopyLocation {
  if (text.startsWith("/") || text.startsWith("./") || text.startsWith("../")) {
    return { local: text };
  }
  const scheme = /^tls:\/\//i.test(text) ? "tls://".length : 0;
  let inBrackets = false;
  for (let i = scheme; i < text.length; i++) {
    const char = text[i];
    if (char === "[") inBrackets = true;
    else if (char === "]") inBrackets = false;
    else if (char === ":" && !inBrackets && !/^\d+[:,]/.test(text.slice(i + 1))) {
      const targets = text.slice(0, i);
      if (targets.length === scheme) {
        throw new UsageError(`${JSON.stringify(text)} names no host before the colon`);
      }
      return { targets, path: text.slice(i + 1) || "." };
    }
  }
  return { local: text };
}

function parseCert(args: readonly string[]): CertConfig | HelpConfig {
  const parsed = tokenize("cert", args, false);
  if (parsed.values.has("help")) return { mode: "help", topic: "cert" };
  if (parsed.positionals.length > 0) {
    throw new UsageError(`cert takes no arguments, got ${JSON.stringify(parsed.positionals[0])}`);
  }
  const names = parsed.values.get("name") ?? [];
  for (const name of names) {
    if (!/^[A-Za-z0-9.:*-]+$/.test(name)) {
      throw new UsageError(`--name takes a host name or IP address, got ${JSON.stringify(name)}`);
    }
  }
  const init = parsed.values.has("ca-init");
  const sign = parsed.values.has("ca-sign");
  if (init && sign) throw new UsageError("--ca-init and --ca-sign are two steps: give one");
  if (sign && names.length === 0) {
    throw new UsageError("--ca-sign needs --name HOST: the names clients use to reach the server");
  }
  const out = last(parsed, "out");
  if (out !== undefined && !sign) throw new UsageError("--out goes with --ca-sign");
  return {
    mode: "cert",
    names,
    force: parsed.values.has("force"),
    ...(init ? { ca: "init" as const } : sign ? { ca: "sign" as const } : {}),
    ...(out !== undefined ? { out } : {}),
  };
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
  const certFile = last(parsed, "tls-cert");
  const keyFile = last(parsed, "tls-key");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together: give both, or --tls alone");
  }
  const tls = certFile !== undefined
    ? { certFile, keyFile }
    : parsed.values.has("tls")
    ? {}
    : undefined;
  const insecurePlaintext = parsed.values.has("insecure-plaintext");
  if (tls && insecurePlaintext) {
    throw new UsageError("--insecure-plaintext contradicts --tls: choose one");
  }
  const optional = (name: string) => {
    const values = parsed.values.get(name);
    return values === undefined ? undefined : [...values];
  };
  const allow = optional("allow");
  const envAllow = optional("env-allow");
  const user = last(parsed, "user");
  const auditLog = last(parsed, "audit-log");
  if (auditLog === "") {
    throw new UsageError("--audit-log needs a file name, or - for stderr");
  }
  const auditFail = last(parsed, "audit-fail");
  if (auditFail !== undefined && auditFail !== "closed" && auditFail !== "open") {
    throw new UsageError(
      `--audit-fail takes closed (refuse commands while the audit log cannot be written) ` +
        `or open (run them unaudited), got ${JSON.stringify(auditFail)}`,
    );
  }
  if (auditFail !== undefined && auditLog === undefined) {
    throw new UsageError("--audit-fail needs --audit-log");
  }
  const copyRoot = last(parsed, "copy-root");
  if (copyRoot === "") throw new UsageError("--copy-root needs a directory");
  if (copyRoot !== undefined && parsed.values.has("no-copy")) {
    throw new UsageError("--copy-root contradicts --no-copy: choose one");
  }
  const seconds = (name: string, fallback: number) =>
    secondsOption(parsed, name, { allowZero: true }) ?? fallback;
  const count = (name: string, fallback: number) => {
    const value = integerOption(parsed, name, fallback);
    if (value < 1) throw new UsageError(`--${name} must be at least 1`);
    return value;
  };
  return {
    mode: "serve",
    listen: parseListen(listen),
    ...(tokenFile !== undefined ? { tokenFile } : {}),
    maxFrameSize,
    maxTimeout: seconds("max-timeout", DEFAULT_MAX_TIMEOUT),
    killGrace: seconds("kill-grace", DEFAULT_KILL_GRACE),
    ...(tls ? { tls } : {}),
    insecurePlaintext,
    handshakeTimeout: seconds("handshake-timeout", DEFAULT_LIMITS.handshakeTimeout),
    idleTimeout: seconds("idle-timeout", DEFAULT_LIMITS.idleTimeout),
    keepalive: seconds("keepalive", DEFAULT_LIMITS.keepalive),
    maxSessions: count("max-sessions", DEFAULT_LIMITS.maxSessions),
    maxCommands: count("max-commands", DEFAULT_LIMITS.maxCommands),
    maxStartups: count("max-startups", DEFAULT_LIMITS.maxStartups),
    maxStartupsPerSource: count("max-startups-per-source", DEFAULT_LIMITS.maxStartupsPerSource),
    maxExecSize: count("max-exec-size", DEFAULT_LIMITS.maxExecSize),
    authFailureDelay: seconds("auth-failure-delay", DEFAULT_LIMITS.authFailureDelay),
    ...(allow ? { allow } : {}),
    ...(envAllow ? { envAllow } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(auditLog !== undefined ? { auditLog } : {}),
    ...(auditFail !== undefined ? { auditFail } : {}),
    ...(parsed.values.has("no-tty") ? { noTty: true } : {}),
    ...(copyRoot !== undefined ? { copyRoot } : {}),
    ...(parsed.values.has("no-copy") ? { noCopy: true } : {}),
  };
}

/** `--listen`: HOST:PORT, a host alone (default port), or a port alone (default host). */
function parseListen(listen: string | undefined): HostPort {
  if (listen === undefined) return { hostname: DEFAULT_HOSTNAME, port: DEFAULT_PORT };
  if (/^\d+$/.test(listen)) {
    // No host is named with digits alone: they are the port, as in ssh -L.
    const port = Number(listen);
    if (port > 65535) {
      throw new UsageError(`invalid port ${JSON.stringify(listen)}: use 0 to 65535`);
    }
    return { hostname: DEFAULT_HOSTNAME, port };
  }
  return parseHostPort(listen, DEFAULT_PORT);
}

function parseRun(args: readonly string[]): RunConfig | HelpConfig {
  const parsed = tokenize("run", args, true);
  if (parsed.values.has("help")) return { mode: "help", topic: "run" };
  const fleet = fleetConfig(parsed);
  const client = clientConfig(parsed, "run", { list: fleet !== undefined && !isOneHost(fleet) });
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
    ...(parsed.values.has("tty") ? { tty: true } : {}),
    ...(parsed.values.has("no-escape") ? { noEscape: true } : {}),
    ...(fleet ? { fleet } : {}),
  };
}

const FLEET_OPTIONS = ["inventory", "hosts-file", "parallel", "no-prefix", "collapse", "json"];

/** The fleet settings, when the command line asks for more than the single-host run. */
function fleetConfig(parsed: Parsed): FleetConfig | undefined {
  const targets = parsed.positionals[0];
  const asked = FLEET_OPTIONS.some((name) => parsed.values.has(name)) ||
    targets?.includes(",");
  if (!asked) return undefined;
  if (targets === undefined && !parsed.values.has("hosts-file")) {
    throw new UsageError("missing HOST: rexec run TARGETS, or --hosts-file FILE");
  }
  const outputs = (["no-prefix", "collapse", "json"] as const).filter((name) =>
    parsed.values.has(name)
  );
  if (outputs.length > 1) {
    throw new UsageError(`--${outputs[0]} and --${outputs[1]} are different outputs: choose one`);
  }
  const parallel = integerOption(parsed, "parallel", DEFAULT_PARALLEL);
  if (parallel < 1) throw new UsageError("--parallel must be at least 1");
  // Repeatable, as pssh's -h: each file adds its targets.
  const hostsFiles = parsed.values.get("hosts-file");
  const inventory = inventoryOption(parsed);
  const output = outputs[0] === "no-prefix" ? "raw" : outputs[0] ?? "prefix";
  return {
    ...(targets !== undefined ? { targets } : {}),
    ...(hostsFiles !== undefined ? { hostsFiles: [...hostsFiles] } : {}),
    ...(inventory !== undefined ? { inventory } : {}),
    parallel,
    output,
  };
}

/** Whether TARGETS is one name and nothing else adds hosts. */
function isOneHost(fleet: FleetConfig): boolean {
  return fleet.hostsFiles === undefined && fleet.targets !== undefined &&
    !fleet.targets.includes(",");
}

function parseShell(args: readonly string[]): ShellConfig | HelpConfig {
  const parsed = tokenize("shell", args, false);
  if (parsed.values.has("help")) return { mode: "help", topic: "shell" };
  return {
    mode: "shell",
    ...clientConfig(parsed, "shell"),
    ...(parsed.values.has("no-escape") ? { noEscape: true } : {}),
  };
}

function clientConfig(
  parsed: Parsed,
  mode: "run" | "shell",
  { list = false }: { list?: boolean } = {},
): ClientConfig {
  const [host = list ? "" : undefined, ...extra] = parsed.positionals;
  if (host === undefined) throw new UsageError(`missing HOST: rexec ${mode} HOST[:PORT]`);
  if (extra.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  }
  const tlsScheme = !list && /^tls:\/\//i.test(host);
  const address = tlsScheme ? host.slice("tls://".length) : host;
  const at = list ? -1 : address.lastIndexOf("@");
  if (at !== -1) {
    const hostAlone = host.slice(0, host.length - address.length) + address.slice(at + 1);
    throw new UsageError(
      `${JSON.stringify(host)} names a user, but there is no login name to give; ${RUNS_AS}: ` +
        `write ${JSON.stringify(hostAlone)}`,
    );
  }
  // The hosts of a list are read with the inventory, by the fleet run.
  const target = list ? NO_TARGET : parseHostPort(address, DEFAULT_PORT);
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
  const caFile = last(parsed, "ca");
  const tls = caFile !== undefined
    ? { caFile }
    : tlsScheme || parsed.values.has("tls")
    ? {}
    : undefined;
  return {
    target,
    ...(tokenFile !== undefined ? { tokenFile } : {}),
    connectTimeout: secondsOption(parsed, "connect-timeout", { allowZero: false }) ??
      DEFAULT_CONNECT_TIMEOUT,
    env,
    ...(cwd !== undefined ? { cwd } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    ...(tls ? { tls } : {}),
    keepalive: secondsOption(parsed, "keepalive", { allowZero: true }) ?? DEFAULT_KEEPALIVE,
  };
}

/**
 * Splits arguments into options and positionals. With `commandAfterHost`,
 * the first positional after HOST, or whatever follows `--`, starts the
 * command and is not parsed further: `rexec run box ls -l` passes `-l` to ls.
 */
function tokenize(
  mode: Mode,
  args: readonly string[],
  commandAfterHost: boolean,
): Parsed {
  const specs = OPTIONS[mode];
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      // As with cp: what follows is paths, even a name that starts with -.
      if (mode === "cp") {
        positionals.push(...args.slice(i + 1));
        return { values, positionals, command: undefined };
      }
      if (!commandAfterHost) {
        throw new UsageError(`${mode} takes no command; unexpected --`);
      }
      if (positionals.length === 0 && !values.has("hosts-file")) {
        throw new UsageError("missing HOST before --");
      }
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
      const habit = !long && (mode === "run" || mode === "shell") ? SSH_HABITS[key] : undefined;
      throw new UsageError(
        `unknown option ${long ? `--${key}` : `-${key}`} for ${mode}${habit ? `: ${habit}` : ""}`,
      );
    }
    const label = long ? `--${spec.name}` : `-${spec.short}`;
    let value: string;
    if (!spec.value) {
      // `-tt`, as ssh users type it: the flag twice is the flag.
      const repeated = !long && arg.length > 2 && [...arg.slice(1)].every((c) => c === key);
      if (equals !== -1 || (!long && arg.length > 2 && !repeated)) {
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

/** `-i FILE`, given at most once. */
function inventoryOption(parsed: Parsed): string | undefined {
  const inventories = parsed.values.get("inventory") ?? [];
  if (inventories.length > 1) {
    // Ansible merges several; taking the last alone would quietly run fewer hosts.
    throw new UsageError(
      `-i takes one inventory, got ${
        inventories.map((file) => JSON.stringify(file)).join(" and ")
      }: rexec does not merge inventories`,
    );
  }
  return inventories[0];
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
  // Past 2^53 a number is no longer whole to the program: too big for any option.
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${name} takes a whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}
