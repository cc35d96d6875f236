import assert from "node:assert/strict";
import { readUntil, runCli, spawnCli, TOKEN } from "./helpers.ts";

/** Starts `rexec serve ARGS` on a free loopback port; returns its address and a stop function. */
async function startCliServer(args: readonly string[]) {
  const serve = spawnCli(["serve", "--listen", "127.0.0.1:0", ...args]);
  const logReader = serve.stderr.getReader();
  const log = await readUntil(logReader, /listening address=\S+\s/);
  const address = log.match(/listening address=(\S+)\s/)![1];
  return {
    address,
    log,
    async stop() {
      serve.kill("SIGTERM");
      logReader.releaseLock();
      const { code, stderr } = await serve.output();
      return { code, log: log + new TextDecoder().decode(stderr) };
    },
  };
}

Deno.test("rexec serve --allow runs only the listed programs; refusals exit 125 with a reason", async () => {
  const server = await startCliServer(["--allow", "echo", "--allow", "/bin/sh"]);
  try {
    const allowed = await runCli(["run", server.address, "--", "echo", "ok"]);
    assert.deepEqual([allowed.code, allowed.stdoutText], [0, "ok\n"]);
    const refused = await runCli(["run", server.address, "--", "cat", "/etc/hostname"]);
    assert.equal(refused.code, 125);
    assert.match(refused.stderrText, /^rexec: "cat" .*not allowed on this server/);
    const shell = await runCli(["run", server.address, "-c", "echo via shell"]);
    assert.deepEqual([shell.code, shell.stdoutText], [0, "via shell\n"]);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
  const noShell = await startCliServer(["--allow", "echo"]);
  try {
    const refused = await runCli(["run", noShell.address, "-c", "echo hi"]);
    assert.equal(refused.code, 125);
    assert.match(refused.stderrText, /--allow \/bin\/sh/);
  } finally {
    await noShell.stop();
  }
});

Deno.test("rexec serve refuses PATH and LD_PRELOAD from clients unless --env-allow names them, and hides its token", async () => {
  const server = await startCliServer([]);
  try {
    for (const name of ["PATH", "LD_PRELOAD"]) {
      const refused = await runCli(["run", server.address, "-e", `${name}=/tmp`, "--", "true"]);
      assert.equal(refused.code, 125);
      assert.match(refused.stderrText, new RegExp(`${name}.*--env-allow ${name}`));
    }
    const fine = await runCli([
      "run",
      server.address,
      "-e",
      "GREETING=hi",
      "-c",
      'echo "$GREETING"',
    ]);
    assert.deepEqual([fine.code, fine.stdoutText], [0, "hi\n"]);
  } finally {
    await server.stop();
  }
  const listed = await startCliServer(["--env-allow", "GREETING"]);
  try {
    const fine = await runCli(["run", listed.address, "-e", "GREETING=hi", "--", "true"]);
    assert.equal(fine.code, 0);
    const other = await runCli(["run", listed.address, "-e", "OTHER=x", "--", "true"]);
    assert.equal(other.code, 125);
  } finally {
    await listed.stop();
  }
});

const root = Deno.uid() === 0;

Deno.test({
  name: `rexec serve --user runs commands as that user${
    root ? "" : " (skipped: needs a server running as root)"
  }`,
  ignore: !root,
  fn: async () => {
    const server = await startCliServer(["--user", "nobody"]);
    try {
      const result = await runCli(["run", server.address, "-c", 'id -u; id -G; echo "$HOME"']);
      assert.equal(result.code, 0, result.stderrText);
      const [uid, groups] = result.stdoutText.split("\n");
      assert.equal(uid, "65534");
      assert.ok(!groups.split(" ").includes("0"), `root group kept: ${groups}`);
    } finally {
      await server.stop();
    }
  },
});

Deno.test("rexec serve --audit-log writes one JSON record per event and never the token", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/audit.jsonl`;
  try {
    const server = await startCliServer(["--audit-log", file]);
    await runCli(["run", server.address, "--", "echo", "audited"]);
    await server.stop();
    const records = (await Deno.readTextFile(file)).trim().split("\n").map((line) =>
      JSON.parse(line)
    );
    assert.deepEqual(records.map((record) => record.event), [
      "connect",
      "auth",
      "exec",
      "exit",
      "disconnect",
    ]);
    assert.deepEqual(records[2].argv, ["echo", "audited"]);
    assert.equal(records[3].code, 0);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const raw = await Deno.readTextFile(file);
    assert.ok(!raw.includes(TOKEN));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
