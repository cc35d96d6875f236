import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type CliConfig,
  parseCli,
  type RunConfig,
  type ServeConfig,
  type ShellConfig,
} from "../lib/cli/args.ts";
import { UsageError } from "../lib/errors.ts";

const DEFAULT_SERVE_LIMITS = {
  insecurePlaintext: false,
  handshakeTimeout: 10,
  idleTimeout: 3600,
  keepalive: 30,
  maxSessions: 512,
  maxCommands: 256,
  maxStartups: 512,
  maxStartupsPerSource: 256,
  maxExecSize: 262144,
  authFailureDelay: 0.25,
};

function usageError(args: readonly string[], ...mentions: string[]): void {
  assert.throws(
    () => parseCli(args),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, `${JSON.stringify(args)} threw ${error}`);
      for (const mention of mentions) {
        assert.ok(
          error.message.includes(mention),
          `${JSON.stringify(args)}: ${JSON.stringify(error.message)} lacks ${
            JSON.stringify(mention)
          }`,
        );
      }
      return true;
    },
    `${JSON.stringify(args)} was accepted`,
  );
}

function parseRun(args: readonly string[]): RunConfig {
  const config: CliConfig = parseCli(["run", ...args]);
  if (config.mode !== "run") assert.fail(`expected run, got ${JSON.stringify(config)}`);
  return config;
}

function parseServe(args: readonly string[]): ServeConfig {
  const config: CliConfig = parseCli(["serve", ...args]);
  if (config.mode !== "serve") assert.fail(`expected serve, got ${JSON.stringify(config)}`);
  return config;
}

function parseShell(args: readonly string[]): ShellConfig {
  const config: CliConfig = parseCli(["shell", ...args]);
  if (config.mode !== "shell") assert.fail(`expected shell, got ${JSON.stringify(config)}`);
  return config;
}

Deno.test("parseCli(): run takes options before and after HOST and the command after --", () => {
  assert.deepEqual(
    parseRun([
      "-e",
      "A=1",
      "--token-file",
      "/t",
      "box:9000",
      "--cwd",
      "/srv",
      "--timeout",
      "2.5",
      "--connect-timeout",
      "3",
      "-n",
      "--",
      "ls",
      "-l",
      "--color",
    ]),
    {
      mode: "run",
      target: { hostname: "box", port: 9000 },
      tokenFile: "/t",
      connectTimeout: 3,
      env: { A: "1" },
      cwd: "/srv",
      timeout: 2.5,
      command: { argv: ["ls", "-l", "--color"] },
      noStdin: true,
      keepalive: 30,
    },
  );
});

Deno.test("parseCli(): run without options has the default port, connect timeout and an empty env", () => {
  assert.deepEqual(parseRun(["box", "true"]), {
    mode: "run",
    target: { hostname: "box", port: 7022 },
    connectTimeout: 15,
    env: {},
    command: { argv: ["true"] },
    noStdin: false,
    keepalive: 30,
  });
});

Deno.test("parseCli(): everything after -- is the command, even words that look like options", () => {
  const config = parseRun(["box", "--", "-n", "--timeout", "5", "-c", "x", "--", "--help"]);
  assert.deepEqual(config.command, { argv: ["-n", "--timeout", "5", "-c", "x", "--", "--help"] });
  assert.equal(config.noStdin, false);
  assert.equal(config.timeout, undefined);
});

Deno.test("parseCli(): any argv after -- comes through unchanged", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1 }),
      fc.array(fc.string({ unit: "binary" })),
      (name, args) => {
        assert.deepEqual(parseRun(["box", "--", name, ...args]).command, {
          argv: [name, ...args],
        });
      },
    ),
  );
});

