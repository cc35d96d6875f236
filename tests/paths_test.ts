import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { joinPath, parentDir } from "../lib/util/paths.ts";

const posixOnly = { ignore: Deno.build.os === "windows" };

Deno.test("parentDir() agrees with node:path dirname on POSIX paths", posixOnly, () => {
  const segment = fc.stringMatching(/^[a-z.]{1,4}$/);
  const path = fc.tuple(
    fc.boolean(),
    fc.array(segment, { minLength: 1, maxLength: 5 }),
    fc.constantFrom("", "/", "//"),
  ).map(([absolute, parts, trailing]) => (absolute ? "/" : "") + parts.join("/") + trailing);
  fc.assert(fc.property(path, (p) => assert.equal(parentDir(p), dirname(p))), { numRuns: 500 });
  for (const p of ["/", "token", "/token", "./token", "../x/y"]) {
    assert.equal(parentDir(p), dirname(p), p);
  }
});

Deno.test("parentDir() drops every separator between a directory and its file", posixOnly, () => {
  assert.equal(parentDir("a//b"), "a");
  assert.equal(parentDir("/a//b"), "/a");
  assert.equal(parentDir("//a"), "/");
});

Deno.test(
  "joinPath() agrees with node:path join for a directory and a file name",
  posixOnly,
  () => {
    for (
      const [dir, name] of [["/home/ada", "token"], ["/", "etc"], ["rel/dir/", "x"], ["", "y"]]
    ) {
      assert.equal(joinPath(dir, name), join(dir, name), `${dir} + ${name}`);
    }
  },
);
