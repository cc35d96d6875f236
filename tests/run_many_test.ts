/**
 * runMany against several real servers on loopback ports: results per host,
 * an unreachable host among good ones, --parallel seen from the servers,
 * stdin copied to every host, and cancelling that leaves no process.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type HostResult, runMany } from "../lib/fleet/run_many.ts";
import type { Target } from "../lib/fleet/targets.ts";
import { CommandPolicy } from "../lib/server/policy.ts";
import {
  processExists,
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

/** `count` targets named h1, h2, … spread over the servers in turn. */
function aliases(servers: readonly TestServer[], count: number): Target[] {
  return Array.from({ length: count }, (_, index) => ({
    name: `h${index + 1}`,
    hostname: "127.0.0.1",
    port: servers[index % servers.length].port,
  }));
}

async function collect(results: AsyncIterable<HostResult>): Promise<HostResult[]> {
  const all: HostResult[] = [];
  for await (const result of results) all.push(result);
  return all;
}

Deno.test("runMany: one result per host, an unreachable one among them with its error", async () => {
  await using servers = await startServers(3);
  // A port nobody listens on: bound, then closed.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = closed.addr.port;
  closed.close();
  const targets = [
    ...aliases(servers, 6),
    { name: "down", hostname: "127.0.0.1", port: deadPort },
  ];
  const results = await collect(
    runMany(targets, { shell: "echo out; echo err >&2; exit 3" }, { token: TOKEN }),
  );
  assert.equal(results.length, 7);
  const byHost = new Map(results.map((result) => [result.host, result]));
  for (let index = 1; index <= 6; index++) {
    const result = byHost.get(`h${index}`)!;
    assert.equal(result.exitCode, 3);
    assert.equal(result.error, null);
    assert.equal(result.signal, null);
    assert.equal(result.timedOut, false);
    assert.equal(text(result.stdout), "out\n");
    assert.equal(text(result.stderr), "err\n");
    assert.ok(result.durationMs >= 0);
  }
  const down = byHost.get("down")!;
  assert.equal(down.exitCode, null);
  assert.equal(down.signal, null);
  assert.match(down.error!, /connection refused/);
  assert.equal(down.address, `127.0.0.1:${deadPort}`);
});

Deno.test("runMany: never more commands running than parallel, as the servers see them", async () => {
  await using servers = await startServers(3);
  await withTempDir(async (dir) => {
    const log = `${dir}/log`;
    // Each command appends a start and an end line: small appends are atomic.
    const script = `echo start >> ${log}; sleep 0.2; echo end >> ${log}`;
    const results = await collect(
      runMany(aliases(servers, 12), { shell: script }, { token: TOKEN, parallel: 3 }),
    );
    assert.deepEqual(results.map((result) => result.exitCode), Array(12).fill(0));
    const lines = (await Deno.readTextFile(log)).trim().split("\n");
    assert.equal(lines.length, 24);
    let running = 0;
    let most = 0;
    for (const line of lines) {
      running += line === "start" ? 1 : -1;
      most = Math.max(most, running);
    }
    assert.ok(most <= 3, `${most} commands ran at once`);
  });
});

Deno.test("runMany: every host reads its own whole copy of stdin, end of file included", async () => {
  await using servers = await startServers(2);
  const bytes = new Uint8Array(1024 * 1024).map((_, index) => (index * 7) % 251);
  const stdin = new Blob([bytes]).stream();
  const results = await collect(
    runMany(aliases(servers, 6), ["cksum"], { token: TOKEN, stdin, parallel: 2 }),
  );
  const local = await new Deno.Command("cksum", { stdin: "piped", stdout: "piped" }).spawn();
  const writer = local.stdin.getWriter();
  await writer.write(bytes);
  await writer.close();
  const expected = text((await local.output()).stdout);
  assert.equal(results.length, 6);
  for (const result of results) assert.equal(text(result.stdout), expected, result.host);
});

Deno.test("runMany: aborting ends every running command, waits for its end, and starts no more", async () => {
  await using servers = await startServers(2);
  await withTempDir(async (dir) => {
    const stop = new AbortController();
    const started: string[] = [];
    const results: HostResult[] = [];
    const run = (async () => {
      for await (
        const result of runMany(aliases(servers, 6), {
          shell: `echo $$ > ${dir}/$$; exec sleep 60`,
        }, {
          token: TOKEN,
          parallel: 4,
          signal: stop.signal,
          onOutput: () => undefined,
          onStart: (target) => started.push(target.name),
        })
      ) {
        results.push(result);
      }
    })();
    // Wait until four commands run: their pid files exist.
    assert.ok(await waitFor(() => [...Deno.readDirSync(dir)].length === 4, 60_000));
    stop.abort();
    await run;
    assert.equal(results.length, 6);
    const ran = results.filter((result) => result.error === null);
    assert.equal(ran.length, 4);
    for (const result of ran) {
      assert.equal(result.signal, "SIGTERM");
      assert.equal(result.exitCode, 143);
    }
    const skipped = results.filter((result) => result.error !== null);
    assert.equal(skipped.length, 2);
    for (const result of skipped) assert.match(result.error!, /^not started/);
    assert.equal(started.length, 4);
    for (const entry of Deno.readDirSync(dir)) {
      assert.equal(await processExists(Number(entry.name)), false, `process ${entry.name} is left`);
    }
  });
});

Deno.test("runMany: breaking out of the loop ends the commands still running", async () => {
  await using servers = await startServers(1);
  await withTempDir(async (dir) => {
    const targets = aliases(servers, 3);
    for await (
      const result of runMany(
        targets,
        {
          shell:
            `if [ -e ${dir}/first ]; then echo $$ > ${dir}/$$; exec sleep 60; fi; touch ${dir}/first`,
        },
        { token: TOKEN, parallel: 1 },
      )
    ) {
      assert.equal(result.exitCode, 0);
      break;
    }
    // Nothing left running: the second host, if it started, was ended.
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.name === "first") continue;
      assert.equal(await processExists(Number(entry.name)), false);
    }
  });
});

Deno.test("runMany: a command the server refuses is that host's error, said once, without the host's name again", async () => {
  await using strict = await startServer({
    policy: await CommandPolicy.create({ allow: ["echo"], path: "/usr/bin:/bin" }),
  });
  const [result] = await collect(runMany([strict.address], ["true"], { token: TOKEN }));
  assert.equal(result.exitCode, null);
  assert.match(result.error!, /^"true" \(\S+\) is not allowed on this server/);
});

Deno.test("runMany: local stdin that fails to read ends each command, and each result says why", async () => {
  await using servers = await startServers(2);
  const stdin = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("some\n"));
    },
    pull(controller) {
      controller.error(new Error("the disk went away"));
    },
  });
  const results = await collect(
    runMany(aliases(servers, 2), ["sh", "-c", "cat; echo done"], { token: TOKEN, stdin }),
  );
  assert.equal(results.length, 2);
  for (const result of results) {
    assert.equal(result.exitCode, null);
    assert.equal(result.error, "reading local stdin failed: the disk went away");
    assert.doesNotMatch(text(result.stdout), /done/);
  }
});
