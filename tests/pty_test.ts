/**
 * Commands on a pseudo-terminal, through the library: the terminal, its
 * size, keys that become signals, the server's policy and audit, process
 * tree cleanup and backpressure.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RemoteProcess } from "../lib/client/remote_process.ts";
import { UnsupportedFeatureError } from "../lib/errors.ts";
import type { AuditEvent } from "../lib/server/audit.ts";
import {
  connectTo,
  processExists,
  readUntil,
  startServer,
  tempDir,
  text,
  utf8,
  waitFor,
} from "./helpers.ts";
import { encodeFrame, FrameType, HEADER_SIZE } from "../lib/protocol/frame.ts";
import { ServerCommand } from "../lib/server/command.ts";
import { spawnPty } from "../lib/server/pty_process.ts";
import { FrameWriter } from "../lib/transport/frame_writer.ts";
import { encodeHello, encodeJson, PROTOCOL_VERSION } from "../lib/protocol/messages.ts";
import { FrameReader } from "../lib/transport/frame_reader.ts";
import { computeProof, createNonce } from "../lib/protocol/auth.ts";
import { connect } from "../lib/client/client.ts";
import { TOKEN } from "./helpers.ts";

const TTY = { rows: 24, cols: 80 };

/** How many children of `parent` run `sleep`. */
async function sleepsOf(parent: number): Promise<number> {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-x", "-P", String(parent), "sleep"],
    stdout: "piped",
  }).output();
  return text(stdout).split("\n").filter((line) => line !== "").length;
}

/** Types `keys` into the command's terminal. */
async function type(child: RemoteProcess, keys: string): Promise<void> {
  const writer = child.stdin.getWriter();
  try {
    await writer.write(utf8(keys));
  } finally {
    writer.releaseLock();
  }
}

Deno.test("pty: a command on a terminal sees a tty of the size asked for, and TERM", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell('tty; stty size; echo "$TERM"; echo err >&2', {
    tty: { rows: 30, cols: 100, term: "vt100" },
  });
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0);
  assert.match(text(stdout), /^\/dev\/pts\/\d+\r\n30 100\r\nvt100\r\nerr\r\n$/);
  assert.equal(stderr.length, 0);
});

Deno.test("pty: pipe mode is unchanged: tty says not a tty", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const { code, stdout } = await client.spawn(["tty"]).output();
  assert.equal(code, 1);
  assert.equal(text(stdout), "not a tty\n");
});

Deno.test("pty: a resize reaches a program that traps WINCH, with the new size", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell(
    "trap 'stty size; exit 7' WINCH; echo ready; while :; do sleep 0.05; done",
    { tty: TTY },
  );
  const reader = child.stdout.getReader();
  await readUntil(reader, "ready");
  child.resize({ rows: 40, cols: 120 });
  assert.match(await readUntil(reader, "40 120"), /40 120/);
  reader.releaseLock();
  assert.equal((await child.status).code, 7);
});

Deno.test("pty: Ctrl-C typed ends a remote sleep with its status, and leaves nothing running", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell("sleep 300 & echo pids=$$,$!; sleep 300", { tty: TTY });
  const reader = child.stdout.getReader();
  const seen = await readUntil(reader, /pids=\d+,\d+\r\n/);
  const [shell, background] = /pids=(\d+),(\d+)/.exec(seen)!.slice(1).map(Number);
  // Typed before the shell has started the foreground sleep, Ctrl-C may be
  // taken by the shell alone (dash then forgets it), as on any terminal.
  assert.ok(await waitFor(async () => (await sleepsOf(shell)) === 2), "foreground sleep");
  await type(child, "\x03");
  const status = await child.status;
  assert.equal(status.signal, "SIGINT");
  assert.equal(status.code, 130);
  reader.releaseLock();
  assert.ok(await waitFor(async () => !(await processExists(background))), "background sleep");
});

Deno.test("pty: read with echo off does not show what is typed", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell(
    'stty -echo; printf "password: "; read -r secret; stty echo; echo; echo "got ${#secret}"',
    { tty: TTY },
  );
  const reader = child.stdout.getReader();
  let screen = await readUntil(reader, "password: ");
  await type(child, "hunter2\r");
  screen += await readUntil(reader, "got 7");
  reader.releaseLock();
  assert.equal((await child.status).code, 0);
  assert.ok(!screen.includes("hunter2"), screen);
});