Deno.test("parseCli(): the first word after HOST starts the command without --", () => {
  assert.deepEqual(parseRun(["box", "ls", "-l"]).command, { argv: ["ls", "-l"] });
  const config = parseRun(["box", "ls", "--timeout", "5", "-n", "--", "x", "--help"]);
  assert.deepEqual(config.command, { argv: ["ls", "--timeout", "5", "-n", "--", "x", "--help"] });
  assert.equal(config.timeout, undefined);
  assert.equal(config.noStdin, false);
  assert.deepEqual(parseRun(["box", "-", "x"]).command, { argv: ["-", "x"] });
});

Deno.test("parseCli(): any argv whose first word is not an option is the command without --", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1 }).filter((name) => !name.startsWith("-")),
      fc.array(fc.string({ unit: "binary" })),
      (name, args) => {
        assert.deepEqual(parseRun(["box", name, ...args]).command, { argv: [name, ...args] });
      },
    ),
  );
});

Deno.test("parseCli(): -c STRING runs a shell string, given before or after HOST in any form", () => {
  const shell = "echo $HOME | wc -c; ls -l --color";
  for (
    const args of [
      ["-c", shell, "box"],
      ["box", "-c", shell],
      ["box", "--command", shell],
      ["box", `--command=${shell}`],
      ["box", `-c${shell}`],
    ]
  ) {
    assert.deepEqual(parseRun(args).command, { shell }, JSON.stringify(args));
  }
  assert.equal(parseRun(["-n", "box", "-c", "cat"]).noStdin, true);
});

Deno.test("parseCli(): -c together with a command is rejected", () => {
  usageError(["run", "box", "-c", "ls", "--", "ls"], "-c STRING", "not both");
  usageError(["run", "box", "-c", "ls", "pwd"], "-c STRING", "not both");
  usageError(["run", "-c", "ls", "box", "pwd"], "-c STRING", "not both");
});

Deno.test("parseCli(): run and shell without HOST are rejected", () => {
  usageError(["run"], "missing HOST");
  usageError(["run", "-n", "-e", "A=1"], "missing HOST");
  usageError(["run", "-c", "ls"], "missing HOST");
  usageError(["run", "--", "ls"], "missing HOST before --");
  usageError(["run", "", "ls"], "missing host", '""');
  usageError(["shell"], "missing HOST");
  usageError(["shell", "--cwd", "/"], "missing HOST");
});

Deno.test("parseCli(): run without a command is rejected", () => {
  usageError(["run", "box"], "missing command");
  usageError(["run", "box", "--"], "missing command");
  usageError(["run", "-n", "box", "--timeout", "1"], "missing command");
  usageError(["run", "box", "--", ""], "command name is empty");
  usageError(["run", "box", ""], "command name is empty");
});

Deno.test("parseCli(): -e KEY=VALUE is repeatable in every spelling and the last one wins", () => {
  const config = parseRun([
    "-e",
    "A=1",
    "--env",
    "B=2",
    "-eC=3",
    "box",
    "--env=D=4",
    "-e",
    "A=again",
    "true",
  ]);
  assert.deepEqual(config.env, { A: "again", B: "2", C: "3", D: "4" });
});

Deno.test("parseCli(): -e keeps an empty value and a value containing = whole", () => {
  assert.deepEqual(parseRun(["-e", "EMPTY=", "box", "true"]).env, { EMPTY: "" });
  assert.deepEqual(parseRun(["-e", "URL=a=b&c==d", "box", "true"]).env, { URL: "a=b&c==d" });
});

Deno.test("parseCli(): -e splits any KEY=VALUE at the first =", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", minLength: 1 }).filter((key) => !/[=\0]/.test(key)),
      fc.string({ unit: "binary" }),
      (key, value) => {
        assert.deepEqual(parseRun(["-e", `${key}=${value}`, "box", "true"]).env, {
          [key]: value,
        });
      },
    ),
  );
});

