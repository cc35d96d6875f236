import assert from "node:assert/strict";
import {
  AuthenticationError,
  ConnectionError,
  RemoteError,
  SessionBusyError,
} from "../lib/errors.ts";
import { encodeHeader, FrameType, HEADER_SIZE } from "../lib/protocol/frame.ts";
import type { FrameWriter } from "../lib/transport/frame_writer.ts";
import { connect } from "../lib/client/client.ts";
import { decodeErrorReport, encodeJson } from "../lib/protocol/messages.ts";
import {
  connectTo,
  openRawSession,
  processExists,
  readAllFrames,
  readUntil,
  startServer,
  text,
  TOKEN,
  utf8,
  waitFor,
} from "./helpers.ts";

Deno.test("Client.spawn(): exit codes 0, 1 and 42 come back as the remote command's code", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  for (const code of [0, 1, 42]) {
    const status = await client.spawnShell(`exit ${code}`).status;
    assert.equal(status.code, code);
    assert.equal(status.success, code === 0);
    assert.equal(status.signal, null);
  }
});

Deno.test("Client.spawn(): a program that does not exist gives 127 and says so", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const status = await client.spawn(["rexec-no-such-program"]).status;
  assert.equal(status.code, 127);
  assert.equal(status.reason, "spawn_failed");
  assert.match(status.message!, /rexec-no-such-program: command not found/);
});

Deno.test("Client.spawn(): a file that cannot be executed gives 126", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const file = await Deno.makeTempFile();
  try {
    const status = await client.spawn([file]).status;
    assert.equal(status.code, 126);
    assert.match(status.message!, /cannot execute/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("Client.spawn(): a missing working directory gives 126 and names the directory", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const status = await client.spawn(["pwd"], { cwd: "/rexec/no/such/dir" }).status;
  assert.equal(status.code, 126);
  assert.match(status.message!, /\/rexec\/no\/such\/dir: no such directory/);
});

Deno.test("Client.spawn(): death by signal reports the signal name and 128+N", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const term = await client.spawnShell("kill -TERM $$").status;
  assert.deepEqual([term.code, term.signal], [143, "SIGTERM"]);
  const kill = await client.spawnShell("kill -KILL $$").status;
  assert.deepEqual([kill.code, kill.signal], [137, "SIGKILL"]);
});

Deno.test("Client.spawn(): stdout and stderr stay separate when the command interleaves them", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo out$i; echo err$i >&2; done";
  const { stdout, stderr, code } = await client.spawnShell(script).output();
  assert.equal(code, 0);
  const numbers = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(text(stdout), numbers.map((i) => `out${i}\n`).join(""));
  assert.equal(text(stderr), numbers.map((i) => `err${i}\n`).join(""));
});

Deno.test("Client.spawn(): several MiB of stderr before any stdout do not deadlock", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const size = 6 * 1024 * 1024;
  const { stdout, stderr, code } = await client.spawnShell(
    `head -c ${size} /dev/zero >&2; echo done`,
  ).output();
  assert.equal(code, 0);
  assert.equal(stderr.length, size);
  assert.ok(stderr.every((byte) => byte === 0));
  assert.equal(text(stdout), "done\n");
});

Deno.test("Client.spawn(): all 256 byte values pass through stdin, stdout and stderr unchanged", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const bytes = new Uint8Array(256 * 64).map((_, i) => i % 256);
  const child = client.spawnShell("tee /dev/stderr", { stdin: "piped" });
  const writer = child.stdin.getWriter();
  await writer.write(bytes);
  await writer.close();
  const { stdout, stderr, code } = await child.output();
  assert.equal(code, 0);
  assert.deepEqual(stdout, bytes);
  assert.deepEqual(stderr, bytes);
});

Deno.test("Client.spawn(): stdin end of file reaches the command", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawn(["wc", "-c"], { stdin: "piped" });
  const writer = child.stdin.getWriter();
  await writer.write(utf8("hello\n"));
  await writer.close();
  const { stdout, code } = await child.output();
  assert.equal(code, 0);
  assert.equal(text(stdout).trim(), "6");
});

