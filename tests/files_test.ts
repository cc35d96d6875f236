import assert from "node:assert/strict";
import { FileDraft, removeIfExists, writeFileExclusive } from "../lib/util/files.ts";

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
}

Deno.test("writeFileExclusive() run many times at once writes one whole file, and one wins", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/token`;
    const texts = Array.from({ length: 20 }, (_, i) => `${String(i).repeat(10_000)}\n`);
    const won = await Promise.all(
      texts.map((text) => writeFileExclusive(path, text, { mode: 0o600 })),
    );
    assert.equal(won.filter(Boolean).length, 1);
    assert.equal(await Deno.readTextFile(path), texts[won.indexOf(true)]);
    assert.deepEqual(await names(dir), ["token"], "no temporary file is left");
  });
});

Deno.test({
  name: "writeFileExclusive() gives the file exactly its mode, bits the umask clears included",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir(async (dir) => {
      // 0666 is what the usual umask, 022, narrows to 0644.
      assert.equal(await writeFileExclusive(`${dir}/shared`, "x", { mode: 0o666 }), true);
      assert.equal((await Deno.stat(`${dir}/shared`)).mode! & 0o777, 0o666);
    });
  },
});

Deno.test("writeFileExclusive() that cannot write throws and leaves nothing behind", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      writeFileExclusive(`${dir}/missing/token`, "x", { mode: 0o600 }),
      Deno.errors.NotFound,
    );
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("FileDraft: a draft disposed of unpublished leaves nothing; a published file stays", async () => {
  await withTempDir(async (dir) => {
    {
      await using _draft = await FileDraft.write(`${dir}/a`, "a", { mode: 0o600 });
      assert.equal((await names(dir)).length, 1, "the draft exists under a temporary name");
    }
    assert.deepEqual(await names(dir), []);
    {
      await using draft = await FileDraft.write(`${dir}/b`, new Uint8Array([1, 2]), {
        mode: 0o600,
      });
      assert.equal(await draft.publish(), true);
    }
    assert.deepEqual(await names(dir), ["b"]);
    assert.deepEqual(await Deno.readFile(`${dir}/b`), new Uint8Array([1, 2]));
  });
});

Deno.test("removeIfExists() removes a file, and is content when there is none", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/f`, "x");
    await removeIfExists(`${dir}/f`);
    await removeIfExists(`${dir}/f`);
    assert.deepEqual(await names(dir), []);
    await Deno.mkdir(`${dir}/d/e`, { recursive: true });
    // Any failure but a missing file is the caller's to hear of.
    await assert.rejects(removeIfExists(`${dir}/d`));
  });
});
