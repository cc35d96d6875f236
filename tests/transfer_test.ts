/**
 * File transfer through the library: client.upload / client.download and
 * client.files against an in-process server, with the server's policy.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CopyError, FileOperations, type TransferChannel } from "../lib/client/transfer.ts";
import { FrameType } from "../lib/protocol/frame.ts";
import { encodeCopyJson, type TreeEntry } from "../lib/protocol/transfer.ts";
import { CommandPolicy } from "../lib/server/policy.ts";
import type { AuditEvent } from "../lib/server/audit.ts";
import { FrameWriter } from "../lib/transport/frame_writer.ts";
import {
  answerChallenge,
  connectTo,
  openRawSession,
  readAllFrames,
  sendHello,
  startServer,
  tempDir,
  text,
  waitFor,
} from "./helpers.ts";

/** Bytes that do not repeat in any short period, so that a misplaced chunk shows. */
function noise(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed | 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state;
  }
  return bytes;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The names in `dir`, sorted: what a test expects to see, and no temporary file. */
async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
}

function refused(error: unknown): boolean {
  return error instanceof CopyError && error.code === "refused";
}

Deno.test("transfer: a large file goes up and comes back with the same SHA-256, mode and mtime", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  const bytes = noise(24 * 1024 * 1024 + 7);
  await Deno.writeFile(`${local.path}/big.bin`, bytes, { mode: 0o640 });
  await Deno.chmod(`${local.path}/big.bin`, 0o640);
  const mtime = new Date("2024-05-06T07:08:09.000Z");
  await Deno.utime(`${local.path}/big.bin`, mtime, mtime);

  const progress: number[] = [];
  const up = await client.upload(`${local.path}/big.bin`, "big.bin", {
    onProgress: (done) => progress.push(done),
  });
  assert.equal(up.bytes, bytes.length);
  assert.equal(up.sha256, sha256(bytes));
  assert.equal(up.path, `${remote.path}/big.bin`);
  assert.equal(progress.at(-1), bytes.length);
  const stored = await Deno.stat(`${remote.path}/big.bin`);
  assert.equal(stored.mode! & 0o777, 0o640);
  assert.equal(stored.mtime?.getTime(), mtime.getTime());

  const down = await client.download("big.bin", `${local.path}/back.bin`);
  assert.equal(down.sha256, up.sha256);
  assert.deepEqual(await Deno.readFile(`${local.path}/back.bin`), bytes);
  const back = await Deno.stat(`${local.path}/back.bin`);
  assert.equal(back.mode! & 0o777, 0o640);
  assert.equal(back.mtime?.getTime(), mtime.getTime());
  assert.deepEqual(await names(remote.path), ["big.bin"]);
  assert.deepEqual(await names(local.path), ["back.bin", "big.bin"]);
});

Deno.test("transfer: empty files, files of zeros and odd names", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  const files: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["zeros", new Uint8Array(5 * 1024 * 1024)],
    ["with space", noise(1000)],
    ["new\nline", noise(10, 2)],
    ["été 日本 ünï", noise(3000, 3)],
  ];
  for (const [name, bytes] of files) {
    const up = await client.files.uploadBytes(bytes, name);
    assert.equal(up.sha256, sha256(bytes), name);
    await client.download(name, `${local.path}/${name}`);
    assert.deepEqual(await Deno.readFile(`${local.path}/${name}`), bytes, name);
  }
  assert.deepEqual(await names(remote.path), files.map(([name]) => name).sort());
  assert.deepEqual(await names(local.path), files.map(([name]) => name).sort());
});

Deno.test("transfer: an upload replaces an existing file, keeping its mode unless told", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await Deno.writeTextFile(`${remote.path}/f`, "old contents, longer than the new");
  await Deno.chmod(`${remote.path}/f`, 0o600);
  await client.files.uploadBytes(new TextEncoder().encode("new"), "f");
  assert.equal(await Deno.readTextFile(`${remote.path}/f`), "new");
  assert.equal((await Deno.stat(`${remote.path}/f`)).mode! & 0o777, 0o600);
  await client.files.uploadBytes(new TextEncoder().encode("newer"), "f", { mode: 0o644 });
  assert.equal((await Deno.stat(`${remote.path}/f`)).mode! & 0o777, 0o644);
});

