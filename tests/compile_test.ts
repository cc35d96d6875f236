import assert from "node:assert/strict";
import { readUntil, TOKEN } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const BINARY = `${ROOT}dist/rexec${Deno.build.os === "windows" ? ".exe" : ""}`;

/**
 * Builds the executable with `deno task compile`, as a user would. Where
 * that cannot work (deno compile downloads its runtime, denort, and this
 * machine may be offline), says why instead.
 */
async function compile(): Promise<{ skipped?: string }> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "compile"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code === 0) return {};
  const lines = new TextDecoder().decode(stderr).split("\n").map((line) => line.trim());
  const download = lines.find((line) => line.startsWith("Download "));
  if (download === undefined) {
    throw new Error(`deno task compile failed:\n${lines.join("\n")}`);
  }
  const backtrace = lines.indexOf("Stack backtrace:");
  const causes = backtrace === -1 ? lines : lines.slice(0, backtrace);
  const cause = causes.findLast((line) => /^\d+: /.test(line))?.replace(/^\d+: /, "");
  return {
    skipped: `deno compile could not fetch its runtime (${download.slice(9)}: ${cause}); ` +
      "point DENORT_BIN at a local denort to run this test offline",
  };
}

const build = await compile();
if (build.skipped) console.warn(`compiled binary test skipped: ${build.skipped}`);

Deno.test({
  name: build.skipped
    ? `deno task compile: the compiled binary serves and runs commands (skipped: ${build.skipped})`
    : "deno task compile: the compiled binary serves and runs commands",
  ignore: build.skipped !== undefined,
  async fn() {
    const version = await new Deno.Command(BINARY, { args: ["--version"] }).output();
    assert.match(new TextDecoder().decode(version.stdout), /^rexec \d+\.\d+\.\d+/);

    const env = { REXEC_TOKEN: TOKEN };
    const server = new Deno.Command(BINARY, {
      args: ["serve", "--listen", "127.0.0.1:0"],
      env,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const log = await readUntil(server.stderr.getReader(), /listening address=\S+\s/);
      const address = log.match(/listening address=(\S+)\s/)![1];
      const run = await new Deno.Command(BINARY, {
        args: ["run", address, "-c", "echo compiled; exit 7"],
        env,
      }).output();
      assert.equal(run.code, 7);
      assert.equal(new TextDecoder().decode(run.stdout), "compiled\n");
    } finally {
      server.kill("SIGTERM");
      assert.equal((await server.status).code, 0);
    }
  },
});
