import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CommandPolicy,
  DANGEROUS_ENV,
  DEFAULT_ENV_ALLOW,
  isDangerousEnvName,
  type PolicyDecision,
  PolicyError,
  type PolicyRequest,
} from "../lib/server/policy.ts";
import { errorMentioning, withTempDir } from "./helpers.ts";

/** A fixed PATH, so the tests do not depend on the PATH they run with. */
const PATH = "/usr/bin:/bin";

async function writeProgram(path: string, mode = 0o755): Promise<void> {
  await Deno.writeTextFile(path, "#!/bin/sh\necho hi\n");
  await Deno.chmod(path, mode);
}

function assertAllowed(decision: PolicyDecision, program?: string): void {
  assert.ok(decision.allowed, `refused: ${!decision.allowed && decision.message}`);
  assert.equal(decision.program, program);
}

function assertRefused(decision: PolicyDecision, ...mentions: string[]): void {
  assert.ok(!decision.allowed, `allowed: ${JSON.stringify(decision)}`);
  for (const mention of mentions) {
    assert.ok(decision.message.includes(mention), `${decision.message} lacks ${mention}`);
  }
}

Deno.test("CommandPolicy.check(): without options any program and the shell are allowed, with no program substituted", async () => {
  const policy = await CommandPolicy.create();
  assert.equal(policy.allowed, undefined);
  assertAllowed(await policy.check({ argv: ["definitely-not-a-program", "x"] }));
  assertAllowed(await policy.check({ shell: "echo hi" }));
});

Deno.test("CommandPolicy.check(): an allowlist by name admits the program found on PATH and returns its absolute path", async () => {
  const policy = await CommandPolicy.create({ allow: ["ls", "cat"], path: PATH });
  assert.deepEqual(policy.allowed, ["/usr/bin/ls", "/usr/bin/cat"]);
  assertAllowed(await policy.check({ argv: ["ls", "-l"] }), "/usr/bin/ls");
  assertAllowed(await policy.check({ argv: ["cat"] }), "/usr/bin/cat");
});

Deno.test("CommandPolicy.check(): an allowlist by path admits the program by name, by that path, and through a linked directory", async () => {
  // /bin is a link to /usr/bin on merged-/usr systems: all three are one program.
  const policy = await CommandPolicy.create({ allow: ["/bin/ls"], path: PATH });
  assert.deepEqual(policy.allowed, [`${await Deno.realPath("/bin")}/ls`]);
  for (const name of ["ls", "/bin/ls", "/usr/bin/ls"]) {
    assertAllowed(await policy.check({ argv: [name] }), policy.allowed![0]);
  }
});

