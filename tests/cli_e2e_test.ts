import assert from "node:assert/strict";
import {
  processExists,
  readUntil,
  runCli,
  spawnCli,
  startCliServer,
  startServer,
  text,
  utf8,
  waitFor,
} from "./helpers.ts";
import { createSelfSignedCertificate } from "../lib/tls/certificate.ts";

Deno.test("rexec run sends stdout and stderr to their own local streams, byte for byte", async () => {
  await using server = await startServer();
  const bytes = new Uint8Array(256 * 16).map((_, i) => i % 256);
  const result = await runCli(["run", server.address, "--", "tee", "/dev/stderr"], {
    stdin: bytes,
  });
  assert.equal(result.code, 0);
  assert.deepEqual(result.stdout, bytes);
  assert.deepEqual(result.stderr, bytes);
});

Deno.test("rexec run carries megabytes of stdout and stderr at once, whole and in order, to a slow reader", async () => {
  await using server = await startServer();
  // Both streams busy at once, each several frames long, and a local reader
  // that starts late and takes small bites: the batching and backpressure
  // between the socket and local stdout must lose and reorder nothing.
  const script = "seq 1 300000; seq 1 300000 >&2 & seq 300001 600000; wait";
  const child = spawnCli(["run", server.address, "-c", script]);
  const stderrRead = new Response(child.stderr).bytes();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stdoutChunks: Uint8Array<ArrayBuffer>[] = [];
  const reader = child.stdout.getReader({ mode: "byob" });
  for (;;) {
    const { value, done } = await reader.read(new Uint8Array(4096));
    if (done) break;
    stdoutChunks.push(value as Uint8Array<ArrayBuffer>);
  }
  const [stderr, status] = await Promise.all([stderrRead, child.status]);
  assert.equal(status.code, 0);
  const numbers = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join("");
  assert.equal(
    text(new Uint8Array(await new Blob(stdoutChunks).arrayBuffer())),
    numbers(1, 600000),
  );
  assert.equal(text(stderr), numbers(1, 300000));
});

Deno.test("rexec run exits with the remote command's exit code", async () => {
  await using server = await startServer();
  for (const code of [0, 1, 42]) {
    const result = await runCli(["run", server.address, "-c", `exit ${code}`]);
    assert.equal(result.code, code);
    assert.equal(result.stderrText, "");
  }
});

