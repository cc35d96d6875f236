/**
 * `rexec cp`: files up to one or several hosts, or down from them, each
 * checked end to end with SHA-256 and put in place only once complete (see
 * client/transfer.ts). Like `cp`: several sources need a directory
 * destination, `-r` copies directories (files, directories, symbolic links
 * as links, empty directories), modes and modification times are kept.
 *
 * With several hosts, an upload reads each source once for a batch of up
 * to {@link FLEET_BATCH} hosts, which take its chunks in step; a download
 * puts each host's files under `DST/HOST/`.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import type { Client } from "../client/client.ts";
import {
  CopyError,
  fileChangedError,
  type FileFacts,
  type TransferStats,
} from "../client/transfer.ts";
import { RexecError } from "../errors.ts";
import { EXIT_REFUSED, EXIT_REXEC_FAILED } from "../protocol/exit_status.ts";
import { readInventory } from "../fleet/inventory.ts";
import { resolveTargets, splitTargetList, type Target } from "../fleet/targets.ts";
import { DEFAULT_PORT } from "../transport/address.ts";
import { changedSince } from "../util/files.ts";
import { parentDir } from "../util/paths.ts";
import { temporaryName } from "../util/temp_name.ts";
import type { CpConfig } from "./args.ts";
import { connectFromConfig } from "./connect.ts";
import { exitCodeForSignal, watchInterrupts } from "./interrupts.ts";
import { ProgressLine } from "./progress.ts";
import { printError } from "./terminal.ts";

/** Most hosts copied to or from at once; an upload reads each source once per batch. */
export const FLEET_BATCH = 32;

/** Exit status when some file could not be read or written. */
export const EXIT_FILE_FAILED = 1;

/** Links followed at most to tell whether a destination is a directory. */
const MAX_LINK_HOPS = 8;

/**
 * Files a host is sent or asked for before their answers: more than the 32
 * operations a connection queues, so that the next is ready to go.
 */
const IN_FLIGHT = 48;

/** Chunk size for reading a source shared by several uploads. */
const READ_CHUNK = 1024 * 1024;

/** What `rexec cp` needs from its surroundings; replaceable in tests. */
export interface CpEnvironment {
  /** Writes one line of `--json` output. */
  readonly writeJson: (line: string) => void;
  /** Reports a failure, a warning or a refusal: one line on stderr. */
  readonly printError: (line: string) => void;
  /** Whether stderr is a terminal, for the progress line. */
  readonly stderrIsTerminal: boolean;
  /** Writes the progress line's text to stderr as it is. */
  readonly writeProgress: (text: string) => void;
}

/**
 * Runs `rexec cp` and returns its exit status: 0 when every file was
 * copied, 1 when some could not be, 125 when a server refuses transfers,
 * 255 for rexec's own failures (connection, authentication), 130 when
 * interrupted.
 *
 * @throws {RexecError} for usage errors and an unreadable inventory; the
 * caller exits 255.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it writes to this process's stdout and stderr.
 * import { parseCli } from "./args.ts";
 * import { runCp } from "./cp.ts";
 *
 * const config = parseCli(["cp", "notes.txt", "box:backup/"]);
 * if (config.mode === "cp") Deno.exit(await runCp(config));
 * ```
 */
export async function runCp(
  config: CpConfig,
  environment: CpEnvironment = defaultEnvironment(),
): Promise<number> {
  const remote = config.sources.find((source) => "targets" in source) ?? config.destination;
  const targets = await resolveCopyTargets(config, (remote as { targets: string }).targets);
  const abort = new AbortController();
  let interrupted: Deno.Signal | undefined;
  const forced = Promise.withResolvers<number>();
  using _interrupts = watchInterrupts((signal, count) => {
    interrupted ??= signal;
    // First signal: stop the transfers cleanly, so that nothing half written
    // stays. A second: the user will not wait; servers still clean up.
    if (count === 1) abort.abort(new CopyError("cancelled", "interrupted"));
    else forced.resolve(exitCodeForSignal(signal));
  });
  const progress = environment.stderrIsTerminal && !config.quiet
    ? new ProgressLine({
      write: environment.writeProgress,
      columns: terminalColumns(),
    })
    : undefined;
  progress?.start();
  const run = new CopyRun(config, environment, abort.signal, progress, targets.length > 1);
  try {
    const copying = "targets" in config.destination
      ? run.upload(targets, config.destination.path)
      : run.download(targets, (config.destination as { local: string }).local);
    const outcome = await Promise.race([copying.then(() => undefined), forced.promise]);
    if (outcome !== undefined) return outcome;
  } finally {
    progress?.end();
  }
  if (interrupted) return exitCodeForSignal(interrupted);
  return run.status;
}