Deno.test("parseCli(): -e without = or without a name is rejected, naming the assignment", () => {
  usageError(["run", "-e", "NOEQUALS", "box", "true"], "-e takes KEY=VALUE", '"NOEQUALS"');
  usageError(["run", "--env", "NOEQUALS", "box", "true"], "KEY=VALUE", '"NOEQUALS"');
  usageError(["run", "-e", "=value", "box", "true"], "-e takes KEY=VALUE", '"=value"');
  usageError(["run", "-e", "", "box", "true"], "-e takes KEY=VALUE", '""');
  usageError(["shell", "-e", "NOEQUALS", "box"], "-e takes KEY=VALUE", '"NOEQUALS"');
});

Deno.test("parseCli(): --opt=value and -oVALUE mean the same as the value in the next word", () => {
  const joined = parseRun([
    "--token-file=/t",
    "--connect-timeout=4",
    "-eA=1",
    "box",
    "--cwd=/srv",
    "--timeout=2",
    "true",
  ]);
  const separate = parseRun([
    "--token-file",
    "/t",
    "--connect-timeout",
    "4",
    "-e",
    "A=1",
    "box",
    "--cwd",
    "/srv",
    "--timeout",
    "2",
    "true",
  ]);
  assert.deepEqual(joined, separate);
  assert.deepEqual(parseCli(["serve", "--listen=[::1]:7100"]), parseCli(["serve", "-l[::1]:7100"]));
  assert.deepEqual(
    parseCli(["serve", "--listen=[::1]:7100"]),
    parseCli(["serve", "-l", "[::1]:7100"]),
  );
});

Deno.test("parseCli(): an option's value is the next word even when it starts with -", () => {
  assert.equal(parseRun(["--cwd", "-dir", "box", "true"]).cwd, "-dir");
  assert.deepEqual(parseRun(["box", "-c", "--"]).command, { shell: "--" });
});

Deno.test("parseCli(): an option that needs a value and has none is rejected by name", () => {
  usageError(["run", "box", "--cwd"], "--cwd needs a value");
  usageError(["run", "box", "-c"], "-c needs a value");
  usageError(["run", "-e"], "-e needs a value");
  usageError(["shell", "box", "--timeout"], "--timeout needs a value");
  usageError(["serve", "-l"], "-l needs a value");
  usageError(["serve", "--max-timeout"], "--max-timeout needs a value");
});

Deno.test("parseCli(): a flag given a value is rejected by name", () => {
  usageError(["run", "-n=1", "box", "true"], "-n takes no value");
  usageError(["run", "-nx", "box", "true"], "-n takes no value");
  usageError(["run", "--no-stdin=yes", "box", "true"], "--no-stdin takes no value");
  usageError(["serve", "--help=x"], "--help takes no value");
});

Deno.test("parseCli(): an unknown option is rejected by name in every mode", () => {
  usageError(["run", "--bogus", "box", "true"], "unknown option --bogus for run");
  usageError(["run", "box", "--bogus=1", "true"], "unknown option --bogus for run");
  usageError(["run", "-x", "box", "true"], "unknown option -x for run");
  usageError(["run", "--version"], "unknown option --version for run");
  usageError(["shell", "-c", "ls", "box"], "unknown option -c for shell");
  usageError(["shell", "box", "--no-stdin"], "unknown option --no-stdin for shell");
  usageError(["serve", "--timeout", "5"], "unknown option --timeout for serve");
  usageError(["serve", "-e", "A=1"], "unknown option -e for serve");
});

Deno.test("parseCli(): --timeout and --connect-timeout accept positive seconds up to the timer limit", () => {
  for (const [text, seconds] of [["1", 1], ["2.5", 2.5], ["0.001", 0.001], ["2147483", 2147483]]) {
    assert.equal(parseRun(["--timeout", text as string, "box", "true"]).timeout, seconds);
    assert.equal(parseShell(["--connect-timeout", text as string, "box"]).connectTimeout, seconds);
  }
});

Deno.test("parseCli(): --timeout and --connect-timeout reject zero, negatives and non-numbers by name", () => {
  for (const option of ["--timeout", "--connect-timeout"]) {
    for (const text of ["0", "0.0", "-1", "soon", "1e3", "", ".5", "1.", "2147484", "Infinity"]) {
      usageError(
        ["run", option, text, "box", "true"],
        `${option} takes a positive number`,
        JSON.stringify(text),
      );
    }
  }
});