Deno.test("pty: an interactive login shell keeps cd and exits with exit N", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using client = await connectTo(server);
  const shell = client.spawnLogin({ tty: TTY });
  const reader = shell.stdout.getReader();
  await type(shell, `cd ${dir.path}\recho "at:$(pwd)"\r`);
  await readUntil(reader, `at:${dir.path}\r\n`);
  await type(shell, "exit 5\r");
  reader.releaseLock();
  await shell.stdout.cancel();
  assert.equal((await shell.status).code, 5);
});

Deno.test("pty: a disconnect ends the command on the terminal and what it started", async () => {
  await using server = await startServer();
  const client = await connectTo(server);
  const child = client.spawnShell("sleep 300 & echo pids=$$,$!; sleep 300", { tty: TTY });
  const seen = await readUntil(child.stdout.getReader(), /pids=\d+,\d+\r\n/);
  const pids = /pids=(\d+),(\d+)/.exec(seen)!.slice(1).map(Number);
  await client[Symbol.asyncDispose]();
  for (const pid of pids) {
    assert.ok(await waitFor(async () => !(await processExists(pid))), `pid ${pid}`);
  }
});

Deno.test("pty: a resize that arrives while the terminal is still being opened is not lost", async () => {
  let shown = "";
  const writer = new FrameWriter({
    write: (bytes) => {
      if (bytes[4] === FrameType.Stdout) shown += text(bytes.subarray(HEADER_SIZE));
      return Promise.resolve(bytes.length);
    },
  });
  const command = new ServerCommand({
    request: {
      argv: ["sh", "-c", "echo ready; read -r line; stty size"],
      tty: { ...TTY, term: "vt100" },
      stdin: true,
      stdout: true,
      stderr: false,
    },
    writer,
    outputChunkSize: 65536,
    stdinWindow: 262144,
    killGraceMs: 2000,
  });
  // Before the command has even begun to open its terminal.
  command.resize({ rows: 41, cols: 101 });
  assert.ok(await waitFor(() => shown.includes("ready"), 60_000), shown);
  command.pushStdin(utf8("go\r"));
  assert.equal((await command.finished).report.code, 0);
  assert.match(shown, /41 101\r\n/);
});

Deno.test("pty: a resize to an impossible size is the caller's TypeError, and the command runs on", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell("echo ready; read -r line; stty size", { tty: TTY });
  const reader = child.stdout.getReader();
  await readUntil(reader, "ready");
  for (const size of [{ rows: 0, cols: 80 }, { rows: 24, cols: 65536 }, { rows: 2.5, cols: 80 }]) {
    assert.throws(() => child.resize(size), TypeError);
  }
  child.resize({ rows: 30, cols: 90 });
  await type(child, "go\r");
  assert.match(await readUntil(reader, /\d+ \d+\r\n/), /30 90\r\n/);
  reader.releaseLock();
  assert.equal((await child.status).code, 0);
});

Deno.test("pty: a --timeout ends the command on the terminal", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const status = await client.spawn(["sleep", "300"], { tty: TTY, timeout: 0.3 }).status;
  assert.equal(status.reason, "timeout");
});

Deno.test("pty: a server with noTty refuses terminals with 125 and still runs pipe commands", async () => {
  await using server = await startServer({ noTty: true });
  await using client = await connectTo(server);
  const status = await client.spawn(["true"], { tty: TTY }).status;
  assert.equal(status.code, 125);
  assert.equal(status.reason, "refused");
  assert.match(status.message ?? "", /--no-tty/);
  assert.equal((await client.spawn(["true"]).status).code, 0);
});

Deno.test("pty: the audit log records tty: true for a command on a terminal", async () => {
  const records: AuditEvent[] = [];
  await using server = await startServer({ audit: (record) => records.push(record) });
  await using client = await connectTo(server);
  assert.equal((await client.spawn(["true"], { tty: TTY }).status).code, 0);
  assert.equal((await client.spawn(["true"]).status).code, 0);
  const execs = records.filter((record) => record.event === "exec");
  assert.equal(execs.length, 2);
  assert.equal(execs[0].tty, true);
  assert.equal(execs[1].tty, undefined);
});

Deno.test("pty: an allowlist applies to the login shell", async () => {
  await using server = await startServer({
    policy: await (await import("../lib/server/policy.ts")).CommandPolicy.create({
      allow: ["true"],
    }),
  });
  await using client = await connectTo(server);
  const status = await client.spawnLogin({ tty: TTY }).status;
  assert.equal(status.code, 125);
  assert.match(status.message ?? "", /not allowed/);
});