function defaultEnvironment(): CpEnvironment {
  const encoder = new TextEncoder();
  return {
    writeJson: (line) => writeAllSync(Deno.stdout, encoder.encode(`${line}\n`)),
    printError,
    stderrIsTerminal: Deno.stderr.isTerminal(),
    writeProgress: (text) => writeAllSync(Deno.stderr, encoder.encode(text)),
  };
}

function writeAllSync(stream: { writeSync(bytes: Uint8Array): number }, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length;) offset += stream.writeSync(bytes.subarray(offset));
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    // Not a terminal after all, or no size known: a conservative width.
    return 80;
  }
}

async function resolveCopyTargets(config: CpConfig, text: string): Promise<Target[]> {
  const inventory = config.inventory === undefined
    ? undefined
    : await readInventory(config.inventory);
  const home = Deno.env.get("HOME");
  return resolveTargets(splitTargetList(text), {
    ...(inventory ? { inventory, inventoryDir: parentDir(config.inventory!) } : {}),
    ...(home !== undefined ? { homeDir: home } : {}),
    defaults: {
      ...(config.tls ? { tls: config.tls } : {}),
      ...(config.tokenFile !== undefined ? { tokenFile: config.tokenFile } : {}),
    },
  });
}

/** One host of a copy, once connected. */
interface Host {
  readonly target: Target;
  readonly client: Client;
  /** Set once the connection failed: nothing more is tried on it. */
  dead: boolean;
}

/** A local file, directory or link to upload, at `rel` below its source's destination. */
type LocalItem =
  | { kind: "file"; local: string; rel: string; size: number; mode: number; mtime?: number }
  | { kind: "dir"; local: string; rel: string; mode: number; mtime?: number }
  | { kind: "symlink"; local: string; rel: string; target: string };

/** The status that wins when several are met: rexec's own failure, a refusal, a file. */
function worse(a: number, b: number): number {
  const rank = (status: number) =>
    status === EXIT_REXEC_FAILED ? 3 : status === EXIT_REFUSED ? 2 : status === 0 ? 0 : 1;
  return rank(b) > rank(a) ? b : a;
}

/**
 * The exit status an error means for `rexec cp`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CopyError } from "../client/transfer.ts";
 * import { ConnectionError } from "../errors.ts";
 * import { statusForError } from "./cp.ts";
 *
 * assert.equal(statusForError(new CopyError("refused", "no")), 125);
 * assert.equal(statusForError(new CopyError("not_found", "x: gone")), 1);
 * assert.equal(statusForError(new ConnectionError("lost")), 255);
 * ```
 */
export function statusForError(error: unknown): number {
  if (error instanceof CopyError) {
    if (error.code === "refused") return EXIT_REFUSED;
    if (error.code === "unsupported") return EXIT_REXEC_FAILED;
    return EXIT_FILE_FAILED;
  }
  return EXIT_REXEC_FAILED;
}

/** One run of `rexec cp`: its hosts, its status and its reports. */
class CopyRun {
  status = 0;
  readonly #config: CpConfig;
  readonly #environment: CpEnvironment;
  readonly #signal: AbortSignal;
  readonly #progress: ProgressLine | undefined;
  readonly #fleet: boolean;

  constructor(
    config: CpConfig,
    environment: CpEnvironment,
    signal: AbortSignal,
    progress: ProgressLine | undefined,
    fleet: boolean,
  ) {
    this.#config = config;
    this.#environment = environment;
    this.#signal = signal;
    this.#progress = progress;
    this.#fleet = fleet;
  }

  /** Records a failure: its line on stderr, its status. A failed connection ends its host. */
  #fail(error: unknown, host?: Host): void {
    if (!(error instanceof RexecError)) throw error;
    if (this.#signal.aborted) return;
    const status = statusForError(error);
    this.status = worse(this.status, status);
    const prefix = host && this.#fleet && !(error instanceof CopyError)
      ? `${host.target.name}: `
      : "";
    this.#environment.printError(`rexec: ${prefix}${error.message}`);
    if (host && status === EXIT_REXEC_FAILED) {
      host.dead = true;
      host.client.close();
    }
  }

