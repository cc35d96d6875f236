import assert from "node:assert/strict";
import { readUntil, tempDir, TOKEN } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

/**
 * What the commands below may see of this process's environment: where Deno
 * keeps its cache and how it reaches the npm registry, so that they work
 * offline from the same cache as the suite. Nothing else, so that no
 * REXEC_TOKEN or XDG_CONFIG_HOME of the caller's leaks in.
 */
const PASSED_ENV = [
  "HOME",
  "DENO_DIR",
  "NPM_CONFIG_REGISTRY",
  "DENO_CERT",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
];

/** A clean environment with `deno` first on PATH, plus `extra`. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of PASSED_ENV) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
  env.PATH = `${denoDir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
  return { ...env, ...extra };
}

/**
 * Runs `deno task install` into `root`, as a user would. Where that cannot
 * work (deno install could not fetch what it needs, say offline with an
 * empty cache), says why instead.
 */
async function install(root: string): Promise<{ output: string; skipped?: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "install"],
    cwd: ROOT,
    clearEnv: true,
    env: cleanEnv({ DENO_INSTALL_ROOT: root }),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = decoder.decode(stdout) + decoder.decode(stderr);
  if (code === 0) return { output };
  const network = output.split("\n").find((line) =>
    /error sending request|dns error|connection refused|tcp connect|failed to fetch/i.test(line)
  );
  if (network === undefined) throw new Error(`deno task install failed:\n${output}`);
  const reason = network.trim().replace(/^\d+: /, "");
  return { output, skipped: `deno install could not fetch a dependency: ${reason}` };
}

const installRoot = await Deno.makeTempDir({ prefix: "rexec_install_root_" });
globalThis.addEventListener("unload", () => Deno.removeSync(installRoot, { recursive: true }));
const installed = await install(installRoot);
if (installed.skipped) console.warn(`installed command test skipped: ${installed.skipped}`);
const REXEC = `${installRoot}/bin/rexec`;

/** The test's name, saying why it is skipped when it is. */
function named(name: string): string {
  return installed.skipped ? `${name} (skipped: ${installed.skipped})` : name;
}

Deno.test({
  name: named("deno task install says how to put the command on PATH when it is not"),
  ignore: installed.skipped !== undefined,
  fn() {
    assert.ok(
      installed.output.includes(
        `installed ${REXEC}; ${installRoot}/bin is not on your PATH. Add it to this shell with\n` +
          `  export PATH="${installRoot}/bin:$PATH"\n` +
          "and put that line in your shell's startup file (~/.profile) for the shells you open later.\n",
      ),
      installed.output,
    );
  },
});

Deno.test({
  name: named(
    "deno task install: the installed command runs with the checkout's import map and locked versions",
  ),
  ignore: installed.skipped !== undefined,
  async fn() {
    const readJson = async (path: string | URL) => JSON.parse(await Deno.readTextFile(path));
    const wrapper = await Deno.readTextFile(REXEC);
    const config = wrapper.match(/--config '?([^' ]+)'? /)?.[1];
    assert.ok(config, wrapper);
    const checkoutConfig = await readJson(new URL("../deno.json", import.meta.url));
    // deno install adds the package's own name and exports to the map.
    const imports = (await readJson(config)).imports;
    for (const [name, target] of Object.entries(checkoutConfig.imports)) {
      assert.equal(imports[name], target, name);
    }
    const lock = await readJson(config.replace(/deno\.json$/, "deno.lock"));
    const checkoutLock = await readJson(new URL("../deno.lock", import.meta.url));
    const x509 = "npm:@peculiar/x509@^1.14.3";
    assert.equal(lock.specifiers[x509], checkoutLock.specifiers[x509]);
    for (const [name, entry] of Object.entries(lock.npm)) {
      assert.deepEqual(entry, checkoutLock.npm[name], name);
    }
  },
});