Deno.test("Client.spawn(): stdin larger than the flow-control window arrives whole", async () => {
  await using server = await startServer({ stdinWindow: 64 * 1024 });
  await using client = await connectTo(server);
  const input = crypto.getRandomValues(new Uint8Array(65536)).map((_, i) => i * 7);
  const big = new Uint8Array(5 * 1024 * 1024);
  for (let offset = 0; offset < big.length; offset += input.length) big.set(input, offset);
  const child = client.spawn(["cat"], { stdin: "piped" });
  const writing = (async () => {
    const writer = child.stdin.getWriter();
    await writer.write(big);
    await writer.close();
  })();
  const { stdout, code } = await child.output();
  await writing;
  assert.equal(code, 0);
  assert.equal(stdout.length, big.length);
  assert.deepEqual(stdout, big);
});

Deno.test("Client.spawn(): without piped stdin the command reads end of file at once", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const { stdout, code } = await client.spawn(["cat"]).output();
  assert.equal(code, 0);
  assert.equal(stdout.length, 0);
});

Deno.test("Client.spawn(): env and cwd are applied on the server", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const { stdout } = await client.spawnShell('printf "%s|%s" "$REXEC_TEST_VAR" "$(pwd)"', {
      env: { REXEC_TEST_VAR: "value with spaces=and equals" },
      cwd: dir,
    }).output();
    assert.equal(text(stdout), `value with spaces=and equals|${dir}`);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("Client.spawn(): argv runs exactly as given, without a shell", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const args = ["$HOME", "a b", "*", "; rm -rf /", "'\"", ""];
  const { stdout } = await client.spawn(["printf", "[%s]", ...args]).output();
  assert.equal(text(stdout), args.map((arg) => `[${arg}]`).join(""));
});

Deno.test("Client.spawn(): a timeout ends the command and is reported as such", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const status = await client.spawn(["sleep", "30"], { timeout: 0.3 }).status;
  assert.equal(status.reason, "timeout");
  assert.equal(status.signal, "SIGTERM");
  assert.match(status.message!, /timed out after 0.3 s/);
});

Deno.test("serve(): the server's maximum timeout caps what the client asks for", async () => {
  await using server = await startServer({ maxTimeout: 0.3 });
  await using client = await connectTo(server);
  const status = await client.spawn(["sleep", "30"], { timeout: 1000 }).status;
  assert.equal(status.reason, "timeout");
});

Deno.test("serve(): a disconnecting client takes the whole process tree with it", async () => {
  await using server = await startServer();
  const client = await connectTo(server);
  const child = client.spawnShell("sleep 300 & echo $$ $!; wait");
  const reader = child.stdout.getReader();
  const [leader, background] = (await readUntil(reader, "\n")).trim().split(" ").map(Number);
  assert.ok(await processExists(leader));
  assert.ok(await processExists(background));
  client.close();
  assert.ok(await waitFor(async () => !(await processExists(leader))));
  assert.ok(await waitFor(async () => !(await processExists(background))));
});

Deno.test("serve(): processes that ignore SIGTERM are killed after the grace period", async () => {
  await using server = await startServer({ killGrace: 0.2 });
  const client = await connectTo(server);
  const child = client.spawnShell("trap '' TERM; sleep 300 & echo $$ $!; wait");
  const reader = child.stdout.getReader();
  const pids = (await readUntil(reader, "\n")).trim().split(" ").map(Number);
  client.close();
  for (const pid of pids) {
    assert.ok(await waitFor(async () => !(await processExists(pid))), `pid ${pid} survived`);
  }
});

Deno.test("serve(): background processes holding the output are ended once the command exits", async () => {
  await using server = await startServer({ killGrace: 0.2 });
  await using client = await connectTo(server);
  const { stdout, code } = await client.spawnShell("sleep 300 & echo $!").output();
  assert.equal(code, 0);
  const background = Number(text(stdout).trim());
  assert.ok(await waitFor(async () => !(await processExists(background))));
});

Deno.test("serve(): a process that left the group but holds the output is cut off after two grace periods", async () => {
  await using server = await startServer({ killGrace: 0.2 });
  await using client = await connectTo(server);
  const { stdout, code } = await client.spawnShell("setsid sleep 30 & echo $!").output();
  const escaped = Number(text(stdout).trim());
  try {
    assert.equal(code, 0);
    assert.ok(escaped > 0);
    assert.equal((await client.spawn(["echo", "next"]).output()).code, 0);
  } finally {
    if (escaped > 0) Deno.kill(escaped, "SIGKILL");
  }
});

