import assert from "node:assert/strict";
import type { AuditEvent } from "../lib/server/audit.ts";
import { connect } from "../lib/client/client.ts";
import { RemoteError, RexecError } from "../lib/errors.ts";
import { FrameType } from "../lib/protocol/frame.ts";
import { serve } from "../lib/server/server.ts";
import { FrameReader } from "../lib/transport/frame_reader.ts";
import { FrameWriter } from "../lib/transport/frame_writer.ts";
import { decodeErrorReport, encodeJson } from "../lib/protocol/messages.ts";
import { closeQuietly } from "../lib/util/close_quietly.ts";
import { createSelfSignedCertificate } from "../lib/tls/certificate.ts";
import {
  answerChallenge,
  CLI_PERMISSIONS,
  connectTo,
  MAIN,
  openRawSession,
  processExists,
  readAllFrames,
  readUntil,
  runCli,
  sendHello,
  startServer,
  tempDir,
  type TestServer,
  text,
  TOKEN,
  waitFor,
} from "./helpers.ts";

/** The ERROR code a server sent before closing, read from a raw connection. */
async function farewellCode(reader: Parameters<typeof readAllFrames>[0]): Promise<string> {
  const frames = await readAllFrames(reader);
  const error = frames.find((frame) => frame.type === FrameType.Error);
  assert.ok(error, `expected an ERROR frame, got ${frames.map((f) => f.type)}`);
  return decodeErrorReport(error.body).code;
}

Deno.test("serve(): a connection that does not authenticate in time is closed, and others are served meanwhile", async () => {
  await using server = await startServer({ handshakeTimeout: 0.3 });
  const silent = await Promise.all(
    Array.from({ length: 20 }, () => openRawSession(server, { authenticate: false })),
  );
  try {
    await using client = await connectTo(server);
    assert.equal((await client.spawn(["echo", "served"]).output()).code, 0);
    for (const raw of silent) assert.equal(await farewellCode(raw.reader), "handshake_timeout");
  } finally {
    for (const raw of silent) raw[Symbol.dispose]();
  }
});

Deno.test("serve(): a session without a command for the idle timeout is closed; a long command is not", async () => {
  await using server = await startServer({ idleTimeout: 0.3 });
  await using busy = await connectTo(server);
  assert.equal((await busy.spawn(["sleep", "0.6"]).status).code, 0);
  await using idle = await connectTo(server);
  await idle.closed;
  assert.throws(() => idle.spawn(["true"]), (error: unknown) => {
    return error instanceof RemoteError && error.code === "idle_timeout";
  });
});

Deno.test("serve(): a client that falls silent is dropped and its command ended; a live one is kept", async () => {
  await using server = await startServer({ keepalive: 0.2, killGrace: 0.2 });
  using raw = await openRawSession(server, { authenticate: true });
  await raw.writer.write(
    FrameType.Exec,
    encodeJson({ shell: "echo $$; exec sleep 30", stdin: false, stdout: true, stderr: true }),
  );
  const pidFrame = await raw.reader.read();
  const pid = Number(text(pidFrame!.body));
  assert.ok(await processExists(pid));
  // The raw session answers no PING and sends nothing from here on.
  assert.ok(await waitFor(async () => !(await processExists(pid)), 10_000));
  assert.ok(server.logs.some((record) => /no word from the client/.test(record.message)));

  await using live = await connect({
    hostname: "127.0.0.1",
    port: server.port,
    token: TOKEN,
    keepalive: 0.2,
  });
  assert.equal((await live.spawn(["sleep", "1.5"]).status).code, 0);
});

