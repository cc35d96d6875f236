import assert from "node:assert/strict";
import { parseCli } from "../lib/cli/args.ts";
import { UsageError } from "../lib/errors.ts";

function usageError(args: string[], message: RegExp): void {
  assert.throws(
    () => parseCli(args),
    (error: Error) => error instanceof UsageError && message.test(error.message),
    args.join(" "),
  );
}

Deno.test("run takes options before and after HOST, and the command after --", () => {
  const config = parseCli([
    "run",
    "-e",
    "A=1",
    "box:9000",
    "--cwd",
    "/srv",
    "--timeout=2.5",
    "-eB=x=y",
    "--",
    "ls",
    "-l",
    "--color",
  ]);
  assert.deepEqual(config, {
    mode: "run",
    target: { hostname: "box", port: 9000 },
    connectTimeout: 15,
    env: { A: "1", B: "x=y" },
    cwd: "/srv",
    timeout: 2.5,
    command: { argv: ["ls", "-l", "--color"] },
    noStdin: false,
  });
});

Deno.test("the first word after HOST starts the command, whose options are its own", () => {
  const config = parseCli(["run", "box", "ls", "-l", "-n", "--", "x"]);
  assert.equal(config.mode, "run");
  assert.deepEqual(config.mode === "run" && config.command, {
    argv: ["ls", "-l", "-n", "--", "x"],
  });
  assert.equal(config.mode === "run" && config.noStdin, false);
});

Deno.test("run -c runs a shell string and -n skips stdin", () => {
  const config = parseCli(["run", "-n", "box", "-c", "echo $HOME | wc"]);
  assert.equal(config.mode === "run" && config.noStdin, true);
  assert.deepEqual(config.mode === "run" && config.command, { shell: "echo $HOME | wc" });
});

Deno.test("run rejects a missing host, a missing command, and -c with a command", () => {
  usageError(["run"], /missing HOST/);
  usageError(["run", "box"], /missing command/);
  usageError(["run", "box", "--"], /missing command/);
  usageError(["run", "--", "ls"], /missing HOST before --/);
  usageError(["run", "box", "-c", "ls", "--", "ls"], /either -c STRING or a command/);
  usageError(["run", "box", "--", ""], /command name is empty/);
});

Deno.test("-e needs KEY=VALUE; an empty value is allowed", () => {
  usageError(["run", "-e", "NOEQUALS", "box", "true"], /-e takes KEY=VALUE, got "NOEQUALS"/);
  usageError(["run", "-e", "=value", "box", "true"], /-e takes KEY=VALUE/);
  const config = parseCli(["run", "-e", "EMPTY=", "box", "true"]);
  assert.deepEqual(config.mode === "run" && config.env, { EMPTY: "" });
});

Deno.test("unknown options, missing values and bad numbers name the argument", () => {
  usageError(["run", "--bogus", "box", "true"], /unknown option --bogus for run/);
  usageError(["run", "-x", "box", "true"], /unknown option -x for run/);
  usageError(["run", "box", "--cwd"], /--cwd needs a value/);
  usageError(["run", "--timeout", "0", "box", "true"], /--timeout takes a positive number/);
  usageError(["run", "--timeout", "soon", "box", "true"], /got "soon"/);
  usageError(["run", "--timeout", "-1", "box", "true"], /--timeout/);
  usageError(["run", "--timeout", "99999999", "box", "true"], /up to 2147483/);
  usageError(["run", "-n=1", "box", "true"], /-n takes no value/);
  usageError(["serve", "--max-frame-size", "12"], /--max-frame-size must be from 4096/);
  usageError(["serve", "--max-frame-size", "1e6"], /whole number/);
});

Deno.test("HOST may be IPv6, bracketed with a port or bare without one", () => {
  const bracketed = parseCli(["run", "[::1]:9000", "true"]);
  assert.deepEqual(bracketed.mode === "run" && bracketed.target, { hostname: "::1", port: 9000 });
  const bare = parseCli(["shell", "fe80::1"]);
  assert.deepEqual(bare.mode === "shell" && bare.target, { hostname: "fe80::1", port: 7022 });
  usageError(["run", "box:0", "true"], /port 0/);
  usageError(["run", "box:70000", "true"], /invalid port "70000"/);
  usageError(["run", ":7022", "true"], /missing host/);
});

Deno.test("serve has loopback defaults and takes --listen, limits and a token file", () => {
  assert.deepEqual(parseCli(["serve"]), {
    mode: "serve",
    listen: { hostname: "127.0.0.1", port: 7022 },
    maxFrameSize: 1048576,
    maxTimeout: 86400,
    killGrace: 2,
  });
  assert.deepEqual(
    parseCli([
      "serve",
      "-l",
      "[::1]:7100",
      "--token-file",
      "/t",
      "--max-timeout",
      "0",
      "--kill-grace",
      "0.5",
    ]),
    {
      mode: "serve",
      listen: { hostname: "::1", port: 7100 },
      tokenFile: "/t",
      maxFrameSize: 1048576,
      maxTimeout: 0,
      killGrace: 0.5,
    },
  );
  usageError(["serve", "extra"], /serve takes no arguments/);
  usageError(["serve", "--", "x"], /serve takes no command/);
});

Deno.test("shell takes a host and the client options, and nothing else", () => {
  assert.deepEqual(parseCli(["shell", "--token-file", "/t", "box", "--cwd", "/"]), {
    mode: "shell",
    target: { hostname: "box", port: 7022 },
    tokenFile: "/t",
    connectTimeout: 15,
    env: {},
    cwd: "/",
  });
  usageError(["shell", "box", "ls"], /unexpected argument "ls"/);
  usageError(["shell", "-c", "ls", "box"], /unknown option -c for shell/);
});

Deno.test("help and version are recognised in every spelling", () => {
  assert.deepEqual(parseCli(["--help"]), { mode: "help" });
  assert.deepEqual(parseCli(["-h"]), { mode: "help" });
  assert.deepEqual(parseCli(["help", "run"]), { mode: "help", topic: "run" });
  assert.deepEqual(parseCli(["run", "--help"]), { mode: "help", topic: "run" });
  assert.deepEqual(parseCli(["serve", "-h"]), { mode: "help", topic: "serve" });
  assert.deepEqual(parseCli(["shell", "--help"]), { mode: "help", topic: "shell" });
  assert.deepEqual(parseCli(["--version"]), { mode: "version" });
  usageError([], /missing mode/);
  usageError(["launch"], /unknown mode "launch"/);
  usageError(["help", "launch"], /no help for "launch"/);
});
