import assert from "node:assert/strict";
import { currentUser, lookupUser } from "../lib/user.ts";
import { type CliOptions, readUntil, runCli, spawnCli, TOKEN } from "./helpers.ts";

/** Starts `rexec serve ARGS` on a free loopback port; returns its address and a stop function. */
async function startCliServer(args: readonly string[], options: CliOptions = {}) {
  const serve = spawnCli(["serve", "--listen", "127.0.0.1:0", ...args], options);
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

/** Runs a command as nobody through `rexec serve --user nobody`, started as `options` say. */
async function checkUserNobody(options: CliOptions = {}): Promise<void> {
  const nobody = await lookupUser("nobody");
  // nobody's home is /nonexistent on most systems: then commands start in /.
  const homeExists = (await Deno.stat(nobody.home).catch(() => null))?.isDirectory === true;
  const server = await startCliServer(["--user", "nobody"], options);
  let log = "";
  try {
    const result = await runCli(["run", server.address, "-c", 'id -u; id -G; echo "$HOME"; pwd']);
    assert.equal(result.code, 0, result.stderrText);
    const [uid, groups, home, cwd] = result.stdoutText.split("\n");
    assert.equal(uid, "65534");
    assert.ok(!groups.split(" ").includes("0"), `root group kept: ${groups}`);
    assert.equal(home, nobody.home);
    assert.equal(cwd, homeExists ? nobody.home : "/");
  } finally {
    ({ log } = await server.stop());
  }
  if (!homeExists) assert.match(log, /cannot start in the home directory/);
}

Deno.test({
  name: `rexec serve --user runs commands as that user${
    root ? "" : " (skipped: needs a server running as root)"
  }`,
  ignore: !root,
  fn: () => checkUserNobody(),
});

Deno.test({
  name: `rexec serve --user works from a directory that user cannot enter${
    root ? "" : " (skipped: needs a server running as root)"
  }`,
  ignore: !root,
  fn: async () => {
    // A clone inside `mktemp -d`: mode 0700, closed to every other user.
    const dir = await Deno.makeTempDir();
    try {
      assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
      await checkUserNobody({ cwd: dir });
    } finally {
      await Deno.remove(dir);
    }
  },
});

Deno.test("rexec serve starts commands in the home of its own account, with its variables", async () => {
  const own = await currentUser();
  const server = await startCliServer([]);
  try {
    const result = await runCli([
      "run",
      server.address,
      "-c",
      'pwd; echo "$HOME|$USER|$LOGNAME|$SHELL"',
    ]);
    assert.equal(result.code, 0, result.stderrText);
    const shell = own.shell === "" ? "/bin/sh" : own.shell;
    assert.equal(result.stdoutText, `${own.home}\n${own.home}|${own.name}|${own.name}|${shell}\n`);
  } finally {
    await server.stop();
  }
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
