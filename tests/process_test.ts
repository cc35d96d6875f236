import assert from "node:assert/strict";
import { spawnProcess } from "../lib/server/process.ts";
import { processExists, readUntil, waitFor } from "./helpers.ts";

Deno.test("GroupProcess.terminate() without pgrep ends the group, warns once, and says what escapes", async () => {
  const child = await spawnProcess({
    argv: ["sh", "-c", "sleep 300 & echo $!; wait"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  });
  const reader = child.stdout.getReader();
  const background = Number((await readUntil(reader, "\n")).trim());
  reader.releaseLock();
  const path = Deno.env.get("PATH");
  const empty = await Deno.makeTempDir();
  const warnings: string[] = [];
  try {
    Deno.env.set("PATH", empty);
    await child.terminate({ graceMs: 5000, onWarning: (message) => warnings.push(message) });
  } finally {
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
    await Deno.remove(empty);
  }
  assert.equal((await child.status).signal, "SIGTERM");
  assert.ok(await waitFor(async () => !(await processExists(background))));
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /cannot run pgrep.*only the command's process group is ended/);
  await child.stdout.cancel();
});