Deno.test("serve(): a client that sends PINGs but reads nothing is dropped and its command ended", async () => {
  await using server = await startServer({ keepalive: 0.5, killGrace: 0.2 });
  const pidFile = await Deno.makeTempFile();
  try {
    using raw = await openRawSession(server, { authenticate: true });
    await raw.writer.write(
      FrameType.Exec,
      encodeJson({
        shell: `echo $$ > '${pidFile}'; exec yes`,
        stdin: false,
        stdout: true,
        stderr: true,
      }),
    );
    let pid = 0;
    assert.ok(
      await waitFor(async () => (pid = Number(await Deno.readTextFile(pidFile))) > 0, 30_000),
    );
    // From here the client talks, but never reads a byte of output or a PONG.
    const pinger = setInterval(() => {
      raw.writer.write(FrameType.Ping).catch((error) => {
        // The server dropping us is what this test waits for.
        if (
          !(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset)
        ) {
          throw error;
        }
      });
    }, 100);
    try {
      assert.ok(
        await waitFor(async () => !(await processExists(pid)), 30_000),
        "the command ran on",
      );
    } finally {
      clearInterval(pinger);
    }
    assert.ok(server.logs.some((record) => /read nothing/.test(record.message)));
  } finally {
    await Deno.remove(pidFile);
  }
});

