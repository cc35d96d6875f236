import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCli } from "../lib/cli/args.ts";
import { helpText } from "../lib/cli/help.ts";
import { exitCodeForSignal } from "../lib/cli/interrupts.ts";
import { describeStatus, exitCodeFor } from "../lib/cli/terminal.ts";
import { formatRecord, type LogValue } from "../lib/util/log.ts";

Deno.test("exitCodeFor(): 124 when --timeout ended the command, whatever its code", () => {
  assert.equal(
    exitCodeFor({ success: false, code: 143, signal: "SIGTERM", reason: "timeout" }),
    124,
  );
  assert.equal(
    exitCodeFor({ success: false, code: 137, signal: "SIGKILL", reason: "timeout" }),
    124,
  );
});

Deno.test("exitCodeFor(): 255 when the server shut down under the command", () => {
  assert.equal(
    exitCodeFor({ success: false, code: 143, signal: "SIGTERM", reason: "shutdown" }),
    255,
  );
});

Deno.test("exitCodeFor(): 128+N for death by signal N, the code for a normal exit", () => {
  assert.equal(exitCodeFor({ success: false, code: 137, signal: "SIGKILL" }), 137);
  assert.equal(exitCodeFor({ success: false, code: 143, signal: "SIGTERM" }), 143);
  assert.equal(exitCodeFor({ success: true, code: 0, signal: null }), 0);
  assert.equal(exitCodeFor({ success: false, code: 1, signal: null }), 1);
  assert.equal(exitCodeFor({ success: false, code: 42, signal: null }), 42);
});

Deno.test("exitCodeFor(): 126/127 for a command that could not start, the code when cancelled", () => {
  assert.equal(
    exitCodeFor({ success: false, code: 127, signal: null, reason: "spawn_failed", message: "x" }),
    127,
  );
  assert.equal(
    exitCodeFor({ success: false, code: 126, signal: null, reason: "spawn_failed", message: "x" }),
    126,
  );
  assert.equal(
    exitCodeFor({ success: false, code: 143, signal: "SIGTERM", reason: "cancelled" }),
    143,
  );
});

Deno.test("describeStatus() says nothing for success and the code for a plain failure", () => {
  assert.equal(describeStatus({ success: true, code: 0, signal: null }), undefined);
  assert.equal(describeStatus({ success: false, code: 2, signal: null }), "exit 2");
  assert.equal(describeStatus({ success: false, code: 255, signal: null }), "exit 255");
});

Deno.test("describeStatus() names the signal that killed the command", () => {
  assert.equal(
    describeStatus({ success: false, code: 137, signal: "SIGKILL" }),
    "killed by SIGKILL",
  );
  assert.equal(
    describeStatus({ success: false, code: 143, signal: "SIGTERM" }),
    "killed by SIGTERM",
  );
});

Deno.test("describeStatus() prefers the server's message over the signal and code", () => {
  assert.equal(
    describeStatus({
      success: false,
      code: 143,
      signal: "SIGTERM",
      reason: "timeout",
      message: "timed out after 1 s",
    }),
    "timed out after 1 s",
  );
  assert.equal(
    describeStatus({
      success: false,
      code: 127,
      signal: null,
      reason: "spawn_failed",
      message: "nosuch: command not found",
    }),
    "nosuch: command not found",
  );
});

Deno.test("exitCodeForSignal() is 128 plus the signal number, as a shell reports it", () => {
  assert.equal(exitCodeForSignal("SIGINT"), 130);
  assert.equal(exitCodeForSignal("SIGTERM"), 143);
  assert.equal(exitCodeForSignal("SIGHUP"), 129);
});

Deno.test("formatRecord() writes time, level, message and key=value fields, skipping undefined", () => {
  assert.equal(
    formatRecord({
      level: "info",
      message: "exit",
      fields: {
        session: 3,
        code: 0,
        success: true,
        signal: null,
        peer: "127.0.0.1:5000",
        argv: ["echo", "hi there"],
        skipped: undefined,
      },
    }, new Date(0)),
    "1970-01-01T00:00:00.000Z INFO exit session=3 code=0 success=true signal=null " +
      'peer=127.0.0.1:5000 argv=["echo","hi there"]',
  );
  assert.equal(
    formatRecord({ level: "error", message: "accept failed" }, new Date(0)),
    "1970-01-01T00:00:00.000Z ERROR accept failed",
  );
});

