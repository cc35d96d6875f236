import assert from "node:assert/strict";
import type { RunAs } from "../lib/server/command.ts";
import { CommandPolicy } from "../lib/server/policy.ts";
import { findSetsid, spawnProcess } from "../lib/server/process.ts";
import { canonicalProgramPath } from "../lib/server/program_search.ts";
import { settlesWithin } from "../lib/util/deadline.ts";
import { connectTo, processExists, readUntil, startServer, text, waitFor } from "./helpers.ts";

const setsid = await findSetsid();
const noSetsid = "path" in setsid ? undefined : setsid.reason;
const needsSetsid = noSetsid === undefined ? "" : ` (skipped: ${noSetsid})`;

/** A `sleep` no other test, nor another checkout's suite, runs at the same time. */
function uniqueSleep(): string[] {
  return ["sleep", `4242.${crypto.getRandomValues(new Uint32Array(1))[0]}`];
}

/** The pids whose whole command line is `argv`, as `pgrep -f '^...$'` finds them. */
async function pgrepExact(argv: readonly string[]): Promise<number[]> {
  const pattern = `^${argv.join(" ").replaceAll(".", "\\.")}$`;
  const { stdout } = await new Deno.Command("pgrep", { args: ["-f", pattern], stdout: "piped" })
    .output();
  return text(stdout).split("\n").filter((line) => line !== "").map(Number);
}

async function processIds(pid: number): Promise<{ sid: number; uid: number }> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "sid=,uid=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  const [sid, uid] = text(stdout).trim().split(/\s+/).map(Number);
  return { sid, uid };
}

const root = Deno.uid() === 0;
const nobody: RunAs = {
  uid: 65534,
  gid: 65534,
  home: "/",
  env: { HOME: "/", USER: "nobody", LOGNAME: "nobody", SHELL: "/bin/sh" },
};

for (const variant of ["", "with an allowlist", "as another user"]) {
  const skip = noSetsid !== undefined
    ? needsSetsid
    : variant === "as another user" && !root
    ? " (skipped: needs a server running as root)"
    : "";
  Deno.test({
    name: `a command keeps argv[0] as given, so pgrep -f finds it${
      variant ? `, ${variant}` : ""
    }${skip}`,
    ignore: skip !== "",
    fn: async () => {
      await using server = await startServer({
        ...(variant === "with an allowlist"
          ? { policy: await CommandPolicy.create({ allow: ["sleep"] }) }
          : {}),
        ...(variant === "as another user" ? { runAs: nobody } : {}),
      });
      await using client = await connectTo(server);
      const argv = uniqueSleep();
      const child = client.spawn(argv, { stdout: "null", stderr: "null" });
      try {
        let pids: number[] = [];
        assert.ok(await waitFor(async () => (pids = await pgrepExact(argv)).length === 1));
        const [pid] = pids;
        // Deno reads /proc/PID files only with --allow-all.
        const cat = await new Deno.Command("cat", {
          args: [`/proc/${pid}/cmdline`],
          stdout: "piped",
        })
          .output();
        assert.equal(text(cat.stdout), `${argv.join("\0")}\0`);
        const { sid, uid } = await processIds(pid);
        // It leads a session of its own, as it did when Deno made the session.
        assert.equal(sid, pid);
        assert.equal(uid, variant === "as another user" ? nobody.uid : Deno.uid());
      } finally {
        child.kill("SIGKILL");
      }
      assert.equal((await child.status).signal, "SIGKILL");
      assert.ok(await waitFor(async () => (await pgrepExact(argv)).length === 0));
    },
  });
}