Deno.test("serve(): a client that reads its output slowly keeps its command", async () => {
  await using server = await startServer({ keepalive: 2 });
  // The client pings on the server's schedule: an answer to the server's
  // own PINGs would wait behind the output still in flight.
  await using client = await connect({
    hostname: "127.0.0.1",
    port: server.port,
    token: TOKEN,
    keepalive: 2,
  });
  // About 2.5 MB/s for 20 MB: held back by the reader for longer than the
  // three intervals the server allows a peer that takes nothing.
  const child = client.spawn(["head", "-c", "20000000", "/dev/zero"]);
  let received = 0;
  let sincePause = 0;
  for await (const chunk of child.stdout) {
    received += chunk.length;
    sincePause += chunk.length;
    if (sincePause >= 256 * 1024) {
      sincePause = 0;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  assert.equal(received, 20_000_000);
  assert.equal((await child.status).code, 0);
  assert.ok(!server.logs.some((record) => record.fields?.code === "keepalive_timeout"));
});

Deno.test("serve(): over the session limit, a client is told the server is busy, and is served once a slot frees", async () => {
  await using server = await startServer({ maxSessions: 2 });
  const first = await connectTo(server);
  await using _second = await connectTo(server);
  await assert.rejects(connectTo(server), (error: unknown) => {
    return error instanceof RemoteError && error.code === "server_busy" &&
      /busy/.test(error.message);
  });
  await first[Symbol.asyncDispose]();
  assert.ok(
    await waitFor(async () => {
      try {
        await using third = await connectTo(server);
        return (await third.spawn(["true"]).status).code === 0;
      } catch (error) {
        if (error instanceof RemoteError && error.code === "server_busy") return false;
        throw error;
      }
    }),
  );
});

Deno.test("serve(): over the running-command limit, a command is refused as busy and the session goes on", async () => {
  await using server = await startServer({ maxCommands: 1 });
  await using a = await connectTo(server);
  await using b = await connectTo(server);
  const long = a.spawn(["sh", "-c", "echo go; exec sleep 30"]);
  const reader = long.stdout.getReader();
  await readUntil(reader, "go");
  const refused = await b.spawn(["true"]).status;
  assert.equal(refused.reason, "busy");
  assert.equal(refused.code, 255);
  assert.match(refused.message!, /busy/);
  long.cancel();
  reader.releaseLock();
  await long.status;
  assert.equal((await b.spawn(["true"]).status).code, 0);
});

Deno.test("serve(): an EXEC request over the size limit is refused with 125 and the session goes on", async () => {
  await using server = await startServer({ maxExecSize: 1000 });
  await using client = await connectTo(server);
  const refused = await client.spawn(["echo", "x".repeat(2000)]).status;
  assert.equal(refused.code, 125);
  assert.equal(refused.reason, "refused");
  assert.match(refused.message!, /at most 1000/);
  assert.equal((await client.spawn(["echo", "small"]).output()).code, 0);
});

/** What `promise` gives, or a failure saying the client was left hanging. */
async function answeredWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: the client hangs`)), ms);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects with a wrong token; the promise settles when the server answers. */
function wrongToken(server: TestServer, hostname = "127.0.0.1") {
  return connect({ hostname, port: server.port, token: `${TOKEN}-wrong`, timeout: 300 });
}

/** Counts the settled promises of `attempts`, as they settle. */
function countAnswers(attempts: Promise<unknown>[]): { readonly count: number } {
  const answers = { count: 0 };
  for (const attempt of attempts) attempt.then(() => answers.count++, () => answers.count++);
  return answers;
}

/** The server's records of wrong proofs it checked, with how long each answer is held. */
function checkedWrong(server: TestServer) {
  return server.logs.filter((record) => record.message === "authentication failed");
}

Deno.test("serve(): a client with the right token is served at once while wrong tokens from its address wait", async () => {
  await using server = await startServer({
    hostname: "::",
    insecurePlaintext: true,
    authFailureDelay: 30,
    handshakeTimeout: 300,
  });
  const wrong = [1, 2, 3].map(() => wrongToken(server));
  const answers = countAnswers(wrong);
  assert.ok(await waitFor(() => checkedWrong(server).length === 3, 30_000));
  {
    await using right = await connectTo(server);
    assert.equal(text((await right.spawn(["echo", "served"]).output()).stdout), "served\n");
  }
  assert.equal(answers.count, 0, "a wrong token was answered before the right one was served");
  assert.ok(
    !server.logs.some((record) => record.message.startsWith("checked a proof after waiting")),
    "the right token waited for its address's failures",
  );
  // Another address is not held back either.
  {
    await using other = await connect({ hostname: "::1", port: server.port, token: TOKEN });
    assert.equal((await other.spawn(["true"]).status).code, 0);
  }
  // The success wiped nothing: the next wrong token is held longer than all before it.
  const fourth = wrongToken(server);
  assert.ok(await waitFor(() => checkedWrong(server).length === 4, 30_000));
  const holds = checkedWrong(server).map((record) => Number(record.fields!.answer_in_ms));
  assert.ok(holds[3] > Math.max(...holds.slice(0, 3)), `answers held ${holds} ms`);
  await server.server.shutdown();
  for (const attempt of [...wrong, fourth]) {
    await assert.rejects(attempt, (error: unknown) => error instanceof RexecError);
  }
});

Deno.test("serve(): after a burst of wrong tokens from its address, the right one waits for one answer, not behind the burst", async () => {
  await using server = await startServer({ authFailureDelay: 1, handshakeTimeout: 300 });
  const burst = Array.from({ length: 30 }, () => wrongToken(server));
  const answers = countAnswers(burst);
  // Eight are checked and held; the other 22 wait to be checked.
  assert.ok(await waitFor(() => checkedWrong(server).length === 8, 30_000));
  await using right = await connect({
    hostname: "127.0.0.1",
    port: server.port,
    token: TOKEN,
    timeout: 120,
  });
  assert.equal((await right.spawn(["true"]).status).code, 0);
  // Checking the whole burst first would have taken minutes.
  assert.ok(checkedWrong(server).length < 20, `${checkedWrong(server).length} checked first`);
  assert.ok(answers.count < 20);
  await server.server.shutdown();
  await Promise.allSettled(burst);
});

Deno.test("serve(): many wrong tokens at once from one address are not all checked, nor answered, at once", async () => {
  await using server = await startServer({ authFailureDelay: 5, handshakeTimeout: 300 });
  const attempts = Array.from({ length: 20 }, () => wrongToken(server));
  const answers = countAnswers(attempts);
  await Promise.race(attempts.map((attempt) => attempt.catch(() => {})));
  // The next answer is due 10 s after the first: give a fast server 3 s to
  // answer them all at once, as one without a throttle would.
  assert.equal(await waitFor(() => answers.count === 20, 3000), false);
  assert.ok(answers.count < 20);
  // A proof is checked only when an earlier wrong one's answer went out.
  assert.ok(
    checkedWrong(server).length <= 8 + answers.count,
    `${checkedWrong(server).length} wrong tokens checked, ${answers.count} answered`,
  );
  await server.server.shutdown();
  await Promise.allSettled(attempts);
});

Deno.test("serve(): sockets left idle before authenticating do not keep a client with the token out", async () => {
  await using server = await startServer({
    maxSessions: 4,
    maxStartups: 20,
    maxStartupsPerSource: 10,
  });
  const opened = () =>
    server.logs.filter((record) => record.message === "connection opened").length;
  const idle = [];
  try {
    // One after another, so that the oldest are known.
    for (let i = 1; i <= 30; i++) {
      idle.push(await openRawSession(server, { authenticate: false }));
      assert.ok(await waitFor(() => opened() === i), "the server refused an idle socket");
    }
    {
      await using client = await connectTo(server);
      assert.equal((await client.spawn(["true"]).status).code, 0);
    }
    // The oldest idle ones made room, and were told why.
    const evicted = idle.slice(0, 21);
    for (const raw of evicted) assert.equal(await farewellCode(raw.reader), "server_busy");
    assert.ok(
      server.logs.some((record) =>
        record.message === "closed the oldest unauthenticated connection to make room"
      ),
    );
  } finally {
    for (const raw of idle) raw[Symbol.dispose]();
  }
});

Deno.test("serve(): two hundred library sessions opened at once from one process are all served", async () => {
  // What is tested is the startup caps, not how fast a loaded machine
  // finishes 200 handshakes: the handshake timeout is set out of the way.
  await using server = await startServer({ handshakeTimeout: 120 });
  await using stack = new AsyncDisposableStack();
  const outputs = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const client = stack.use(
        await connect({ hostname: "127.0.0.1", port: server.port, token: TOKEN, timeout: 120 }),
      );
      return text((await client.spawn(["echo", String(i)]).output()).stdout);
    }),
  );
  assert.deepEqual(outputs, Array.from({ length: 200 }, (_, i) => `${i}\n`));
});

Deno.test("serve(): fifty clients starting at once from one address are all served, beside idle sockets", async () => {
  await using server = await startServer({ maxSessions: 60, handshakeTimeout: 120 });
  const idle = await Promise.all(
    Array.from({ length: 30 }, () => openRawSession(server, { authenticate: false })),
  );
  try {
    assert.ok(
      await waitFor(() =>
        server.logs.filter((record) => record.message === "connection opened").length === 30
      ),
    );
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await using client = await connect({
          hostname: "127.0.0.1",
          port: server.port,
          token: TOKEN,
          timeout: 120,
        });
        return text((await client.spawn(["echo", String(i)]).output()).stdout);
      }),
    );
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => `${i}\n`));
  } finally {
    for (const raw of idle) raw[Symbol.dispose]();
  }
});

/**
 * Starts `rexec serve --listen 127.0.0.1:0 ARGS` allowed 64 file descriptors
 * and waits until it listens; its log lines gather in `log` as it writes them.
 * Disposing it stops the server.
 */
async function startServerWithFewDescriptors(args: readonly string[]) {
  const serve = new Deno.Command("sh", {
    args: [
      "-c",
      'ulimit -n 64 && exec "$@"',
      "sh",
      Deno.execPath(),
      "run",
      ...CLI_PERMISSIONS,
      MAIN,
      "serve",
      "--listen",
      "127.0.0.1:0",
      ...args,
    ],
    env: { REXEC_TOKEN: TOKEN, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const logDone = (async () => {
    // Whole lines only: a line is looked at once its newline has come.
    let partial = "";
    for await (const text of serve.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      log.push(...lines);
    }
  })();
  const stop = async () => {
    serve.kill("SIGTERM");
    await serve.status;
    await logDone;
  };
  if (!await waitFor(() => log.some((line) => / listening /.test(line)), 60_000)) {
    await stop();
    assert.fail(log.join("\n"));
  }
  const port = Number(
    /address=127\.0\.0\.1:(\d+)/.exec(log.find((line) => / listening /.test(line))!)![1],
  );
  return { log, port, [Symbol.asyncDispose]: stop };
}

Deno.test("rexec serve: out of file descriptors, new clients are told the server is busy at once, and the log says so once a second", async () => {
  await using server = await startServerWithFewDescriptors([]);
  const { log, port } = server;
  const sessions: Deno.Conn[] = [];
  try {
    const since = performance.now();
    // Authenticated sessions, each holding a descriptor, until the server has none left.
    let refusal: string | undefined;
    while (refusal === undefined) {
      assert.ok(sessions.length < 64, "the server never ran out of descriptors");
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const reader = new FrameReader(conn.readable, { maxFrameSize: 65536 });
      const writer = new FrameWriter(conn);
      sessions.push(conn);
      await sendHello(writer, 65536);
      const first = await answeredWithin(reader.read(), 30_000);
      if (first?.type === FrameType.Error) {
        refusal = decodeErrorReport(first.body).code;
        break;
      }
      assert.equal(first?.type, FrameType.Hello);
      await answerChallenge(reader, writer);
    }
    assert.equal(refusal, "server_busy");
    const result = await runCli([
      "run",
      "--connect-timeout",
      "60",
      `127.0.0.1:${port}`,
      "--",
      "true",
    ]);
    assert.equal(result.code, 255);
    assert.match(result.stderrText, /^rexec: .*busy.*file descriptors/m);
    // A burst of clients while the sessions hold every descriptor: each is
    // answered at once, the log not flooded. A descriptor the server frees
    // for a moment (a refused client's socket) may let one in as a session,
    // which answers its HELLO; what must never happen is no answer.
    let busy = 0;
    for (let i = 0; i < 100; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const reader = new FrameReader(conn.readable, { maxFrameSize: 65536 });
      // A refused client may find the connection closed before its HELLO goes out.
      await sendHello(new FrameWriter(conn), 65536).catch((error) =>
        assert.ok(
          error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset,
          String(error),
        )
      );
      const frame = await answeredWithin(reader.read(), 30_000);
      conn.close();
      assert.ok(frame, "a client got no answer");
      if (frame.type === FrameType.Error) {
        assert.equal(decodeErrorReport(frame.body).code, "server_busy");
        busy++;
      } else {
        assert.equal(frame.type, FrameType.Hello);
      }
    }
    assert.ok(busy >= 90, `only ${busy} of 100 clients were told the server is busy`);
    const seconds = (performance.now() - since) / 1000;
    const complaints = log.filter((line) => /out of file descriptors|accept failed/.test(line));
    assert.ok(complaints.length >= 1);
    assert.ok(
      complaints.length <= Math.ceil(seconds) + 1,
      `${complaints.length} log lines in ${seconds.toFixed(1)} s`,
    );
  } finally {
    for (const conn of sessions) closeQuietly(conn);
  }
});

Deno.test("rexec serve: with TLS, out of file descriptors, new clients are refused at once and served again once some are free", async () => {
  await using work = await tempDir();
  const dir = work.path;
  const pair = await createSelfSignedCertificate({ names: ["127.0.0.1"] });
  const certFile = `${dir}/cert.pem`;
  await Deno.writeTextFile(certFile, pair.certPem);
  await Deno.writeTextFile(`${dir}/key.pem`, pair.keyPem);
  await using server = await startServerWithFewDescriptors([
    "--tls-cert",
    certFile,
    "--tls-key",
    `${dir}/key.pem`,
  ]);
  const { log, port } = server;
  const sessions: Deno.Conn[] = [];
  try {
    const since = performance.now();
    // Authenticated sessions, each holding a descriptor, until the server has none left.
    for (;;) {
      assert.ok(sessions.length < 64, "the server never ran out of descriptors");
      const attempt = (async () => {
        const conn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port,
          caCerts: [pair.certPem],
        });
        sessions.push(conn);
        const reader = new FrameReader(conn.readable, { maxFrameSize: 65536 });
        const writer = new FrameWriter(conn);
        await sendHello(writer, 65536);
        assert.equal((await reader.read())?.type, FrameType.Hello);
        await answerChallenge(reader, writer);
      })();
      const refused = await answeredWithin(attempt, 30_000).then(
        () => false,
        (error) => {
          if (/the client hangs/.test(error.message)) throw error;
          return true;
        },
      );
      if (refused) break;
    }
    const target = `tls://127.0.0.1:${port}`;
    const busy = await runCli([
      "run",
      "--ca",
      certFile,
      "--connect-timeout",
      "60",
      target,
      "--",
      "true",
    ]);
    assert.equal(busy.code, 255);
    assert.doesNotMatch(busy.stderrText, /no answer within/);
    assert.ok(log.some((line) => /out of file descriptors/.test(line)));
    for (const conn of sessions.splice(0)) closeQuietly(conn);
    let served = false;
    const deadline = Date.now() + 60_000;
    while (!served && Date.now() < deadline) {
      const result = await runCli(["run", "--ca", certFile, target, "--", "echo", "again"]);
      served = result.code === 0 && result.stdoutText === "again\n";
    }
    assert.ok(served, "the server never accepted a client again");
    const seconds = (performance.now() - since) / 1000;
    const complaints = log.filter((line) => /out of file descriptors/.test(line));
    assert.ok(complaints.length <= Math.ceil(seconds) + 1, `${complaints.length} in ${seconds} s`);
  } finally {
    for (const conn of sessions) closeQuietly(conn);
  }
});

