import assert from "node:assert/strict";
import { TokenError } from "../lib/errors.ts";
import { defaultTokenPath, resolveToken } from "../lib/config/token.ts";
import { errorMentioning, exists, withTempDir } from "./helpers.ts";

async function writeToken(path: string, text: string, mode = 0o600): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
}

Deno.test("resolveToken(): REXEC_TOKEN wins over --token-file and the default file, trimmed", async () => {
  await withTempDir(async (dir) => {
    await writeToken(`${dir}/explicit`, "from-the-file-0123456789\n");
    await Deno.mkdir(`${dir}/rexec`);
    await writeToken(`${dir}/rexec/token`, "from-the-default-file-0123\n");
    const env = new Map([["XDG_CONFIG_HOME", dir], ["REXEC_TOKEN", " \tfrom-the-env-0123\n"]]);

    const expected = {
      token: "from-the-env-0123",
      source: "REXEC_TOKEN",
      created: false,
      warnings: [],
    };
    assert.deepEqual(await resolveToken({ env, tokenFile: `${dir}/explicit` }), expected);
    assert.deepEqual(await resolveToken({ env }), expected);
    assert.deepEqual(await resolveToken({ env, createIfMissing: true }), expected);
  });
});

Deno.test("resolveToken(): REXEC_TOKEN is used even when the token file named does not exist", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir], ["REXEC_TOKEN", "from-the-env-0123"]]);
    const resolved = await resolveToken({ env, tokenFile: `${dir}/missing` });
    assert.equal(resolved.token, "from-the-env-0123");
  });
});

Deno.test("resolveToken(): the server does not create the default file when REXEC_TOKEN is set", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir], ["REXEC_TOKEN", "from-the-env-0123"]]);
    await resolveToken({ env, createIfMissing: true });
    assert.equal(await exists(`${dir}/rexec`), false);
  });
});

Deno.test("resolveToken(): --token-file is read and trimmed, and wins over the default file", async () => {
  await withTempDir(async (dir) => {
    await writeToken(`${dir}/explicit`, "  \n from-the-file-0123456789 \r\n\n");
    await Deno.mkdir(`${dir}/rexec`);
    await writeToken(`${dir}/rexec/token`, "from-the-default-file-0123\n");
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    assert.deepEqual(await resolveToken({ env, tokenFile: `${dir}/explicit` }), {
      token: "from-the-file-0123456789",
      source: `${dir}/explicit`,
      created: false,
      warnings: [],
    });
  });
});

Deno.test("resolveToken(): without REXEC_TOKEN or --token-file the default file is read", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/rexec`);
    await writeToken(`${dir}/rexec/token`, "from-the-default-file-0123\n");
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    assert.deepEqual(await resolveToken({ env }), {
      token: "from-the-default-file-0123",
      source: `${dir}/rexec/token`,
      created: false,
      warnings: [],
    });
  });
});

Deno.test("resolveToken(): an empty or blank token file is a TokenError naming the file", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    for (const [name, text] of [["empty", ""], ["blank", " \n\t\r\n"]]) {
      const path = `${dir}/${name}`;
      await writeToken(path, text);
      await assert.rejects(
        resolveToken({ env, tokenFile: path }),
        errorMentioning(TokenError, path, "empty"),
      );
    }
  });
});

Deno.test("resolveToken(): a token shorter than 16 is a TokenError with advice for where it came from", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/rexec`);
    await writeToken(`${dir}/rexec/token`, "short-default\n");
    await writeToken(`${dir}/explicit`, "short-file\n");
    const env = new Map([["XDG_CONFIG_HOME", dir]]);

    const fromEnv = resolveToken({ env: new Map([...env, ["REXEC_TOKEN", "short"]]) });
    await assert.rejects(fromEnv, (error: unknown) => {
      assert.ok(error instanceof TokenError);
      assert.equal(
        error.message,
        "REXEC_TOKEN is 5 characters; a token needs at least 16: set it to a longer secret, " +
          "the same for the server and its clients, or unset it to use the token file",
      );
      return true;
    });
    await assert.rejects(
      resolveToken({ env, tokenFile: `${dir}/explicit` }),
      errorMentioning(
        TokenError,
        `token file ${dir}/explicit holds 10 characters`,
        "put a longer secret in it",
      ),
    );
    for (const createIfMissing of [false, true]) {
      await assert.rejects(
        resolveToken({ env, createIfMissing }),
        errorMentioning(
          TokenError,
          `token file ${dir}/rexec/token holds 13 characters`,
          "delete it, and rexec serve makes a random one on its next start",
        ),
      );
    }
    assert.equal(
      (await resolveToken({ env: new Map([["REXEC_TOKEN", "x".repeat(16)]]) })).token.length,
      16,
    );
  });
});