Deno.test("CommandPolicy.check(): paths through a symlinked directory compare equal to the real path", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/real`);
    await writeProgram(`${dir}/real/prog`);
    await Deno.symlink(`${dir}/real`, `${dir}/link`);

    const policy = await CommandPolicy.create({ allow: [`${dir}/link/prog`], path: PATH });
    assert.deepEqual(policy.allowed, [`${dir}/real/prog`]);
    assertAllowed(await policy.check({ argv: [`${dir}/real/prog`] }), `${dir}/real/prog`);
    assertAllowed(await policy.check({ argv: [`${dir}/link/prog`] }), `${dir}/real/prog`);
    assertAllowed(
      await policy.check({ argv: ["../link/./prog"], cwd: `${dir}/real` }),
      `${dir}/real/prog`,
    );
  });
});

Deno.test("CommandPolicy.check(): a link to an allowed program under another name is a different program (multi-call binaries)", async () => {
  await withTempDir(async (dir) => {
    await writeProgram(`${dir}/busybox`);
    await Deno.symlink("busybox", `${dir}/ls`);
    await Deno.symlink("busybox", `${dir}/sh`);

    const policy = await CommandPolicy.create({ allow: [`${dir}/ls`], path: PATH });
    assertAllowed(await policy.check({ argv: [`${dir}/ls`] }), `${dir}/ls`);
    assertRefused(await policy.check({ argv: [`${dir}/sh`] }), "is not allowed", `${dir}/ls`);
    assertRefused(await policy.check({ argv: [`${dir}/busybox`, "sh"] }), "is not allowed");
  });
});

Deno.test("CommandPolicy.check(): ./prog is resolved against the request's cwd, and the same name elsewhere is refused", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await writeProgram(`${dir}/a/prog`);
    await writeProgram(`${dir}/b/prog`);

    const policy = await CommandPolicy.create({ allow: [`${dir}/a/prog`], path: PATH });
    assertAllowed(await policy.check({ argv: ["./prog"], cwd: `${dir}/a` }), `${dir}/a/prog`);
    assertRefused(
      await policy.check({ argv: ["./prog"], cwd: `${dir}/b` }),
      `"./prog" (${dir}/b/prog) is not allowed on this server (allowed: ${dir}/a/prog)`,
    );
    assertRefused(
      await policy.check({ argv: ["./prog"], cwd: `${dir}/nowhere` }),
      `"./prog" not found`,
      `${dir}/nowhere/prog`,
    );
  });
});

Deno.test("CommandPolicy.check(): a relative path without a cwd is resolved against the server's working directory", async () => {
  await withTempDir(async (dir) => {
    await writeProgram(`${dir}/prog`);
    const policy = await CommandPolicy.create({ allow: [`${dir}/prog`], path: PATH });
    // From the server's cwd up to / and down again: relative, with slashes.
    const depth = Deno.cwd().split("/").filter((part) => part !== "").length;
    const relative = `./${"../".repeat(depth)}${dir.slice(1)}/prog`;
    assertAllowed(await policy.check({ argv: [relative] }), `${dir}/prog`);
  });
});

Deno.test("CommandPolicy.check(): a program not on the allowlist is refused with the list the server allows", async () => {
  const policy = await CommandPolicy.create({ allow: ["ls", "cat"], path: PATH });
  const decision = await policy.check({ argv: ["rm", "-rf", "/"] });
  assertRefused(
    decision,
    `"rm" (/usr/bin/rm) is not allowed on this server (allowed: /usr/bin/ls, /usr/bin/cat)`,
  );
});

Deno.test("CommandPolicy.check(): a program that does not exist is refused as not found, by name and by path", async () => {
  await withTempDir(async (dir) => {
    await writeProgram(`${dir}/not-executable`, 0o644);
    const policy = await CommandPolicy.create({ allow: ["ls"], path: PATH });
    assertRefused(
      await policy.check({ argv: ["nope-no-such-program"] }),
      `"nope-no-such-program" not found on this server's PATH`,
    );
    assertRefused(await policy.check({ argv: [`${dir}/nope`] }), "not found", `${dir}/nope`);
    assertRefused(await policy.check({ argv: [dir] }), "is a directory");
    assertRefused(await policy.check({ argv: [`${dir}/not-executable`] }), "is not executable");
    assertRefused(await policy.check({ argv: [`${dir}/not-executable/x`] }), "not found");
  });
});

Deno.test("CommandPolicy.check(): a name is looked up like execvp: the first executable file on PATH wins", async () => {
  await withTempDir(async (dir) => {
    for (const sub of ["one", "two", "three"]) await Deno.mkdir(`${dir}/${sub}`);
    await writeProgram(`${dir}/one/prog`, 0o644); // not executable: skipped
    await Deno.mkdir(`${dir}/two/prog`); // a directory: skipped
    await writeProgram(`${dir}/three/prog`);
    const path = `${dir}/one:${dir}/two:${dir}/three`;

    const policy = await CommandPolicy.create({ allow: ["prog"], path });
    assert.deepEqual(policy.allowed, [`${dir}/three/prog`]);
    assertAllowed(await policy.check({ argv: ["prog"] }), `${dir}/three/prog`);
  });
});