Deno.test("parseCli(): serve --max-timeout and --kill-grace accept 0 and reject negatives by name", () => {
  const zero = parseServe(["--max-timeout", "0", "--kill-grace", "0"]);
  assert.deepEqual([zero.maxTimeout, zero.killGrace], [0, 0]);
  const fractional = parseServe(["--max-timeout", "90.5", "--kill-grace", "0.25"]);
  assert.deepEqual([fractional.maxTimeout, fractional.killGrace], [90.5, 0.25]);
  for (const option of ["--max-timeout", "--kill-grace"]) {
    for (const text of ["-1", "never", "2147484"]) {
      usageError(["serve", option, text], `${option} takes a non-negative number`, `"${text}"`);
    }
  }
});

Deno.test("parseCli(): serve --max-frame-size takes whole bytes within the codec's range", () => {
  assert.equal(parseServe(["--max-frame-size", "4096"]).maxFrameSize, 4096);
  usageError(["serve", "--max-frame-size", "4095"], "--max-frame-size must be from 4096");
  usageError(
    ["serve", "--max-frame-size", "1e6"],
    "--max-frame-size takes a whole number",
    '"1e6"',
  );
  usageError(["serve", "--max-frame-size", "-5"], "--max-frame-size takes a whole number", '"-5"');
});

Deno.test("parseCli(): serve defaults to loopback port 7022 with the documented limits", () => {
  assert.deepEqual(parseCli(["serve"]), {
    mode: "serve",
    listen: { hostname: "127.0.0.1", port: 7022 },
    maxFrameSize: 1048576,
    maxTimeout: 86400,
    killGrace: 2,
    ...DEFAULT_SERVE_LIMITS,
  });
});

Deno.test("parseCli(): serve takes --listen as host:port, bracketed IPv6 or a host alone", () => {
  const listen = (address: string) => parseServe(["--listen", address]).listen;
  assert.deepEqual(listen("[::1]:7022"), { hostname: "::1", port: 7022 });
  assert.deepEqual(listen("[::]:9000"), { hostname: "::", port: 9000 });
  assert.deepEqual(listen("0.0.0.0:8000"), { hostname: "0.0.0.0", port: 8000 });
  assert.deepEqual(listen("box"), { hostname: "box", port: 7022 });
  assert.deepEqual(
    parseCli(["serve", "-l", "[::1]:7100", "--token-file", "/t", "--max-frame-size", "65536"]),
    {
      mode: "serve",
      listen: { hostname: "::1", port: 7100 },
      tokenFile: "/t",
      maxFrameSize: 65536,
      maxTimeout: 86400,
      killGrace: 2,
      ...DEFAULT_SERVE_LIMITS,
    },
  );
  usageError(["serve", "--listen", "box:70000"], 'invalid port "70000"', '"box:70000"');
  usageError(["serve", "--listen", ":7022"], "missing host", '":7022"');
});

Deno.test("parseCli(): serve --listen takes a port alone as a port on the default address", () => {
  const listen = (address: string) => parseServe(["--listen", address]).listen;
  assert.deepEqual(listen("7556"), { hostname: "127.0.0.1", port: 7556 });
  assert.deepEqual(parseServe(["-l0"]).listen, { hostname: "127.0.0.1", port: 0 });
  usageError(["serve", "--listen", "70000"], 'invalid port "70000"', "0 to 65535");
});

