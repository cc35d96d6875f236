/**
 * `rexec run TARGETS`: the hosts named by a list, a hosts file and the
 * inventory, the command run on each, and their output as prefixed lines,
 * raw blocks, collapsed blocks or JSON lines.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { fstatSync } from "node:fs";
import { DEFAULT_PARALLEL } from "../client/defaults.ts";
import { DEFAULT_PORT } from "../transport/address.ts";
import { resolveToken } from "../config/token.ts";
import { UsageError } from "../errors.ts";
import { type Inventory, readInventory } from "../fleet/inventory.ts";
import { foldHostNames } from "../fleet/hostlist.ts";
import { LineSplitter } from "../fleet/line_splitter.ts";
import { type HostResult, hostResultJsonParts, runMany } from "../fleet/run_many.ts";
import {
  readHostsFile,
  resolveTargets,
  splitTargetList,
  type Target,
  type TargetSpec,
} from "../fleet/targets.ts";
import { EXIT_REXEC_FAILED, EXIT_STDOUT_CLOSED, EXIT_TIMED_OUT } from "../protocol/exit_status.ts";
import { parentDir } from "../util/paths.ts";
import type { RunConfig } from "./args.ts";
import {
  collapseOutputs,
  fleetExitStatus,
  OutputChannel,
  StatusLine,
  summaryLine,
  WriteTurns,
} from "./fleet_output.ts";
import { readCaCertificate } from "./connect.ts";
import { exitCodeForSignal, watchInterrupts } from "./interrupts.ts";
import { printError } from "./terminal.ts";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * Runs a fleet configuration: reads the inventory (`-i`, else `inventory`
 * when given the default one's path) and the hosts file, resolves the
 * targets, and runs the command on them. One name that is one host of the
 * inventory, with no fleet output asked for, runs as a single host, through
 * `single`, so that its output and status are those of a plain `rexec run`.
 *
 * @throws {UsageError} for an unknown name or a bad target, before anything ran.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it writes to this process's stdout and reads its stdin.
 * import { parseCli } from "./args.ts";
 * import { runFleet } from "./fleet.ts";
 * import { runSingle } from "./run.ts";
 *
 * const config = parseCli(["run", "web1,web2", "--", "uptime"]);
 * if (config.mode === "run") Deno.exit(await runFleet(config, { single: runSingle }));
 * ```
 */
export async function runFleet(
  config: RunConfig,
  options: { single: (config: RunConfig) => Promise<number>; defaultInventory?: string },
): Promise<number> {
  const fleet = config.fleet ?? {
    targets: writtenHost(config),
    parallel: DEFAULT_PARALLEL,
    output: "prefix",
  };
  const inventoryPath = fleet.inventory ?? options.defaultInventory;
  const inventory = inventoryPath === undefined ? undefined : await readInventory(inventoryPath);
  if (!config.fleet && !inventory?.resolve(config.target.hostname)) {
    // A plain host the inventory does not name: exactly as it always ran.
    return await options.single(config);
  }
  const specs: TargetSpec[] = fleet.targets === undefined ? [] : splitTargetList(fleet.targets);
  for (const file of fleet.hostsFiles ?? []) specs.push(...await readHostsFile(file));
  const targets = resolveTargets(specs, {
    ...(inventory ? { inventory, inventoryDir: parentDir(inventoryPath!) } : {}),
    ...(Deno.env.get("HOME") ? { homeDir: Deno.env.get("HOME") } : {}),
    defaults: {
      ...(config.tls ? { tls: config.tls } : {}),
      ...(config.tokenFile !== undefined ? { tokenFile: config.tokenFile } : {}),
    },
  });
  const oneHost = specs.length === 1 && fleet.hostsFiles === undefined && targets.length === 1 &&
    !isGroup(inventory, specs[0].text);
  if (oneHost && fleet.output === "prefix") {
    // One host of the inventory: a plain run, at the address it gives.
    const [target] = targets;
    return await options.single({
      ...config,
      target: { hostname: target.hostname, port: target.port },
      tls: target.tls,
      tokenFile: target.tokenFile,
    });
  }
  await checkNames(targets, specs, inventory);
  if (config.tty) {
    // A terminal is one person's keyboard and screen: it cannot be shared among hosts.
    throw new UsageError(
      "-t gives one host a terminal: name one host, without --json, --collapse or --no-prefix",
    );
  }
  return await runTargets(config, targets, { single: oneHost });
}

/**
 * The one host of a plain `rexec run HOST`, as a target: a port other than
 * the default counts as written; `tls://` and `--tls` come in as defaults.
 */
