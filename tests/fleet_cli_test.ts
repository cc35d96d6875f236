/**
 * `rexec run TARGETS` end to end: the CLI as a subprocess against several
 * real servers on loopback ports, with inventories whose aliases all point
 * at them, to reach a few hundred targets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CommandPolicy } from "../lib/server/policy.ts";
import {
  CLI_PERMISSIONS,
  MAIN,
  processExists,
  readUntil,
  runCli,
  spawnCli,
  startServer,
  type TestServer,
  text,
  TOKEN,
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

Deno.test("fleet CLI: hosts that each name a token file need no default token, and a bad --token-file still stops the run", async () => {
  const tokens = ["first-host-token-of-some-length", "second-host-token-of-some-length"];
  await using a = await startServer({ token: tokens[0] });
  await using b = await startServer({ token: tokens[1] });
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a-token`, `${tokens[0]}\n`, { mode: 0o600 });
    await Deno.writeTextFile(`${dir}/b-token`, `${tokens[1]}\n`, { mode: 0o600 });
    await Deno.writeTextFile(
      `${dir}/inventory`,
      `[web]\nweb1 ansible_host=127.0.0.1 rexec_port=${a.port} rexec_token_file=a-token\n` +
        `web2 ansible_host=127.0.0.1 rexec_port=${b.port} rexec_token_file=b-token\n`,
    );
    // No REXEC_TOKEN and an empty configuration directory: no default token anywhere.
    const env = { XDG_CONFIG_HOME: `${dir}/empty-config` };
    const result = await runCli(
      ["run", "-n", "-i", `${dir}/inventory`, "web", "--", "echo", "hi"],
      { token: null, env },
    );
    assert.equal(result.code, 0, result.stderrText);
    assert.deepEqual(result.stdoutText.split("\n").filter(Boolean).sort(), [
      "web1: hi",
      "web2: hi",
    ]);

    // A --token-file others can read is warned about once, however many hosts use it.
    await Deno.writeTextFile(`${dir}/shared-token`, `${TOKEN}\n`);
    await Deno.chmod(`${dir}/shared-token`, 0o644);
    await using c = await startServer();
    await using d = await startServer();
    const shared = await runCli(
      ["run", "-n", "--token-file", `${dir}/shared-token`, `${c.address},${d.address}`, "true"],
      { token: null, env },
    );
    assert.equal(shared.code, 0, shared.stderrText);
    assert.equal(shared.stderrText.match(/warning: token file/g)?.length, 1, shared.stderrText);

    const missing = await runCli(
      ["run", "-n", "--token-file", `${dir}/no-such-token`, `${c.address},${d.address}`, "true"],
      { token: null, env },
    );
    assert.equal(missing.code, 255);
    assert.match(missing.stderrText, /no-such-token/);
  });
});

Deno.test("fleet CLI: a --ca or rexec_ca that holds no certificate stops the run before anything ran, said once", async () => {
  await using servers = await startServers(2);
  const hosts = servers.map((server) => server.address).join(",");
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/key.pem`,
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    for (
      const [caFile, says] of [
        [`${dir}/key.pem`, /it is a private key/],
        [`${dir}/missing.pem`, /cannot read the CA certificate/],
      ] as const
    ) {
      const result = await runCli(["run", "-n", "--ca", caFile, hosts, "--", "echo", "ran"]);
      assert.equal(result.code, 255, result.stderrText);
      assert.equal(result.stdoutText, "");
      assert.equal(result.stderrText.match(/^rexec: /gm)?.length, 1, result.stderrText);
      assert.match(result.stderrText, says);
    }
    await Deno.writeTextFile(
      `${dir}/inventory`,
      `[web]\nweb1 ansible_host=127.0.0.1 rexec_port=${servers[0].port}\n` +
        `web2 ansible_host=127.0.0.1 rexec_port=${servers[1].port}\n[web:vars]\nrexec_ca=key.pem\n`,
    );
    const inventory = await runCli(["run", "-n", "-i", `${dir}/inventory`, "web", "echo", "ran"]);
    assert.equal(inventory.code, 255, inventory.stderrText);
    assert.equal(inventory.stdoutText, "");
    assert.match(inventory.stderrText, /key\.pem is not a PEM certificate \(it is a private key/);
  });
});

Deno.test({
  name:
    "fleet CLI: local stdout that cannot be written (a full disk) is an error exiting 255, in every output form",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await using servers = await startServers(2);
    const hosts = servers.map((server) => server.address).join(",");
    for (const form of [[], ["--json"], ["--no-prefix"], ["--collapse"]]) {
      // The shell gives rexec /dev/full as its stdout: every write fails with ENOSPC.
      const { code, stderr } = await new Deno.Command("sh", {
        args: [
          "-c",
          'exec "$@" > /dev/full',
          "sh",
          Deno.execPath(),
          "run",
          ...CLI_PERMISSIONS,
          MAIN,
          "run",
          "-n",
          ...form,
          hosts,
          "--",
          "echo",
          "hi",
        ],
        env: { REXEC_TOKEN: TOKEN, NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
      const message = text(stderr);
      assert.equal(code, 255, `${form}: ${message}`);
      assert.match(message, /^rexec: cannot write to local stdout: /m, `${form}`);
    }
  },
});

Deno.test("fleet CLI: with stdout and stderr on one pipe (2>&1), lines of both are never torn", async () => {
  await using servers = await startServers(3);
  const hosts = servers.map((server) => server.address).join(",");
  const script =
    'i=0; while [ $i -lt 20000 ]; do echo "out-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; ' +
    'echo "err-$i-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" >&2; i=$((i+1)); done';
  const { code, stdout } = await new Deno.Command("sh", {
    args: [
      "-c",
      'exec "$@" 2>&1',
      "sh",
      Deno.execPath(),
      "run",
      ...CLI_PERMISSIONS,
      MAIN,
      "run",
      "-n",
      hosts,
      "-c",
      script,
    ],
    env: { REXEC_TOKEN: TOKEN, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(code, 0);
  const lines = text(stdout).split("\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines.length, 3 * 2 * 20000);
  const next = new Map<string, number>();
  for (const line of lines) {
    const match = /^(127\.0\.0\.1:\d+): (out|err)-(\d+)-(x{32}|y{32})$/.exec(line);
    assert.ok(match, `a torn line: ${JSON.stringify(line)}`);
    const key = `${match[1]} ${match[2]}`;
    assert.equal(Number(match[3]), next.get(key) ?? 0, `${key}: in order`);
    next.set(key, Number(match[3]) + 1);
  }
});

Deno.test("fleet CLI: two --hosts-file options run the hosts of both", async () => {
  await using servers = await startServers(2);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/first`, `${servers[0].address}\n`);
    await Deno.writeTextFile(`${dir}/second`, `${servers[1].address}\n`);
    const result = await runCli([
      "run",
      "-n",
      "--hosts-file",
      `${dir}/first`,
      "--hosts-file",
      `${dir}/second`,
      "--",
      "echo",
      "hi",
    ]);
    assert.equal(result.code, 0, result.stderrText);
    assert.deepEqual(
      result.stdoutText.split("\n").filter(Boolean).sort(),
      servers.map((server) => `${server.address}: hi`).sort(),
    );
  });
});

Deno.test("fleet CLI: one host with --json exits as a plain run would: 125 when the server refuses", async () => {
  await using server = await startServer({
    policy: await CommandPolicy.create({ allow: ["true"] }),
  });
  const refused = await runCli(["run", "-n", "--json", server.address, "--", "false"]);
  assert.equal(refused.code, 125);
  const [line] = refused.stdoutText.trimEnd().split("\n").map((text) => JSON.parse(text));
  assert.equal(line.exit_code, null);
  assert.match(line.error, /not allowed|refuse/);
  assert.equal((await runCli(["run", "-n", "--json", server.address, "--", "true"])).code, 0);
});