Deno.test("parseCli(): ssh habits are rejected with what to do instead: -p, -l and user@host", () => {
  for (const mode of ["run", "shell"]) {
    const command = mode === "run" ? ["true"] : [];
    usageError([mode, "-p", "2222", "box", ...command], "unknown option -p", "HOST:PORT");
    usageError([mode, "box", "-p2222", ...command], "unknown option -p", "HOST:PORT");
    usageError(
      [mode, "-l", "ann", "box", ...command],
      "unknown option -l",
      "no login name",
      "the user the server runs as (or as its --user)",
    );
    usageError(
      [mode, "ann@box", ...command],
      '"ann@box" names a user',
      "the user the server runs as (or as its --user)",
      'write "box"',
    );
    usageError([mode, "tls://ann@box:9000", ...command], 'write "tls://box:9000"');
  }
  // Only the client modes: for serve, -l is --listen.
  assert.equal(parseServe(["-l", "box:1"]).listen.hostname, "box");
});

Deno.test("parseCli(): serve takes TLS, limit and policy options", () => {
  const config = parseServe([
    "--tls",
    "--handshake-timeout",
    "5",
    "--idle-timeout",
    "0",
    "--keepalive",
    "10",
    "--max-sessions",
    "8",
    "--max-commands",
    "4",
    "--max-exec-size",
    "4096",
    "--max-startups",
    "16",
    "--max-startups-per-source",
    "4",
    "--auth-failure-delay",
    "0.5",
    "--allow",
    "ls",
    "--allow",
    "/bin/sh",
    "--env-allow",
    "LANG",
    "--user",
    "nobody",
    "--audit-log",
    "-",
  ]);
  assert.deepEqual(config.tls, {});
  assert.deepEqual(
    [config.handshakeTimeout, config.idleTimeout, config.keepalive, config.authFailureDelay],
    [5, 0, 10, 0.5],
  );
  assert.deepEqual([config.maxSessions, config.maxCommands, config.maxExecSize], [8, 4, 4096]);
  assert.deepEqual([config.maxStartups, config.maxStartupsPerSource], [16, 4]);
  assert.deepEqual(config.allow, ["ls", "/bin/sh"]);
  assert.deepEqual(config.envAllow, ["LANG"]);
  assert.equal(config.user, "nobody");
  assert.equal(config.auditLog, "-");
  assert.deepEqual(parseServe(["--tls-cert", "c.pem", "--tls-key", "k.pem"]).tls, {
    certFile: "c.pem",
    keyFile: "k.pem",
  });
  assert.equal(parseServe(["-l", "0.0.0.0", "--insecure-plaintext"]).insecurePlaintext, true);
  usageError(["serve", "--tls-cert", "c.pem"], "--tls-cert and --tls-key go together");
  usageError(["serve", "--tls", "--insecure-plaintext"], "contradicts --tls");
  usageError(["serve", "--max-sessions", "0"], "--max-sessions must be at least 1");
  usageError(["serve", "--max-startups-per-source", "0"], "--max-startups-per-source must be");
  usageError(["serve", "--keepalive", "soon"], "--keepalive takes a non-negative number");
});

Deno.test("parseCli(): serve --audit-fail takes closed or open, and only with --audit-log", () => {
  assert.equal(parseServe(["--audit-log", "a.jsonl"]).auditFail, undefined);
  for (const mode of ["closed", "open"] as const) {
    assert.equal(parseServe(["--audit-log", "a.jsonl", "--audit-fail", mode]).auditFail, mode);
  }
  usageError(["serve", "--audit-log", "a.jsonl", "--audit-fail", "maybe"], "closed", "open");
  usageError(["serve", "--audit-fail", "open"], "--audit-fail needs --audit-log");
  usageError(["serve", "--audit-log", ""], "--audit-log needs a file name");
});

Deno.test("parseCli(): run and shell connect with TLS for --tls, --ca or a tls:// address", () => {
  assert.deepEqual(parseRun(["tls://box:9000", "true"]).tls, {});
  assert.deepEqual(parseRun(["tls://box:9000", "true"]).target, { hostname: "box", port: 9000 });
  assert.deepEqual(parseRun(["--tls", "box", "true"]).tls, {});
  assert.deepEqual(parseShell(["--ca", "cert.pem", "[::1]"]).tls, { caFile: "cert.pem" });
  assert.equal(parseRun(["box", "true"]).tls, undefined);
  assert.equal(parseRun(["--keepalive", "0", "box", "true"]).keepalive, 0);
});