Deno.test({
  name:
    `through setsid, a missing program is 127 and one that cannot run 126, said by the server${needsSetsid}`,
  ignore: noSetsid !== undefined,
  fn: async () => {
    await using server = await startServer();
    await using client = await connectTo(server);
    const missing = await client.spawn(["rexec-no-such-program"]).output();
    assert.equal(missing.code, 127);
    assert.equal(missing.reason, "spawn_failed");
    assert.equal(missing.message, "rexec-no-such-program: command not found");
    assert.equal(text(missing.stderr), "");
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/plain`, "not a program\n");
      const denied = await client.spawn([`${dir}/plain`]).output();
      assert.equal(denied.code, 126);
      assert.equal(denied.reason, "spawn_failed");
      assert.equal(denied.message, `${dir}/plain: cannot execute: permission denied`);
      assert.equal(text(denied.stderr), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assert.ok(!server.logs.some((record) => record.message.includes("fork of the whole server")));
  },
});

Deno.test({
  name: `through setsid, a name whose only file on PATH has no execute bit is 126${needsSetsid}`,
  ignore: noSetsid !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/plain`, "not a program\n");
      const denied = () =>
        spawnProcess({
          argv: ["plain"],
          env: { PATH: `${dir}:/rexec/no/such/dir` },
          stdin: "null",
          stdout: "null",
          stderr: "null",
          setsid: (setsid as { path: string }).path,
        });
      assert.throws(denied, (error: Error & { exitCode?: number }) => {
        assert.equal(error.exitCode, 126);
        assert.equal(error.message, "plain: cannot execute: permission denied");
        return true;
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    `terminating a command right after it started ends it, before setsid made its group${needsSetsid}`,
  ignore: noSetsid !== undefined,
  fn: async () => {
    for (let round = 0; round < 20; round++) {
      const argv = uniqueSleep();
      const child = spawnProcess({
        argv,
        stdin: "null",
        stdout: "null",
        stderr: "null",
        setsid: (setsid as { path: string }).path,
      });
      try {
        // At once: setsid has most likely not made the group yet.
        await child.terminate({ graceMs: 60_000 });
        assert.ok(await settlesWithin(child.status, 30_000), `round ${round}: the command escaped`);
        assert.equal((await child.status).signal, "SIGTERM");
        assert.deepEqual(await pgrepExact(argv), []);
      } finally {
        for (const pid of await pgrepExact(argv)) Deno.kill(pid, "SIGKILL");
      }
    }
  },
});

Deno.test({
  name: `a signal sent right after the start reaches the command${needsSetsid}`,
  ignore: noSetsid !== undefined,
  fn: async () => {
    const child = spawnProcess({
      argv: uniqueSleep(),
      stdin: "null",
      stdout: "null",
      stderr: "null",
      setsid: (setsid as { path: string }).path,
    });
    assert.equal(child.signalGroup("SIGKILL"), "sent");
    assert.equal((await child.status).signal, "SIGKILL");
    assert.equal(child.signalGroup("SIGKILL"), "gone");
  },
});

/**
 * Two directories on PATH, each with `prog`: a link to the shell, which
 * prints the argv[0] it was run by (`-c 'echo "$0"'`).
 */
async function withShadowedProgram(
  fn: (first: string, second: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    for (const sub of ["first", "second"]) {
      await Deno.mkdir(`${dir}/${sub}`);
      await Deno.symlink("/bin/sh", `${dir}/${sub}/prog`);
    }
    await fn(`${dir}/first`, `${dir}/second`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function argv0Of(
  checkedProgram: string | undefined,
  path: string,
): Promise<string> {
  const child = spawnProcess({
    argv: ["prog", "-c", 'echo "$0"'],
    env: { PATH: path },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    setsid: (setsid as { path: string }).path,
    ...(checkedProgram ? { checkedProgram } : {}),
  });
  const said = await readUntil(child.stdout.getReader(), "\n");
  await child.status;
  return said.trim();
}

Deno.test({
  name: `a checked program runs by name only where execvp can find no other file${needsSetsid}`,
  ignore: noSetsid !== undefined,
  fn: async () => {
    await withShadowedProgram(async (first, second) => {
      const checked = canonicalProgramPath(`${first}/prog`);
      // Nothing further on PATH: the name alone finds the checked file.
      assert.equal(await argv0Of(checked, first), "prog");
      assert.equal(await argv0Of(undefined, `${first}:${second}`), "prog");
      // Were the checked file to fail to run, execvp would go on to the
      // second: the checked path itself is run instead.
      assert.equal(await argv0Of(checked, `${first}:${second}`), checked);
      // The name finds another file than the one checked.
      const other = canonicalProgramPath(`${second}/prog`);
      assert.equal(await argv0Of(other, `${first}:${second}`), other);
    });
  },
});

Deno.test("without setsid on PATH, the server says so once and commands still run", async () => {
  const path = Deno.env.get("PATH");
  const empty = await Deno.makeTempDir();
  try {
    Deno.env.set("PATH", empty);
    await using server = await startServer();
    Deno.env.set("PATH", path ?? "/usr/bin:/bin");
    await using client = await connectTo(server);
    for (let i = 0; i < 2; i++) {
      const { code, stdout } = await client.spawn(["sh", "-c", 'echo "$0"']).output();
      assert.equal(code, 0);
      // Deno puts the resolved path in argv[0].
      assert.match(text(stdout), /^\/.*\/sh\n$/);
    }
    const warnings = server.logs.filter((record) => record.message.includes("setsid"));
    assert.equal(warnings.length, 1, JSON.stringify(server.logs));
    assert.equal(warnings[0].level, "warn");
    assert.match(warnings[0].message, /fork of the whole server.*not on the server's PATH/);
  } finally {
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
    await Deno.remove(empty);
  }
});

Deno.test("a command that has exited is not signalled by its pid, which another may have by then", async () => {
  const child = spawnProcess({
    argv: ["true"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    ...("path" in setsid ? { setsid: setsid.path } : {}),
  });
  await child.status;
  assert.equal(child.signalGroup("SIGTERM"), "gone");
  assert.ok(!(await processExists(child.pid)));
});

Deno.test({
  name: `a program found before is looked for again once its file is gone${needsSetsid}`,
  ignore: noSetsid !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const run = () => {
      const child = spawnProcess({
        argv: ["rexec-test-prog", "-c", "exit 7"],
        env: { PATH: `${dir}/first:${dir}/second` },
        stdin: "null",
        stdout: "null",
        stderr: "null",
        setsid: (setsid as { path: string }).path,
      });
      return child.status.then((status) => status.code);
    };
    try {
      await Deno.mkdir(`${dir}/first`);
      await Deno.mkdir(`${dir}/second`);
      await Deno.symlink("/bin/sh", `${dir}/first/rexec-test-prog`);
      assert.equal(await run(), 7);
      await Deno.remove(`${dir}/first/rexec-test-prog`);
      await Deno.symlink("/bin/sh", `${dir}/second/rexec-test-prog`);
      assert.equal(await run(), 7);
      await Deno.remove(`${dir}/second/rexec-test-prog`);
      await Deno.writeTextFile(`${dir}/second/rexec-test-prog`, "not a program\n");
      assert.throws(run, /rexec-test-prog: cannot execute: permission denied/);
      await Deno.remove(`${dir}/second/rexec-test-prog`);
      assert.throws(run, /rexec-test-prog: command not found/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a server that may run only some programs runs just those, setsid or not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/script.ts`;
    await Deno.writeTextFile(
      script,
      `import { connect, serve } from ${
        JSON.stringify(new URL("../lib/mod.ts", import.meta.url).href)
      };
const token = "test-token-with-enough-length-0123";
const logs: unknown[] = [];
await using server = await serve({ token, hostname: "127.0.0.1", port: 0, logger: (r) => logs.push(r) });
await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
const echo = await client.spawn(["echo", "hi"]).output();
const other = await client.spawn(["true"]).status;
console.log(JSON.stringify({ echo: new TextDecoder().decode(echo.stdout), other, logs }));
`,
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-net=127.0.0.1",
        "--allow-run=echo",
        "--allow-env=PATH",
        "--allow-read",
        script,
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, text(stderr));
    const { echo, other, logs } = JSON.parse(text(stdout));
    assert.equal(echo, "hi\n");
    assert.equal(other.code, 126);
    assert.match(other.message, /^true: cannot execute: the server process may not run it/);
    // Nothing about setsid: with a narrower run permission it is not looked for.
    assert.ok(!JSON.stringify(logs).includes("setsid"), JSON.stringify(logs));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