function writtenHost(config: RunConfig): string {
  const { hostname, port } = config.target;
  if (port === DEFAULT_PORT) return hostname;
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

function isGroup(inventory: Inventory | undefined, name: string): boolean {
  return inventory !== undefined && (name === "all" || inventory.groups.has(name));
}

function isAlias(inventory: Inventory | undefined, name: string): boolean {
  return inventory?.hosts.has(name) ?? false;
}

/**
 * A name that is not in the inventory must be a host that resolves: a
 * misspelt group would otherwise only show up as one unreachable host.
 */
async function checkNames(
  targets: readonly Target[],
  specs: readonly TargetSpec[],
  inventory: Inventory | undefined,
): Promise<void> {
  const { lookup } = await import("node:dns/promises");
  const names = new Set(
    targets
      .filter((target) => !isAlias(inventory, target.name) && !isAddress(target.hostname))
      .map((target) => target.hostname),
  );
  await Promise.all([...names].map(async (hostname) => {
    try {
      await lookup(hostname);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "ENOTFOUND" && code !== "EAI_NONAME") return; // the connection will say
      const spec = specs.find((spec) => spec.text.includes(hostname));
      const where = spec?.source !== undefined ? `${spec.source}:${spec.line}: ` : "";
      throw new UsageError(
        `${where}unknown host ${JSON.stringify(hostname)}: ` +
          (inventory
            ? `neither a host or group of the inventory ${inventory.source} nor a host name that resolves`
            : "not a host name that resolves, and no inventory was read (-i FILE)"),
      );
    }
  }));
}

function isAddress(hostname: string): boolean {
  return hostname.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(hostname) ||
    hostname === "localhost";
}

