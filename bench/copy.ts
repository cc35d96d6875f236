/**
 * `rexec cp` against its yardsticks, in the same run, rounds interleaved:
 * one large file up and down against `rexec run -- cat` (the same bytes
 * through a command) and against `scp` to the bench's private sshd; a tree
 * of 10,000 small files against `scp -r` and `tar | rexec run -- tar x`;
 * and the server's peak memory while a download's client is stopped.
 * Files are written to the system's temporary directory, on its disk: rexec
 * cp syncs every file it writes, while cat, tar and scp leave theirs in the
 * page cache, so a slow disk weighs on rexec's rows alone. (/dev/shm is out
 * of reach: Deno grants /dev only with --allow-all.)
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-run --allow-read --allow-write --allow-env \
 *   --allow-sys bench/copy.ts [--quick]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { generateToken } from "../lib/mod.ts";
import { PeakWatch, residentKib } from "./memory.ts";
import { childEnv, MAIN, runOk, sleep, taskPermissions, TempDir } from "./process.ts";
import { type BenchContext, rexecClientEnv, RexecServer, Skipped, Sshd } from "./servers.ts";
import { GiB, mbps, MiB, mib, ms, type Sampled, sampled, times } from "./stats.ts";

/** What was measured; `undefined` where scp was skipped. */
export interface CopyBenchResult {
  /** Bytes of the large file. */
  readonly bytes: number;
  /** Files in the tree of small files. */
  readonly files: number;
  /** Upload, MB/s. */
  readonly upload: {
    readonly cp: Sampled;
    readonly cat: Sampled;
    /** `cat`, then `sync` of the file it wrote: the durability rexec cp gives. */
    readonly catSync: Sampled;
    readonly scp?: Sampled;
  };
  /** Download, MB/s. */
  readonly download: {
    readonly cp: Sampled;
    readonly cat: Sampled;
    readonly catSync: Sampled;
    readonly scp?: Sampled;
  };
  /** The small files up, seconds. */
  readonly tree: { readonly cp: Sampled; readonly tar: Sampled; readonly scp?: Sampled };
  /** The server's resident memory before, KiB. */
  readonly idleKib: number;
  /** Its peak while a download's client was stopped, KiB. */
  readonly stalledPeakKib: number;
  /** How long the client was stopped, ms. */
  readonly stallMs: number;
}

/** Longest a single copy may take before it counts as hung. */
const RUN_TIMEOUT_MS = 600_000;

/** What the copy rounds do. */
export interface CopyPlan {
  readonly bytes: number;
  readonly files: number;
  readonly rounds: number;
  readonly stallMs: number;
}

