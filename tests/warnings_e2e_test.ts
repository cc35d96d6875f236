import assert from "node:assert/strict";
import { runCli, startCliServer, startServer, TOKEN, withTempDir } from "./helpers.ts";

Deno.test("rexec run warns once on stderr when others can read or change its token file, and runs the command", async () => {
  await using server = await startServer();
  await withTempDir(async (dir) => {
    const file = `${dir}/token`;
    await Deno.writeTextFile(file, `${TOKEN}\n`);
    for (const [mode, access] of [[0o644, "read"], [0o620, "changed"]] as const) {
      await Deno.chmod(file, mode);
      const result = await runCli(
        ["run", "-n", "--token-file", file, server.address, "--", "echo", "ran"],
        { token: null, env: { XDG_CONFIG_HOME: `${dir}/config` } },
      );
      assert.deepEqual([result.code, result.stdoutText], [0, "ran\n"]);
      assert.equal(
        result.stderrText,
        `rexec: warning: token file ${file} can be ${access} by other users ` +
          `(mode 0${mode.toString(8)}); run: chmod 600 ${file}\n`,
      );
    }
    await Deno.chmod(file, 0o600);
    const quiet = await runCli(["run", "-n", "--token-file", file, server.address, "--", "true"], {
      token: null,
    });
    assert.deepEqual([quiet.code, quiet.stderrText], [0, ""]);
  });
});

Deno.test("rexec run and rexec serve warn when others can write the config directory", async () => {
  await using server = await startServer();
  await withTempDir(async (dir) => {
    const configDir = `${dir}/rexec`;
    await Deno.mkdir(configDir);
    await Deno.writeTextFile(`${configDir}/token`, `${TOKEN}\n`, { mode: 0o600 });
    await Deno.chmod(configDir, 0o777);
    const env = { XDG_CONFIG_HOME: dir };
    const warning = `config directory ${configDir} can be written by other users (mode 0777): ` +
      `they could replace the token or certificate in it; run: chmod 700 ${configDir}`;

    const client = await runCli(["run", "-n", server.address, "--", "true"], { token: null, env });
    assert.deepEqual([client.code, client.stderrText], [0, `rexec: warning: ${warning}\n`]);

    const serve = await startCliServer([], { token: null, env });
    const log = serve.log;
    assert.equal((await serve.stop()).code, 0);
    assert.equal(log.split("\n").filter((line) => line.includes(warning)).length, 1, log);
    assert.match(log, new RegExp(` WARN config directory ${configDir} `));

    // With the token from REXEC_TOKEN, the directory still matters to --tls: its certificate.
    const tls = await startCliServer(["--tls"], { env });
    const tlsLog = tls.log;
    assert.equal((await tls.stop()).code, 0);
    assert.equal(tlsLog.split("\n").filter((line) => line.includes(warning)).length, 1, tlsLog);

    await Deno.chmod(configDir, 0o700);
    const quiet = await runCli(["run", "-n", server.address, "--", "true"], { token: null, env });
    assert.deepEqual([quiet.code, quiet.stderrText], [0, ""]);
  });
});
