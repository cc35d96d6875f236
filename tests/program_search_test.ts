import assert from "node:assert/strict";
import {
  canonicalProgramPath,
  isRunnableFile,
  programCandidates,
} from "../lib/server/program_search.ts";

/** A directory tree for the search: `bin/tool` (0755), `other/tool` (0644), `dirs/tool/`. */
async function withTree(fn: (root: string) => void | Promise<void>): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir());
  try {
    for (const dir of ["bin", "other", "dirs/tool"]) {
      await Deno.mkdir(`${root}/${dir}`, { recursive: true });
    }
    await Deno.writeTextFile(`${root}/bin/tool`, "#!/bin/sh\n");
    await Deno.chmod(`${root}/bin/tool`, 0o755);
    await Deno.writeTextFile(`${root}/other/tool`, "#!/bin/sh\n");
    await Deno.chmod(`${root}/other/tool`, 0o644);
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("the search tries PATH entries in order, leaving out files that are not there", async () => {
  await withTree((root) => {
    const found = [
      ...programCandidates("tool", {
        path: `${root}/missing:${root}/dirs:${root}/other:${root}/bin`,
        cwd: "/",
      }),
    ];
    assert.deepEqual(found, [
      { file: `${root}/dirs/tool`, runnable: false },
      { file: `${root}/other/tool`, runnable: false },
      { file: `${root}/bin/tool`, runnable: true },
    ]);
  });
});

Deno.test("an empty or relative PATH entry counts from the working directory, as execvp's does", async () => {
  await withTree((root) => {
    const [empty] = programCandidates("tool", { path: ":/nowhere", cwd: `${root}/bin` });
    assert.deepEqual(empty, { file: `${root}/bin/./tool`, runnable: true });
    const [relative] = programCandidates("tool", { path: "bin", cwd: root });
    assert.deepEqual(relative, { file: `${root}/bin/tool`, runnable: true });
  });
});

Deno.test("a name with a slash is that path alone, taken from the working directory", async () => {
  await withTree((root) => {
    assert.deepEqual([...programCandidates("bin/tool", { path: `${root}/other`, cwd: root })], [
      { file: `${root}/bin/tool`, runnable: true },
    ]);
    assert.deepEqual([...programCandidates("./nope", { path: `${root}/bin`, cwd: root })], []);
    assert.deepEqual([...programCandidates("", { path: `${root}/bin`, cwd: root })], []);
  });
});

Deno.test("an unset PATH searches /bin:/usr/bin, as glibc's execvp does", () => {
  const [first] = programCandidates("sh", { path: undefined, cwd: "/" });
  assert.deepEqual(first, { file: "/bin/sh", runnable: true });
});

Deno.test("the search stops where its caller stops asking", async () => {
  await withTree(async (root) => {
    const search = programCandidates("tool", { path: `${root}/bin:${root}/other`, cwd: "/" });
    assert.deepEqual(search.next().value, { file: `${root}/bin/tool`, runnable: true });
    await Deno.remove(`${root}/other/tool`);
    assert.equal(search.next().done, true);
  });
});

Deno.test("isRunnableFile and canonicalProgramPath see files as the search does", async () => {
  await withTree(async (root) => {
    assert.ok(isRunnableFile(`${root}/bin/tool`));
    assert.ok(!isRunnableFile(`${root}/other/tool`));
    assert.ok(!isRunnableFile(`${root}/dirs/tool`));
    await Deno.symlink(`${root}/bin`, `${root}/link`);
    assert.equal(canonicalProgramPath(`${root}/link/../bin/tool`), `${root}/bin/tool`);
    assert.equal(canonicalProgramPath(`${root}/link/tool`), `${root}/bin/tool`);
  });
});