Deno.test("transfer: a connection lost mid-upload leaves the old file and no temporary file", async () => {
  await using remote = await tempDir();
  const audit: AuditEvent[] = [];
  await using server = await startServer({
    copyRoot: remote.path,
    audit: (event) => audit.push(event),
  });
  await Deno.writeTextFile(`${remote.path}/data`, "old");
  const client = await connectTo(server);
  const half = noise(3 * 1024 * 1024);
  const upload = client.files.uploadFrom(
    (async function* () {
      yield half;
      // The server has a temporary file by now; the connection goes.
      await waitFor(async () => (await names(remote.path)).length === 2);
      client.close();
      yield half;
    })(),
    "data",
    { size: half.length * 2 },
  );
  await assert.rejects(upload);
  assert.ok(
    await waitFor(() => audit.some((event) => event.event === "copy")),
    "the server recorded the copy",
  );
  assert.deepEqual(await names(remote.path), ["data"]);
  assert.equal(await Deno.readTextFile(`${remote.path}/data`), "old");
  const record = audit.find((event) => event.event === "copy")!;
  assert.equal(record.result, "disconnected");
  assert.equal(record.op, "put");
});

Deno.test("transfer: an aborted upload and download leave both sides as they were", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await Deno.writeTextFile(`${remote.path}/data`, "old remote");
  await Deno.writeTextFile(`${local.path}/data`, "old local");
  const stop = new AbortController();
  const chunk = noise(1024 * 1024);
  const upload = client.files.uploadFrom(
    (async function* () {
      yield chunk;
      await waitFor(async () => (await names(remote.path)).length === 2);
      stop.abort(new Error("stopped by the test"));
      yield chunk;
    })(),
    "data",
    { size: chunk.length * 8, signal: stop.signal },
  );
  await assert.rejects(upload, /stopped by the test/);
  assert.deepEqual(await names(remote.path), ["data"]);
  assert.equal(await Deno.readTextFile(`${remote.path}/data`), "old remote");

  // The connection is still usable: a large file for a download that is stopped midway.
  await client.files.uploadBytes(noise(32 * 1024 * 1024), "big");
  const stopDownload = new AbortController();
  const download = client.download("big", `${local.path}/data`, {
    signal: stopDownload.signal,
    onProgress: (done) => {
      if (done > 1024 * 1024) stopDownload.abort(new Error("download stopped"));
    },
  });
  await assert.rejects(download, /download stopped/);
  assert.deepEqual(await names(local.path), ["data"]);
  assert.equal(await Deno.readTextFile(`${local.path}/data`), "old local");
  assert.equal((await client.files.stat("big")).size, 32 * 1024 * 1024);
});

Deno.test("transfer: a source that yields fewer bytes than announced is refused, old file kept", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await Deno.writeTextFile(`${remote.path}/f`, "old");
  await assert.rejects(
    client.files.uploadFrom([noise(100)], "f", { size: 200 }),
    (error) => error instanceof CopyError && error.code === "size_mismatch",
  );
  assert.deepEqual(await names(remote.path), ["f"]);
  assert.equal(await Deno.readTextFile(`${remote.path}/f`), "old");
});

Deno.test("transfer: a source that yields more bytes than announced leaves nothing on the server", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await Deno.writeTextFile(`${remote.path}/f`, "old");
  // What /proc files do: a size of 0, then contents.
  for (const [path, size] of [["f", 0], ["new", 0], ["f", 100]] as const) {
    await assert.rejects(
      client.files.uploadFrom([noise(200)], path, { size }),
      (error) => error instanceof CopyError && error.code === "size_mismatch",
    );
  }
  assert.deepEqual(await names(remote.path), ["f"]);
  assert.equal(await Deno.readTextFile(`${remote.path}/f`), "old");
  // The connection is still usable.
  await client.files.uploadBytes(noise(10), "new");
  assert.deepEqual(await names(remote.path), ["f", "new"]);
});

