/**
 * `rexec run -t` and `rexec shell` driven the way a person does: the test
 * holds a terminal, runs rexec on it, types and reads the screen, and checks
 * that the terminal's modes are the same after rexec as before, whichever
 * way the session ended.
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
  tempDir,
  utf8,
  waitFor,
} from "./helpers.ts";
import { childrenOf, REXEC, TestTerminal } from "./terminal_helpers.ts";

/**
 * A script that records the terminal's modes, runs rexec with `args`, says
 * its status as `rc=N`, and records the modes again.
 */
function session(dir: string, args: string): string {
  return `stty -g > ${dir}/before; ${REXEC} ${args}; echo "rc=$?"; stty -g > ${dir}/after; ` +
    "echo finished";
}

/** Waits for the end of a {@link session}: its status, the modes as they were. */
async function ended(terminal: TestTerminal, dir: string): Promise<number> {
  const [, code] = await terminal.waitFor(/rc=(\d+)\r\n[^]*finished/);
  await terminal.exited;
  const [before, after] = await Promise.all([
    Deno.readTextFile(`${dir}/before`),
    Deno.readTextFile(`${dir}/after`),
  ]);
  assert.equal(after, before, "the terminal's modes changed");
  return Number(code);
}

/** Whether process `pid` runs `program` (its exec done). */
async function runs(pid: number, program: string): Promise<boolean> {
  // ps, not /proc/PID/comm: Deno reads /proc/PID only with every permission granted.
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "comm=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).trim() === program;
}

/** The rexec process a {@link session} runs, once it is there. */
async function rexecPid(terminal: TestTerminal): Promise<number> {
  let children: number[] = [];
  assert.ok(await waitFor(async () => (children = await childrenOf(terminal.pid)).length === 1));
  return children[0];
}

Deno.test("rexec run -t: the remote command has a terminal of the local size and TERM", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(
    session(dir.path, `run -t ${server.address} -- sh -c 'tty; stty size; echo "T=$TERM"'`),
    { rows: 30, cols: 100, term: "vt220" },
  );
  assert.equal(await ended(terminal, dir.path), 0);
  assert.match(terminal.screen, /\/dev\/pts\/\d+\r\n30 100\r\nT=vt220\r\n/);
});

Deno.test("rexec run without -t is unchanged: the remote tty says not a tty", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(session(dir.path, `run ${server.address} -- tty`));
  assert.equal(await ended(terminal, dir.path), 1);
  assert.match(terminal.screen, /not a tty/);
});

Deno.test("rexec run -t: a local resize reaches a remote program that traps WINCH", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(
    session(
      dir.path,
      `run -t ${server.address} -- sh -c 'trap "stty size; exit 3" WINCH; echo ready; ` +
        `while :; do sleep 0.05; done'`,
    ),
  );
  await terminal.waitFor(/ready/);
  terminal.resize(33, 111);
  assert.equal(await ended(terminal, dir.path), 3);
  assert.match(terminal.screen, /33 111/);
});

Deno.test("rexec run -t: Ctrl-C ends the remote sleep with 130, and nothing is left running", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(
    session(dir.path, `run -t ${server.address} -- sh -c 'echo pid=$$; exec sleep 300'`),
  );
  const [, pid] = await terminal.waitFor(/pid=(\d+)/);
  // Typed before the exec, Ctrl-C could be taken by the shell alone.
  assert.ok(await waitFor(() => runs(Number(pid), "sleep")), "sleep");
  terminal.type("\x03");
  assert.equal(await ended(terminal, dir.path), 130);
  assert.ok(await waitFor(async () => !(await processExists(Number(pid)))));
});

Deno.test("rexec run -t -n: the terminal is not made raw, so Ctrl-C ends the session (130) and the remote command", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  // With job control (set -m), as in an interactive shell, rexec runs in a
  // process group of its own, and Ctrl-C is SIGINT to rexec alone.
  await using terminal = new TestTerminal(
    "set -m; " +
      session(dir.path, `run -t -n ${server.address} -- sh -c 'echo pid=$$; exec sleep 300'`),
  );
  const [, pid] = await terminal.waitFor(/pid=(\d+)/);
  // No key goes to the remote terminal: Ctrl-C must reach rexec as SIGINT.
  terminal.type("\x03");
  assert.equal(await ended(terminal, dir.path), 130);
  assert.ok(await waitFor(async () => !(await processExists(Number(pid)))));
});

Deno.test("rexec run -t: read with echo off does not show what is typed", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(
    session(
      dir.path,
      `run -t ${server.address} -- sh -c 'stty -echo; printf "secret: "; read -r s; ` +
        `stty echo; echo; echo "length ${"$"}{#s}"'`,
    ),
  );
  await terminal.waitFor(/secret: /);
  terminal.type("hunter2\r");
  assert.equal(await ended(terminal, dir.path), 0);
  assert.match(terminal.screen, /length 7/);
  assert.ok(!terminal.screen.includes("hunter2"), terminal.screen);
});

Deno.test("rexec shell on a terminal: a login shell where cd carries over, ended by exit N", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(session(dir.path, `shell ${server.address}`));
  terminal.type(`cd ${dir.path}\r`);
  terminal.type('echo "at:$(pwd)" "tty:$(tty)"\r');
  await terminal.waitFor(new RegExp(`at:${dir.path} tty:/dev/pts/\\d+\\r\\n`));
  terminal.type("exit 5\r");
  assert.equal(await ended(terminal, dir.path), 5);
});