Deno.test("resolveToken(): a missing --token-file is a TokenError naming the file", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    await assert.rejects(
      resolveToken({ env, tokenFile: `${dir}/nope` }),
      errorMentioning(TokenError, `${dir}/nope`),
    );
  });
});

Deno.test("resolveToken(): a missing --token-file is not replaced by a created default file", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    await assert.rejects(
      resolveToken({ env, tokenFile: `${dir}/nope`, createIfMissing: true }),
      errorMentioning(TokenError, `${dir}/nope`),
    );
    assert.equal(await exists(`${dir}/rexec`), false);
  });
});

Deno.test("resolveToken(): a missing default file is a TokenError that names REXEC_TOKEN and the path", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    await assert.rejects(
      resolveToken({ env }),
      errorMentioning(TokenError, "REXEC_TOKEN", "--token-file", `${dir}/rexec/token`),
    );
    assert.equal(await exists(`${dir}/rexec`), false);
  });
});

Deno.test("resolveToken() with createIfMissing creates a 43-char base64url token, mode 0600, in a 0700 directory", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", `${dir}/config`]]);
    const path = `${dir}/config/rexec/token`;
    const first = await resolveToken({ env, createIfMissing: true });
    assert.deepEqual(first, { token: first.token, source: path, created: true, warnings: [] });
    assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await Deno.readTextFile(path), `${first.token}\n`);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/config/rexec`)).mode! & 0o777, 0o700);
  });
});

Deno.test("resolveToken() with createIfMissing returns the existing token unchanged on later calls", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    const first = await resolveToken({ env, createIfMissing: true });
    const second = await resolveToken({ env, createIfMissing: true });
    assert.deepEqual(second, {
      token: first.token,
      source: first.source,
      created: false,
      warnings: [],
    });
    const client = await resolveToken({ env });
    assert.equal(client.token, first.token);
    assert.equal(await Deno.readTextFile(first.source), `${first.token}\n`);
  });
});

Deno.test("resolveToken(): each created token is new", async () => {
  await withTempDir(async (dir) => {
    const tokens = new Set<string>();
    for (const name of ["a", "b", "c"]) {
      const env = new Map([["XDG_CONFIG_HOME", `${dir}/${name}`]]);
      tokens.add((await resolveToken({ env, createIfMissing: true })).token);
    }
    assert.equal(tokens.size, 3);
  });
});

Deno.test("resolveToken(): a token file others can read gives a warning naming chmod 600 and the path", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    for (const mode of [0o644, 0o640, 0o604]) {
      const path = `${dir}/open-${mode.toString(8)}`;
      await writeToken(path, "an-open-token-0123456789\n", mode);
      const resolved = await resolveToken({ env, tokenFile: path });
      assert.equal(resolved.token, "an-open-token-0123456789");
      assert.equal(resolved.warnings.length, 1, mode.toString(8));
      assert.match(resolved.warnings[0], /chmod 600/);
      assert.ok(resolved.warnings[0].includes(path));
    }
  });
});

Deno.test("resolveToken(): a token file others can change gives a warning too, saying what they can do", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    for (
      const [mode, access] of [
        [0o602, "changed"],
        [0o620, "changed"],
        [0o666, "read and changed"],
        [0o644, "read"],
      ] as const
    ) {
      const path = `${dir}/open-${mode.toString(8)}`;
      await writeToken(path, "an-open-token-0123456789\n", mode);
      assert.deepEqual((await resolveToken({ env, tokenFile: path })).warnings, [
        `token file ${path} can be ${access} by other users (mode 0${mode.toString(8)}); ` +
        `run: chmod 600 ${path}`,
      ]);
    }
  });
});

Deno.test("resolveToken(): a config directory others can write gives a warning naming chmod 700, when the default token is used", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    await Deno.mkdir(`${dir}/rexec`);
    await writeToken(`${dir}/rexec/token`, "from-the-default-file-0123\n");
    for (const mode of [0o777, 0o775, 0o757, 0o1777]) {
      await Deno.chmod(`${dir}/rexec`, mode);
      for (const createIfMissing of [false, true]) {
        const { warnings } = await resolveToken({ env, createIfMissing });
        assert.equal(warnings.length, 1, mode.toString(8));
        assert.ok(
          warnings[0].startsWith(
            `config directory ${dir}/rexec can be written by other users (mode 0${
              (mode & 0o777).toString(8)
            })`,
          ),
          warnings[0],
        );
        assert.ok(warnings[0].endsWith(`run: chmod 700 ${dir}/rexec`), warnings[0]);
      }
    }
    for (const mode of [0o755, 0o700, 0o750]) {
      await Deno.chmod(`${dir}/rexec`, mode);
      assert.deepEqual((await resolveToken({ env })).warnings, [], mode.toString(8));
    }
    await Deno.chmod(`${dir}/rexec`, 0o777);
    assert.deepEqual(
      (await resolveToken({ env, tokenFile: `${dir}/rexec/token` })).warnings,
      [],
      "a token file named explicitly is judged on its own",
    );
  });
});

Deno.test("resolveToken(): a token file only its owner can read gives no warning", async () => {
  await withTempDir(async (dir) => {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    for (const mode of [0o600, 0o400]) {
      const path = `${dir}/private-${mode.toString(8)}`;
      await writeToken(path, "a-private-token-0123456789\n", mode);
      assert.deepEqual((await resolveToken({ env, tokenFile: path })).warnings, []);
    }
  });
});

Deno.test("defaultTokenPath(): the default path is $XDG_CONFIG_HOME/rexec/token, else $HOME/.config/rexec/token", () => {
  assert.equal(
    defaultTokenPath(new Map([["XDG_CONFIG_HOME", "/x"], ["HOME", "/h"]])),
    "/x/rexec/token",
  );
  assert.equal(defaultTokenPath(new Map([["HOME", "/h"]])), "/h/.config/rexec/token");
  assert.equal(
    defaultTokenPath(new Map([["XDG_CONFIG_HOME", ""], ["HOME", "/h"]])),
    "/h/.config/rexec/token",
  );
});

Deno.test("defaultTokenPath(): with neither XDG_CONFIG_HOME nor HOME there is no default path", async () => {
  assert.throws(
    () => defaultTokenPath(new Map()),
    errorMentioning(TokenError, "HOME", "REXEC_TOKEN"),
  );
  await assert.rejects(
    resolveToken({ env: new Map() }),
    errorMentioning(TokenError, "REXEC_TOKEN"),
  );
});

Deno.test("resolveToken(): servers creating the token file at the same moment agree on one complete token", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const env = new Map([["XDG_CONFIG_HOME", dir]]);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => resolveToken({ env, createIfMissing: true })),
    );
    assert.equal(new Set(results.map((result) => result.token)).size, 1);
    assert.equal(results.filter((result) => result.created).length, 1);
    assert.deepEqual([...Deno.readDirSync(`${dir}/rexec`)].map((entry) => entry.name), ["token"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