Deno.test("pty: a flood into a client that stops reading holds the command back, and nothing is lost", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using client = await connectTo(server);
  const size = 64 * 1024 * 1024;
  const marker = `${dir.path}/done`;
  const child = client.spawnShell(`head -c ${size} /dev/zero; touch ${marker}`, {
    tty: TTY,
    stdin: "null",
  });
  // Nobody reads: the command must stop once the buffers on the way are
  // full, far short of the whole, and memory must not take it all in.
  const rssBefore = Deno.memoryUsage().rss;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
  assert.ok(Deno.memoryUsage().rss - rssBefore < size / 2, "memory grew by half the output");
  let received = 0;
  for await (const chunk of child.stdout) received += chunk.length;
  assert.equal(received, size);
  assert.equal((await child.status).code, 0);
});

Deno.test("pty: far more input than the terminal holds reaches a command that reads it all", async () => {
  await using dir = await tempDir();
  await using server = await startServer();
  await using client = await connectTo(server);
  // A paste of 2 MiB into a program reading a raw terminal: the terminal's
  // buffer fills many times over, and each time the server must go on
  // writing once the program has read.
  const size = 2 * 1024 * 1024;
  const child = client.spawnShell(
    `stty raw -echo; echo ready; head -c ${size} > ${dir.path}/got; echo "got=$(wc -c < ${dir.path}/got)"`,
    { tty: TTY, timeout: 120 },
  );
  const reader = child.stdout.getReader();
  await readUntil(reader, "ready");
  const writer = child.stdin.getWriter();
  const chunk = new Uint8Array(16 * 1024).fill(0x61);
  for (let sent = 0; sent < size; sent += chunk.length) await writer.write(chunk);
  writer.releaseLock();
  assert.match(await readUntil(reader, /got=\d+/), new RegExp(`got=${size}`));
  reader.releaseLock();
  assert.equal((await child.status).code, 0);
});

Deno.test("pty: a command on a terminal whose output is not wanted (stdout null) runs to its end", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  // Far more than the terminal may read ahead: output nobody reads must be
  // thrown away, as pipe mode's /dev/null does, not hold the command back.
  const status = await client.spawnShell("head -c 4000000 /dev/zero; exit 3", {
    tty: TTY,
    stdin: "null",
    stdout: "null",
    timeout: 120,
  }).status;
  assert.equal(status.reason, undefined);
  assert.equal(status.code, 3);
});

Deno.test("pty: a client refuses a terminal when the server does not offer one", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    using conn = await listener.accept();
    const reader = new FrameReader(conn, { maxFrameSize: 1 << 20 });
    await reader.read(); // the client's HELLO
    const serverNonce = createNonce();
    // A server of an older release: no features in its HELLO.
    await conn.write(encodeFrame(
      FrameType.Hello,
      encodeHello({ version: PROTOCOL_VERSION, maxFrameSize: 1 << 20, agent: "rexec/old" }),
    ));
    await conn.write(encodeFrame(FrameType.AuthChallenge, encodeJson({ nonce: serverNonce })));
    const response = JSON.parse(text((await reader.read())!.body));
    const proof = { token: TOKEN, serverNonce, clientNonce: response.nonce, role: "server" };
    await conn.write(
      encodeFrame(
        FrameType.AuthOk,
        encodeJson({ mac: await computeProof(proof as Parameters<typeof computeProof>[0]) }),
      ),
    );
    await reader.read(); // until the client hangs up
  })();
  {
    await using client = await connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      token: TOKEN,
    });
    assert.throws(
      () => client.spawn(["vim"], { tty: TTY }),
      (error) =>
        error instanceof UnsupportedFeatureError && /upgrade the server/.test(error.message),
    );
  }
  await serving;
});

Deno.test({
  name: `pty: a command on a terminal run as another account has its ids and none of root's groups${
    Deno.uid() === 0 ? "" : " (skipped: needs a server running as root)"
  }`,
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const runAs = {
      uid: 65534,
      gid: 65534,
      home: "/",
      env: { HOME: "/", USER: "nobody", LOGNAME: "nobody", SHELL: "/bin/sh" },
    };
    await using server = await startServer({ runAs });
    await using client = await connectTo(server);
    const { code, stdout } = await client.spawnShell('echo "$(id -u) $(id -g) [$(id -G)]"', {
      tty: TTY,
    }).output();
    assert.equal(code, 0);
    assert.equal(text(stdout), "65534 65534 [65534]\r\n");
  },
});