/** Runs the copy rounds against `server` and, when there is one, `sshd`. */
export async function measureCopy(
  context: BenchContext,
  servers: { readonly server: RexecServer; readonly sshd: Sshd | undefined },
  plan: CopyPlan,
): Promise<CopyBenchResult> {
  const { server, sshd } = servers;
  await using local = await TempDir.create("rexec-bench-copy-");
  await using remote = await TempDir.create("rexec-bench-copy-remote-");
  const base = { env: rexecClientEnv(context), timeoutMs: RUN_TIMEOUT_MS, signal: context.signal };
  const deno = Deno.execPath();
  const rexec = (...args: string[]) => ["run", ...context.permissions, MAIN, ...args];
  const shell = (script: string, ...args: string[]) =>
    runOk("sh", { ...base, args: ["-c", script, ...args] });

  context.progress(`copy: making a ${plan.bytes / MiB} MiB file and ${plan.files} small files`);
  const big = `${local.path}/big.bin`;
  await runOk("sh", {
    ...base,
    args: ["-c", `head -c ${plan.bytes} /dev/urandom > "$0"`, big],
  });
  await makeTree(`${local.path}/tree`, plan.files);

  const idleKib = await residentKib(server.pid);
  context.progress(`copy: a download whose client is stopped for ${plan.stallMs / 1000} s`);
  // Put in place directly, so that no upload has grown the server's heap before.
  await Deno.copyFile(big, `${remote.path}/big`);
  const watch = await PeakWatch.start(server.pid);
  const child = new Deno.Command(deno, {
    args: rexec("cp", "-q", `${server.address}:${remote.path}/big`, `${local.path}/down-cp`),
    env: childEnv({ REXEC_TOKEN: context.token }),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // Stopped once its temporary file shows that bytes are flowing.
    for (let tries = 0; tries < 600; tries++) {
      const names = await Array.fromAsync(Deno.readDir(local.path));
      if (names.some((entry) => entry.name.includes(".rexec-"))) break;
      await sleep(50, context.signal);
    }
    child.kill("SIGSTOP");
    await sleep(plan.stallMs, context.signal);
  } finally {
    child.kill("SIGCONT");
  }
  const stalledPeakKib = await watch.stop();
  const status = await child.status;
  if (status.code !== 0) throw new Error(`the stalled download exited ${status.code}`);

  const seconds = {
    up: { cp: [] as number[], cat: [] as number[], catSync: [] as number[], scp: [] as number[] },
    down: { cp: [] as number[], cat: [] as number[], catSync: [] as number[], scp: [] as number[] },
    tree: { cp: [] as number[], tar: [] as number[], scp: [] as number[] },
  };
  const clean = async () => {
    for await (const entry of Deno.readDir(remote.path)) {
      await Deno.remove(`${remote.path}/${entry.name}`, { recursive: true });
    }
    for (const name of ["down-cp", "down-cat", "down-sync", "down-scp"]) {
      await Deno.remove(`${local.path}/${name}`).catch(() => {});
    }
  };
  for (let round = 1; round <= plan.rounds; round++) {
    context.progress(`copy round ${round}/${plan.rounds}: one large file`);
    await clean();
    const target = `${server.address}:${remote.path}`;
    seconds.up.cp.push(
      (await runOk(deno, { ...base, args: rexec("cp", "-q", big, `${target}/cp.bin`) })).ms / 1000,
    );
    seconds.up.cat.push(
      (await shell(
        `"$0" "$@" < "${big}"`,
        deno,
        ...rexec("run", server.address, "--", "sh", "-c", `cat > ${remote.path}/cat.bin`),
      )).ms / 1000,
    );
    seconds.up.catSync.push(
      (await shell(
        `"$0" "$@" < "${big}"`,
        deno,
        ...rexec(
          "run",
          server.address,
          "--",
          "sh",
          "-c",
          `cat > ${remote.path}/sync.bin && sync ${remote.path}/sync.bin`,
        ),
      )).ms / 1000,
    );
    if (sshd) {
      seconds.up.scp.push(
        (await runOk("scp", { ...base, args: sshd.scpArgs([big], `HOST:${remote.path}/scp.bin`) }))
          .ms / 1000,
      );
    }
    seconds.down.cp.push(
      (await runOk(deno, {
        ...base,
        args: rexec("cp", "-q", `${target}/cp.bin`, `${local.path}/down-cp`),
      })).ms / 1000,
    );
    seconds.down.cat.push(
      (await shell(
        `"$0" "$@" > "${local.path}/down-cat"`,
        deno,
        ...rexec("run", "-n", server.address, "--", "cat", `${remote.path}/cp.bin`),
      )).ms / 1000,
    );
    seconds.down.catSync.push(
      (await shell(
        `"$0" "$@" > "${local.path}/down-sync" && sync "${local.path}/down-sync"`,
        deno,
        ...rexec("run", "-n", server.address, "--", "cat", `${remote.path}/cp.bin`),
      )).ms / 1000,
    );
    if (sshd) {
      seconds.down.scp.push(
        (await runOk("scp", {
          ...base,
          args: sshd.scpArgs([`HOST:${remote.path}/cp.bin`], `${local.path}/down-scp`),
        })).ms / 1000,
      );
    }

    context.progress(`copy round ${round}/${plan.rounds}: ${plan.files} small files`);
    await clean();
    await Deno.mkdir(`${remote.path}/tar`);
    seconds.tree.cp.push(
      (await runOk(deno, {
        ...base,
        args: rexec("cp", "-r", "-q", `${local.path}/tree`, `${target}/cp`),
      })).ms / 1000,
    );
    seconds.tree.tar.push(
      (await shell(
        `tar cf - -C "${local.path}" tree | "$0" "$@"`,
        deno,
        ...rexec("run", server.address, "--", "tar", "xf", "-", "-C", `${remote.path}/tar`),
      )).ms / 1000,
    );
    if (sshd) {
      seconds.tree.scp.push(
        (await runOk("scp", {
          ...base,
          args: sshd.scpArgs([`${local.path}/tree`], `HOST:${remote.path}/scp`, {
            recursive: true,
          }),
        })).ms / 1000,
      );
    }
  }

  const rate = (list: number[]) => sampled(list.map((s) => plan.bytes / 1e6 / s));
  return {
    bytes: plan.bytes,
    files: plan.files,
    upload: {
      cp: rate(seconds.up.cp),
      cat: rate(seconds.up.cat),
      catSync: rate(seconds.up.catSync),
      ...(sshd ? { scp: rate(seconds.up.scp) } : {}),
    },
    download: {
      cp: rate(seconds.down.cp),
      cat: rate(seconds.down.cat),
      catSync: rate(seconds.down.catSync),
      ...(sshd ? { scp: rate(seconds.down.scp) } : {}),
    },
    tree: {
      cp: sampled(seconds.tree.cp),
      tar: sampled(seconds.tree.tar),
      ...(sshd ? { scp: sampled(seconds.tree.scp) } : {}),
    },
    idleKib,
    stalledPeakKib,
    stallMs: plan.stallMs,
  };
}

/** `files` small files of 100 B to 4 KiB, a hundred to a directory. */
async function makeTree(root: string, files: number): Promise<void> {
  const bytes = crypto.getRandomValues(new Uint8Array(4096));
  for (let i = 0; i < files; i++) {
    const dir = `${root}/d${String(Math.floor(i / 100)).padStart(3, "0")}`;
    if (i % 100 === 0) await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(
      `${dir}/f${String(i % 100).padStart(3, "0")}`,
      bytes.subarray(0, 100 + (i * 37) % 3996),
    );
  }
}

/**
 * The targets, judged from `result`: each a line for the report.
 *
 * @example
 * ```ts ignore
 * const lines = copyReport(await measureCopy(context, servers, plan));
 * ```
 */
export function copyReport(result: CopyBenchResult): string {
  const ratio = (a: Sampled, b: Sampled | undefined) => b ? a.value / b.value : undefined;
  const row = (name: string, value: string, target: string, met: boolean | undefined) =>
    `| ${name} | ${value} | ${target} | ${
      met === undefined ? "skipped" : met ? "met" : "MISSED"
    } |`;
  const upCat = ratio(result.upload.cp, result.upload.cat)!;
  const downCat = ratio(result.download.cp, result.download.cat)!;
  const upScp = ratio(result.upload.cp, result.upload.scp);
  const downScp = ratio(result.download.cp, result.download.scp);
  // For durations, faster is smaller: the ratio is theirs over ours.
  const treeScp = result.tree.scp ? result.tree.scp.value / result.tree.cp.value : undefined;
  const treeTar = result.tree.tar.value / result.tree.cp.value;
  const growth = (result.stalledPeakKib - result.idleKib) * 1024;
  return [
    `### rexec cp (${result.bytes / MiB} MiB file, ${result.files} small files)`,
    "",
    "| row | rexec cp | rexec run -- cat / tar | cat, then sync | scp |",
    "| --- | --- | --- | --- | --- |",
    `| upload | ${mbps(result.upload.cp.value)} | ${mbps(result.upload.cat.value)} | ${
      mbps(result.upload.catSync.value)
    } | ${result.upload.scp ? mbps(result.upload.scp.value) : "skipped"} |`,
    `| download | ${mbps(result.download.cp.value)} | ${mbps(result.download.cat.value)} | ${
      mbps(result.download.catSync.value)
    } | ${result.download.scp ? mbps(result.download.scp.value) : "skipped"} |`,
    `| ${result.files} files up | ${ms(result.tree.cp.value * 1000)} | ${
      ms(result.tree.tar.value * 1000)
    } | - | ${result.tree.scp ? ms(result.tree.scp.value * 1000) : "skipped"} |`,
    "",
    "| target | measured | wanted | |",
    "| --- | --- | --- | --- |",
    row("upload vs cat", times(upCat), "≥ 0.9×", upCat >= 0.9),
    row("download vs cat", times(downCat), "≥ 0.9×", downCat >= 0.9),
    row(
      "upload vs scp",
      upScp ? times(upScp) : "-",
      "≥ 1.5×",
      upScp === undefined ? undefined : upScp >= 1.5,
    ),
    row(
      "download vs scp",
      downScp ? times(downScp) : "-",
      "≥ 1.5×",
      downScp === undefined ? undefined : downScp >= 1.5,
    ),
    row(
      "small files vs scp -r",
      treeScp ? times(treeScp) : "-",
      "≥ 2×",
      treeScp === undefined ? undefined : treeScp >= 2,
    ),
    row("small files vs tar", times(treeTar), "≥ 1×", treeTar >= 1),
    row(
      `server memory, client stopped ${result.stallMs / 1000} s`,
      `${mib(result.idleKib)} idle, ${mib(result.stalledPeakKib)} peak`,
      "≤ idle + 64 MiB",
      growth <= 64 * MiB,
    ),
    "",
  ].join("\n");
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { quick: { type: "boolean" } },
  });
  const quick = values.quick ?? false;
  const started = performance.now();
  const context: BenchContext = {
    quick,
    signal: new AbortController().signal,
    permissions: await taskPermissions("rexec"),
    token: generateToken(),
    progress: (message) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
      console.error(`[${seconds} s] ${message}`);
    },
  };
  await using server = await RexecServer.start(context);
  let sshd: Sshd | undefined;
  try {
    sshd = await Sshd.start(context);
  } catch (error) {
    if (!(error instanceof Skipped)) throw error;
    context.progress(`scp rows skipped: ${error.message}`);
  }
  try {
    const result = await measureCopy(
      context,
      { server, sshd },
      quick
        ? { bytes: 256 * MiB, files: 2000, rounds: 1, stallMs: 2000 }
        : { bytes: GiB, files: 10_000, rounds: 3, stallMs: 5000 },
    );
    console.log(copyReport(result));
    console.log(JSON.stringify(result));
  } finally {
    await sshd?.[Symbol.asyncDispose]();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