/**
 * Argv for a command that starts, in the background, a perl process that
 * leaves the command's process group (setpgid, as `setpgrp()` does) but
 * stays in its session, keeps the command's stdout, and prints its pid once
 * it has left. `then` is the shell code that follows: the command waits on
 * it, or exits. The command goes on only once perl has left the group.
 */
function leaveGroupArgv(readyFile: string, then: string): string[] {
  const perl = 'setpgrp(0, 0); open(my $ready, ">", $ARGV[0]) or die "$ARGV[0]: $!"; ' +
    'close $ready; $| = 1; print "$$\\n"; sleep 300';
  const script = 'perl -e "$1" "$2" & while [ ! -e "$2" ]; do sleep 0.01; done; ' + then;
  return ["sh", "-c", script, "sh", perl, readyFile];
}

Deno.test("serve(): a process that left the process group but not the session is ended on disconnect", async () => {
  await using server = await startServer();
  const client = await connectTo(server);
  const dir = await Deno.makeTempDir();
  let escaped = 0;
  try {
    const child = client.spawn(leaveGroupArgv(`${dir}/ready`, "wait"));
    escaped = Number((await readUntil(child.stdout.getReader(), "\n")).trim());
    assert.ok(escaped > 0 && await processExists(escaped));
    client.close();
    assert.ok(
      await waitFor(async () => !(await processExists(escaped))),
      `pid ${escaped} survived`,
    );
  } finally {
    if (escaped > 0 && await processExists(escaped)) Deno.kill(escaped, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RemoteProcess.cancel() takes a process that left its group with it", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const dir = await Deno.makeTempDir();
  let escaped = 0;
  try {
    const child = client.spawn(leaveGroupArgv(`${dir}/ready`, "wait"));
    const reader = child.stdout.getReader();
    escaped = Number((await readUntil(reader, "\n")).trim());
    child.cancel();
    assert.equal((await child.status).reason, "cancelled");
    reader.releaseLock();
    assert.ok(
      await waitFor(async () => !(await processExists(escaped))),
      `pid ${escaped} survived`,
    );
  } finally {
    if (escaped > 0 && await processExists(escaped)) Deno.kill(escaped, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve(): a process that left the group and holds the output is ended once the command exits", async () => {
  await using server = await startServer({ killGrace: 0.2 });
  await using client = await connectTo(server);
  const dir = await Deno.makeTempDir();
  let escaped = 0;
  try {
    const { code, stdout } = await client.spawn(leaveGroupArgv(`${dir}/ready`, "exit 0"))
      .output();
    assert.equal(code, 0);
    escaped = Number(text(stdout).trim());
    assert.ok(escaped > 0, `no pid in ${JSON.stringify(text(stdout))}`);
    assert.ok(
      await waitFor(async () => !(await processExists(escaped))),
      `pid ${escaped} survived`,
    );
    // Ended, not merely no longer read.
    assert.ok(!server.logs.some((record) => record.message.startsWith("output cut off")));
  } finally {
    if (escaped > 0 && await processExists(escaped)) Deno.kill(escaped, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve(): a timeout is not reported for a command that exited before it", async () => {
  // The command exits at once, but its background child keeps stdout open
  // past the deadline, until the grace period ends it. The deadline leaves a
  // spawn and exit two seconds, where they take milliseconds (a few hundred
  // on a loaded machine).
  await using server = await startServer({ killGrace: 2.5 });
  await using client = await connectTo(server);
  const status = await client.spawnShell("sleep 300 & exit 3", { timeout: 2 }).status;
  assert.equal(status.code, 3);
  assert.equal(status.reason, undefined);
});

Deno.test("serve(): stdin consumed after a command exited is not credited to the next command", async () => {
  await using server = await startServer({ killGrace: 0.2 });
  await using client = await connectTo(server);
  const window = 256 * 1024;
  // A background reader keeps the stdin pipe and drains it only after the
  // command has exited, while the server may still be writing to it.
  const first = client.spawnShell(
    "exec 3<&0; { sleep 0.5; cat <&3 >/dev/null; } >/dev/null 2>&1 & exit 0",
    { stdin: "piped" },
  );
  first.stdin.getWriter().write(new Uint8Array(window)).catch(() => {});
  assert.equal((await first.status).code, 0);
  const second = client.spawnShell("sleep 1; wc -c", { stdin: "piped" });
  const writer = second.stdin.getWriter();
  const written = writer.write(new Uint8Array(2 * window)).then(() => writer.close());
  const { code, stdout } = await second.output();
  await written;
  assert.equal(code, 0);
  assert.equal(text(stdout).trim(), String(2 * window));
});

Deno.test("serve(): every PING gets a PONG, in order, even when the client reads only at the end", async () => {
  await using server = await startServer();
  using raw = await openRawSession(server, { authenticate: true });
  const count = 20_000;
  const pings = new Uint8Array(HEADER_SIZE * count);
  for (let i = 0; i < count; i++) encodeHeader(pings.subarray(i * HEADER_SIZE), FrameType.Ping, 0);
  await raw.writer.writeEncoded(pings);
  for (let i = 0; i < count; i++) {
    assert.equal((await raw.reader.read())?.type, FrameType.Pong);
  }
  await raw.writer.write(
    FrameType.Exec,
    encodeJson({ argv: ["echo", "still here"], stdin: false, stdout: true, stderr: true }),
  );
  const frames: FrameType[] = [];
  for (let frame = await raw.reader.read(); frame; frame = await raw.reader.read()) {
    frames.push(frame.type);
    if (frame.type === FrameType.Exit) break;
  }
  assert.deepEqual(frames, [FrameType.Stdout, FrameType.Exit]);
});

Deno.test("RemoteProcess.cancel() terminates the command and reports it", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawn(["sleep", "30"]);
  child.cancel();
  const status = await child.status;
  assert.equal(status.reason, "cancelled");
  assert.equal(status.signal, "SIGTERM");
});

Deno.test("Client.spawn(): an aborted signal cancels the command", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const controller = new AbortController();
  const child = client.spawn(["sleep", "30"], { signal: controller.signal });
  controller.abort();
  assert.equal((await child.status).reason, "cancelled");
});

Deno.test("RemoteProcess.kill() delivers a signal to the remote process group", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell(
    "trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.05; done",
  );
  const reader = child.stdout.getReader();
  await readUntil(reader, "ready");
  child.kill("SIGUSR1");
  assert.match(await readUntil(reader, "got USR1"), /got USR1/);
  reader.releaseLock();
  assert.equal((await child.status).code, 7);
});

Deno.test("RemoteProcess.stdout streams output as it is produced, before the command ends", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell("echo first; exec sleep 30");
  const reader = child.stdout.getReader();
  assert.equal(await readUntil(reader, "\n"), "first\n");
  let ended = false;
  child.status.then(() => ended = true);
  await Promise.resolve();
  assert.equal(ended, false);
  child.cancel();
  await child.status;
});

Deno.test("RemoteProcess.stdout: a client that stops reading stalls the command instead of filling memory", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const progress = await Deno.makeTempFile();
  try {
    // 256 blocks of 1 MiB: far more than every buffer on the way together
    // (pipe, socket buffers, client queue) can hold.
    const child = client.spawnShell(
      `i=0; while [ $i -lt 256 ]; do head -c 1048576 /dev/zero; i=$((i+1)); echo $i > ${progress}; done`,
    );
    const blocks = async () => Number((await Deno.readTextFile(progress)).trim() || "0");
    assert.ok(await waitFor(async () => (await blocks()) > 0));
    let previous = -1;
    assert.ok(
      await waitFor(async () => {
        const now = await blocks();
        const stalled = now === previous;
        previous = now;
        return stalled;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok((await blocks()) < 64, `the command wrote ${await blocks()} MiB unread`);
    const drained = await new Response(child.stdout).bytes();
    assert.equal(drained.length, 256 * 1048576);
    assert.equal((await child.status).code, 0);
  } finally {
    await Deno.remove(progress);
  }
});

Deno.test("Client.spawn(): many commands run one after another on one connection", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  for (let i = 0; i < 100; i++) {
    const { stdout } = await client.spawn(["echo", `${i}`]).output();
    assert.equal(text(stdout), `${i}\n`);
  }
  assert.equal(server.logs.filter((record) => record.message === "connection opened").length, 1);
});

Deno.test("Client.spawn(): a second command while one runs is refused locally", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const first = client.spawn(["sleep", "30"]);
  assert.throws(() => client.spawn(["true"]), SessionBusyError);
  first.cancel();
  await first.status;
  assert.equal((await client.spawn(["true"]).status).code, 0);
});

Deno.test("serve(): many clients in parallel each get their own output", async () => {
  await using server = await startServer();
  const results = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      await using client = await connectTo(server);
      const { stdout, code } = await client.spawn(["echo", `client ${i}`]).output();
      return { code, stdout: text(stdout) };
    }),
  );
  results.forEach(({ code, stdout }, i) => {
    assert.equal(code, 0);
    assert.equal(stdout, `client ${i}\n`);
  });
});

