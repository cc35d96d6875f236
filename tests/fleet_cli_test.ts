/**
 * `rexec run TARGETS` end to end: the CLI as a subprocess against several
 * real servers on loopback ports, with inventories whose aliases all point
 * at them, to reach a few hundred targets.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  processExists,
  readUntil,
  runCli,
  spawnCli,
  startServer,
  type TestServer,
  text,
  waitFor,
  withTempDir,
} from "./helpers.ts";

async function startServers(count: number): Promise<TestServer[] & AsyncDisposable> {
  const servers = await Promise.all(Array.from({ length: count }, () => startServer()));
  return Object.assign(servers, {
    [Symbol.asyncDispose]: async () => {
      await Promise.all(servers.map((server) => server[Symbol.asyncDispose]()));
    },
  });
}

/** An INI inventory: `count` hosts web1… in the group web, spread over the servers. */
function iniInventory(servers: readonly TestServer[], count: number): string {
  const lines = ["[web]"];
  for (let index = 1; index <= count; index++) {
    const port = servers[(index - 1) % servers.length].port;
    lines.push(`web${index} ansible_host=127.0.0.1 rexec_port=${port}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A port nobody listens on. */
function deadPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("fleet CLI: 200 targets from an inventory, each line prefixed and never torn", async () => {
  await using servers = await startServers(4);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/inventory`, iniInventory(servers, 200));
    // Every host writes 2000 numbered lines to stdout and stderr at once, each
    // line carrying the pid of its shell so that a torn line shows.
    const script = 'i=1; while [ $i -le 2000 ]; do echo "$$:$i:xxxxxxxxxxxxxxxxxxxxxxxx"; ' +
      'echo "$$:$i:eeee" >&2; i=$((i+1)); done';
    const result = await runCli(["run", "-i", `${dir}/inventory`, "web", "-n", "-c", script]);
    assert.equal(result.code, 0, result.stderrText.slice(-2000));
    for (
      const [name, output, pattern] of [
        ["stdout", result.stdoutText, /^(web\d+): (\d+):(\d+):x{24}$/],
        ["stderr", result.stderrText, /^(web\d+): (\d+):(\d+):eeee$/],
      ] as const
    ) {
      const next = new Map<string, { pid: string; line: number }>();
      const lines = output.split("\n");
      assert.equal(lines.pop(), "", `${name} ends with a newline`);
      assert.equal(lines.length, 200 * 2000, name);
      for (const line of lines) {
        const match = pattern.exec(line);
        assert.ok(match, `a torn ${name} line: ${JSON.stringify(line)}`);
        const [, host, pid, number] = match;
        const seen = next.get(host) ?? { pid, line: 1 };
        assert.equal(pid, seen.pid, `${host} ${name}: one shell`);
        assert.equal(Number(number), seen.line, `${host} ${name}: lines in order`);
        next.set(host, { pid, line: seen.line + 1 });
      }
      assert.equal(next.size, 200);
    }
  });
});

Deno.test("fleet CLI: exit statuses 0, 3, 4, 5 and 255 with several hosts", async () => {
  await using servers = await startServers(2);
  const hosts = servers.map((server) => server.address).join(",");
  const down = `127.0.0.1:${deadPort()}`;
  const run = (targets: string, ...args: string[]) => runCli(["run", "-n", targets, ...args]);

  assert.equal((await run(hosts, "--", "true")).code, 0);
  assert.equal((await run(hosts, "-c", "exit 2")).code, 5);
  const unreachable = await run(`${hosts},${down}`, "-c", "exit 2");
  assert.equal(unreachable.code, 4);
  assert.match(unreachable.stderrText, new RegExp(`^${down}: rexec: cannot connect`, "m"));
  assert.equal((await run(`${hosts},${down}`, "--timeout", "0.3", "--", "sleep", "30")).code, 3);
  const unknown = await run(`${hosts},no-such-host.invalid`, "--", "true");
  assert.equal(unknown.code, 255);
  assert.match(unknown.stderrText, /unknown host "no-such-host\.invalid"/);
  assert.equal(unknown.stdoutText, "");
});

