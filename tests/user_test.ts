import assert from "node:assert/strict";
import { RexecError } from "../lib/errors.ts";
import { isRoot, lookupUser, UnknownUserError, UserLookupError } from "../lib/server/user.ts";

async function withPasswd(text: string, fn: (file: string) => Promise<void>): Promise<void> {
  const file = await Deno.makeTempFile({ prefix: "rexec_user_test_" });
  try {
    await Deno.writeTextFile(file, text);
    await fn(file);
  } finally {
    await Deno.remove(file);
  }
}

const PASSWD = [
  "# a comment",
  "root:x:0:0:root:/root:/bin/bash",
  "",
  "+nisuser::::::",
  "broken:x:notanumber:1:broken:/:/bin/sh",
  "short:x:5:5",
  "alice:x:1000:1001:Alice,,,:/home/alice:/bin/zsh",
  "alice:x:2000:2000:second alice:/home/alice2:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\r",
].join("\n");

Deno.test("lookupUser(): root is found by name in the system's /etc/passwd", async () => {
  const root = await lookupUser("root");
  assert.equal(root.name, "root");
  assert.equal(root.uid, 0);
  assert.equal(root.gid, 0);
  assert.equal(typeof root.home, "string");
  assert.equal(typeof root.shell, "string");
});

Deno.test("lookupUser(): a numeric name is a uid", async () => {
  assert.equal((await lookupUser("0")).name, "root");
  await withPasswd(PASSWD, async (passwdFile) => {
    assert.deepEqual(await lookupUser("65534", { passwdFile }), {
      name: "nobody",
      uid: 65534,
      gid: 65534,
      home: "/nonexistent",
      shell: "/usr/sbin/nologin",
    });
  });
});

Deno.test("lookupUser(): the first matching line wins and malformed lines are skipped", async () => {
  await withPasswd(PASSWD, async (passwdFile) => {
    assert.deepEqual(await lookupUser("alice", { passwdFile }), {
      name: "alice",
      uid: 1000,
      gid: 1001,
      home: "/home/alice",
      shell: "/bin/zsh",
    });
    for (const name of ["broken", "short", "+nisuser", "# a comment", ""]) {
      await assert.rejects(lookupUser(name, { passwdFile }), UnknownUserError);
    }
  });
});

Deno.test("lookupUser(): an unknown name or uid is an UnknownUserError that says so", async () => {
  await assert.rejects(lookupUser("no-such-user-rexec"), (error) => {
    assert.ok(error instanceof UnknownUserError);
    assert.ok(error instanceof RexecError);
    assert.equal(error.user, "no-such-user-rexec");
    assert.match(error.message, /no user named "no-such-user-rexec" on this system/);
    return true;
  });
  await assert.rejects(lookupUser("4242424242"), (error) => {
    assert.ok(error instanceof UnknownUserError);
    assert.match(error.message, /no user with uid 4242424242 on this system/);
    return true;
  });
});

Deno.test("lookupUser(): an unreadable passwd file is a UserLookupError, not an unknown user", async () => {
  await assert.rejects(lookupUser("root", { passwdFile: "/nonexistent/passwd" }), (error) => {
    assert.ok(error instanceof UserLookupError);
    assert.ok(!(error instanceof UnknownUserError));
    assert.match(error.message, /cannot read \/nonexistent\/passwd/);
    return true;
  });
});

Deno.test("isRoot() tells whether this process runs as uid 0, and needs --allow-sys=uid", () => {
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") {
    assert.equal(isRoot(), Deno.uid() === 0);
  } else {
    assert.throws(() => isRoot(), Deno.errors.NotCapable);
  }
});