Deno.test("connect(): a wrong token is refused and the server keeps serving others", async () => {
  await using server = await startServer();
  await assert.rejects(
    connectTo(server, "a-wrong-token-of-sufficient-size"),
    (error: Error) =>
      error instanceof AuthenticationError && /authentication failed/.test(error.message),
  );
  await using client = await connectTo(server);
  assert.equal((await client.spawn(["true"]).status).code, 0);
  assert.ok(server.logs.some((record) => record.message === "authentication failed"));
});

Deno.test("serve(): the token never appears in the server's log", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  await client.spawn(["true"]).status;
  await connectTo(server, "another-wrong-token-value-xyz").catch(() => undefined);
  const logged = JSON.stringify(server.logs);
  assert.ok(!logged.includes("test-token"));
  assert.ok(!logged.includes("another-wrong-token"));
});

Deno.test("serve(): garbage and an HTTP request on the port do not disturb a working client", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  const child = client.spawnShell("for i in $(seq 1 20); do echo line $i; sleep 0.01; done");
  const output = child.output();

  const http = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await http.write(utf8("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const reply = text(await new Response(http.readable).bytes());
  assert.match(reply, /^HTTP\/1\.1 400 Bad Request/);
  assert.match(reply, /rexec protocol/);

  for (const garbage of [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x01]), utf8("hello")]) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(garbage);
    await new Response(conn.readable).bytes();
  }

  const { stdout, code } = await output;
  assert.equal(code, 0);
  assert.equal(text(stdout).split("\n").length, 21);
});