Deno.test("parseCli(): cert takes host names, --force, and nothing else", () => {
  assert.deepEqual(parseCli(["cert"]), { mode: "cert", names: [], force: false });
  assert.deepEqual(parseCli(["cert", "--name", "box.lan", "--name", "10.0.0.5", "--force"]), {
    mode: "cert",
    names: ["box.lan", "10.0.0.5"],
    force: true,
  });
  assert.deepEqual(parseCli(["help", "cert"]), { mode: "help", topic: "cert" });
  usageError(["cert", "extra"], "cert takes no arguments");
  usageError(["cert", "--name", "a b"], "--name takes a host name");
});

Deno.test("parseCli(): serve rejects positional arguments and --", () => {
  usageError(["serve", "extra"], "serve takes no arguments", '"extra"');
  usageError(["serve", "-l", "box", "0.0.0.0"], "serve takes no arguments", '"0.0.0.0"');
  usageError(["serve", "--", "x"], "serve takes no command", "--");
});

Deno.test("parseCli(): shell takes HOST and the client options before or after it, and no command", () => {
  assert.deepEqual(parseShell(["--token-file", "/t", "box", "--cwd", "/", "-eA=1"]), {
    mode: "shell",
    target: { hostname: "box", port: 7022 },
    tokenFile: "/t",
    connectTimeout: 15,
    env: { A: "1" },
    cwd: "/",
    keepalive: 30,
  });
  usageError(["shell", "box", "ls"], 'unexpected argument "ls"');
  usageError(["shell", "box", "--", "ls"], "shell takes no command", "--");
});

Deno.test("parseCli(): help is recognised as a mode, an option and each mode's --help", () => {
  assert.deepEqual(parseCli(["help"]), { mode: "help" });
  assert.deepEqual(parseCli(["--help"]), { mode: "help" });
  assert.deepEqual(parseCli(["-h"]), { mode: "help" });
  for (const topic of ["serve", "run", "shell"] as const) {
    assert.deepEqual(parseCli(["help", topic]), { mode: "help", topic });
    assert.deepEqual(parseCli([topic, "--help"]), { mode: "help", topic });
    assert.deepEqual(parseCli([topic, "-h"]), { mode: "help", topic });
  }
  assert.deepEqual(parseCli(["run", "box", "--help"]), { mode: "help", topic: "run" });
  assert.deepEqual(parseCli(["shell", "box", "-h"]), { mode: "help", topic: "shell" });
  assert.deepEqual(parseCli(["serve", "-l", "box", "--help"]), { mode: "help", topic: "serve" });
  assert.deepEqual(parseRun(["box", "ls", "--help"]).command, { argv: ["ls", "--help"] });
  usageError(["help", "launch"], 'no help for "launch"');
});

Deno.test("parseCli(): --version, -V and version ask for the version", () => {
  for (const spelling of ["--version", "-V", "version"]) {
    assert.deepEqual(parseCli([spelling]), { mode: "version" });
  }
});

Deno.test("parseCli(): a missing or unknown mode is rejected by name", () => {
  usageError([], "missing mode");
  usageError(["launch"], 'unknown mode "launch"');
  usageError(["--bogus"], 'unknown mode "--bogus"');
});

Deno.test("parseCli(): HOST may be IPv6: bracketed with or without a port, or bare", () => {
  assert.deepEqual(parseRun(["[::1]:9000", "true"]).target, { hostname: "::1", port: 9000 });
  assert.deepEqual(parseRun(["[::1]", "true"]).target, { hostname: "::1", port: 7022 });
  assert.deepEqual(parseRun(["::1", "true"]).target, { hostname: "::1", port: 7022 });
  assert.deepEqual(parseShell(["fe80::1"]).target, { hostname: "fe80::1", port: 7022 });
  assert.deepEqual(parseShell(["10.0.0.5:7100"]).target, { hostname: "10.0.0.5", port: 7100 });
});