Deno.test("fleet CLI: --json writes one object per host, text or base64, errors included", async () => {
  await using servers = await startServers(2);
  const down = `127.0.0.1:${deadPort()}`;
  const targets = [...servers.map((server) => server.address), down].join(",");
  const result = await runCli(
    ["run", "-n", "--json", targets, "-c", "printf 'ok\\n'; printf '\\377' >&2; exit 1"],
  );
  assert.equal(result.code, 4);
  assert.equal(result.stderrText, "");
  const lines = result.stdoutText.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.equal(lines.length, 3);
  const keys = [
    "host",
    "address",
    "exit_code",
    "signal",
    "timed_out",
    "error",
    "duration_ms",
  ];
  for (const line of lines) {
    assert.deepEqual(Object.keys(line).slice(0, keys.length), keys);
    assert.equal(typeof line.duration_ms, "number");
    if (line.host === down) {
      assert.equal(line.exit_code, null);
      assert.equal(line.signal, null);
      assert.match(line.error, /connection refused/);
      assert.equal(line.stdout, "");
      assert.equal(line.stderr, "");
    } else {
      assert.equal(line.exit_code, 1);
      assert.equal(line.error, null);
      assert.equal(line.timed_out, false);
      assert.equal(line.stdout, "ok\n");
      assert.equal(line.stderr, undefined);
      assert.equal(line.stderr_base64, "/w==");
    }
  }

  // One host: JSON too, with the single host's exit status.
  const single = await runCli(["run", "-n", "--json", servers[0].address, "-c", "exit 7"]);
  assert.equal(single.code, 7);
  const object = JSON.parse(single.stdoutText);
  assert.equal(object.host, servers[0].address);
  assert.equal(object.exit_code, 7);
});

Deno.test("fleet CLI: local stdin reaches every host; --no-prefix and --collapse", async () => {
  await using servers = await startServers(3);
  const targets = servers.map((server) => server.address).join(",");
  const stdin = new TextEncoder().encode("one\ntwo\n");
  const prefixed = await runCli(["run", targets, "--", "cat"], { stdin });
  assert.equal(prefixed.code, 0);
  const lines = prefixed.stdoutText.trimEnd().split("\n").sort();
  assert.deepEqual(
    lines,
    servers.flatMap((server) => [`${server.address}: one`, `${server.address}: two`]).sort(),
  );

  const raw = await runCli(["run", "--no-prefix", targets, "--", "cat"], { stdin });
  assert.equal(raw.stdoutText, "one\ntwo\n".repeat(3));

  const collapsed = await runCli(["run", "--collapse", targets, "--", "cat"], { stdin });
  assert.match(collapsed.stdoutText, /^-+\n127\.0\.0\.1:\S+ \(3\)\n-+\none\ntwo\n$/);
});

Deno.test("fleet CLI: INI and YAML inventories with groups, children and vars; hosts files", async () => {
  await using servers = await startServers(2);
  const [a, b] = servers;
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/hosts.ini`,
      `[web]\nweb1 ansible_host=127.0.0.1 rexec_port=${a.port}\nweb2 rexec_host=127.0.0.1\n` +
        `[web:vars]\nrexec_port=${b.port}\n[db]\ndb1 ansible_host=127.0.0.1 rexec_port=${a.port}\n` +
        `[prod:children]\nweb\ndb\n`,
    );
    await Deno.writeTextFile(
      `${dir}/hosts.yaml`,
      `all:\n  children:\n    prod:\n      children:\n        web:\n          hosts:\n` +
        `            web1: { ansible_host: 127.0.0.1 }\n            web2:\n              ansible_host: 127.0.0.1\n` +
        `              rexec_port: ${a.port}\n          vars:\n            rexec_port: ${b.port}\n`,
    );
    // Which address each alias reached, from the JSON lines.
    const addresses = async (inventory: string, targets: string) => {
      const result = await runCli(["run", "-n", "-i", inventory, "--json", targets, "--", "true"]);
      assert.equal(result.code, 0, result.stderrText);
      return Object.fromEntries(
        result.stdoutText.trimEnd().split("\n").map((line) => JSON.parse(line))
          .map((line) => [line.host, line.address]),
      );
    };
    assert.deepEqual(await addresses(`${dir}/hosts.ini`, "prod"), {
      web1: a.address,
      web2: b.address,
      db1: a.address,
    });
    assert.deepEqual(await addresses(`${dir}/hosts.yaml`, "all"), {
      web1: b.address,
      web2: a.address,
    });

    // A hosts file, with no TARGETS, mixing an alias and a plain host.
    await Deno.writeTextFile(`${dir}/targets`, `# fleet\nweb1\n\n${a.address}  # by address\n`);
    const listed = await runCli([
      "run",
      "-n",
      "-i",
      `${dir}/hosts.ini`,
      "--hosts-file",
      `${dir}/targets`,
      "--",
      "echo",
      "hi",
    ]);
    assert.equal(listed.code, 0, listed.stderrText);
    assert.deepEqual(listed.stdoutText.split("\n").filter(Boolean).sort(), [
      `${a.address}: hi`,
      "web1: hi",
    ]);
  });
});