Deno.test("serve(): before authentication, an oversized first frame gets ERROR frame_too_large; TLS and junk are told apart", async () => {
  await using server = await startServer();
  /** Sends `bytes` as a connection's opening; returns what the server sent back. */
  const reply = async (bytes: Uint8Array) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(bytes);
    return await new Response(conn.readable).bytes();
  };
  const errorCode = (bytes: Uint8Array) => {
    assert.ok(bytes.length > HEADER_SIZE, `no ERROR frame: ${bytes.length} bytes`);
    assert.equal(bytes[4], FrameType.Error);
    return decodeErrorReport(bytes.subarray(HEADER_SIZE)).code;
  };
  for (const length of [4097, 1 << 20, 0xffff_ffff]) {
    const header = new Uint8Array(HEADER_SIZE);
    encodeHeader(header, FrameType.Hello, length);
    assert.equal(errorCode(await reply(header)), "frame_too_large", `length ${length}`);
  }
  // A TLS ClientHello's record header reads as a HELLO of 0x16030102 bytes:
  // it is recognised as TLS, and gets no rexec frame.
  assert.equal((await reply(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))).length, 0);
  assert.equal(errorCode(await reply(utf8("hello"))), "not_rexec");
  assert.ok(
    server.logs.some((record) =>
      record.message === "protocol error" && record.fields?.code === "frame_too_large"
    ),
  );
});

Deno.test("serve(): an oversized frame from an authenticated client ends only that session", async () => {
  await using server = await startServer({ maxFrameSize: 4096 });
  await using good = await connectTo(server);
  using bad = await openRawSession(server, { authenticate: true });
  const header = new Uint8Array(HEADER_SIZE);
  encodeHeader(header, FrameType.Stdin, 1 << 30);
  await bad.writer.writeEncoded(header);
  const frames = await readAllFrames(bad.reader);
  const error = decodeErrorReport(frames.at(-1)!.body);
  assert.equal(error.code, "frame_too_large");
  assert.equal((await good.spawn(["true"]).status).code, 0);
});