Deno.test("serve() refuses to listen beyond loopback without TLS unless asked for explicitly", async () => {
  await assert.rejects(
    serve({ token: TOKEN, hostname: "0.0.0.0", port: 0 }),
    (error: unknown) => error instanceof RexecError && /--tls/.test(error.message),
  );
  const server = await serve({
    token: TOKEN,
    hostname: "0.0.0.0",
    port: 0,
    insecurePlaintext: true,
  });
  await server.shutdown();
});

Deno.test("serve() with audit: the audit trail records connections, authentication and commands, never secrets or data", async () => {
  const events: AuditEvent[] = [];
  await using server = await startServer({ audit: (event) => events.push(event) });
  await assert.rejects(connectTo(server, `${TOKEN}-wrong`));
  {
    await using client = await connectTo(server);
    const child = client.spawn(["cat"], { stdin: "piped", env: { SECRET_NAME: "hidden-value" } });
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("stdin-content"));
    await writer.close();
    assert.equal(text((await child.output()).stdout), "stdin-content");
  }
  assert.ok(await waitFor(() => events.filter((e) => e.event === "disconnect").length === 2));
  const summary = events.map((e) => `${e.event}${"result" in e ? `:${e.result}` : ""}`);
  assert.deepEqual(summary, [
    "connect",
    "auth:failed",
    "disconnect",
    "connect",
    "auth:ok",
    "exec",
    "exit",
    "disconnect",
  ]);
  const exec = events.find((e) => e.event === "exec")!;
  assert.deepEqual(exec.argv, ["cat"]);
  assert.deepEqual(exec.env, ["SECRET_NAME"]);
  const exit = events.find((e) => e.event === "exit")!;
  assert.equal(exit.code, 0);
  assert.equal(exit.bytes_in, "stdin-content".length);
  assert.equal(exit.bytes_out, "stdin-content".length);
  for (const event of events) {
    assert.equal(typeof event.session, "number");
    assert.match(event.peer, /^127\.0\.0\.1:\d+$/);
  }
  const all = JSON.stringify(events);
  for (const secret of [TOKEN, "stdin-content", "hidden-value"]) {
    assert.ok(!all.includes(secret), `audit trail leaked ${secret}`);
  }
});