Deno.test("fleet CLI: the default inventory names hosts: one alias runs plain, a group prefixed", async () => {
  await using servers = await startServers(2);
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/rexec`);
    await Deno.writeTextFile(`${dir}/rexec/inventory`, iniInventory(servers, 2));
    const env = { XDG_CONFIG_HOME: dir };
    const one = await runCli(["run", "-n", "web1", "--", "echo", "hi"], { env });
    assert.equal(one.code, 0, one.stderrText);
    assert.equal(one.stdoutText, "hi\n");
    const group = await runCli(["run", "-n", "web", "--", "echo", "hi"], { env });
    assert.deepEqual(group.stdoutText.split("\n").filter(Boolean).sort(), ["web1: hi", "web2: hi"]);
    // A plain host the inventory does not name runs as it always has.
    const plain = await runCli(["run", "-n", servers[0].address, "--", "echo", "hi"], { env });
    assert.equal(plain.stdoutText, "hi\n");
  });
});

Deno.test("fleet CLI: Ctrl-C ends the command on every host, waits, and exits 130", async () => {
  await using servers = await startServers(3);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/inventory`, iniInventory(servers, 9));
    const child = spawnCli([
      "run",
      "-n",
      "-i",
      `${dir}/inventory`,
      "web",
      "-c",
      `echo $$ > ${dir}/pid.$$; echo started; exec sleep 60`,
    ]);
    const reader = child.stdout.getReader();
    let seen = "";
    while ((seen.match(/started/g) ?? []).length < 9) {
      seen += await readUntil(reader, "started", 60_000);
    }
    child.kill("SIGINT");
    reader.releaseLock();
    const { code } = await child.output();
    assert.equal(code, 130);
    const pids = [...Deno.readDirSync(dir)].filter((entry) => entry.name.startsWith("pid."));
    assert.equal(pids.length, 9);
    for (const entry of pids) {
      const pid = Number(entry.name.slice(4));
      assert.equal(await processExists(pid), false, `process ${pid} is left`);
    }
  });
});

Deno.test("fleet CLI: a list, a hosts file or a fleet option need TARGETS or a file", async () => {
  const result = await runCli(["run", "--json", "--", "true"]);
  assert.equal(result.code, 255);
  assert.match(result.stderrText, /missing HOST/);
  assert.equal(text(result.stdout), "");
});

Deno.test("fleet CLI: -t with several targets is a usage error and runs nothing", async () => {
  await using servers = await startServers(2);
  await withTempDir(async (dir) => {
    const marker = `${dir}/ran`;
    const hosts = servers.map((server) => server.address).join(",");
    for (const args of [[hosts], [servers[0].address, "--json"]]) {
      const result = await runCli(["run", "-t", ...args, "--", "touch", marker]);
      assert.equal(result.code, 255);
      assert.match(result.stderrText, /-t gives one host a terminal/);
      assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
    }
  });
});

Deno.test("fleet CLI: --parallel N: never more than N commands at once, as the servers see them", async () => {
  await using servers = await startServers(3);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/inventory`, iniInventory(servers, 12));
    const log = `${dir}/log`;
    const result = await runCli([
      "run",
      "-n",
      "-i",
      `${dir}/inventory`,
      "--parallel",
      "2",
      "web",
      "-c",
      `echo start >> ${log}; sleep 0.1; echo end >> ${log}`,
    ]);
    assert.equal(result.code, 0, result.stderrText);
    const lines = (await Deno.readTextFile(log)).trim().split("\n");
    assert.equal(lines.length, 24);
    let running = 0;
    for (const line of lines) {
      running += line === "start" ? 1 : -1;
      assert.ok(running <= 2, `${running} commands ran at once`);
    }
  });
});

Deno.test("fleet CLI: when the reader of stdout goes away, every host is ended and rexec exits 141", async () => {
  await using servers = await startServers(2);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/inventory`, iniInventory(servers, 40));
    const child = spawnCli([
      "run",
      "-n",
      "-i",
      `${dir}/inventory`,
      "--parallel",
      "4",
      "web",
      "-c",
      `echo $$ > ${dir}/pid.$$; exec yes`,
    ]);
    const reader = child.stdout.getReader();
    await readUntil(reader, "y\n", 60_000);
    await reader.cancel();
    const [{ code }, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    assert.equal(code, 141);
    assert.match(stderr, /rexec: \d+ not started: web\[/);
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.name.startsWith("pid.")) continue;
      const pid = Number(entry.name.slice(4));
      assert.ok(
        await waitFor(async () => !await processExists(pid), 30_000),
        `process ${pid} is left`,
      );
    }
  });
});
