/**
 * `rexec cp` end to end: the CLI as a subprocess against in-process servers,
 * with a proxy between them that can hold the bytes back, so that a copy can
 * be interrupted at a known point.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CommandPolicy } from "../lib/server/policy.ts";
import {
  CLI_PERMISSIONS,
  MAIN,
  readUntil,
  runCli,
  spawnCli,
  startServer,
  tempDir,
  type TestServer,
  TOKEN,
  waitFor,
} from "./helpers.ts";

/** Bytes that do not repeat in any short period. */
function noise(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed | 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state;
  }
  return bytes;
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
}

/**
 * A TCP proxy to a server that forwards both ways, and can stop forwarding
 * (as a stalled network would) and drop its connections (as a lost one).
 */
class Proxy implements AsyncDisposable {
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #conns: Deno.Conn[] = [];
  #gate: PromiseWithResolvers<void> | undefined;
  /** Once this many bytes went up, forwarding holds until {@link release}. */
  #upLimit: number | undefined;
  /** Bytes forwarded from client to server and from server to client. */
  forwarded = { up: 0, down: 0 };

  constructor(target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accept(target);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async #accept(target: number): Promise<void> {
    for await (const client of this.#listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
      this.#conns.push(client, server);
      this.#pump(client, server, "up");
      this.#pump(server, client, "down");
    }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, way: "up" | "down"): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        if (this.#gate) await this.#gate.promise;
        const read = await from.read(buffer);
        if (read === null) break;
        if (this.#gate) await this.#gate.promise;
        for (let offset = 0; offset < read;) {
          offset += await to.write(buffer.subarray(offset, read));
        }
        this.forwarded[way] += read;
        if (way === "up" && this.#upLimit !== undefined && this.forwarded.up >= this.#upLimit) {
          this.hold();
        }
      }
    } catch {
      // One side went away: the other is closed below.
    }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // Closed already by the other direction.
      }
    }
  }

  /** Stops forwarding in both directions. */
  hold(): void {
    this.#gate ??= Promise.withResolvers();
  }

  /** Holds, as {@link hold} does, once `bytes` in all went from client to server. */
  holdAfterUp(bytes: number): void {
    this.#upLimit = bytes;
  }

  /** Forwards again, and with no limit. */
  release(): void {
    this.#upLimit = undefined;
    this.#gate?.resolve();
    this.#gate = undefined;
  }

  /** Drops every connection, as a network that fails would. */
  cut(): void {
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    this.cut();
    this.#listener.close();
    return Promise.resolve();
  }
}

/** Waits until a temporary file of rexec appears in `dir`. */
async function temporaryFileAppears(dir: string): Promise<void> {
  assert.ok(
    await waitFor(async () => (await names(dir)).some((name) => name.includes(".rexec-")), 30_000),
    `no temporary file appeared in ${dir}`,
  );
}

async function copyServer(root: string, options = {}): Promise<TestServer> {
  return await startServer({ copyRoot: root, ...options });
}