Deno.test("transfer: a source that grows or fails behind other operations fails alone", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  const big = noise(16 * 1024 * 1024);
  await Deno.writeFile(`${remote.path}/big`, big);
  const broken = async function* () {
    yield noise(10);
    throw new Error("disk gone");
  };
  for (
    const source of [
      () => client.files.uploadFrom([noise(200)], "grown", { size: 100 }),
      () => client.files.uploadFrom(broken(), "broken", { size: 100 }),
    ]
  ) {
    // Asked for while the download is under way, so queued behind it.
    const started = Promise.withResolvers<void>();
    const download = client.download("big", `${local.path}/big`, {
      onProgress: () => started.resolve(),
    });
    await started.promise;
    await assert.rejects(source(), /more than its 100 bytes|disk gone/);
    assert.equal((await download).sha256, sha256(big));
    assert.deepEqual(await Deno.readFile(`${local.path}/big`), big);
    await Deno.remove(`${local.path}/big`);
  }
  assert.deepEqual(await names(remote.path), ["big"]);
});

Deno.test("transfer: a FIFO is not replaced by an upload, a link or a download", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  for (const path of [`${remote.path}/pipe`, `${local.path}/pipe`]) {
    assert.ok((await new Deno.Command("mkfifo", { args: [path] }).output()).success);
  }
  await Deno.writeTextFile(`${remote.path}/f`, "contents");
  const notAFile = (error: unknown) => error instanceof CopyError && error.code === "not_a_file";
  await assert.rejects(client.files.uploadBytes(noise(10), "pipe"), notAFile);
  await assert.rejects(client.files.symlink("pipe", "f"), notAFile);
  await assert.rejects(client.download("f", `${local.path}/pipe`), notAFile);
  for (const dir of [remote.path, local.path]) {
    assert.ok((await Deno.lstat(`${dir}/pipe`)).isFifo, `${dir}/pipe is still a FIFO`);
  }
  assert.deepEqual(await names(remote.path), ["f", "pipe"]);
  assert.deepEqual(await names(local.path), ["pipe"]);
});

/** Writes other bytes of the same length over the file at `path`, and dates it in the past. */
function rewriteInPlace(path: string): void {
  const size = Deno.statSync(path).size;
  Deno.writeFileSync(path, noise(size, 99));
  const past = new Date("2020-01-01T00:00:00Z");
  Deno.utimeSync(path, past, past);
}

Deno.test("transfer: a file written to while it is uploaded or downloaded is not copied", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  const size = 24 * 1024 * 1024;
  const changed = (error: unknown) =>
    error instanceof CopyError && /changed (on the server )?while it was read/.test(error.message);

  // Each side reads at most a few windows ahead of the other: at the first
  // progress, most of the file is still to be read.
  await Deno.writeFile(`${local.path}/up`, noise(size));
  await Deno.writeTextFile(`${remote.path}/up`, "old");
  let rewritten = false;
  const onProgress = (path: string) => () => {
    if (!rewritten) rewriteInPlace(path);
    rewritten = true;
  };
  await assert.rejects(
    client.upload(`${local.path}/up`, "up", { onProgress: onProgress(`${local.path}/up`) }),
    changed,
  );
  assert.deepEqual(await names(remote.path), ["up"]);
  assert.equal(await Deno.readTextFile(`${remote.path}/up`), "old");

  await Deno.writeFile(`${remote.path}/down`, noise(size));
  await Deno.writeTextFile(`${local.path}/down`, "old");
  rewritten = false;
  await assert.rejects(
    client.download("down", `${local.path}/down`, {
      onProgress: onProgress(`${remote.path}/down`),
    }),
    changed,
  );
  assert.deepEqual(await names(local.path), ["down", "up"]);
  assert.equal(await Deno.readTextFile(`${local.path}/down`), "old");
});