  #warn(message: string): void {
    this.#environment.printError(`rexec: warning: ${message}`);
  }

  #report(host: Target, stats: TransferStats): void {
    if (!this.#config.json) return;
    this.#environment.writeJson(JSON.stringify({
      host: host.name,
      path: stats.path,
      bytes: stats.bytes,
      sha256: stats.sha256,
      duration_ms: stats.durationMs,
    }));
  }

  /** Progress callbacks count deltas, as several transfers may run at once. */
  #progressOf(): (done: number) => void {
    let last = 0;
    return (done) => {
      this.#progress?.advance(done - last);
      last = done;
    };
  }

  async #connect(target: Target): Promise<Host | undefined> {
    try {
      const client = await connectFromConfig({
        target: { hostname: target.hostname, port: target.port ?? DEFAULT_PORT },
        ...(target.tokenFile !== undefined ? { tokenFile: target.tokenFile } : {}),
        connectTimeout: this.#config.connectTimeout,
        env: {},
        ...(target.tls ? { tls: target.tls } : {}),
        keepalive: this.#config.keepalive,
      });
      return { target, client, dead: false };
    } catch (error) {
      if (!(error instanceof RexecError)) throw error;
      this.status = worse(this.status, EXIT_REXEC_FAILED);
      const prefix = this.#fleet ? `${target.name}: ` : "";
      this.#environment.printError(`rexec: ${prefix}${error.message}`);
      return undefined;
    }
  }

  async #withHosts(
    targets: readonly Target[],
    work: (hosts: Host[]) => Promise<void>,
  ): Promise<void> {
    for (let start = 0; start < targets.length; start += FLEET_BATCH) {
      if (this.#signal.aborted) return;
      const batch = targets.slice(start, start + FLEET_BATCH);
      const hosts = (await Promise.all(batch.map((target) => this.#connect(target))))
        .filter((host): host is Host => host !== undefined);
      try {
        if (hosts.length > 0) await work(hosts);
      } finally {
        for (const host of hosts) host.client.close();
        await Promise.all(hosts.map((host) => host.client.closed));
      }
    }
  }

  // -- Upload ---------------------------------------------------------------

  async upload(targets: readonly Target[], destination: string): Promise<void> {
    const sources = this.#config.sources.map((source) => (source as { local: string }).local);
    const plans: { source: string; items: LocalItem[] }[] = [];
    for (const source of sources) {
      try {
        const items = await this.#walkLocal(source);
        if (items) plans.push({ source, items });
      } catch (error) {
        this.#fail(localError(error, source));
      }
    }
    if (plans.length === 0) return;
    const bytes = plans.flatMap((plan) => plan.items)
      .reduce((sum, item) => sum + (item.kind === "file" ? item.size : 0), 0);
    this.#progress?.add(bytes * targets.length);
    await this.#withHosts(targets, async (hosts) => {
      // Where each source goes on each host: into DST when it is a directory there.
      const bases = new Map<Host, string[]>();
      await Promise.all(hosts.map(async (host) => {
        const intoDir = await this.#remoteIsDir(host, destination);
        if (intoDir === undefined) return;
        if (!intoDir && (plans.length > 1 || sources.length > 1 || destination.endsWith("/"))) {
          this.#fail(
            new CopyError(
              "not_a_directory",
              `${host.client.where}: ${destination}: not a directory; several sources, or a ` +
                `destination ending in /, need an existing directory`,
            ),
          );
          return;
        }
        bases.set(
          host,
          plans.map((plan) =>
            intoDir ? joinUnder(destination, baseName(plan.source)) : destination
          ),
        );
      }));
      const ready = hosts.filter((host) => bases.has(host));
      for (const [index, plan] of plans.entries()) {
        const place = (host: Host, rel: string) => {
          const base = bases.get(host)![index];
          return rel === "" ? base : joinUnder(base, rel);
        };
        await this.#uploadPlan(ready, plan.items, place);
      }
    });
  }

  /** Whether `path` is a directory on the host; undefined after a failure, reported. */
  async #remoteIsDir(host: Host, path: string): Promise<boolean | undefined> {
    try {
      let facts = await host.client.files.stat(path);
      // A link to a directory names that directory, as for cp: the sources go
      // inside it, and the link stays. Followed here, as stat does not; a link
      // that leads nowhere, or out of the copy root, is no directory.
      let at = path.replace(/\/+$/, "");
      for (let hops = 0; facts.kind === "symlink" && hops < MAX_LINK_HOPS; hops++) {
        const cut = at.lastIndexOf("/");
        at = facts.target!.startsWith("/") || cut === -1
          ? facts.target!
          : `${at.slice(0, cut + 1)}${facts.target}`;
        const next = await host.client.files.stat(at).catch((error) => {
          if (!(error instanceof CopyError) || path.endsWith("/")) throw error;
          if (error.code !== "not_found" && error.code !== "refused") throw error;
          return undefined;
        });
        if (next === undefined) return false;
        facts = next;
      }
      return facts.kind === "dir";
    } catch (error) {
      if (error instanceof CopyError && error.code === "not_found" && !path.endsWith("/")) {
        return false;
      }
      this.#fail(error, host);
      return undefined;
    }
  }

  async #uploadPlan(
    hosts: readonly Host[],
    items: readonly LocalItem[],
    place: (host: Host, rel: string) => string,
  ): Promise<void> {
    const live = () => hosts.filter((host) => !host.dead && !this.#signal.aborted);
    // A directory that could not be made on a host: what goes inside is not tried there.
    const failedDirs = new Map<Host, string[]>();
    const skip = (host: Host, rel: string) =>
      (failedDirs.get(host) ?? []).some((dir) =>
        dir === "" || rel === dir || rel.startsWith(`${dir}/`)
      );
    // Files and links go out without waiting for each answer; a directory
    // waits for what came before, so that a failure to make it is known.
    const pending = new Pending(IN_FLIGHT);
    for (const item of items) {
      if (item.kind === "dir") await pending.drain();
      const targets = live().filter((host) => !skip(host, item.rel));
      if (targets.length === 0) {
        if (item.kind === "file") this.#progress?.advance(item.size * hosts.length);
        continue;
      }
      switch (item.kind) {
        case "dir":
          await Promise.all(targets.map(async (host) => {
            try {
              await host.client.files.mkdir(place(host, item.rel));
            } catch (error) {
              failedDirs.set(host, [...(failedDirs.get(host) ?? []), item.rel]);
              this.#fail(error, host);
            }
          }));
          break;
        case "symlink":
          await pending.add(Promise.all(targets.map(async (host) => {
            try {
              await host.client.files.symlink(place(host, item.rel), item.target);
            } catch (error) {
              this.#fail(error, host);
            }
          })));
          break;
        case "file":
          await pending.add(this.#uploadFile(targets, item, place));
          break;
      }
    }
    await pending.drain();
    if (!this.#config.preserve) return;
    // Last, deepest first: writing into a directory changes its time.
    for (const item of [...items].reverse()) {
      if (item.kind !== "dir") continue;
      await Promise.all(
        live().filter((host) => !skip(host, item.rel)).map(async (host) => {
          try {
            await host.client.files.setAttributes(place(host, item.rel), {
              mode: item.mode,
              ...(item.mtime !== undefined ? { mtime: item.mtime } : {}),
            });
          } catch (error) {
            this.#fail(error, host);
          }
        }),
      );
    }
  }

  /** Uploads one local file to every host, reading it once. */
  async #uploadFile(
    hosts: readonly Host[],
    item: Extract<LocalItem, { kind: "file" }>,
    place: (host: Host, rel: string) => string,
  ): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(item.local, { read: true });
    } catch (error) {
      this.#fail(localError(error, item.local));
      this.#progress?.advance(item.size * hosts.length);
      return;
    }
    try {
      const tee = new SharedReader(file, item.local, item.size, hosts.length, file.statSync());
      await Promise.all(hosts.map(async (host, index) => {
        const onProgress = this.#progressOf();
        try {
          const stats = await host.client.files.uploadFrom(
            tee.reader(index),
            place(host, item.rel),
            {
              size: item.size,
              signal: this.#signal,
              onProgress,
              ...(this.#config.preserve ? { mode: item.mode } : {}),
              ...(this.#config.preserve && item.mtime !== undefined ? { mtime: item.mtime } : {}),
            },
          );
          this.#report(host.target, stats);
        } catch (error) {
          onProgress(item.size);
          this.#fail(error, host);
        } finally {
          tee.leave(index);
        }
      }));
    } finally {
      file.close();
    }
  }

  /** What uploading `source` means: its items, or undefined after a reported refusal. */
  async #walkLocal(source: string): Promise<LocalItem[] | undefined> {
    const recursive = this.#config.recursive;
    const info = recursive ? await Deno.lstat(source) : await Deno.stat(source);
    const mtime = (info: Deno.FileInfo) => info.mtime?.getTime();
    const top = itemOf(source, "", info, mtime(info));
    if (top === undefined) {
      this.#warn(`${source}: not a regular file, directory or link; skipped`);
      return undefined;
    }
    if (top.kind === "symlink") return [{ ...top, target: await Deno.readLink(source) }];
    if (top.kind === "file") return [top];
    if (!recursive) {
      this.#fail(new CopyError("is_a_directory", `${source}: is a directory (not copied; use -r)`));
      return undefined;
    }
    const items: LocalItem[] = [top];
    const walk = async (dir: string, rel: string) => {
      const names = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
      for (const name of names) {
        const local = `${dir}/${name}`;
        const childRel = rel === "" ? name : `${rel}/${name}`;
        let child: Deno.FileInfo;
        try {
          child = await Deno.lstat(local);
        } catch (error) {
          // That entry alone fails: gone since the listing, or a name that is
          // not UTF-8 (which comes back with U+FFFD in it, naming nothing).
          this.#fail(
            name.includes("\uFFFD") && error instanceof Deno.errors.NotFound
              ? new CopyError(
                "io_error",
                `${local}: its name is not UTF-8, which rexec cp cannot copy`,
              )
              : localError(error, local),
          );
          continue;
        }
        const item = itemOf(local, childRel, child, mtime(child));
        if (item === undefined) {
          this.#warn(`${local}: not a regular file, directory or link; skipped`);
        } else if (item.kind === "symlink") {
          items.push({ ...item, target: await Deno.readLink(local) });
        } else {
          items.push(item);
          if (item.kind === "dir") await walk(local, childRel);
        }
      }
    };
    await walk(source.replace(/\/+$/, "") || "/", "");
    return items;
  }

  // -- Download -------------------------------------------------------------

  async download(targets: readonly Target[], destination: string): Promise<void> {
    const sources = this.#config.sources.map((source) => (source as { path: string }).path);
    let intoDir: boolean;
    try {
      intoDir = (await Deno.stat(destination)).isDirectory;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || destination.endsWith("/")) {
        this.#fail(localError(error, destination));
        return;
      }
      intoDir = false;
    }
    if (!intoDir && (sources.length > 1 || this.#fleet)) {
      this.#fail(
        new CopyError(
          "not_a_directory",
          `${destination}: not a directory; several sources or hosts need an existing directory`,
        ),
      );
      return;
    }
    await this.#withHosts(targets, async (hosts) => {
      await Promise.all(hosts.map(async (host) => {
        let base = destination.replace(/\/+$/, "") || "/";
        if (this.#fleet) {
          base = joinUnder(base, safeFileName(host.target.name));
          try {
            await Deno.mkdir(base);
          } catch (error) {
            if (!(error instanceof Deno.errors.AlreadyExists)) {
              this.#fail(localError(error, base));
              return;
            }
          }
        }
        for (const source of sources) {
          if (host.dead || this.#signal.aborted) return;
          const local = intoDir ? joinUnder(base, baseName(source)) : base;
          await this.#downloadSource(host, source, local);
        }
      }));
    });
  }

  async #downloadSource(host: Host, source: string, local: string): Promise<void> {
    const files = host.client.files;
    let facts: FileFacts;
    try {
      facts = await files.stat(source);
    } catch (error) {
      this.#fail(error, host);
      return;
    }
    if (facts.kind === "dir" && !this.#config.recursive) {
      this.#fail(
        new CopyError(
          "is_a_directory",
          `${host.client.where}: ${source}: is a directory (not copied; use -r)`,
        ),
      );
      return;
    }
    if (facts.kind === "symlink" && this.#config.recursive) {
      await this.#localStep(local, () => makeLocalLink(local, facts.target!));
      return;
    }
    if (facts.kind !== "dir") {
      this.#progress?.add(facts.size);
      await this.#downloadFile(host, source, local);
      return;
    }
    let entries;
    try {
      entries = await files.list(source, { signal: this.#signal });
    } catch (error) {
      this.#fail(error, host);
      return;
    }
    this.#progress?.add(
      entries.reduce((sum, entry) => sum + (entry.kind === "file" ? entry.size : 0), 0),
    );
    if (!(await this.#localStep(local, () => makeLocalDir(local)))) return;
    const failedDirs: string[] = [];
    const pending = new Pending(IN_FLIGHT);
    for (const entry of entries) {
      if (host.dead || this.#signal.aborted) break;
      if (failedDirs.some((dir) => entry.path.startsWith(`${dir}/`))) continue;
      const target = joinUnder(local, entry.path);
      const remote = joinUnder(source, entry.path);
      switch (entry.kind) {
        case "dir":
          if (!(await this.#localStep(target, () => makeLocalDir(target)))) {
            failedDirs.push(entry.path);
          }
          break;
        case "symlink":
          await this.#localStep(target, () => makeLocalLink(target, entry.target!));
          break;
        case "file":
          await pending.add(this.#downloadFile(host, remote, target));
          break;
        default:
          // The server lists a name that is not UTF-8 as `other`, with U+FFFD in it.
          if (entry.path.includes("\uFFFD")) {
            this.#fail(
              new CopyError(
                "io_error",
                `${host.client.where}: ${remote}: its name is not UTF-8, which rexec cp cannot copy`,
              ),
            );
          } else {
            this.#warn(
              `${host.target.name}: ${remote}: not a regular file, directory or link; skipped`,
            );
          }
      }
    }
    await pending.drain();
    if (!this.#config.preserve || host.dead || this.#signal.aborted) return;
    const dirs = [
      { path: "", facts },
      ...entries.filter((entry) => entry.kind === "dir").map((entry) => ({
        path: entry.path,
        facts: entry,
      })),
    ];
    for (const dir of dirs.reverse()) {
      if (failedDirs.some((failed) => dir.path === failed || dir.path.startsWith(`${failed}/`))) {
        continue;
      }
      const target = dir.path === "" ? local : joinUnder(local, dir.path);
      await this.#localStep(target, async () => {
        await Deno.chmod(target, dir.facts.mode & 0o777);
        await Deno.utime(target, new Date(), new Date(dir.facts.mtime));
      });
    }
  }

  async #downloadFile(host: Host, remote: string, local: string): Promise<void> {
    const onProgress = this.#progressOf();
    try {
      const stats = await host.client.files.download(remote, local, {
        preserve: this.#config.preserve,
        signal: this.#signal,
        onProgress,
      });
      this.#report(host.target, stats);
    } catch (error) {
      this.#fail(error, host);
    }
  }

  /** Runs a local file system step; a failure is reported as that path's. */
  async #localStep(path: string, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      this.#fail(localError(error, path));
      return false;
    }
  }
}

