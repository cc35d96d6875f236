import assert from "node:assert/strict";
import { TokenError } from "../lib/errors.ts";
import { defaultTokenPath, resolveToken } from "../lib/token.ts";

async function withConfigDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("REXEC_TOKEN comes first, then --token-file, then the default file", async () => {
  await withConfigDir(async (dir) => {
    const file = `${dir}/explicit`;
    await Deno.writeTextFile(file, "  from-the-file-0123456789 \n");
    await Deno.mkdir(`${dir}/rexec`);
    await Deno.writeTextFile(`${dir}/rexec/token`, "from-the-default-file-0123\n", { mode: 0o600 });
    await Deno.chmod(file, 0o600);
    const env = new Map([["XDG_CONFIG_HOME", dir], ["REXEC_TOKEN", " from-the-env-0123456789\n"]]);

    assert.deepEqual(await resolveToken({ env, tokenFile: file }), {
      token: "from-the-env-0123456789",
      source: "REXEC_TOKEN",
      created: false,
      warnings: [],
    });
    env.delete("REXEC_TOKEN");
    const explicit = await resolveToken({ env, tokenFile: file });
    assert.deepEqual([explicit.token, explicit.source], ["from-the-file-0123456789", file]);
    const fallback = await resolveToken({ env });
    assert.deepEqual(
      [fallback.token, fallback.source],
      ["from-the-default-file-0123", `${dir}/rexec/token`],
    );
  });
});

Deno.test("the server creates the default token file with mode 0600 in a 0700 directory", async () => {
  await withConfigDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", `${dir}/config`]]);
    const first = await resolveToken({ env, createIfMissing: true });
    assert.equal(first.created, true);
    assert.equal(first.source, `${dir}/config/rexec/token`);
    assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await Deno.readTextFile(first.source), `${first.token}\n`);
    assert.equal((await Deno.stat(first.source)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/config/rexec`)).mode! & 0o777, 0o700);

    const second = await resolveToken({ env, createIfMissing: true });
    assert.deepEqual([second.token, second.created], [first.token, false]);
  });
});

Deno.test("a missing token file tells the client where it looked and what to do", async () => {
  await withConfigDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    await assert.rejects(
      resolveToken({ env }),
      (error: Error) =>
        error instanceof TokenError && error.message.includes("REXEC_TOKEN") &&
        error.message.includes(`${dir}/rexec/token`),
    );
    await assert.rejects(
      resolveToken({ env, tokenFile: `${dir}/nope` }),
      (error: Error) => error instanceof TokenError && error.message.includes(`${dir}/nope`),
    );
  });
});

Deno.test("an empty token file is an error, a readable one a warning", async () => {
  await withConfigDir(async (dir) => {
    const env = new Map<string, string>();
    await Deno.writeTextFile(`${dir}/empty`, "\n");
    await assert.rejects(resolveToken({ env, tokenFile: `${dir}/empty` }), /is empty/);
    await Deno.writeTextFile(`${dir}/open`, "an-open-token-0123456789\n");
    await Deno.chmod(`${dir}/open`, 0o644);
    const { warnings } = await resolveToken({ env, tokenFile: `${dir}/open` });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /chmod 600/);
  });
});

Deno.test("the default path follows XDG_CONFIG_HOME, else HOME/.config", () => {
  assert.equal(
    defaultTokenPath(new Map([["XDG_CONFIG_HOME", "/x"], ["HOME", "/h"]])),
    "/x/rexec/token",
  );
  assert.equal(defaultTokenPath(new Map([["HOME", "/h"]])), "/h/.config/rexec/token");
  assert.throws(() => defaultTokenPath(new Map()), TokenError);
});
