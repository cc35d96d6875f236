import assert from "node:assert/strict";
import { currentUser, lookupUser } from "../lib/server/user.ts";
import { type CliOptions, runCli, startCliServer, TOKEN } from "./helpers.ts";

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

Deno.test("rexec serve with --allow refuses client variables unless --env-allow names them: an allowed program cannot be made to run another", async () => {
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

Deno.test("rexec serve with an --audit-log it cannot open stops with one rexec: line and leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rexec_audit_cli_" });
  try {
    const env = { XDG_CONFIG_HOME: `${dir}/config` };
    for (
      const [path, reason] of [
        [`${dir}/missing/audit.jsonl`, `the directory ${dir}/missing does not exist`],
        [dir, "is a directory"],
      ]
    ) {
      const result = await runCli(["serve", "--listen", "127.0.0.1:0", "--audit-log", path], {
        token: null,
        env,
      });
      assert.equal(result.code, 255);
      const lines = result.stderrText.trimEnd().split("\n");
      assert.equal(lines.length, 1, result.stderrText);
      assert.ok(lines[0].startsWith(`rexec: cannot open the audit log ${path}: `), lines[0]);
      assert.ok(lines[0].includes(reason), lines[0]);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no directory, token file or log was made");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "rexec serve fails closed while its audit log cannot be written (/dev/full), and --audit-fail open runs commands",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const closed = await startCliServer(["--audit-log", "/dev/full"], {
      permissions: ["--allow-all"],
    });
    let log: string;
    try {
      for (let i = 0; i < 3; i++) {
        const refused = await runCli(["run", "-n", closed.address, "--", "echo", "unaudited"]);
        assert.equal(refused.code, 125);
        assert.equal(refused.stdoutText, "");
        assert.match(refused.stderrText, /^rexec: the server cannot write its audit log/);
      }
    } finally {
      log = (await closed.stop()).log;
    }
    const errors = log.split("\n").filter((line) => line.includes("cannot write the audit log"));
    assert.equal(errors.length, 1, log);
    assert.match(errors[0], /ERROR .*refusing new commands.*No space left on device/);

    const open = await startCliServer(["--audit-log", "/dev/full", "--audit-fail", "open"], {
      permissions: ["--allow-all"],
    });
    try {
      const ran = await runCli(["run", "-n", open.address, "--", "echo", "unaudited"]);
      assert.deepEqual([ran.code, ran.stdoutText], [0, "unaudited\n"]);
    } finally {
      log = (await open.stop()).log;
    }
    assert.match(log, /cannot write the audit log: commands keep running, unaudited/);
  },
});

Deno.test("rexec serve reopens its --audit-log on SIGHUP: after a rename, new records go to a new file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rexec_audit_rotate_" });
  const file = `${dir}/audit.jsonl`;
  const read = async (path: string) =>
    (await Deno.readTextFile(path)).trim().split("\n").map((line) => JSON.parse(line));
  try {
    const server = await startCliServer(["--audit-log", file]);
    try {
      assert.equal((await runCli(["run", "-n", server.address, "--", "echo", "one"])).code, 0);
      await Deno.rename(file, `${file}.1`);
      server.signal("SIGHUP");
      await server.waitForLog("reopened the audit log");
      assert.equal((await runCli(["run", "-n", server.address, "--", "echo", "two"])).code, 0);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
    const argv = (records: { argv?: string[] }[]) =>
      records.flatMap((record) => record.argv ? [record.argv.join(" ")] : []);
    assert.deepEqual(argv(await read(`${file}.1`)), ["echo one"]);
    assert.deepEqual(argv(await read(file)), ["echo two"]);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
