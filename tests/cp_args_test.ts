/**
 * `rexec cp`'s command line: which side is remote, host forms with ports,
 * local paths with colons, and the options.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseCli, parseCopyLocation } from "../lib/cli/args.ts";
import { UsageError } from "../lib/errors.ts";

function cp(...args: string[]) {
  const config = parseCli(["cp", ...args]);
  assert(config.mode === "cp");
  return config;
}

Deno.test("parseCli(): cp uploads local sources to a remote destination, with defaults", () => {
  const config = cp("a.txt", "b", "box:dir/");
  assert.deepEqual(config.sources, [{ local: "a.txt" }, { local: "b" }]);
  assert.deepEqual(config.destination, { targets: "box", path: "dir/" });
  assert.equal(config.recursive, false);
  assert.equal(config.preserve, true);
  assert.equal(config.json, false);
  assert.equal(config.quiet, false);
  assert.equal(config.tls, undefined);
});

Deno.test("parseCli(): cp downloads remote sources from one host to a local destination", () => {
  const config = cp(
    "-r",
    "--json",
    "-q",
    "--no-preserve",
    "tls://box:7023:logs",
    "tls://box:7023:etc",
    ".",
  );
  assert.equal(config.recursive, true);
  assert.equal(config.json, true);
  assert.equal(config.quiet, true);
  assert.equal(config.preserve, false);
  assert.deepEqual(config.sources, [
    { targets: "tls://box:7023", path: "logs" },
    { targets: "tls://box:7023", path: "etc" },
  ]);
  assert.deepEqual(config.destination, { local: "." });
});

Deno.test("parseCopyLocation(): ports, IPv6, lists and colons in paths", () => {
  assert.deepEqual(parseCopyLocation("127.0.0.1:7022:/tmp/f"), {
    targets: "127.0.0.1:7022",
    path: "/tmp/f",
  });
  assert.deepEqual(parseCopyLocation("[::1]:7022:/tmp/f"), {
    targets: "[::1]:7022",
    path: "/tmp/f",
  });
  assert.deepEqual(parseCopyLocation("[::1]:/tmp/f"), { targets: "[::1]", path: "/tmp/f" });
  assert.deepEqual(parseCopyLocation("box:a:b"), { targets: "box", path: "a:b" });
  assert.deepEqual(parseCopyLocation("box:123abc"), { targets: "box", path: "123abc" });
  assert.deepEqual(parseCopyLocation("web,db1:7023:/srv/"), {
    targets: "web,db1:7023",
    path: "/srv/",
  });
  assert.deepEqual(parseCopyLocation("./a:b"), { local: "./a:b" });
  assert.deepEqual(parseCopyLocation("/abs/a:b"), { local: "/abs/a:b" });
  assert.deepEqual(parseCopyLocation("../up:x"), { local: "../up:x" });
  assert.throws(() => parseCopyLocation(":path"), UsageError);
});

Deno.test("parseCli(): cp refuses what cannot be copied, naming why", () => {
  const usage = (args: string[], pattern: RegExp) =>
    assert.throws(
      () => parseCli(["cp", ...args]),
      (error) => error instanceof UsageError && pattern.test(error.message),
    );
  usage(["a"], /needs SRC\.\.\. DST/);
  usage(["a", "b"], /one side must be remote/);
  usage(["box:a", "other:b"], /from one server to another/);
  usage(["box:a", "a", "dst"], /one side must be remote/);
  usage(["box:a", "other:b", "dst"], /different hosts/);
  usage(["-p", "--no-preserve", "a", "box:b"], /contradicts/);
  usage(["--timeout", "5", "a", "box:b"], /unknown option --timeout/);
});

Deno.test("parseCli(): cp --help and help cp show cp's help", () => {
  assert.deepEqual(parseCli(["cp", "--help"]), { mode: "help", topic: "cp" });
  assert.deepEqual(parseCli(["help", "cp"]), { mode: "help", topic: "cp" });
});