/** Runs the command on the targets and prints their output as the configuration says. */
async function runTargets(
  config: RunConfig,
  targets: readonly Target[],
  { single }: { single: boolean },
): Promise<number> {
  const output = config.fleet?.output ?? "prefix";
  const token = await defaultToken(config, targets);
  // A CA file that holds no certificate is a mistake of the command line or
  // the inventory: said once, before anything ran, not once per host.
  const caFiles = new Set(targets.map((target) => target.tls?.caFile));
  caFiles.delete(undefined);
  for (const caFile of caFiles) await readCaCertificate(caFile!);

  const terminal = !single && output !== "json" && Deno.stderr.isTerminal();
  let running = 0;
  let finished = 0;
  const status = terminal
    ? new StatusLine(Deno.stderr, () => `[${finished}/${targets.length} done, ${running} running]`)
    : undefined;
  // Output to another place than the terminal the count is on needs no making way for it.
  const turns = sameFile(1, 2) ? new WriteTurns() : undefined;
  const stdout = new OutputChannel(Deno.stdout, {
    ...(status && Deno.stdout.isTerminal() ? { status } : {}),
    ...(turns ? { turns } : {}),
  });
  const stderr = new OutputChannel(Deno.stderr, {
    ...(status ? { status } : {}),
    ...(turns ? { turns } : {}),
  });
  const splitters = new Map<string, { stdout: LineSplitter; stderr: LineSplitter }>();
  const stop = new AbortController();
  let interrupted: Deno.Signal | undefined;
  const forced = Promise.withResolvers<number>();
  using _interrupts = watchInterrupts((signal, count) => {
    interrupted ??= signal;
    // The first signal ends every command and waits for each EXIT; a
    // second means the user will not wait: the servers end the commands
    // when the connections drop.
    if (count === 1) stop.abort();
    else forced.resolve(exitCodeForSignal(interrupted));
  });

  const results: HostResult[] = [];
  const run = async () => {
    for await (
      const result of runMany(targets, command(config), {
        ...(token !== undefined ? { token } : {}),
        env: config.env,
        ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
        ...(config.timeout !== undefined ? { timeout: config.timeout } : {}),
        connectTimeout: config.connectTimeout,
        keepalive: config.keepalive,
        parallel: config.fleet?.parallel,
        ...(config.noStdin ? {} : { stdin: Deno.stdin.readable }),
        signal: stop.signal,
        collectOutput: output !== "prefix",
        onWarning: (warning) => printError(`rexec: warning: ${warning}`),
        onStart: (target) => {
          running++;
          if (output === "prefix") {
            splitters.set(target.name, {
              stdout: new LineSplitter(`${target.name}: `),
              stderr: new LineSplitter(`${target.name}: `),
            });
          }
          status?.refresh();
        },
        ...(output === "prefix"
          ? {
            onOutput: ({ host, stream, bytes }) => {
              const lines = splitters.get(host)![stream].push(bytes);
              return lines.length === 0
                ? undefined
                : (stream === "stdout" ? stdout : stderr).write(lines);
            },
          }
          : {}),
      })
    ) {
      if (result.error === null || !result.error.startsWith("not started")) running--;
      finished++;
      // Only --collapse needs every output at the end.
      results.push(
        output === "collapse" ? result : { ...result, stdout: EMPTY, stderr: EMPTY },
      );
      await report(result).catch(() => {
        // The reader of local stdout or stderr went away: end the rest.
        stop.abort();
      });
      if (stdout.closed || stderr.closed || stdout.failure || stderr.failure) stop.abort();
    }
  };

  const report = async (result: HostResult): Promise<void> => {
    const name = result.host;
    switch (output) {
      case "json":
        // In pieces: the line of a host that wrote hundreds of MiB is too long for one string.
        for (const part of hostResultJsonParts(result)) await stdout.write(encoder.encode(part));
        await stdout.write(encoder.encode("\n"));
        return;
      case "prefix": {
        const splitter = splitters.get(name);
        splitters.delete(name);
        if (splitter) {
          await Promise.all([
            stdout.write(splitter.stdout.end()),
            stderr.write(splitter.stderr.end()),
          ]);
        }
        break;
      }
      case "raw":
        await Promise.all([stdout.write(result.stdout), stderr.write(result.stderr)]);
        break;
      case "collapse":
        break;
    }
    const note = result.error ?? (result.timedOut ? "timed out" : undefined);
    // Hosts never started are named together at the end.
    if (note !== undefined && !isNotStarted(result)) {
      await stderr.write(encoder.encode(`${name}: rexec: ${note}\n`));
    } else status?.refresh();
  };

  const outcome = await Promise.race([run().then(() => undefined), forced.promise]);
  if (typeof outcome === "number") return outcome;
  if (output === "collapse") {
    await stdout.write(collapseOutputs(results.map((r) => ({ host: r.host, output: r.stdout }))))
      .catch(() => undefined);
    await stderr.write(collapseOutputs(results.map((r) => ({ host: r.host, output: r.stderr }))))
      .catch(() => undefined);
  }
  await stdout.finish();
  await stderr.finish();
  await status?.clear();
  const notStarted = results.filter(isNotStarted).map((result) => result.host);
  if (output !== "json" && notStarted.length > 0 && !stderr.closed) {
    printError(`rexec: ${notStarted.length} not started: ${foldHostNames(notStarted)}`);
  }
  if (terminal && !stderr.closed) printError(summaryLine(results));
  for (const [name, channel] of [["stdout", stdout], ["stderr", stderr]] as const) {
    if (!channel.failure) continue;
    // The output is incomplete: no host's status can stand for the run.
    printError(`rexec: cannot write to local ${name}: ${channel.failure.message}`);
    return EXIT_REXEC_FAILED;
  }
  if (interrupted) return exitCodeForSignal(interrupted);
  if (stdout.closed || stderr.closed) return EXIT_STDOUT_CLOSED;
  if (!single) return fleetExitStatus(results);
  // One host (with --json or another output): the status of a plain run.
  const [result] = results;
  // A refusal (125 for policy) is the server's answer, not rexec's failure, as in a plain run.
  if (result.refusal && result.refusal.reason !== "shutdown") return result.refusal.code;
  if (result.error !== null) return EXIT_REXEC_FAILED;
  if (result.timedOut) return EXIT_TIMED_OUT;
  return result.exitCode ?? EXIT_REXEC_FAILED;
}

function isNotStarted(result: HostResult): boolean {
  return result.error?.startsWith("not started") ?? false;
}

/**
 * The token for the targets that name no token file of their own, when
 * there are such targets. Every target has one when `--token-file` was
 * given: that file is read here only so that a bad one stops the run before
 * anything ran, and runMany warns about it, once.
 */
async function defaultToken(
  config: RunConfig,
  targets: readonly Target[],
): Promise<string | undefined> {
  if (config.tokenFile !== undefined) {
    await resolveToken({ tokenFile: config.tokenFile });
    return undefined;
  }
  if (targets.every((target) => target.tokenFile !== undefined)) return undefined;
  const { token, warnings } = await resolveToken({});
  for (const warning of warnings) printError(`rexec: warning: ${warning}`);
  return token;
}

/**
 * Whether two of this process's file descriptors are the same file, as
 * stdout and stderr are after `2>&1`; when that cannot be told (another
 * system, no permission to look), they are taken to be.
 */
function sameFile(a: number, b: number): boolean {
  try {
    // fstat, not /dev/fd/N: Deno reads /dev only with every permission granted.
    const first = fstatSync(a);
    const second = fstatSync(b);
    return first.dev === second.dev && first.ino === second.ino;
  } catch {
    // Taking writes in turns is right either way, only less parallel.
    return true;
  }
}

function command(config: RunConfig): readonly string[] | { shell: string } {
  return "shell" in config.command ? { shell: config.command.shell } : config.command.argv;
}