Deno.test("transfer: a path as long as a frame is answered within a frame the client takes", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  using raw = await openRawSession(server, { authenticate: true });
  const path = `${"a/".repeat(400_000)}x`;
  await raw.writer.write(FrameType.CopyRequest, encodeCopyJson({ op: "put", path, size: 1 }));
  const frame = await raw.reader.read();
  assert.equal(frame?.type, FrameType.CopyResult);
  const result = JSON.parse(new TextDecoder().decode(frame.body));
  assert.equal(result.ok, false);
  assert.ok(frame.body.length < 4096, `${frame.body.length} bytes`);
  assert.match(result.message, /^a\/a\/.*….*on the server$/);
  await using client = await connectTo(server);
  assert.equal((await client.files.stat(".")).kind, "dir");
});

Deno.test("transfer: a listing comes in frames no larger than the client takes", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  for (let i = 0; i < 300; i++) {
    await Deno.writeTextFile(`${remote.path}/${"日本語".repeat(10)}-${i}`, "");
  }
  using raw = await openRawSession(server, { authenticate: false });
  await sendHello(raw.writer, 4096);
  await raw.reader.read();
  await answerChallenge(raw.reader, raw.writer);
  await raw.writer.write(FrameType.CopyRequest, encodeCopyJson({ op: "list", path: "." }));
  let entries = 0;
  for (;;) {
    const frame = await raw.reader.read();
    if (frame?.type !== FrameType.CopyInfo) {
      assert.equal(frame?.type, FrameType.CopyResult);
      break;
    }
    assert.ok(frame.body.length <= 4096, `a COPY_INFO of ${frame.body.length} bytes`);
    entries += JSON.parse(new TextDecoder().decode(frame.body)).entries.length;
  }
  assert.equal(entries, 300);
});

Deno.test("transfer: the copy root refuses .., absolute paths and links that lead out", async () => {
  await using outside = await tempDir();
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await Deno.writeTextFile(`${outside.path}/secret`, "secret");
  await Deno.symlink(`${outside.path}/secret`, `${remote.path}/link`);
  await Deno.symlink(outside.path, `${remote.path}/dirlink`);
  const bytes = new TextEncoder().encode("x");
  await assert.rejects(client.files.uploadBytes(bytes, "../escape"), refused);
  await assert.rejects(client.files.uploadBytes(bytes, `${outside.path}/abs`), refused);
  await assert.rejects(client.files.uploadBytes(bytes, "dirlink/through"), refused);
  await assert.rejects(client.download("link", `${outside.path}/copy`), refused);
  await assert.rejects(client.download("dirlink/secret", `${outside.path}/copy`), refused);
  await assert.rejects(client.files.list("dirlink"), refused);
  await assert.rejects(client.files.mkdir("dirlink/new"), refused);
  assert.deepEqual(await names(outside.path), ["secret"]);
  // Inside the root, an absolute path is fine.
  await client.files.uploadBytes(bytes, `${remote.path}/inside`);
  assert.equal(await Deno.readTextFile(`${remote.path}/inside`), "x");
});

Deno.test("transfer: a link put in place of an upload's temporary file does not carry its mode out of the copy root", async () => {
  await using outside = await tempDir();
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using uploader = await connectTo(server);
  await using other = await connectTo(server);
  await Deno.writeTextFile(`${outside.path}/secret`, "secret");
  await Deno.chmod(`${outside.path}/secret`, 0o600);
  const swapped = Promise.withResolvers<void>();
  const upload = uploader.files.uploadFrom(
    (async function* () {
      await swapped.promise;
      yield new TextEncoder().encode("x");
    })(),
    "f",
    { size: 1, mode: 0o777 },
  );
  // The other connection finds the temporary file in a listing, and puts a link in its place.
  let temp: string | undefined;
  assert.ok(
    await waitFor(async () => {
      temp = (await other.files.list(".")).find((entry) => entry.path.includes(".rexec-"))?.path;
      return temp !== undefined;
    }),
  );
  await other.files.symlink(temp!, `${outside.path}/secret`);
  swapped.resolve();
  await assert.rejects(upload, refused);
  assert.equal((await Deno.stat(`${outside.path}/secret`)).mode! & 0o777, 0o600);
  assert.deepEqual(await names(remote.path), []);
});