Deno.test("serve(): protocol violations get an ERROR naming the problem, then the connection closes", async () => {
  await using server = await startServer();
  const cases: [string, (writer: FrameWriter) => Promise<void>, RegExp][] = [
    ["STDOUT from a client", (w) => w.write(FrameType.Stdout, utf8("x")), /unexpected STDOUT/],
    ["a malformed EXEC", (w) => w.write(FrameType.Exec, utf8("{}")), /invalid EXEC request/],
    ["stdin for a command without stdin", async (w) => {
      await w.write(
        FrameType.Exec,
        encodeJson({ argv: ["sleep", "30"], stdin: false, stdout: true, stderr: true }),
      );
      await w.write(FrameType.Stdin, utf8("x"));
    }, /without stdin/],
    ["an empty STDIN frame", async (w) => {
      await w.write(
        FrameType.Exec,
        encodeJson({ argv: ["sleep", "30"], stdin: true, stdout: true, stderr: true }),
      );
      await w.write(FrameType.Stdin, new Uint8Array(0));
    }, /empty body/],
    ["two EXECs at once", async (w) => {
      const exec = encodeJson({ argv: ["sleep", "30"], stdin: false, stdout: true, stderr: true });
      await w.write(FrameType.Exec, exec);
      await w.write(FrameType.Exec, exec);
    }, /EXEC while a command is still running/],
  ];
  for (const [name, misbehave, expected] of cases) {
    using raw = await openRawSession(server, { authenticate: true });
    await misbehave(raw.writer);
    const frames = await readAllFrames(raw.reader);
    const last = frames.at(-1);
    assert.equal(last?.type, FrameType.Error, name);
    assert.match(decodeErrorReport(last.body).message, expected, name);
  }
  await using client = await connectTo(server);
  assert.equal((await client.spawn(["true"]).status).code, 0);
});

Deno.test("serve(): EXEC before authentication is refused and runs nothing", async () => {
  await using server = await startServer();
  using raw = await openRawSession(server, { authenticate: false });
  const marker = await Deno.makeTempFile();
  await Deno.remove(marker);
  await raw.writer.write(
    FrameType.Exec,
    encodeJson({ argv: ["touch", marker], stdin: false, stdout: true, stderr: true }),
  );
  const frames = await readAllFrames(raw.reader);
  assert.equal(frames.at(-1)?.type, FrameType.Error);
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
});

Deno.test("Server.shutdown() ends running commands, tells their clients and returns", async () => {
  const server = await startServer();
  const client = await connectTo(server);
  const child = client.spawnShell("echo $$; exec sleep 300");
  const pid = Number((await readUntil(child.stdout.getReader(), "\n")).trim());
  await server.server.shutdown();
  const status = await child.status;
  assert.equal(status.reason, "shutdown");
  await assert.rejects(
    async () => await client.spawn(["true"]).status,
    (error: Error) => error instanceof RemoteError || error instanceof ConnectionError,
  );
  assert.equal(await processExists(pid), false);
});

Deno.test("Client.spawn(): a request the server would refuse is refused locally and the connection stays usable", async () => {
  await using server = await startServer();
  await using client = await connectTo(server);
  assert.throws(() => client.spawn(["env"], { env: { "A=B": "x" } }), TypeError);
  assert.throws(() => client.spawn(["sleep", "1"], { timeout: -1 }), TypeError);
  assert.throws(() => client.spawn(["echo", "a\0b"]), TypeError);
  assert.throws(() => client.spawn([]), TypeError);
  assert.equal((await client.spawn(["true"]).status).code, 0);
});

Deno.test("serve() and connect(): the server listens and the client connects over IPv6 loopback", async () => {
  await using server = await startServer({ hostname: "::1" });
  assert.equal(server.server.addr.hostname, "::1");
  await using client = await connect({ hostname: "::1", port: server.port, token: TOKEN });
  const { stdout } = await client.spawn(["echo", "v6"]).output();
  assert.equal(text(stdout), "v6\n");
});