Deno.test("CommandPolicy.create() names an --allow entry that is missing, a directory or not executable", async () => {
  await withTempDir(async (dir) => {
    await writeProgram(`${dir}/plain`, 0o644);
    await assert.rejects(
      CommandPolicy.create({ allow: ["nope-no-such-program"], path: PATH }),
      errorMentioning(
        PolicyError,
        `--allow "nope-no-such-program"`,
        "not found on the server's PATH",
      ),
    );
    await assert.rejects(
      CommandPolicy.create({ allow: [`${dir}/missing`] }),
      errorMentioning(PolicyError, `--allow "${dir}/missing"`, "not found"),
    );
    await assert.rejects(
      CommandPolicy.create({ allow: [dir] }),
      errorMentioning(PolicyError, `--allow "${dir}"`, "is a directory"),
    );
    await assert.rejects(
      CommandPolicy.create({ allow: [`${dir}/plain`] }),
      errorMentioning(PolicyError, `--allow "${dir}/plain"`, "is not executable"),
    );
    await assert.rejects(
      CommandPolicy.create({ allow: [""] }),
      errorMentioning(PolicyError, "empty"),
    );
    await assert.rejects(
      CommandPolicy.create({ envAllow: ["A=B"] }),
      errorMentioning(PolicyError, "--env-allow", "not a valid"),
    );
  });
});

Deno.test("CommandPolicy.check(): shell mode is refused unless /bin/sh is allowed, and says how to allow it", async () => {
  const without = await CommandPolicy.create({ allow: ["ls"], path: PATH });
  assertRefused(await without.check({ shell: "echo hi" }), "shell mode", "--allow /bin/sh");

  const shell = `${await Deno.realPath("/bin")}/sh`;
  for (const entry of ["/bin/sh", "sh"]) {
    const policy = await CommandPolicy.create({ allow: [entry], path: PATH });
    assertAllowed(await policy.check({ shell: "echo hi" }), shell);
  }
});