Deno.test("cp: a tree goes up and comes back with links, empty directories, modes, times and --json", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  const tree = `${local.path}/tree`;
  await Deno.mkdir(`${tree}/sub/deeper`, { recursive: true });
  await Deno.mkdir(`${tree}/empty`);
  await Deno.writeFile(`${tree}/sub/data.bin`, noise(3 * 1024 * 1024 + 5));
  await Deno.writeTextFile(`${tree}/with space`, "a");
  await Deno.writeTextFile(`${tree}/new\nline`, "b");
  await Deno.writeTextFile(`${tree}/ünï 日本`, "c");
  await Deno.writeFile(`${tree}/zeros`, new Uint8Array(1024 * 1024));
  await Deno.writeFile(`${tree}/empty-file`, new Uint8Array(0));
  await Deno.symlink("sub/data.bin", `${tree}/link`);
  await Deno.chmod(`${tree}/zeros`, 0o600);
  await Deno.chmod(`${tree}/sub`, 0o750);
  const past = new Date("2023-01-02T03:04:05Z");
  await Deno.utime(`${tree}/sub/data.bin`, past, past);
  await Deno.utime(`${tree}/sub`, past, past);

  const up = await runCli(["cp", "-r", "--json", tree, `${server.address}:`]);
  assert.equal(up.code, 0, up.stderrText);
  assert.equal(up.stderrText, "");
  const lines = up.stdoutText.trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(lines.length, 6); // the regular files; links and directories are not files
  for (const line of lines) {
    assert.deepEqual(Object.keys(line), ["host", "path", "bytes", "sha256", "duration_ms"]);
    assert.equal(line.host, server.address);
  }
  const data = lines.find((line) => line.path.endsWith("/data.bin"));
  assert.equal(data.bytes, 3 * 1024 * 1024 + 5);

  const down = await runCli(["cp", "-r", `${server.address}:tree`, `${local.path}/back`]);
  assert.equal(down.code, 0, down.stderrText);
  assert.equal(down.stdoutText, "");
  for (const root of [`${remote.path}/tree`, `${local.path}/back`]) {
    assert.deepEqual(await names(root), [
      "empty",
      "empty-file",
      "link",
      "new\nline",
      "sub",
      "with space",
      "zeros",
      "ünï 日本",
    ]);
    assert.deepEqual(await Deno.readFile(`${root}/sub/data.bin`), noise(3 * 1024 * 1024 + 5));
    assert.equal(await Deno.readLink(`${root}/link`), "sub/data.bin");
    assert.deepEqual(await names(`${root}/empty`), []);
    assert.deepEqual(await names(`${root}/sub/deeper`), []);
    assert.equal((await Deno.stat(`${root}/zeros`)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${root}/sub`)).mode! & 0o777, 0o750);
    assert.equal((await Deno.stat(`${root}/sub`)).mtime?.getTime(), past.getTime());
    assert.equal((await Deno.stat(`${root}/sub/data.bin`)).mtime?.getTime(), past.getTime());
  }

  // --no-preserve: the file gets the times of now.
  const fresh = await runCli([
    "cp",
    "--no-preserve",
    `${tree}/sub/data.bin`,
    `${server.address}:fresh`,
  ]);
  assert.equal(fresh.code, 0, fresh.stderrText);
  assert.notEqual((await Deno.stat(`${remote.path}/fresh`)).mtime?.getTime(), past.getTime());
});

Deno.test("cp: a name that is not UTF-8 fails alone, both ways; the rest of the tree is copied", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  const tree = `${local.path}/tree`;
  await Deno.mkdir(tree);
  await Deno.writeTextFile(`${tree}/good`, "a");
  await Deno.mkdir(`${remote.path}/tree`);
  await Deno.writeTextFile(`${remote.path}/tree/good`, "a");
  // Deno's strings cannot name these files: the shell makes them, byte 0xff in their names.
  const made = await new Deno.Command("sh", {
    args: [
      "-c",
      `touch "$1/$(printf 'bad\\377')" "$2/$(printf 'bad\\377')"`,
      "sh",
      tree,
      `${remote.path}/tree`,
    ],
  }).output();
  assert.ok(made.success);

  const up = await runCli(["cp", "-r", tree, `${server.address}:up`]);
  assert.equal(up.code, 1);
  assert.equal(
    up.stderrText,
    `rexec: ${tree}/bad\uFFFD: its name is not UTF-8, which rexec cp cannot copy\n`,
  );
  assert.deepEqual(await names(`${remote.path}/up`), ["good"]);

  const down = await runCli(["cp", "-r", `${server.address}:tree`, `${local.path}/down`]);
  assert.equal(down.code, 1);
  assert.equal(
    down.stderrText,
    `rexec: ${server.address}: tree/bad\uFFFD: its name is not UTF-8, which rexec cp cannot copy\n`,
  );
  assert.deepEqual(await names(`${local.path}/down`), ["good"]);
});

Deno.test("cp: a file written to while it is uploaded is not copied", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  await using proxy = new Proxy(server.port);
  await Deno.writeTextFile(`${remote.path}/big`, "old");
  const size = 24 * 1024 * 1024;
  await Deno.writeFile(`${local.path}/big`, noise(size));
  // The server grants a window as it writes: held after 2 MiB, the client
  // can have read little more than one window of the file.
  proxy.holdAfterUp(2 * 1024 * 1024);
  const child = spawnCli(["cp", `${local.path}/big`, `${proxy.address}:big`]);
  assert.ok(await waitFor(() => proxy.forwarded.up >= 2 * 1024 * 1024, 30_000));
  await Deno.writeFile(`${local.path}/big`, noise(size, 7));
  const past = new Date("2020-01-01T00:00:00Z");
  await Deno.utime(`${local.path}/big`, past, past);
  proxy.release();
  const { code, stderr } = await child.output();
  assert.equal(code, 1);
  assert.equal(
    new TextDecoder().decode(stderr),
    `rexec: ${local.path}/big: changed while it was read; not copied\n`,
  );
  assert.ok(await waitFor(async () => (await names(remote.path)).length === 1));
  assert.equal(await Deno.readTextFile(`${remote.path}/big`), "old");
});

Deno.test("cp: destinations as cp takes them: into a directory, several sources, a missing directory", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  await Deno.writeTextFile(`${local.path}/a`, "a");
  await Deno.writeTextFile(`${local.path}/b:colon`, "b");
  await Deno.mkdir(`${remote.path}/dir`);
  const into = await runCli([
    "cp",
    `${local.path}/a`,
    `./b:colon`,
    `127.0.0.1:${server.port}:dir`,
  ], { cwd: local.path });
  assert.equal(into.code, 0, into.stderrText);
  assert.deepEqual(await names(`${remote.path}/dir`), ["a", "b:colon"]);

  const several = await runCli([
    "cp",
    `${local.path}/a`,
    `${local.path}/a`,
    `${server.address}:file`,
  ]);
  assert.equal(several.code, 1);
  assert.match(several.stderrText, /file: not a directory/);

  const missing = await runCli(["cp", `${local.path}/a`, `${server.address}:nowhere/a`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderrText, /nowhere\/a: no directory .*nowhere on the server/);
  assert.deepEqual(await names(remote.path), ["dir"]); // not created

  const partly = await runCli([
    "cp",
    `${local.path}/nothing`,
    `${local.path}/a`,
    `${server.address}:dir/`,
  ]);
  assert.equal(partly.code, 1);
  assert.equal(partly.stderrText, `rexec: ${local.path}/nothing: no such file or directory\n`);

  const dirNoR = await runCli(["cp", local.path, `${server.address}:dir/`]);
  assert.equal(dirNoR.code, 1);
  assert.match(dirNoR.stderrText, /is a directory \(not copied; use -r\)/);
});

Deno.test("cp: a link to a directory as the destination receives the sources, and stays a link", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  await Deno.mkdir(`${remote.path}/releases/v2`, { recursive: true });
  await Deno.symlink("releases/v2", `${remote.path}/current`);
  await Deno.symlink("current", `${remote.path}/latest`);
  await Deno.writeTextFile(`${local.path}/app`, "app");
  await Deno.mkdir(`${local.path}/tree`);
  await Deno.writeTextFile(`${local.path}/tree/f`, "f");

  for (const destination of ["current", "latest", "current/"]) {
    const up = await runCli(["cp", `${local.path}/app`, `${server.address}:${destination}`]);
    assert.equal(up.code, 0, up.stderrText);
  }
  const tree = await runCli(["cp", "-r", `${local.path}/tree`, `${server.address}:current`]);
  assert.equal(tree.code, 0, tree.stderrText);
  assert.equal(await Deno.readLink(`${remote.path}/current`), "releases/v2");
  assert.equal(await Deno.readLink(`${remote.path}/latest`), "current");
  assert.deepEqual(await names(`${remote.path}/releases/v2`), ["app", "tree"]);
  assert.deepEqual(await names(`${remote.path}/releases/v2/tree`), ["f"]);
});

Deno.test("cp: refusals exit 125, rexec's own failures 255", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await Deno.writeTextFile(`${local.path}/a`, "a");
  {
    await using server = await startServer({ noCopy: true });
    const result = await runCli(["cp", `${local.path}/a`, `${server.address}:${remote.path}/a`]);
    assert.equal(result.code, 125);
    assert.match(result.stderrText, /refuses file transfers \(rexec serve --no-copy\)/);
  }
  {
    const policy = await CommandPolicy.create({ allow: ["true"] });
    await using server = await startServer({ policy });
    const result = await runCli(["cp", `${server.address}:${remote.path}`, local.path]);
    assert.equal(result.code, 125);
    assert.match(result.stderrText, /--copy-root/);
  }
  {
    await using server = await copyServer(remote.path);
    const escape = await runCli(["cp", `${local.path}/a`, `${server.address}:../a`]);
    assert.equal(escape.code, 125);
    assert.match(escape.stderrText, /outside the copy root/);
  }
  const port = (() => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return listener.addr.port;
  })();
  const refused = await runCli(["cp", `${local.path}/a`, `127.0.0.1:${port}:a`]);
  assert.equal(refused.code, 255);
  assert.match(refused.stderrText, /connection refused/);
  const usage = await runCli(["cp", `${local.path}/a`]);
  assert.equal(usage.code, 255);
  assert.deepEqual(await names(remote.path), []);
});

Deno.test("cp: Ctrl-C during an upload leaves the old file and no temporary file", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  await using proxy = new Proxy(server.port);
  await Deno.writeTextFile(`${remote.path}/big`, "old");
  await Deno.writeFile(`${local.path}/big`, noise(64 * 1024 * 1024));
  const child = spawnCli(["cp", `${local.path}/big`, `${proxy.address}:big`]);
  await temporaryFileAppears(remote.path);
  proxy.hold();
  child.kill("SIGINT");
  proxy.release();
  const { code, stderr } = await child.output();
  assert.equal(code, 130, new TextDecoder().decode(stderr));
  assert.ok(await waitFor(async () => (await names(remote.path)).length === 1));
  assert.deepEqual(await names(remote.path), ["big"]);
  assert.equal(await Deno.readTextFile(`${remote.path}/big`), "old");
});

Deno.test("cp: a killed client or a lost connection leaves the old file and no temporary file", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  await Deno.writeFile(`${local.path}/big`, noise(64 * 1024 * 1024));
  for (const how of ["killed", "lost"] as const) {
    await using proxy = new Proxy(server.port);
    await Deno.writeTextFile(`${remote.path}/big`, "old");
    const child = spawnCli(["cp", `${local.path}/big`, `${proxy.address}:big`]);
    await temporaryFileAppears(remote.path);
    proxy.hold();
    if (how === "killed") {
      child.kill("SIGKILL");
      await child.status;
      proxy.release();
    } else {
      proxy.cut();
    }
    const { code } = await child.output().catch(() => ({ code: -1 }));
    if (how === "lost") assert.equal(code, 255);
    assert.ok(
      await waitFor(async () => (await names(remote.path)).length === 1),
      `${how}: ${await names(remote.path)}`,
    );
    assert.equal(await Deno.readTextFile(`${remote.path}/big`), "old", how);
  }
});

Deno.test("cp: Ctrl-C during a download leaves the old local file and no temporary file", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  await using proxy = new Proxy(server.port);
  await Deno.writeFile(`${remote.path}/big`, noise(64 * 1024 * 1024));
  await Deno.writeTextFile(`${local.path}/big`, "old");
  const child = spawnCli(["cp", `${proxy.address}:big`, `${local.path}/big`]);
  await temporaryFileAppears(local.path);
  proxy.hold();
  child.kill("SIGINT");
  proxy.release();
  const { code, stderr } = await child.output();
  assert.equal(code, 130, new TextDecoder().decode(stderr));
  assert.deepEqual(await names(local.path), ["big"]);
  assert.equal(await Deno.readTextFile(`${local.path}/big`), "old");
});

Deno.test("cp: the progress line shows on a terminal only, and --quiet silences it", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await copyServer(remote.path);
  await Deno.writeFile(`${local.path}/f`, noise(2 * 1024 * 1024));
  const command = (extra: string) =>
    [Deno.execPath(), "run", "-A", MAIN, "cp", extra, `${local.path}/f`, `${server.address}:f`]
      .filter((word) => word !== "")
      .map((word) => `'${word}'`)
      .join(" ");
  const inPty = async (extra: string) => {
    const { code, stdout } = await new Deno.Command("script", {
      args: ["-qefc", command(extra), "/dev/null"],
      env: { REXEC_TOKEN: TOKEN, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code, text: new TextDecoder().decode(stdout) };
  };
  const shown = await inPty("");
  assert.equal(shown.code, 0, shown.text);
  // The line is redrawn in place: carriage return, erase to the end of the line, the line.
  const redrawn = shown.text.split("\r\u001b[K").slice(1);
  assert.ok(
    redrawn.some((line) => /^[0-9.]+ [KMG]?i?B \/ 2\.0 MiB .*\/s .* left$/.test(line)),
    JSON.stringify(shown.text),
  );
  const quiet = await inPty("--quiet");
  assert.equal(quiet.code, 0, quiet.text);
  assert.doesNotMatch(quiet.text, /MiB/);
  const piped = await runCli(["cp", `${local.path}/f`, `${server.address}:g`]);
  assert.equal(piped.code, 0);
  assert.equal(piped.stderrText, "");
});

Deno.test("cp: several hosts: an upload reaches each, a download puts each host's files apart", async () => {
  await using one = await tempDir();
  await using two = await tempDir();
  await using local = await tempDir();
  await using first = await copyServer(one.path);
  await using second = await copyServer(two.path);
  await Deno.writeFile(`${local.path}/f`, noise(5 * 1024 * 1024 + 1));
  const targets = `${first.address},${second.address}`;
  const up = await runCli(["cp", "--json", `${local.path}/f`, `${targets}:f`]);
  assert.equal(up.code, 0, up.stderrText);
  const hosts = up.stdoutText.trim().split("\n").map((line) => JSON.parse(line).host).sort();
  assert.deepEqual(hosts, [first.address, second.address].sort());
  for (const root of [one.path, two.path]) {
    assert.deepEqual(await Deno.readFile(`${root}/f`), noise(5 * 1024 * 1024 + 1));
  }
  await Deno.mkdir(`${local.path}/down`);
  const down = await runCli(["cp", `${targets}:f`, `${local.path}/down`]);
  assert.equal(down.code, 0, down.stderrText);
  const dirs = [first, second].map((server) => `127.0.0.1_${server.port}`).sort();
  assert.deepEqual(await names(`${local.path}/down`), dirs);
  for (const dir of dirs) {
    assert.deepEqual(
      await Deno.readFile(`${local.path}/down/${dir}/f`),
      noise(5 * 1024 * 1024 + 1),
    );
  }
  // The hosts as an inventory group, named by their aliases.
  await Deno.writeTextFile(
    `${local.path}/hosts.ini`,
    `[web]\nweb1 rexec_host=127.0.0.1 rexec_port=${first.port}\n` +
      `web2 rexec_host=127.0.0.1 rexec_port=${second.port}\n`,
  );
  const group = await runCli([
    "cp",
    "--json",
    "-i",
    `${local.path}/hosts.ini`,
    `${local.path}/f`,
    "web:by-group",
  ]);
  assert.equal(group.code, 0, group.stderrText);
  assert.deepEqual(
    group.stdoutText.trim().split("\n").map((line) => JSON.parse(line).host).sort(),
    ["web1", "web2"],
  );
  await Deno.mkdir(`${local.path}/by-alias`);
  const fromGroup = await runCli([
    "cp",
    "-i",
    `${local.path}/hosts.ini`,
    "web:by-group",
    `${local.path}/by-alias`,
  ]);
  assert.equal(fromGroup.code, 0, fromGroup.stderrText);
  assert.deepEqual(await names(`${local.path}/by-alias`), ["web1", "web2"]);
  assert.deepEqual(await names(`${local.path}/by-alias/web1`), ["by-group"]);

  // One host refusing: the other still gets the file, and the status says so.
  await using refusing = await startServer({ noCopy: true });
  const mixed = await runCli(["cp", `${local.path}/f`, `${refusing.address},${first.address}:g`]);
  assert.equal(mixed.code, 125);
  assert.deepEqual(await Deno.readFile(`${one.path}/g`), noise(5 * 1024 * 1024 + 1));
});

Deno.test("cp: a write that fails on the server (a full disk) leaves the old file and no temporary file", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  // A file size limit of 1 MiB makes every larger write fail as a full disk would; with
  // SIGXFSZ ignored, the write returns an error instead of killing the server.
  const serve = new Deno.Command("sh", {
    args: [
      "-c",
      `trap '' XFSZ; ulimit -f 2048 && exec "$@"`,
      "sh",
      Deno.execPath(),
      "run",
      ...CLI_PERMISSIONS,
      MAIN,
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--copy-root",
      remote.path,
    ],
    env: { REXEC_TOKEN: TOKEN, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logReader = serve.stderr.getReader();
  try {
    const log = await readUntil(logReader, /listening address=\S+\s/);
    const address = log.match(/listening address=(\S+)\s/)![1];
    await Deno.writeTextFile(`${remote.path}/big`, "old");
    await Deno.writeFile(`${local.path}/big`, noise(4 * 1024 * 1024));
    await Deno.writeFile(`${local.path}/small`, noise(1000));
    const result = await runCli(["cp", `${local.path}/big`, `${local.path}/small`, `${address}:`]);
    assert.equal(result.code, 1, result.stderrText);
    assert.match(result.stderrText, /big: .*(too large|File too large|os error 27)/i);
    assert.deepEqual(await names(remote.path), ["big", "small"]);
    assert.equal(await Deno.readTextFile(`${remote.path}/big`), "old");
    assert.deepEqual(await Deno.readFile(`${remote.path}/small`), noise(1000));
  } finally {
    serve.kill("SIGTERM");
    logReader.releaseLock();
    await serve.stderr.cancel().catch(() => {});
    await serve.status;
  }
});