Deno.test("transfer: a stat through a link another connection keeps swapping never shows a file outside the copy root", async () => {
  await using outside = await tempDir();
  await using remote = await tempDir();
  await Deno.writeTextFile(`${outside.path}/secret`, "s".repeat(12345));
  await Deno.mkdir(`${remote.path}/in`);
  await Deno.writeTextFile(`${remote.path}/in/secret`, "i");
  await using server = await startServer({ copyRoot: remote.path });
  await using looker = await connectTo(server);
  await using swapper = await connectTo(server);
  await swapper.files.symlink("link", "in");
  let looking = true;
  const swapping = (async () => {
    while (looking) {
      await swapper.files.symlink("link", outside.path);
      await swapper.files.symlink("link", "in");
    }
  })();
  const sizes = new Set<number>();
  try {
    for (let i = 0; i < 500; i++) {
      try {
        sizes.add((await looker.files.stat("link/secret")).size);
      } catch (error) {
        if (!refused(error)) throw error;
      }
    }
  } finally {
    looking = false;
    await swapping;
  }
  assert.ok(!sizes.has(12345), "the size of the file outside the root was shown");
});

Deno.test("transfer: under a copy root, a missing file outside is refused as one that is there", async () => {
  await using outside = await tempDir();
  await using remote = await tempDir();
  await Deno.writeTextFile(`${outside.path}/there`, "x");
  await Deno.symlink(outside.path, `${remote.path}/out`);
  await Deno.symlink(`${outside.path}/missing`, `${remote.path}/dangling`);
  await Deno.symlink(`${remote.path}/missing`, `${remote.path}/dangling-inside`);
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  const notFound = (error: unknown) => error instanceof CopyError && error.code === "not_found";
  const bytes = new TextEncoder().encode("x");
  for (const name of ["there", "missing"]) {
    await assert.rejects(client.download(`out/${name}`, `${outside.path}/copy`), refused);
    await assert.rejects(client.files.uploadBytes(bytes, `out/${name}/x`), refused);
    await assert.rejects(client.files.list(`out/${name}`), refused);
  }
  await assert.rejects(client.download("dangling", `${outside.path}/copy`), refused);
  await assert.rejects(client.files.mkdir("dangling"), refused);
  // Inside, what is missing is said to be.
  await assert.rejects(client.download("missing", `${outside.path}/copy`), notFound);
  await assert.rejects(client.download("dangling-inside", `${outside.path}/copy`), notFound);
  await assert.rejects(client.files.uploadBytes(bytes, "missing/x"), notFound);
  assert.deepEqual(await names(outside.path), ["there"]);
});