Deno.test("pty: a server shutdown ends the command on the terminal and what it started", async () => {
  const server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell("sleep 300 & echo pids=$$,$!; sleep 300", { tty: TTY });
  const reader = child.stdout.getReader();
  const seen = await readUntil(reader, /pids=\d+,\d+\r\n/);
  reader.releaseLock();
  const pids = /pids=(\d+),(\d+)/.exec(seen)!.slice(1).map(Number);
  await server.server.shutdown();
  const status = await child.status;
  assert.equal(status.reason, "shutdown");
  for (const pid of pids) {
    assert.ok(await waitFor(async () => !(await processExists(pid))), `pid ${pid}`);
  }
});

Deno.test("pty: a command that exits while input is still being typed into its terminal reports its status", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  for (let round = 0; round < 3; round++) {
    const child = client.spawnShell("head -c 10 >/dev/null; echo bye; exit 3", { tty: TTY });
    const writer = child.stdin.getWriter();
    const typing = (async () => {
      // Far more than the terminal holds once nobody reads it.
      const lines = utf8("aaaaaaaaa\n".repeat(1000));
      for (let i = 0; i < 50; i++) await writer.write(lines);
    })();
    const [{ code, stdout }] = await Promise.all([
      child.output(),
      typing.catch((error) => assert.ok(error instanceof Deno.errors.BrokenPipe, String(error))),
    ]);
    assert.equal(code, 3);
    assert.match(text(stdout), /bye\r\n/);
  }
  assert.equal((await client.spawn(["true"], { tty: TTY }).status).code, 0);
});

Deno.test("pty: jobs an interactive shell leaves behind end when it exits, as when a terminal hangs up", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const shell = client.spawnLogin({ tty: TTY });
  const reader = shell.stdout.getReader();
  // Job control puts the job in a process group of its own, which a hang-up would not reach.
  await type(shell, "sleep 300 & echo BG=$!\r");
  const [, job] = (await readUntil(reader, /BG=\d+\r\n/)).match(/BG=(\d+)/)!;
  await type(shell, "exit 0\r");
  reader.releaseLock();
  await shell.stdout.cancel();
  assert.equal((await shell.status).code, 0);
  assert.ok(await waitFor(async () => !(await processExists(Number(job)))), `job ${job}`);
});

Deno.test({
  name: `pty: a command run as another account owns its terminal, so it may open it by name${
    Deno.uid() === 0 ? "" : " (skipped: needs a server running as root)"
  }`,
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const runAs = {
      uid: 65534,
      gid: 65534,
      home: "/",
      env: { HOME: "/", USER: "nobody", LOGNAME: "nobody", SHELL: "/bin/sh" },
    };
    await using server = await startServer({ runAs });
    await using client = await connectTo(server);
    // As screen, write and GPG_TTY do; sshd gives the terminal to the account too.
    const child = client.spawnShell(
      'stty -echo; echo ready; read -r line; stat -c "owner=%u" "$(tty)"; echo reopened > "$(tty)"',
      { tty: TTY },
    );
    const reader = child.stdout.getReader();
    await readUntil(reader, "ready\r\n");
    await type(child, "go\r");
    assert.match(await readUntil(reader, /reopened|denied/), /owner=65534\r\nreopened/);
    reader.releaseLock();
    assert.equal((await child.status).code, 0);
  },
});

Deno.test("pty: resizing a terminal that has closed leaves alone the terminal that took its descriptor", async () => {
  const spec = { env: { PATH: "/usr/bin:/bin", TERM: "dumb" }, cwd: "/", size: TTY };
  const done = await spawnPty({ ...spec, argv: ["true"] });
  await new Response(done.stdout).arrayBuffer();
  await done.status;
  // Opened next, it is given the lowest free descriptor: the one just closed.
  const other = await spawnPty({ ...spec, argv: ["sh", "-c", "read -r line; stty size"] });
  done.resize({ rows: 5, cols: 5 });
  const writer = other.stdin.getWriter();
  await writer.write(utf8("go\r"));
  writer.releaseLock();
  assert.match(await new Response(other.stdout).text(), /\r\n24 80\r\n$/);
  assert.equal((await other.status).code, 0);
});