Deno.test("parseCli(): run and shell reject port 0 and ports out of range, naming the address", () => {
  usageError(["run", "box:0", "true"], "port 0", '"box:0"');
  usageError(["run", "[::1]:0", "true"], "port 0", '"[::1]:0"');
  usageError(["shell", "box:0"], "port 0", '"box:0"');
  usageError(["run", "box:70000", "true"], 'invalid port "70000"', '"box:70000"');
  usageError(["run", "box:ssh", "true"], 'invalid port "ssh"', '"box:ssh"');
  usageError(["run", "box:", "true"], 'invalid port ""', '"box:"');
  usageError(["run", ":7022", "true"], "missing host", '":7022"');
});

Deno.test("parseCli(): extra words after help or --version, and an empty -c, are usage errors", () => {
  usageError(["help", "run", "extra"], '"extra"');
  usageError(["--version", "extra"], '"extra"');
  usageError(["--help", "run"], '"run"');
  usageError(["run", "box", "-c", ""], "-c needs a non-empty command");
});

Deno.test("parseCli(): run -t, -tt and --tty ask for a terminal; --no-escape turns ~ off", () => {
  for (const flag of ["-t", "-tt", "--tty"]) {
    const config = parseRun([flag, "box", "--", "vim"]);
    assert.equal(config.tty, true, flag);
    assert.deepEqual(config.command, { argv: ["vim"] });
  }
  assert.equal(parseRun(["box", "vim"]).tty, undefined);
  assert.equal(parseRun(["-t", "--no-escape", "box", "top"]).noEscape, true);
  assert.equal(parseShell(["--no-escape", "box"]).noEscape, true);
  // -t takes no value, and a repeated flag is only -tt: -tn is not.
  usageError(["run", "-tn", "box", "true"], "-t takes no value");
});

Deno.test("parseCli(): serve --no-tty refuses terminals", () => {
  assert.equal(parseServe(["--no-tty"]).noTty, true);
  assert.equal(parseServe([]).noTty, undefined);
});

Deno.test("parseCli(): a whole-number option too big to count exactly, as --parallel 10^20, is a usage error", () => {
  assert.equal(parseRun(["--parallel", "1000000", "a,b", "true"]).fleet?.parallel, 1000000);
  usageError(
    ["run", "--parallel", "100000000000000000000", "a,b", "true"],
    "--parallel takes a whole number",
  );
  usageError(["serve", "--max-frame-size", "99999999999999999999"], "--max-frame-size");
});

Deno.test("parseCli(): --hosts-file is repeatable, each file kept in order", () => {
  assert.deepEqual(
    parseRun(["--hosts-file", "a", "--hosts-file=b", "--", "true"]).fleet?.hostsFiles,
    ["a", "b"],
  );
  assert.equal(parseRun(["a,b", "true"]).fleet?.hostsFiles, undefined);
});

Deno.test("parseCli(): cp takes paths after --, even those that start with -", () => {
  const config = parseCli(["cp", "-r", "--", "-leading", "--also", "box:-dst"]);
  assert.equal(config.mode, "cp");
  if (config.mode !== "cp") return;
  assert.equal(config.recursive, true);
  assert.deepEqual(config.sources, [{ local: "-leading" }, { local: "--also" }]);
  assert.deepEqual(config.destination, { targets: "box", path: "-dst" });
  assert.throws(() => parseCli(["serve", "--"]), /serve takes no command; unexpected --/);
});

Deno.test("parseCli(): -i given twice is a usage error naming both: inventories are not merged", () => {
  assert.equal(parseRun(["-i", "a.ini", "web", "true"]).fleet?.inventory, "a.ini");
  usageError(["run", "-i", "a.ini", "--inventory=b.yml", "web", "true"], "a.ini", "b.yml", "merge");
});
