import assert from "node:assert/strict";
import { CommandPolicy } from "../lib/server/policy.ts";
import type { RunAs } from "../lib/server/command.ts";
import { accountEnv, currentUser } from "../lib/server/user.ts";
import { connectTo, startServer, text, withTempDir } from "./helpers.ts";

const root = Deno.uid() === 0;

/** The server's own account, living in `home`. */
async function ownAccountAt(home: string): Promise<RunAs> {
  const own = await currentUser();
  return { home, env: { ...accountEnv(own), HOME: home } };
}

Deno.test("serve() with runAs: commands start in the account's home, with its HOME, USER, LOGNAME and SHELL", async () => {
  await withTempDir(async (home) => {
    await using server = await startServer({ runAs: await ownAccountAt(home) });
    await using client = await connectTo(server);
    const { code, stdout } = await client.spawnShell('pwd; echo "$HOME|$USER|$LOGNAME|$SHELL"')
      .output();
    assert.equal(code, 0);
    const own = await currentUser();
    assert.equal(
      text(stdout),
      `${home}\n${home}|${own.name}|${own.name}|${accountEnv(own).SHELL}\n`,
    );
  });
});

Deno.test("serve() with runAs: a relative cwd is taken from the home, an absolute one as given, and the client's variables win", async () => {
  await withTempDir(async (home) => {
    await Deno.mkdir(`${home}/sub`);
    await using server = await startServer({ runAs: await ownAccountAt(home) });
    await using client = await connectTo(server);
    const relative = await client.spawn(["pwd"], { cwd: "sub" }).output();
    assert.equal(text(relative.stdout), `${home}/sub\n`);
    const absolute = await client.spawn(["pwd"], { cwd: "/" }).output();
    assert.equal(text(absolute.stdout), "/\n");
    const missing = await client.spawn(["pwd"], { cwd: "nowhere" }).status;
    assert.equal(missing.code, 126);
    assert.match(missing.message!, new RegExp(`cannot change to directory ${home}/nowhere`));
    const env = await client.spawnShell('echo "$HOME"', { env: { HOME: "/elsewhere" } }).output();
    assert.equal(text(env.stdout), "/elsewhere\n");
  });
});

Deno.test("serve() with runAs: a missing home gives way to /, with a warning in the log", async () => {
  await withTempDir(async (dir) => {
    const home = `${dir}/gone`;
    await using server = await startServer({ runAs: await ownAccountAt(home) });
    await using client = await connectTo(server);
    const { code, stdout } = await client.spawnShell('pwd; echo "$HOME"').output();
    assert.equal(code, 0);
    assert.equal(text(stdout), `/\n${home}\n`);
    const warning = server.logs.find((record) => record.message.includes("home directory"));
    assert.ok(warning, JSON.stringify(server.logs));
    assert.equal(warning.level, "warn");
    assert.match(warning.message, /no such directory; the command starts in \/ instead/);
  });
});

Deno.test("serve() with runAs: the allowlist looks a relative program up from where the command starts", async () => {
  await withTempDir(async (home) => {
    await Deno.writeTextFile(`${home}/prog`, "#!/bin/sh\necho from home\n");
    await Deno.chmod(`${home}/prog`, 0o755);
    const policy = await CommandPolicy.create({ allow: [`${home}/prog`] });
    await using server = await startServer({ runAs: await ownAccountAt(home), policy });
    await using client = await connectTo(server);
    const { code, stdout, stderr } = await client.spawn(["./prog"]).output();
    assert.equal(code, 0, text(stderr));
    assert.equal(text(stdout), "from home\n");
  });
});

Deno.test({
  name: `serve() with runAs: a home or cwd the switched account cannot enter is named as such${
    root ? "" : " (skipped: needs a server running as root)"
  }`,
  ignore: !root,
  fn: async () => {
    await withTempDir(async (dir) => {
      // A private directory, as `mktemp -d` makes: nobody cannot pass it.
      await Deno.chmod(dir, 0o700);
      await Deno.mkdir(`${dir}/home`, { mode: 0o777 });
      await Deno.chmod(`${dir}/home`, 0o777);
      const runAs: RunAs = {
        uid: 65534,
        gid: 65534,
        home: `${dir}/home`,
        env: { HOME: `${dir}/home`, USER: "nobody", LOGNAME: "nobody", SHELL: "/bin/sh" },
      };
      await using server = await startServer({ runAs });
      await using client = await connectTo(server);
      const { code, stdout } = await client.spawnShell("id -u; pwd").output();
      assert.equal(code, 0);
      assert.equal(text(stdout), "65534\n/\n");
      assert.ok(
        server.logs.some((record) => record.message.includes(`uid 65534 cannot enter ${dir}`)),
      );
      const status = await client.spawn(["pwd"], { cwd: `${dir}/home` }).status;
      assert.equal(status.code, 126);
      assert.match(
        status.message!,
        new RegExp(`cannot change to directory ${dir}/home: permission denied`),
      );
    });
  },
});