Deno.test("CommandPolicy.check(): dangerous variables are refused, naming the variable and the flag that allows it", async () => {
  const policy = await CommandPolicy.create();
  for (const name of ["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "BASH_FUNC_ls%%"]) {
    assertRefused(
      await policy.check({ argv: ["ls"], env: { LANG: "C", [name]: "x" } }),
      "environment variable",
      "--env-allow",
      name,
    );
  }
  assertRefused(
    await policy.check({ argv: ["ls"], env: { PATH: "/tmp", NODE_OPTIONS: "-r x" } }),
    "environment variables PATH, NODE_OPTIONS are not allowed",
    "--env-allow PATH --env-allow NODE_OPTIONS",
  );
  assertAllowed(
    await policy.check({ argv: ["ls"], env: { LANG: "C", TMPDIR: "/tmp", HOME: "/" } }),
  );
});

Deno.test("CommandPolicy.check(): a dangerous variable is allowed once envAllow names it", async () => {
  const policy = await CommandPolicy.create({ envAllow: ["LD_LIBRARY_PATH", "LANG"] });
  assertAllowed(await policy.check({ argv: ["ls"], env: { LD_LIBRARY_PATH: "/opt/lib" } }));
  assertRefused(await policy.check({ argv: ["ls"], env: { LD_PRELOAD: "/x.so" } }), "LD_PRELOAD");
});

Deno.test("CommandPolicy.check(): envAllow is an exact list: any name not in it is refused, harmless or not", async () => {
  const policy = await CommandPolicy.create({ envAllow: ["LANG"] });
  assertAllowed(await policy.check({ argv: ["ls"], env: { LANG: "C" } }));
  assertRefused(
    await policy.check({ argv: ["ls"], env: { LANG: "C", TZ: "UTC" } }),
    "environment variable TZ is not allowed on this server (allowed: LANG;",
    "--env-allow TZ",
  );
  assertRefused(await policy.check({ argv: ["ls"], env: { LAN: "C" } }), "LAN");
  assertRefused(await policy.check({ argv: ["ls"], env: { LANG_: "C" } }), "LANG_");

  const none = await CommandPolicy.create({ envAllow: [] });
  assertAllowed(await none.check({ argv: ["ls"] }));
  assertRefused(await none.check({ argv: ["ls"], env: { LANG: "C" } }), "none are allowed");
});

Deno.test("CommandPolicy.check(): with --allow, a variable that is not on the default list is refused, however harmless its name looks", async () => {
  const policy = await CommandPolicy.create({ allow: ["ls"], path: PATH });
  // Each of these makes some allowed program run another one (issue 10):
  // a denylist cannot name them all, so an allowlist refuses every name it
  // does not know.
  for (
    const [name, value] of [
      ["BROWSER", 'sh -c "id" #%s'],
      ["PYTHONWARNINGS", "all:0:antigravity.x:0:0"],
      ["SYSTEMD_EDITOR", "/tmp/evil"],
      ["GIT_DIR", "/tmp/repo"],
      ["FOO", "bar"],
      ["HOME", "/tmp"],
    ]
  ) {
    assertRefused(
      await policy.check({ argv: ["ls"], env: { [name]: value } }),
      `environment variable ${name} is not allowed on this server: with --allow`,
      "TERM, LANG, LC_*, TZ",
      `--env-allow ${name}`,
    );
  }
  assertRefused(
    await policy.check({ argv: ["ls"], env: { LANG: "C", BROWSER: "x", FOO: "y" } }),
    "environment variables BROWSER, FOO are not allowed",
    "--env-allow BROWSER --env-allow FOO",
  );
});

Deno.test("CommandPolicy.check(): with --allow and no --env-allow, TERM, LANG, LC_*, TZ, COLUMNS and LINES pass with plain values", async () => {
  const policy = await CommandPolicy.create({ allow: ["ls"], path: PATH });
  assert.deepEqual(DEFAULT_ENV_ALLOW, ["TERM", "LANG", "LC_*", "TZ", "COLUMNS", "LINES"]);
  assertAllowed(
    await policy.check({
      argv: ["ls"],
      env: {
        TERM: "xterm-256color",
        LANG: "C.UTF-8",
        LC_ALL: "de_DE.UTF-8",
        LC_MESSAGES: "sr_RS@latin",
        LC_CTYPE: "",
        TZ: "America/Argentina/Buenos_Aires",
        COLUMNS: "120",
        LINES: "40",
      },
    }),
    "/usr/bin/ls",
  );
  for (
    const tz of ["UTC", ":Europe/Paris", "EST5EDT,M3.2.0/2,M11.1.0/2", "<+0330>-3:30", "Etc/GMT+3"]
  ) {
    assertAllowed(await policy.check({ argv: ["ls"], env: { TZ: tz } }), "/usr/bin/ls");
  }
});

Deno.test("CommandPolicy.check(): with --allow, a default variable whose value could name a file is refused", async () => {
  const policy = await CommandPolicy.create({ allow: ["ls"], path: PATH });
  for (
    const [name, value] of [
      ["LANG", "/tmp/locale"],
      ["LC_ALL", "../../tmp/x"],
      ["LC_CTYPE", ".."],
      ["TZ", "/tmp/zone"],
      ["TZ", ":/tmp/zone"],
      ["TZ", "../../../tmp/zone"],
      ["TZ", "Europe/../../tmp"],
      ["TERM", "../../tmp/terminfo"],
      ["TERM", "xterm\nx"],
      ["COLUMNS", "80x"],
    ]
  ) {
    assertRefused(
      await policy.check({ argv: ["ls"], env: { [name]: value } }),
      `environment variable ${name}=`,
      "not a path",
      `--env-allow ${name})`,
    );
  }
});

Deno.test("CommandPolicy.check(): with --allow, --env-allow replaces the defaults: its names pass with any value, others are refused", async () => {
  const policy = await CommandPolicy.create({
    allow: ["ls"],
    envAllow: ["FOO", "TZ", "LC_*"],
    path: PATH,
  });
  assertAllowed(
    await policy.check({ argv: ["ls"], env: { FOO: "bar", TZ: "/etc/localtime", LC_ALL: "C" } }),
    "/usr/bin/ls",
  );
  assertRefused(
    await policy.check({ argv: ["ls"], env: { TERM: "xterm" } }),
    'allowed: FOO, TZ, "LC_*"',
    "--env-allow TERM",
  );
  assertRefused(await policy.check({ argv: ["ls"], env: { LC: "C" } }), "--env-allow LC");
});

Deno.test("CommandPolicy.check(): an allowed PATH in the request is the one the program is looked up in", async () => {
  await withTempDir(async (dir) => {
    await writeProgram(`${dir}/ls`);
    const policy = await CommandPolicy.create({ allow: ["ls"], envAllow: ["PATH"], path: PATH });
    assertAllowed(await policy.check({ argv: ["ls"] }), "/usr/bin/ls");
    assertRefused(
      await policy.check({ argv: ["ls"], env: { PATH: dir } }),
      `"ls" (${dir}/ls) is not allowed`,
    );
    assertRefused(
      await policy.check({ argv: ["ls"], env: { PATH: `${dir}/empty` } }),
      "not found on the PATH this request sets",
    );
  });
});

Deno.test("CommandPolicy.check(): odd requests are refused, never thrown", async () => {
  const policy = await CommandPolicy.create({ allow: ["ls"], path: PATH });
  const odd: PolicyRequest[] = [
    {},
    { argv: [] },
    { argv: [""] },
    { argv: ["ls\0"] },
    { argv: ["/usr/bin/ls/"] },
    { argv: ["ls"], shell: "ls" },
    { argv: ["x".repeat(100_000)] },
    { argv: [`/${"x/".repeat(5000)}ls`] },
    { argv: ["ls"], env: { "": "x" } },
    { argv: ["ls"], env: { "A=B": "x" } },
    { argv: [42] } as unknown as PolicyRequest,
    { argv: ["ls"], env: { A: 1 } } as unknown as PolicyRequest,
    { argv: ["ls"], env: null } as unknown as PolicyRequest,
  ];
  for (const request of odd) {
    const decision = await policy.check(request);
    assert.equal(decision.allowed, false, JSON.stringify(request).slice(0, 200));
  }
});

Deno.test("isDangerousEnvName(): DANGEROUS_ENV entries are names or prefixes ending in *, and match by prefix", () => {
  for (const entry of DANGEROUS_ENV) {
    assert.match(entry, /^[A-Z_][A-Z0-9_]*\*?$/, entry);
    assert.ok(isDangerousEnvName(entry.endsWith("*") ? `${entry.slice(0, -1)}X` : entry));
  }
  assert.ok(isDangerousEnvName("DYLD_INSERT_LIBRARIES"));
  assert.ok(isDangerousEnvName("GIT_CONFIG_COUNT"));
  assert.ok(!isDangerousEnvName("PATHS"));
  assert.ok(!isDangerousEnvName("path"));
  assert.ok(!isDangerousEnvName("TMPDIR"));
});

Deno.test("CommandPolicy.check() property: random variable names never throw, and PATH and LD_* are always refused without envAllow", async () => {
  const policy = await CommandPolicy.create();
  const allowlisted = await CommandPolicy.create({ allow: ["ls"], path: PATH });
  const name = fc.string({ unit: "binary", maxLength: 40 });
  const dangerous = fc.oneof(
    fc.constant("PATH"),
    name.map((suffix) => `LD_${suffix.replaceAll("=", "").replaceAll("\0", "")}`),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.dictionary(name, fc.string({ maxLength: 10 }), { maxKeys: 5 }),
      dangerous,
      fc.string({ unit: "binary", maxLength: 40 }),
      async (env, bad, program) => {
        // Random names alone: a decision, never an exception.
        for (const subject of [policy, allowlisted]) {
          const decision = await subject.check({ argv: [program], env });
          assert.equal(typeof decision.allowed, "boolean");
          if (!decision.allowed) assert.equal(typeof decision.message, "string");
        }
        const decision = await policy.check({ argv: ["ls"], env: { ...env, [bad]: "x" } });
        assert.equal(decision.allowed, false);
      },
    ),
    { numRuns: 300 },
  );
});