Deno.test("transfer: a FIFO swapped in for a file being downloaded is not waited on", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await Deno.writeTextFile(`${remote.path}/regular`, "x");
  const made = await new Deno.Command("mkfifo", { args: [`${remote.path}/pipe`] }).output();
  assert.ok(made.success);
  // As a local user could, from another process: `f` is now the file, now the FIFO.
  const swapper = new Deno.Command("sh", {
    args: ["-c", "while :; do ln -f pipe f; ln -f regular f; done"],
    cwd: remote.path,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const downloads = (async () => {
    for (let i = 0; i < 100; i++) {
      await client.download("f", `${local.path}/f`).catch((error) => {
        // The FIFO, a name between its two files, or a file no longer the one named: fine, if
        // said at once.
        const said = ["not_a_file", "not_found", "refused"];
        if (!(error instanceof CopyError && said.includes(error.code))) {
          throw error;
        }
      });
    }
    return "done";
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Far beyond what 100 downloads of one byte take; only a download that waits forever reaches it.
  const stuck = new Promise<string>((resolve) =>
    timer = setTimeout(() => resolve("stuck"), 60_000)
  );
  let outcome: string;
  try {
    outcome = await Promise.race([downloads, stuck]);
  } finally {
    clearTimeout(timer);
    swapper.kill();
    await swapper.status;
  }
  if (outcome === "stuck") {
    // Let the server's waiting open end, so that it can shut down.
    (await Deno.open(`${remote.path}/pipe`, { write: true })).close();
  }
  assert.equal(outcome, "done");
});

Deno.test("transfer: an upload without a mode gets a new file's mode, umask applied", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await Deno.writeTextFile(`${remote.path}/made-here`, "");
  const newFileMode = (await Deno.stat(`${remote.path}/made-here`)).mode! & 0o777;
  await Deno.symlink("made-here", `${remote.path}/link`);
  await client.files.uploadBytes(new TextEncoder().encode("x"), "new");
  await client.files.uploadBytes(new TextEncoder().encode("x"), "link");
  assert.equal((await Deno.stat(`${remote.path}/new`)).mode! & 0o777, newFileMode);
  assert.equal((await Deno.lstat(`${remote.path}/link`)).mode! & 0o777, newFileMode);
});

Deno.test("transfer: an upload's mode keeps only the permission bits", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await client.files.uploadBytes(new TextEncoder().encode("#!/bin/sh\n"), "tool", {
    mode: 0o6755,
  });
  assert.equal((await Deno.stat(`${remote.path}/tool`)).mode! & 0o7777, 0o755);
});

Deno.test("transfer: setting the attributes of a FIFO neither waits on it nor holds the connection", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  const made = await new Deno.Command("mkfifo", { args: [`${remote.path}/pipe`] }).output();
  assert.ok(made.success);
  {
    await using client = await connectTo(server);
    await client.files.setAttributes("pipe", { mode: 0o600 });
    assert.equal((await Deno.stat(`${remote.path}/pipe`)).mode! & 0o777, 0o600);
    assert.equal((await client.files.stat("pipe")).kind, "other");
  }
  assert.ok(await waitFor(() => server.logs.some((log) => log.message === "connection closed")));
});

Deno.test("transfer: --no-copy and --allow without a copy root refuse transfers", async () => {
  await using remote = await tempDir();
  const bytes = new TextEncoder().encode("x");
  {
    await using server = await startServer({ noCopy: true });
    await using client = await connectTo(server);
    await assert.rejects(client.files.uploadBytes(bytes, `${remote.path}/a`), refused);
    await assert.rejects(client.files.stat(remote.path), /--no-copy/);
  }
  const policy = await CommandPolicy.create({ allow: ["true"] });
  {
    await using server = await startServer({ policy });
    await using client = await connectTo(server);
    await assert.rejects(client.files.uploadBytes(bytes, `${remote.path}/a`), /--copy-root/);
  }
  {
    await using server = await startServer({ policy, copyRoot: remote.path });
    await using client = await connectTo(server);
    await client.files.uploadBytes(bytes, "a");
    assert.equal((await client.spawn(["true"]).status).code, 0);
  }
  assert.deepEqual(await names(remote.path), ["a"]);
});

Deno.test("transfer: directories, links and listings for recursive copies", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  await client.files.mkdir("tree", { mode: 0o755 });
  await client.files.mkdir("tree"); // there already: fine
  await client.files.mkdir("tree/empty");
  await client.files.uploadBytes(new TextEncoder().encode("a"), "tree/a.txt");
  await client.files.symlink("tree/to-a", "a.txt");
  await client.files.setAttributes("tree/empty", { mode: 0o700, mtime: 1_600_000_000_000 });
  const entries = await client.files.list("tree");
  assert.deepEqual(
    entries.map(({ path, kind, target }) => ({ path, kind, target })),
    [
      { path: "a.txt", kind: "file", target: undefined },
      { path: "empty", kind: "dir", target: undefined },
      { path: "to-a", kind: "symlink", target: "a.txt" },
    ],
  );
  const empty = await Deno.stat(`${remote.path}/tree/empty`);
  assert.equal(empty.mode! & 0o777, 0o700);
  assert.equal(empty.mtime?.getTime(), 1_600_000_000_000);
  await assert.rejects(
    client.files.mkdir("missing/dir"),
    (error) => error instanceof CopyError && error.code === "not_found",
  );
  await assert.rejects(
    client.files.stat("nothing"),
    (error) => error instanceof CopyError && error.code === "not_found",
  );
});