Deno.test("rexec run -t: ~. ends the session with 255 and ends the remote command; ~~ sends ~", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(
    session(
      dir.path,
      `run -t ${server.address} -- sh -c 'echo pid=$$; read -r line; echo "got:$line"; exec sleep 300'`,
    ),
  );
  const [, pid] = await terminal.waitFor(/pid=(\d+)/);
  terminal.type("~~x\r");
  await terminal.waitFor(/got:~x/);
  terminal.type("~.");
  assert.equal(await ended(terminal, dir.path), 255);
  assert.match(terminal.screen, /ended \(~\.\)/);
  assert.ok(await waitFor(async () => !(await processExists(Number(pid)))));
});

Deno.test("rexec run -t --no-escape: ~. is sent as typed", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(
    session(
      dir.path,
      `run -t --no-escape ${server.address} -- sh -c 'read -r line; echo "got:$line"'`,
    ),
  );
  terminal.type("~.\r");
  assert.equal(await ended(terminal, dir.path), 0);
  assert.match(terminal.screen, /got:~\./);
});

Deno.test("rexec run -t: the terminal is restored when the remote command dies of a signal", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using terminal = new TestTerminal(
    session(dir.path, `run -t ${server.address} -- sh -c 'kill -KILL $$'`),
  );
  assert.equal(await ended(terminal, dir.path), 137);
});

Deno.test("rexec run -t: the terminal is restored when the server shuts down (255)", async () => {
  await using dir = await tempDir();
  const server = await startServer();
  await using terminal = new TestTerminal(
    session(dir.path, `run -t ${server.address} -- sh -c 'echo ready; exec sleep 300'`),
  );
  await terminal.waitFor(/ready/);
  await server.server.shutdown();
  assert.equal(await ended(terminal, dir.path), 255);
});

Deno.test("rexec run -t: the terminal is restored when the connection is lost (255)", async () => {
  await using dir = await tempDir();
  const serve = spawnCli(["serve", "--listen", "127.0.0.1:0"]);
  const log = serve.stderr.getReader();
  const [, address] = (await readUntil(log, /listening address=\S+\s/))
    .match(/listening address=(\S+)\s/)!;
  log.releaseLock();
  await using terminal = new TestTerminal(
    session(dir.path, `run -t ${address} -- sh -c 'echo ready; exec sleep 300'`),
  );
  await terminal.waitFor(/ready/);
  serve.kill("SIGKILL");
  await serve.output();
  assert.equal(await ended(terminal, dir.path), 255);
  assert.match(terminal.screen, /rexec: /);
});

Deno.test("rexec run -t: the terminal is restored when the server refuses a terminal (--no-tty, 125)", async () => {
  await using dir = await tempDir();
  await using server = await startServer({ noTty: true });
  await using terminal = new TestTerminal(session(dir.path, `run -t ${server.address} -- true`));
  assert.equal(await ended(terminal, dir.path), 125);
  assert.match(terminal.screen, /--no-tty/);
});

Deno.test("rexec shell on a terminal: a server with --no-tty refuses it (125), says how a script still runs, and the terminal is restored", async () => {
  await using dir = await tempDir();
  await using server = await startServer({ noTty: true });
  await using terminal = new TestTerminal(session(dir.path, `shell ${server.address}`));
  assert.equal(await ended(terminal, dir.path), 125);
  assert.match(terminal.screen, /--no-tty/);
  assert.match(terminal.screen, /pipe a script into rexec shell/);
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129], ["SIGQUIT", 131]] as const) {
  Deno.test(`rexec run -t: the terminal is restored on ${signal} to rexec (${code}), the remote command ended`, async () => {
    await using dir = await tempDir();
    await using server = await startServer();
    await using terminal = new TestTerminal(
      session(dir.path, `run -t ${server.address} -- sh -c 'echo pid=$$; exec sleep 300'`),
    );
    const [, pid] = await terminal.waitFor(/pid=(\d+)/);
    Deno.kill(await rexecPid(terminal), signal);
    assert.equal(await ended(terminal, dir.path), code);
    assert.ok(await waitFor(async () => !(await processExists(Number(pid)))));
  });
}

Deno.test("rexec run -t with stdin not a terminal gives the remote command an 80x24 terminal (as ssh -tt)", async () => {
  await using server = await startServer();
  const result = await runCli([
    "run",
    "-tt",
    server.address,
    "--",
    "sh",
    "-c",
    "tty; stty size; cat",
  ], {
    stdin: utf8("piped\n"),
  });
  assert.equal(result.code, 0);
  // The input is typed whenever it arrives, so its echo may fall between the lines of output.
  assert.match(result.stdoutText, /^\/dev\/pts\/\d+\r$/m);
  assert.match(result.stdoutText, /^24 80\r$/m);
  // Echoed by the remote terminal, as with ssh -tt, then written back by cat.
  assert.equal(result.stdoutText.split("piped\r\n").length - 1, 2, result.stdoutText);
});

Deno.test("rexec shell with a script on stdin: here-documents, functions and the shell's status", async () => {
  await using server = await startServer();
  const script = [
    'greet() { echo "hello $1"; }',
    "greet world",
    "cat <<EOF",
    "from a here-document",
    "EOF",
    "if false; then",
    "  echo inside",
    "fi",
    "exit 6",
  ].join("\n") + "\n";
  const result = await runCli(["shell", server.address], { stdin: utf8(script) });
  assert.equal(result.code, 6);
  assert.equal(result.stdoutText, "hello world\nfrom a here-document\n");
});
