import assert from "node:assert/strict";
import { TOKEN } from "./helpers.ts";

const MOD = new URL("../lib/mod.ts", import.meta.url).href;

/**
 * Runs `source`, a module importing the library as another project would,
 * with only the Deno permissions in `permissions`; returns what it printed.
 */
async function runWith(permissions: string[], source: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rexec_permissions_test_" });
  try {
    const script = `${dir}/script.ts`;
    await Deno.writeTextFile(script, source);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...permissions, script],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    assert.equal(decoder.decode(stderr), "");
    assert.equal(code, 0);
    return decoder.decode(stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serve() without --allow-run: commands end 126 with the reason, and the server logs it", async () => {
  const output = await runWith(
    ["--allow-net=127.0.0.1"],
    `import { connect, serve } from ${JSON.stringify(MOD)};
const token = ${JSON.stringify(TOKEN)};
const warnings: unknown[] = [];
const logger = (record: { level: string }) => {
  if (record.level !== "info") warnings.push(record);
};
await using server = await serve({ token, hostname: "127.0.0.1", port: 0, logger });
await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
const status = await client.spawn(["echo", "hi"]).status;
console.log(JSON.stringify({ status, warnings }));
`,
  );
  const { status, warnings } = JSON.parse(output);
  const message = "echo: cannot execute: the server process may not run it " +
    "(Deno's run permission: start the server with --allow-run)";
  assert.deepEqual(status, {
    success: false,
    code: 126,
    signal: null,
    reason: "spawn_failed",
    message,
  });
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.equal(warnings[0].level, "warn");
  assert.equal(warnings[0].message, message);
  assert.deepEqual(warnings[0].fields.argv, ["echo", "hi"]);
});

Deno.test("serve() and connect() without --allow-net fail with a ConnectionError naming --allow-net", async () => {
  const output = await runWith(
    [],
    `import { connect, ConnectionError, serve } from ${JSON.stringify(MOD)};
const token = ${JSON.stringify(TOKEN)};
for (const attempt of [
  () => serve({ token, hostname: "127.0.0.1", port: 0 }),
  () => connect({ hostname: "127.0.0.1", port: 7022, token }),
]) {
  try {
    await attempt();
    console.log("no error");
  } catch (error) {
    console.log(error instanceof ConnectionError, (error as Error).message);
  }
}
`,
  );
  const lines = output.trimEnd().split("\n");
  assert.equal(lines.length, 2, output);
  assert.match(lines[0], /^true cannot listen on 127\.0\.0\.1:0: .*--allow-net/);
  assert.match(lines[1], /^true cannot connect to 127\.0\.0\.1:7022: .*--allow-net/);
});