Deno.test("transfer: a command and a transfer do not share a connection at once", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  const child = client.spawn(["sleep", "0.2"]);
  await assert.rejects(client.files.stat("."), /already running/);
  assert.equal((await child.status).code, 0);
  assert.equal((await client.files.stat(".")).kind, "dir");
});

Deno.test("transfer: a server without the copy feature is named as such", async () => {
  const files = new FileOperations({
    where: "old-box:7022",
    writer: new FrameWriter({ write: (bytes) => Promise.resolve(bytes.length) }),
    maxFrameSize: 1 << 20,
    initialWindow: 1 << 18,
    features: [],
    begin: () => Promise.resolve(),
  });
  await assert.rejects(
    files.stat("x"),
    (error) =>
      error instanceof CopyError && error.code === "unsupported" &&
      /old-box:7022 runs a rexec server without file transfer/.test(error.message),
  );
});

/** Operations against a server that answers every request with these listing entries. */
function listedBy(entries: TreeEntry[]): FileOperations {
  let channel: TransferChannel | undefined;
  return new FileOperations({
    where: "liar:7022",
    writer: new FrameWriter({
      write: async (bytes) => {
        // The request is out: the lying server answers it.
        if (channel !== undefined && bytes[4] === FrameType.CopyRequest) {
          const current = channel;
          channel = undefined;
          await current.deliver(FrameType.CopyInfo, encodeCopyJson({ entries }));
          await current.deliver(FrameType.CopyResult, encodeCopyJson({ ok: true, path: "/t" }));
        }
        return bytes.length;
      },
    }),
    maxFrameSize: 1 << 20,
    initialWindow: 1 << 18,
    features: ["copy"],
    begin: (begun) => {
      channel = begun;
      return Promise.resolve();
    },
  });
}

Deno.test("transfer: a listing with an entry below a link, or listed twice, is refused", async () => {
  const facts = { size: 0, mode: 0o755, mtime: 0 };
  const link: TreeEntry = { path: "a", kind: "symlink", target: "/etc", ...facts };
  const below: TreeEntry = { path: "a/x", kind: "file", ...facts };
  const dir: TreeEntry = { path: "a", kind: "dir", ...facts };
  const orphan: TreeEntry = { path: "b/x", kind: "file", ...facts };
  const outOfTree = (error: unknown) =>
    error instanceof CopyError && /liar:7022: t: .* outside the tree/.test(error.message);
  await assert.rejects(listedBy([link, below]).list("t"), outOfTree);
  await assert.rejects(listedBy([link, dir, below]).list("t"), outOfTree);
  await assert.rejects(listedBy([orphan]).list("t"), outOfTree);
  assert.deepEqual(await listedBy([dir, below]).list("t"), [dir, below]);
});