/** A local file system error as a failure of that path. */
function localError(error: unknown, path: string): unknown {
  if (error instanceof RexecError || !(error instanceof Error)) return error;
  const reason = error instanceof Deno.errors.NotFound
    ? "no such file or directory"
    : error instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : error.message;
  return new CopyError("io_error", `${path}: ${reason}`, { cause: error });
}

/** Work under way, at most `limit` at once. */
class Pending {
  readonly #running = new Set<Promise<unknown>>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Counts `work` in; waits while the limit is reached. */
  async add(work: Promise<unknown>): Promise<void> {
    const tracked: Promise<unknown> = work.finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
  }

  /** Waits for all of it. */
  async drain(): Promise<void> {
    await Promise.all(this.#running);
  }
}

function itemOf(
  local: string,
  rel: string,
  info: Deno.FileInfo,
  mtime: number | undefined,
): LocalItem | undefined {
  const mode = (info.mode ?? 0o644) & 0o777;
  const time = mtime !== undefined ? { mtime } : {};
  if (info.isFile) return { kind: "file", local, rel, size: info.size, mode, ...time };
  if (info.isDirectory) return { kind: "dir", local, rel, mode, ...time };
  if (info.isSymlink) return { kind: "symlink", local, rel, target: "" };
  return undefined;
}

/**
 * Feeds one file to several uploads in step: each chunk is read once, and
 * the next only when every upload still going has sent this one.
 */
class SharedReader {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  readonly #before: Deno.FileInfo;
  readonly #active: Set<number>;
  readonly #chunkSize: number;
  /** Chunk number each reader asks for next. */
  readonly #wants: number[];
  #current: { index: number; chunk: Promise<Uint8Array | null> } | undefined;
  #prefetched: Promise<Uint8Array | null> | undefined;