Deno.test("rexec run exits 127 and 126 when the command cannot start, with one line on stderr", async () => {
  await using server = await startServer();
  const missing = await runCli(["run", server.address, "--", "rexec-no-such-program"]);
  assert.equal(missing.code, 127);
  assert.equal(missing.stderrText, "rexec: rexec-no-such-program: command not found\n");
  const file = await Deno.makeTempFile();
  try {
    const notExecutable = await runCli(["run", server.address, "--", file]);
    assert.equal(notExecutable.code, 126);
    assert.equal(notExecutable.stderrText, `rexec: ${file}: cannot execute: permission denied\n`);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("rexec run keeps 127 for a shell command line given as the program, and says to use -c", async () => {
  await using server = await startServer();
  const result = await runCli(["run", server.address, "echo $HOME"]);
  assert.equal(result.code, 127);
  assert.equal(
    result.stderrText,
    "rexec: echo $HOME: command not found; " +
      "to run a shell command line, give it with -c: -c 'echo $HOME'\n",
  );
  const quoted = await runCli(["run", server.address, "--", "echo it's | tr a-z A-Z"]);
  assert.equal(quoted.code, 127);
  assert.match(quoted.stderrText, / -c 'echo it'\\''s \| tr a-z A-Z'\n$/);
  // With arguments, or a name with nothing of the shell in it, it is just not found.
  const withArgs = await runCli(["run", server.address, "--", "no such", "arg"]);
  assert.equal(withArgs.stderrText, "rexec: no such: command not found\n");
});

Deno.test("rexec run exits 128+N when the remote command dies of signal N", async () => {
  await using server = await startServer();
  assert.equal((await runCli(["run", server.address, "-c", "kill -KILL $$"])).code, 137);
  assert.equal((await runCli(["run", server.address, "-c", "kill -TERM $$"])).code, 143);
});

Deno.test("rexec run forwards stdin and its end of file", async () => {
  await using server = await startServer();
  const result = await runCli(["run", server.address, "--", "cat"], { stdin: utf8("hi\n") });
  assert.equal(result.code, 0);
  assert.equal(result.stdoutText, "hi\n");
});

Deno.test("rexec run -n gives the command an empty stdin without reading local stdin", async () => {
  await using server = await startServer();
  const result = await runCli(["run", "-n", server.address, "--", "wc", "-c"], {
    stdin: utf8("not for the remote command"),
  });
  assert.equal(result.stdoutText.trim(), "0");
});

Deno.test("rexec run takes options before and after HOST, and -e, --cwd, -c", async () => {
  await using server = await startServer();
  const result = await runCli([
    "run",
    "-e",
    "GREETING=hello world",
    server.address,
    "--cwd",
    "/",
    "-c",
    'echo "$GREETING from $(pwd)"',
  ]);
  assert.equal(result.stdoutText, "hello world from /\n");
});

Deno.test("rexec run passes arguments after the command to it untouched", async () => {
  await using server = await startServer();
  const result = await runCli(["run", server.address, "printf", "%s,", "-n", "--timeout", "$X"]);
  assert.equal(result.stdoutText, "-n,--timeout,$X,");
});

Deno.test("rexec run --timeout ends the command and exits 124", async () => {
  await using server = await startServer();
  const result = await runCli(["run", "--timeout", "0.3", server.address, "--", "sleep", "30"]);
  assert.equal(result.code, 124);
  assert.equal(result.stderrText, "rexec: timed out after 0.3 s\n");
});

Deno.test("rexec run exits 255 with one clear line when the token is wrong", async () => {
  await using server = await startServer();
  const result = await runCli(["run", server.address, "--", "true"], {
    token: "definitely-not-the-right-token",
  });
  assert.equal(result.code, 255);
  assert.match(result.stderrText, /^rexec: authentication failed: .* rejected the token\n$/);
});

Deno.test("rexec run exits 255 with one clear line when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await runCli(["run", `127.0.0.1:${port}`, "--", "true"]);
  assert.equal(result.code, 255);
  assert.match(
    result.stderrText,
    /^rexec: cannot connect to 127\.0\.0\.1:\d+: connection refused.*\n$/,
  );
});

Deno.test("rexec run exits 255 with one line pointing to --help on a usage error", async () => {
  const result = await runCli(["run", "somehost"]);
  assert.equal(result.code, 255);
  assert.equal(
    result.stderrText,
    "rexec: missing command: rexec run HOST -- CMD [ARG...] or rexec run HOST -c STRING " +
      "(see rexec --help)\n",
  );
  const habit = await runCli(["run", "-p", "2222", "somehost", "--", "true"]);
  assert.equal(habit.code, 255);
  assert.equal(
    habit.stderrText,
    "rexec: unknown option -p for run: give the port with the host, as HOST:PORT " +
      "(see rexec --help)\n",
  );
});

Deno.test("rexec serve with a short REXEC_TOKEN says to set a longer one, not to delete a file", async () => {
  const result = await runCli(["serve", "--listen", "127.0.0.1:0"], { token: "short" });
  assert.equal(result.code, 255);
  assert.equal(
    result.stderrText,
    "rexec: REXEC_TOKEN is 5 characters; a token needs at least 16: set it to a longer secret, " +
      "the same for the server and its clients, or unset it to use the token file\n",
  );
});

Deno.test("rexec run --ca with a file that is not a certificate says so, before connecting", async () => {
  const pair = await createSelfSignedCertificate({ names: ["127.0.0.1"] });
  await using server = await startServer({ tls: { cert: pair.certPem, key: pair.keyPem } });
  const dir = await Deno.makeTempDir();
  try {
    const cases = [
      [
        "notes.txt",
        "just some text\n",
        "(it has no -----BEGIN CERTIFICATE----- block)",
      ],
      ["tls-key.pem", pair.keyPem, "(it is a private key, which stays on the server)"],
      [
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        "(the PEM certificate is not a DER-encoded certificate)",
      ],
    ];
    for (const [name, content, detail] of cases) {
      const file = `${dir}/${name}`;
      await Deno.writeTextFile(file, content);
      const result = await runCli(["run", "--ca", file, `tls://${server.address}`, "--", "true"]);
      assert.equal(result.code, 255);
      assert.equal(
        result.stderrText,
        `rexec: ${file} is not a PEM certificate ${detail}: give --ca the server's tls-cert.pem\n`,
      );
    }
    assert.ok(
      !server.logs.some((record) => record.message === "connection opened"),
      "it connected",
    );
    await Deno.writeTextFile(`${dir}/tls-cert.pem`, pair.certPem);
    const trusted = await runCli(
      ["run", "--ca", `${dir}/tls-cert.pem`, `tls://${server.address}`, "--", "echo", "ok"],
    );
    assert.equal(trusted.stdoutText, "ok\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rexec run shows the first line before the command ends, and Ctrl-C exits 130", async () => {
  await using server = await startServer();
  const child = spawnCli(["run", server.address, "-c", "echo first $$; exec sleep 30"]);
  const reader = child.stdout.getReader();
  const line = await readUntil(reader, "\n");
  assert.match(line, /^first \d+\n$/);
  const remotePid = Number(line.split(" ")[1]);
  assert.ok(await processExists(remotePid));
  child.kill("SIGINT");
  reader.releaseLock();
  const { code } = await child.output();
  assert.equal(code, 130);
  assert.equal(await processExists(remotePid), false);
});

Deno.test("rexec run cancels the command and exits 141 when local stdout is closed", async () => {
  await using server = await startServer();
  const child = spawnCli(["run", server.address, "-c", "echo $$; exec yes"]);
  const reader = child.stdout.getReader();
  const remotePid = Number((await readUntil(reader, "\n")).split("\n")[0]);
  await reader.cancel();
  await child.stderr.cancel();
  const { code } = await child.status;
  assert.equal(code, 141);
  assert.ok(await waitFor(async () => !(await processExists(remotePid))));
});

Deno.test("rexec shell runs a piped script in one login shell: multi-line constructs, cd and variables carry over", async () => {
  await using server = await startServer();
  const script = "echo one\nif false; then\n echo inside\nfi\nx=kept\ncd /tmp\n" +
    'echo "$(pwd) $x"\necho two >&2\nexit 3\necho never\n';
  const result = await runCli(["shell", server.address], { stdin: utf8(script) });
  assert.equal(result.code, 3);
  assert.equal(result.stdoutText, "one\n/tmp kept\n");
  assert.equal(result.stderrText, "two\n");
  const opened = server.logs.filter((record) => record.message === "connection opened");
  assert.equal(opened.length, 1);
});

Deno.test("rexec shell ends at end of input with the shell's status", async () => {
  await using server = await startServer();
  const eof = await runCli(["shell", server.address], { stdin: utf8("echo a\n(exit 5)") });
  assert.deepEqual([eof.code, eof.stdoutText, eof.stderrText], [5, "a\n", ""]);
});

Deno.test("rexec shell ends with 128+N on SIGTERM or SIGHUP, ending the running command first", async () => {
  await using server = await startServer();
  const busy = spawnCli(["shell", server.address], { stdin: new Uint8Array() });
  const busyIn = busy.stdin.getWriter();
  await busyIn.write(utf8("echo $$; exec sleep 30\n"));
  const busyOut = busy.stdout.getReader();
  const remotePid = Number(await readUntil(busyOut, "\n"));
  busy.kill("SIGTERM");
  busyOut.releaseLock();
  const busyResult = await busy.output();
  assert.equal(busyResult.code, 143);
  assert.equal(await processExists(remotePid), false);

  const idle = spawnCli(["shell", server.address], { stdin: new Uint8Array() });
  const idleIn = idle.stdin.getWriter();
  await idleIn.write(utf8("echo ready\n"));
  const idleOut = idle.stdout.getReader();
  await readUntil(idleOut, "ready\n");
  idle.kill("SIGHUP");
  idleOut.releaseLock();
  assert.equal((await idle.output()).code, 129);
  // The shells are gone, so closing their stdin may fail with a broken pipe.
  await Promise.allSettled([busyIn.close(), idleIn.close()]);
});

Deno.test("rexec serve works with no configuration and shuts down cleanly on SIGTERM", async () => {
  const config = await Deno.makeTempDir();
  try {
    const env = { XDG_CONFIG_HOME: config };
    const serve = await startCliServer([], { token: null, env });
    const address = serve.address;
    const info = await Deno.stat(`${config}/rexec/token`);
    assert.equal(info.mode! & 0o777, 0o600);

    const ok = await runCli(["run", address, "--", "echo", "zero config"], { token: null, env });
    assert.equal(ok.stdoutText, "zero config\n");

    const running = spawnCli(["run", address, "-c", "echo started; exec sleep 30"], {
      token: null,
      env,
    });
    const runningOut = running.stdout.getReader();
    await readUntil(runningOut, "started");
    const stopped = serve.stop();
    runningOut.releaseLock();
    const client = await running.output();
    assert.equal(client.code, 255);
    assert.match(text(client.stderr), /server is shutting down/);
    const server = await stopped;
    assert.equal(server.code, 0);
    assert.match(server.log, /stopped/);
    const token = (await Deno.readTextFile(`${config}/rexec/token`)).trim();
    assert.ok(!server.log.includes(token));
  } finally {
    await Deno.remove(config, { recursive: true });
  }
});

Deno.test("rexec serve keeps serving when its stderr is closed", async () => {
  const serve = spawnCli(["serve", "--listen", "127.0.0.1:0"]);
  try {
    const logReader = serve.stderr.getReader();
    const log = await readUntil(logReader, /listening address=\S+\s/);
    const address = log.match(/listening address=(\S+)\s/)![1];
    await logReader.cancel();
    for (const word of ["first", "second"]) {
      const result = await runCli(["run", address, "--", "echo", word]);
      assert.deepEqual([result.code, result.stdoutText], [0, `${word}\n`]);
    }
  } finally {
    serve.kill("SIGTERM");
    await serve.stdout.cancel();
  }
  assert.equal((await serve.status).code, 0);
});

Deno.test("rexec run exits 255 with one clear line when the server dies mid-command", async () => {
  const serve = spawnCli(["serve", "--listen", "127.0.0.1:0"]);
  const logReader = serve.stderr.getReader();
  const log = await readUntil(logReader, /listening address=\S+\s/);
  const address = log.match(/listening address=(\S+)\s/)![1];
  const client = spawnCli(["run", address, "-c", "echo $$; exec sleep 30"]);
  const clientOut = client.stdout.getReader();
  // A server killed outright cannot end its commands; the test does.
  const remotePid = Number(await readUntil(clientOut, "\n"));
  try {
    serve.kill("SIGKILL");
    await serve.status;
    await logReader.cancel();
    await serve.stdout.cancel();
    clientOut.releaseLock();
    const result = await client.output();
    assert.equal(result.code, 255);
    assert.match(text(result.stderr), /^rexec: [^\n]*connection[^\n]*\n$/);
  } finally {
    Deno.kill(remotePid, "SIGKILL");
  }
});