Deno.test("transfer: operations asked for at once run in order, their bytes kept apart", async () => {
  await using remote = await tempDir();
  await using local = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  await using client = await connectTo(server);
  const files = Array.from({ length: 40 }, (_, i) => noise(1000 + i * 5000, i + 1));
  await client.files.mkdir("many");
  const ups = await Promise.all(
    files.map((bytes, i) => client.files.uploadBytes(bytes, `many/${i}`)),
  );
  assert.deepEqual(ups.map((up) => up.sha256), files.map(sha256));
  const downs = await Promise.all(
    files.map((_, i) => client.download(`many/${i}`, `${local.path}/${i}`)),
  );
  assert.deepEqual(downs.map((down) => down.sha256), files.map(sha256));
  for (const [i, bytes] of files.entries()) {
    assert.deepEqual(await Deno.readFile(`${local.path}/${i}`), bytes);
  }
  // A failure in the middle fails that operation alone.
  const mixed = await Promise.allSettled([
    client.files.uploadBytes(files[0], "many/a"),
    client.files.uploadBytes(files[0], "../out"),
    client.files.uploadBytes(files[1], "many/b"),
  ]);
  assert.deepEqual(mixed.map((result) => result.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal((await names(`${remote.path}/many`)).length, 42);
});

Deno.test("transfer: while the audit log cannot be written, no upload replaces a file", async () => {
  await using remote = await tempDir();
  const records: AuditEvent[] = [];
  let full = false;
  const sink = (event: AuditEvent) => {
    if (full) throw new Error("No space left on device");
    records.push(event);
  };
  await using server = await startServer({ copyRoot: remote.path, audit: sink });
  await using client = await connectTo(server);
  await Deno.writeTextFile(`${remote.path}/f`, "old");
  full = true;
  await assert.rejects(
    client.files.uploadBytes(new TextEncoder().encode("new"), "f"),
    (error) => refused(error) && /cannot write its audit log/.test((error as Error).message),
  );
  assert.deepEqual(await names(remote.path), ["f"]);
  assert.equal(await Deno.readTextFile(`${remote.path}/f`), "old");
  full = false;
  const up = await client.files.uploadBytes(new TextEncoder().encode("new"), "f");
  assert.equal(await Deno.readTextFile(`${remote.path}/f`), "new");
  const copies = records.filter((event) => event.event === "copy");
  assert.deepEqual(
    copies.map(({ op, path, bytes, sha256, result }) => ({ op, path, bytes, sha256, result })),
    [
      { op: "put", path: `${remote.path}/f`, bytes: 3, sha256: up.sha256, result: "ok" },
    ],
  );
});

Deno.test("transfer: malformed and stale frames end that session alone, or are ignored", async () => {
  await using remote = await tempDir();
  await using server = await startServer({ copyRoot: remote.path });
  const request = (fields: Record<string, unknown>) =>
    new TextEncoder().encode(JSON.stringify(fields));
  {
    // A refused upload's bytes and end, still on their way, are stale: the next request works.
    using raw = await openRawSession(server, { authenticate: true });
    await raw.writer.write(FrameType.CopyRequest, request({ op: "put", path: "../x", size: 3 }));
    await raw.writer.write(FrameType.CopyData, new Uint8Array([1, 2, 3]));
    await raw.writer.write(FrameType.CopyEnd, request({ sha256: "0".repeat(64) }));
    await raw.writer.write(FrameType.CopyRequest, request({ op: "stat", path: "." }));
    const first = await raw.reader.read();
    assert.equal(first?.type, FrameType.CopyResult);
    assert.match(text(first!.body), /"error":"refused"/);
    const second = await raw.reader.read();
    assert.equal(second?.type, FrameType.CopyResult);
    assert.match(text(second!.body), /"ok":true/);
  }
  for (
    const [type, body, code] of [
      [FrameType.CopyRequest, new TextEncoder().encode("not json"), "bad_request"],
      [FrameType.CopyRequest, request({ op: "explode", path: "a" }), "bad_request"],
      [FrameType.CopyRequest, request({ op: "put", path: "a\u0000b", size: 1 }), "bad_request"],
      [FrameType.CopyRequest, request({ op: "get", path: "a", window: 0 }), "bad_request"],
    ] as const
  ) {
    using raw = await openRawSession(server, { authenticate: true });
    await raw.writer.write(type, body);
    const frames = await readAllFrames(raw.reader);
    assert.equal(frames.at(-1)?.type, FrameType.Error);
    assert.match(text(frames.at(-1)!.body), new RegExp(`"code":"${code}"`));
  }
  {
    // More bytes than the window allows: an upload waiting behind another has only the
    // window of the HELLO, since the server grants more only once it runs.
    using raw = await openRawSession(server, { authenticate: true });
    await raw.writer.write(FrameType.CopyRequest, request({ op: "put", path: "first", size: 1 }));
    await raw.writer.write(
      FrameType.CopyRequest,
      request({ op: "put", path: "second", size: 4 * 1024 * 1024 }),
    );
    await raw.writer.write(FrameType.CopyData, new Uint8Array(1024 * 1024)).catch(() => {});
    const frames = await readAllFrames(raw.reader);
    assert.match(text(frames.at(-1)!.body), /"code":"window_exceeded"/);
  }
  assert.ok(await waitFor(async () => (await names(remote.path)).length === 0));
  await using client = await connectTo(server);
  assert.equal((await client.files.stat(".")).kind, "dir");
});
