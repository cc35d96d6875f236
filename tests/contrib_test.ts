/**
 * contrib/rexec.service, the systemd unit README's "Running on many
 * machines" ships: hardened, and valid to systemd where it is installed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { withTempDir } from "./helpers.ts";

const UNIT = new URL("../contrib/rexec.service", import.meta.url);

Deno.test("contrib/rexec.service: its own user, no privileges to gain, a read-only system, restarts", async () => {
  const unit = await Deno.readTextFile(UNIT);
  for (
    const line of [
      "User=rexec",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "CapabilityBoundingSet=",
      "Restart=on-failure",
    ]
  ) {
    assert.match(unit, new RegExp(`^${line}$`, "m"), line);
  }
  assert.match(unit, /^ExecStart=\/usr\/local\/bin\/rexec serve .*--tls-cert /m);
});

Deno.test("contrib/rexec.service: systemd-analyze verify accepts it", async (t) => {
  const probe = await new Deno.Command("sh", {
    args: ["-c", "command -v systemd-analyze"],
    stdout: "null",
  }).output();
  if (!probe.success) {
    await t.step({ name: "systemd-analyze is not installed", ignore: true, fn: () => {} });
    return;
  }
  await withTempDir(async (dir) => {
    // The binary need not be installed here: verify checks that ExecStart exists.
    const unit = (await Deno.readTextFile(UNIT)).replace(
      /^ExecStart=\/usr\/local\/bin\/rexec/m,
      "ExecStart=/bin/true",
    );
    await Deno.writeTextFile(`${dir}/rexec.service`, unit);
    const { code, stderr } = await new Deno.Command("systemd-analyze", {
      args: ["verify", "./rexec.service"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const complaints = new TextDecoder().decode(stderr);
    assert.equal(code, 0, complaints);
    assert.equal(complaints.trim(), "");
  });
});