  /** `before`: the file as it was opened; written to by the end, it fails every upload. */
  constructor(
    file: Deno.FsFile,
    path: string,
    size: number,
    readers: number,
    before: Deno.FileInfo,
  ) {
    this.#file = file;
    // A small file needs no megabyte: one byte more than it holds finds its end.
    this.#chunkSize = Math.min(READ_CHUNK, size + 1);
    this.#path = path;
    this.#before = before;
    this.#active = new Set(Array.from({ length: readers }, (_, i) => i));
    this.#wants = new Array(readers).fill(0);
  }

  /** The chunks, for reader `index`. */
  async *reader(index: number): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = await this.#chunk(index);
      if (chunk === null) return;
      yield chunk;
      this.#wants[index]++;
    }
  }

  /** Reader `index` is done: the others no longer wait for it. */
  leave(index: number): void {
    this.#active.delete(index);
    this.#advance();
  }

  #waiters: (() => void)[] = [];

  async #chunk(index: number): Promise<Uint8Array | null> {
    const want = this.#wants[index];
    while (this.#current === undefined || this.#current.index !== want) {
      this.#advance();
      if (this.#current?.index === want) break;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return await this.#current!.chunk;
  }

  /** Reads the next chunk once every active reader wants it. */
  #advance(): void {
    const next = this.#current === undefined ? 0 : this.#current.index + 1;
    const everyone = [...this.#active].every((reader) => this.#wants[reader] === next);
    if (!everyone || this.#active.size === 0) return;
    // The chunk after it is read meanwhile, while the uploads send this one.
    const chunk = this.#prefetched ?? this.#read();
    this.#prefetched = chunk.then((read) => read === null ? null : this.#read());
    this.#prefetched.catch(() => {});
    this.#current = { index: next, chunk };
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async #read(): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(this.#chunkSize);
    let read: number | null;
    try {
      read = await this.#file.read(buffer);
      if (read === null && changedSince(this.#before, await this.#file.stat())) {
        throw fileChangedError(this.#path);
      }
    } catch (error) {
      if (error instanceof CopyError) throw error;
      throw new CopyError("io_error", `${this.#path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return read === null ? null : buffer.subarray(0, read);
  }
}

async function makeLocalDir(path: string): Promise<void> {
  try {
    await Deno.mkdir(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    if (!(await Deno.stat(path)).isDirectory) throw new Error("exists, and is not a directory");
  }
}

/** Makes a link beside its place and renames it over whatever is there. */
async function makeLocalLink(path: string, target: string): Promise<void> {
  const cut = path.lastIndexOf("/");
  const existing = await Deno.lstat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  // A rename would take a device, FIFO or socket away from whatever uses it.
  if (existing && !existing.isFile && !existing.isSymlink && !existing.isDirectory) {
    throw new Error("a device, FIFO or socket, not a regular file; left as it is");
  }
  const temp = temporaryName(cut === -1 ? "." : path.slice(0, cut) || "/", path.slice(cut + 1));
  await Deno.symlink(target, temp);
  try {
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * The last component of a path, trailing slashes ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { baseName } from "./cp.ts";
 *
 * assert.equal(baseName("a/b/c.txt"), "c.txt");
 * assert.equal(baseName("dir/"), "dir");
 * assert.equal(baseName("/"), "/");
 * ```
 */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed === "") return path === "" ? "" : "/";
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** `name` in `dir`, with one `/` between them: for the server's paths and the local ones alike. */
function joinUnder(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/**
 * A host's name as a file name: `/`, `:` and other characters that are
 * unsafe or awkward in a file name replaced with `_`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeFileName } from "./cp.ts";
 *
 * assert.equal(safeFileName("web1"), "web1");
 * assert.equal(safeFileName("tls://[::1]:7022"), "tls_1_7022");
 * assert.equal(safeFileName(".."), "_");
 * ```
 */
export function safeFileName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_");
  return /^\.*$/.test(safe) ? "_" : safe;
}
