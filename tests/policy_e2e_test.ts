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

Deno.test("with --allow, client variables are refused unless --env-allow names them: an allowed program cannot be made to run another", async () => {
  // The shape of issue 10's py3versions repro without needing Python: an
  // allowed program that runs whatever a variable names.
  const dir = await Deno.makeTempDir({ prefix: "rexec_env_allow_" });
  const opener = `${dir}/open-docs`;
  await Deno.writeTextFile(opener, '#!/bin/sh\nexec ${BROWSER:-true} "$@"\n');
  await Deno.chmod(opener, 0o755);
  const server = await startCliServer(["--allow", opener, "--allow", "printenv"]);
  try {
    const hijacked = await runCli([
      "run",
      "-n",
      "-e",
      "BROWSER=echo escaped the allowlist",
      server.address,
      "--",
      opener,
    ]);
    assert.equal(hijacked.code, 125, hijacked.stdoutText);
    assert.equal(hijacked.stdoutText, "");
    assert.match(hijacked.stderrText, /^rexec: environment variable BROWSER .*--env-allow BROWSER/);
    for (
      const assignment of [
        "PYTHONWARNINGS=all:0:antigravity.x:0:0",
        "SYSTEMD_EDITOR=/tmp/x",
        "GIT_DIR=/tmp",
        "FOO=bar",
      ]
    ) {
      const name = assignment.slice(0, assignment.indexOf("="));
      const refused = await runCli([
        "run",
        "-n",
        "-e",
        assignment,
        server.address,
        "--",
        "printenv",
      ]);
      assert.equal(refused.code, 125, `${name}: ${refused.stderrText}`);
      assert.match(refused.stderrText, new RegExp(`--env-allow ${name}\\b`));
    }
    const harmless = await runCli([
      "run",
      "-n",
      "-e",
      "TERM=xterm-256color",
      "-e",
      "LANG=C.UTF-8",
      "-e",
      "LC_ALL=C",
      server.address,
      "--",
      "printenv",
      "TERM",
      "LANG",
      "LC_ALL",
    ]);
    assert.deepEqual([harmless.code, harmless.stdoutText], [0, "xterm-256color\nC.UTF-8\nC\n"]);
  } finally {
    await server.stop();
  }
  const listed = await startCliServer(["--allow", "printenv", "--env-allow", "FOO"]);
  try {
    const foo = await runCli([
      "run",
      "-n",
      "-e",
      "FOO=bar",
      listed.address,
      "--",
      "printenv",
      "FOO",
    ]);
    assert.deepEqual([foo.code, foo.stdoutText], [0, "bar\n"]);
    const term = await runCli(["run", "-n", "-e", "TERM=xterm", listed.address, "--", "printenv"]);
    assert.equal(term.code, 125);
    assert.match(term.stderrText, /allowed: FOO; .*--env-allow TERM/);
  } finally {
    await listed.stop();
    await Deno.remove(dir, { recursive: true });
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