Deno.test("formatRecord() quotes strings with spaces, quotes, = or control characters", () => {
  const field = (value: LogValue) =>
    formatRecord({ level: "warn", message: "m", fields: { v: value } }, new Date(0))
      .slice("1970-01-01T00:00:00.000Z WARN m v=".length);
  assert.equal(field("plain"), "plain");
  assert.equal(field("two words"), '"two words"');
  assert.equal(field('say "hi"'), '"say \\"hi\\""');
  assert.equal(field("a=b"), '"a=b"');
  assert.equal(field(""), '""');
  assert.equal(field("tab\there"), '"tab\\there"');
  assert.equal(field("\x1b[31mred"), '"\\u001b[31mred"');
  assert.equal(field("two\nlines"), '"two\\nlines"');
  assert.equal(field("cr\rhere"), '"cr\\rhere"');
  assert.equal(field(["sh", "-c", "echo a\necho b"]), '["sh","-c","echo a\\necho b"]');
});

Deno.test("formatRecord(): a log record is one line even when its values hold newlines", () => {
  const line = formatRecord({
    level: "warn",
    message: "client reported an error",
    fields: { error: "first\nsecond\r\nthird", argv: ["printf", "a\nb"] },
  }, new Date(0));
  assert.equal(/[\r\n]/.test(line), false);
});

Deno.test("formatRecord(): any string field is one token with no line break that reads back as the value", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (value) => {
      const line = formatRecord({ level: "info", message: "m", fields: { v: value } }, new Date(0));
      assert.equal(/[\r\n]/.test(line), false);
      const text = line.slice("1970-01-01T00:00:00.000Z INFO m v=".length);
      if (text.startsWith('"')) {
        assert.equal(JSON.parse(text), value);
      } else {
        assert.equal(text, value);
        assert.equal(/[\s"=]/.test(text), false);
      }
    }),
  );
});

Deno.test("helpText(): each mode's help names every option that mode accepts", () => {
  const client = [
    "--token-file",
    "-e",
    "--env",
    "--cwd",
    "--timeout",
    "--connect-timeout",
    "-h",
    "--help",
  ];
  const options = {
    serve: [
      "-l",
      "--listen",
      "--token-file",
      "--max-frame-size",
      "--max-timeout",
      "--kill-grace",
      "-h",
      "--help",
    ],
    run: [...client, "-c", "--command", "-n", "--no-stdin"],
    shell: client,
  } as const;
  for (const [mode, names] of Object.entries(options)) {
    const text = helpText(mode as keyof typeof options);
    for (const name of names) {
      assert.match(text, new RegExp(`(^|[\\s,])${name}[\\s,]`, "m"), `${mode} help lacks ${name}`);
    }
  }
});

Deno.test("helpText(): the overview names every mode, help and --version", () => {
  const text = helpText();
  for (const word of ["rexec serve", "rexec run", "rexec shell", "rexec help", "--version"]) {
    assert.ok(text.includes(word), `overview lacks ${word}`);
  }
});

Deno.test("helpText(): the defaults the help states are the ones parseCli() applies", () => {
  const serve = parseCli(["serve"]);
  assert.ok(serve.mode === "serve");
  const serveHelp = helpText("serve");
  assert.ok(serveHelp.includes(`default ${serve.listen.hostname}:${serve.listen.port}`));
  assert.ok(serveHelp.includes(`default ${serve.maxTimeout};`));
  assert.ok(serveHelp.includes(`default ${serve.killGrace})`));
  assert.ok(serveHelp.includes(`default ${serve.maxFrameSize})`));
  const run = parseCli(["run", "box", "true"]);
  assert.ok(run.mode === "run");
  assert.ok(helpText("run").includes(`(default ${run.connectTimeout})`));
  assert.ok(helpText().includes(`port defaults to ${run.target.port}`));
});

Deno.test("formatRecord() escapes characters that some readers take as line breaks in log values", () => {
  const line = formatRecord({
    level: "warn",
    message: "client reported an error",
    fields: { message: "a\u2028b\u2029c\u0085d", argv: ["x\u2028"] },
  }, new Date(0));
  assert.ok(!/[\u0085\u2028\u2029\n\r]/.test(line));
  assert.ok(line.includes('message="a\\u2028b\\u2029c\\u0085d"'));
  assert.ok(line.includes('argv=["x\\u2028"]'));
});