Deno.test({
  name: named(
    "deno task install: the installed command makes certificates, serves TLS and runs commands from outside the checkout",
  ),
  ignore: installed.skipped !== undefined,
  async fn() {
    await using work = await tempDir();
    const run = (args: string[], config: string) =>
      new Deno.Command(REXEC, {
        args,
        cwd: work.path,
        clearEnv: true,
        env: cleanEnv({ XDG_CONFIG_HOME: config }),
        stdout: "piped",
        stderr: "piped",
      });
    const certConfig = `${work.path}/cert-config`;
    const cert = await run(["cert"], certConfig).output();
    assert.equal(cert.code, 0, decoder.decode(cert.stderr));
    assert.match(
      decoder.decode(cert.stdout),
      new RegExp(`^created certificate ${certConfig}/rexec/tls-cert\\.pem\n`),
    );
    assert.equal(decoder.decode(cert.stderr), "");

    // A fresh config: the first `serve --tls` makes the pair itself.
    const serveConfig = `${work.path}/serve-config`;
    const server = run(["serve", "--tls", "--listen", "127.0.0.1:0"], serveConfig).spawn();
    const serverLog = server.stderr.getReader();
    try {
      const log = await readUntil(serverLog, /listening address=\S+\s/);
      const port = log.match(/listening address=\S+:(\d+)\s/)?.[1];
      assert.ok(port, `the server did not start:\n${log}`);
      const client = await run(
        [
          "run",
          "--ca",
          `${serveConfig}/rexec/tls-cert.pem`,
          `tls://127.0.0.1:${port}`,
          "--",
          "echo",
          "ok",
        ],
        serveConfig,
      ).output();
      assert.equal(decoder.decode(client.stderr), "");
      assert.equal(decoder.decode(client.stdout), "ok\n");
      assert.equal(client.code, 0);
    } finally {
      server.kill("SIGTERM");
      await server.status;
      await server.stdout.cancel();
      await serverLog.cancel();
    }
  },
});

/**
 * Writes a script into a directory outside the checkout that imports the
 * library as `specifier`, with `config` as that directory's deno.json, and
 * runs it there: it makes a certificate, serves TLS, connects and runs `echo`.
 */
async function runOutsideScript(specifier: string, config?: unknown): Promise<void> {
  await using work = await tempDir();
  if (config !== undefined) {
    await Deno.writeTextFile(`${work.path}/deno.json`, JSON.stringify(config));
  }
  const script = `${work.path}/uses_rexec.ts`;
  await Deno.writeTextFile(
    script,
    `import { connect, createSelfSignedCertificate, serve } from ${JSON.stringify(specifier)};

const token = ${JSON.stringify(TOKEN)};
const pair = await createSelfSignedCertificate({ names: ["127.0.0.1"] });
await using server = await serve({
  token,
  hostname: "127.0.0.1",
  port: 0,
  tls: { cert: pair.certPem, key: pair.keyPem },
});
await using client = await connect({
  hostname: "127.0.0.1",
  port: server.addr.port,
  token,
  tls: { caCerts: [pair.certPem] },
});
const { code, stdout } = await client.spawn(["echo", "ok"]).output();
console.log(code, new TextDecoder().decode(stdout).trim());
`,
  );
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-run", script],
    cwd: work.path,
    clearEnv: true,
    env: cleanEnv({}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(decoder.decode(stderr), "");
  assert.equal(decoder.decode(stdout), "0 ok\n");
  assert.equal(code, 0);
}

const MOD_URL = new URL("../lib/mod.ts", import.meta.url).href;

Deno.test("lib/mod.ts: a script outside the checkout imports lib/mod.ts by URL, serves TLS and connects", async () => {
  await runOutsideScript(MOD_URL);
});

Deno.test("lib/mod.ts: a project maps a name to lib/mod.ts in its own deno.json, serves TLS and connects", async () => {
  await runOutsideScript("@rexec/rexec", { imports: { "@rexec/rexec": MOD_URL } });
});
