/**
 * The fleet's certificate authority: `rexec cert --ca-init` and `--ca-sign`,
 * and clients that trust every server it signed with one `--ca`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createCertificateAuthority, issueServerCertificate } from "../lib/tls/ca.ts";
import { CertificateError } from "../lib/tls/certificate.ts";
import { exists, runCli, startServer, withTempDir } from "./helpers.ts";

Deno.test("rexec cert --ca-init and --ca-sign: keys 0600; one --ca trusts two servers, not another CA's", async () => {
  await withTempDir(async (dir) => {
    const env = { XDG_CONFIG_HOME: dir };
    const init = await runCli(["cert", "--ca-init"], { env });
    assert.equal(init.code, 0, init.stderrText);
    const caCert = `${dir}/rexec/ca-cert.pem`;
    const caKey = `${dir}/rexec/ca-key.pem`;
    assert.equal((await Deno.stat(caKey)).mode! & 0o777, 0o600);
    assert.match(init.stdoutText, /created CA certificate/);
    const again = await runCli(["cert", "--ca-init"], { env });
    assert.equal(again.code, 255);
    assert.match(again.stderrText, /exists/);

    const out = `${dir}/issued`;
    await Deno.mkdir(out);
    for (const name of ["one.test", "two.test"]) {
      const signed = await runCli(
        ["cert", "--ca-sign", "--name", name, "--name", "127.0.0.1", "--out", out],
        { env },
      );
      assert.equal(signed.code, 0, signed.stderrText);
      assert.equal((await Deno.stat(`${out}/${name}-key.pem`)).mode! & 0o777, 0o600);
    }
    const tlsOf = async (name: string) => ({
      cert: await Deno.readTextFile(`${out}/${name}-cert.pem`),
      key: await Deno.readTextFile(`${out}/${name}-key.pem`),
    });
    const [one, two] = [await tlsOf("one.test"), await tlsOf("two.test")];
    assert.notEqual(one.cert, two.cert);
    const stranger = await issueServerCertificate({
      ca: await createCertificateAuthority({ name: "another CA" }),
      names: ["127.0.0.1"],
    });
    await using a = await startServer({ tls: one });
    await using b = await startServer({ tls: two });
    await using c = await startServer({ tls: { cert: stranger.certPem, key: stranger.keyPem } });

    const targets = [a, b, c].map((server) => `tls://${server.address}`).join(",");
    const run = await runCli(["run", "-n", "--json", "--ca", caCert, targets, "--", "true"]);
    const results = new Map(
      run.stdoutText.trimEnd().split("\n").map((line) => JSON.parse(line))
        .map((line) => [line.address, line]),
    );
    assert.equal(results.get(a.address).exit_code, 0);
    assert.equal(results.get(b.address).exit_code, 0);
    assert.match(results.get(c.address).error, /not trusted/);
    assert.equal(run.code, 4);

    // The same through an inventory: rexec_ca, relative to the inventory, turns TLS on.
    await Deno.copyFile(caCert, `${out}/ca-cert.pem`);
    await Deno.writeTextFile(
      `${out}/inventory.yaml`,
      `all:\n  vars:\n    rexec_ca: ca-cert.pem\n  hosts:\n` +
        `    one: { ansible_host: 127.0.0.1, rexec_port: ${a.port} }\n` +
        `    two: { ansible_host: 127.0.0.1, rexec_port: ${b.port} }\n` +
        `    stranger: { ansible_host: 127.0.0.1, rexec_port: ${c.port} }\n`,
    );
    const inventory = await runCli(
      ["run", "-n", "-i", `${out}/inventory.yaml`, "all", "--", "echo", "ok"],
    );
    assert.equal(inventory.code, 4);
    assert.deepEqual(inventory.stdoutText.split("\n").filter(Boolean).sort(), [
      "one: ok",
      "two: ok",
    ]);
    assert.match(inventory.stderrText, /^stranger: rexec: .*not trusted/m);

    // A single host, as before, with the CA's certificate.
    const single = await runCli([
      "run",
      "-n",
      "--ca",
      caCert,
      `tls://${a.address}`,
      "--",
      "echo",
      "ok",
    ]);
    assert.equal(single.code, 0, single.stderrText);
    assert.equal(single.stdoutText, "ok\n");
  });
});

Deno.test("rexec cert --ca-sign without a CA, or without --name, says what to do", async () => {
  await withTempDir(async (dir) => {
    const env = { XDG_CONFIG_HOME: dir };
    const noCa = await runCli(["cert", "--ca-sign", "--name", "web1", "--out", dir], { env });
    assert.equal(noCa.code, 255);
    assert.match(noCa.stderrText, /rexec cert --ca-init/);
    const noName = await runCli(["cert", "--ca-sign"], { env });
    assert.equal(noName.code, 255);
    assert.match(noName.stderrText, /--ca-sign needs --name/);
  });
});

Deno.test("issueServerCertificate() refuses a CA key that does not belong to the CA certificate", async () => {
  const [first, second] = await Promise.all([
    createCertificateAuthority(),
    createCertificateAuthority(),
  ]);
  await assert.rejects(
    issueServerCertificate({
      ca: { certPem: first.certPem, keyPem: second.keyPem },
      names: ["web1"],
    }),
    (error: Error) => {
      assert.ok(error instanceof CertificateError, String(error));
      assert.match(error.message, /the CA key does not belong to the CA certificate/);
      return true;
    },
  );
  // The right pair still signs.
  const issued = await issueServerCertificate({
    ca: { certPem: first.certPem, keyPem: first.keyPem },
    names: ["web1"],
  });
  assert.match(issued.certPem, /BEGIN CERTIFICATE/);
});

Deno.test("issueServerCertificate() refuses a CA certificate that has expired, saying how to make a new one", async () => {
  const ca = await createCertificateAuthority({ validDays: 1 / 86400 });
  const { X509Certificate } = await import("@peculiar/x509");
  const notAfter = new X509Certificate(ca.certPem).notAfter.getTime();
  while (Date.now() <= notAfter) await new Promise((resolve) => setTimeout(resolve, 100));
  await assert.rejects(
    issueServerCertificate({ ca, names: ["web1"] }),
    (error: Error) => {
      assert.ok(error instanceof CertificateError, String(error));
      assert.match(error.message, /the CA certificate expired on .*--ca-init --force/);
      return true;
    },
  );
});

Deno.test("rexec cert --ca-sign warns when others can read the CA key, and signs all the same", async () => {
  await withTempDir(async (dir) => {
    const env = { XDG_CONFIG_HOME: dir };
    assert.equal((await runCli(["cert", "--ca-init"], { env })).code, 0);
    const quiet = await runCli(["cert", "--ca-sign", "--name", "web1", "--out", dir], { env });
    assert.equal(quiet.code, 0, quiet.stderrText);
    assert.doesNotMatch(quiet.stderrText, /warning/);
    await Deno.chmod(`${dir}/rexec/ca-key.pem`, 0o644);
    const warned = await runCli(["cert", "--ca-sign", "--name", "web2", "--out", dir], { env });
    assert.equal(warned.code, 0, warned.stderrText);
    assert.match(
      warned.stderrText,
      /^rexec: warning: CA key \S+ca-key\.pem can be reached by other users \(mode 0644\).*chmod 600/m,
    );
  });
});

Deno.test("rexec cert --ca-init and --ca-sign that find a certificate in the way leave no new key beside it", async () => {
  await withTempDir(async (dir) => {
    const env = { XDG_CONFIG_HOME: dir };
    await Deno.mkdir(`${dir}/rexec`);
    await Deno.writeTextFile(`${dir}/rexec/ca-cert.pem`, "an older CA certificate\n");
    const init = await runCli(["cert", "--ca-init"], { env });
    assert.equal(init.code, 255);
    assert.match(init.stderrText, /ca-cert\.pem exists/);
    assert.equal(await exists(`${dir}/rexec/ca-key.pem`), false);

    await Deno.remove(`${dir}/rexec/ca-cert.pem`);
    assert.equal((await runCli(["cert", "--ca-init"], { env })).code, 0);
    await Deno.writeTextFile(`${dir}/web1-cert.pem`, "an older server certificate\n");
    const sign = await runCli(["cert", "--ca-sign", "--name", "web1", "--out", dir], { env });
    assert.equal(sign.code, 255);
    assert.match(sign.stderrText, /web1-cert\.pem exists/);
    assert.equal(await exists(`${dir}/web1-key.pem`), false);
  });
});
