import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import { connect } from "../lib/client/client.ts";
import { HandshakeError, TlsError } from "../lib/errors.ts";
import { createSelfSignedCertificate } from "../lib/tls/certificate.ts";
import { runCli, startCliServer, startServer, tempDir, text, TOKEN } from "./helpers.ts";

const pair = await createSelfSignedCertificate({ names: ["localhost", "127.0.0.1", "::1"] });
const tls = { cert: pair.certPem, key: pair.keyPem };

const openssl = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
  .output().then((result) => result.success, () => false);

Deno.test("connect() with TLS: a client that trusts the server's certificate runs commands over TLS", async () => {
  await using server = await startServer({ tls });
  await using client = await connect({
    hostname: "127.0.0.1",
    port: server.port,
    token: TOKEN,
    tls: { caCerts: [pair.certPem] },
  });
  const { code, stdout } = await client.spawn(["head", "-c", "3000000", "/dev/zero"]).output();
  assert.equal(code, 0);
  assert.equal(stdout.length, 3_000_000);
});

Deno.test("connect() with TLS: a certificate the client does not trust is refused with a message that says so", async () => {
  await using server = await startServer({ tls });
  const stranger = await createSelfSignedCertificate({ names: ["127.0.0.1"] });
  for (const caCerts of [[stranger.certPem], undefined]) {
    await assert.rejects(
      connect({ hostname: "127.0.0.1", port: server.port, token: TOKEN, tls: { caCerts } }),
      (error: unknown) => error instanceof TlsError && /not trusted/.test(error.message),
    );
  }
  assert.ok(!server.logs.some((record) => record.message === "authenticated"));
});

Deno.test("connect(): mixing TLS and plaintext fails on both sides with a hint", async () => {
  {
    await using server = await startServer({ tls });
    await assert.rejects(
      connect({ hostname: "127.0.0.1", port: server.port, token: TOKEN, timeout: 5 }),
      (error: unknown) => error instanceof HandshakeError && /--tls/.test(error.message),
    );
  }
  {
    await using server = await startServer();
    await assert.rejects(
      connect({
        hostname: "127.0.0.1",
        port: server.port,
        token: TOKEN,
        timeout: 5,
        tls: { caCerts: [pair.certPem] },
      }),
      (error: unknown) =>
        error instanceof TlsError && /does the server run with --tls/.test(error.message),
    );
  }
});

Deno.test("serve() with TLS: a connection that never starts the TLS handshake is closed at the handshake timeout", async () => {
  await using server = await startServer({ tls, handshakeTimeout: 0.3 });
  const idle = await Promise.all(
    Array.from({ length: 10 }, () => Deno.connect({ hostname: "127.0.0.1", port: server.port })),
  );
  try {
    await using client = await connect({
      hostname: "127.0.0.1",
      port: server.port,
      token: TOKEN,
      tls: { caCerts: [pair.certPem] },
    });
    assert.equal((await client.spawn(["true"]).status).code, 0);
    for (const conn of idle) {
      // End of stream: the server really closed the socket.
      assert.equal(await conn.read(new Uint8Array(16)), null);
    }
  } finally {
    for (const conn of idle) conn.close();
  }
});

Deno.test({
  name: `serve() with TLS: openssl s_client negotiates TLS 1.3 and is refused TLS 1.0, 1.1 and 1.2${
    openssl ? "" : " (skipped: openssl is not installed)"
  }`,
  ignore: !openssl,
  fn: async () => {
    await using server = await startServer({ tls });
    const sClient = async (version: string) => {
      const { code, stdout, stderr } = await new Deno.Command("openssl", {
        args: ["s_client", "-connect", `127.0.0.1:${server.port}`, version],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code, out: text(stdout) + text(stderr) };
    };
    const modern = await sClient("-tls1_3");
    assert.equal(modern.code, 0, modern.out);
    assert.match(modern.out, /Protocol\s*:\s*TLSv1\.3|New, TLSv1\.3/);
    for (const old of ["-tls1", "-tls1_1", "-tls1_2"]) {
      const refused = await sClient(old);
      assert.notEqual(refused.code, 0, `${old} was accepted:\n${refused.out}`);
      assert.doesNotMatch(refused.out, /Cipher is (?!\(NONE\))/);
    }
  },
});

Deno.test("rexec serve --tls makes a certificate on first start that rexec run --ca trusts", async () => {
  const config = await Deno.makeTempDir();
  try {
    const env = { XDG_CONFIG_HOME: config };
    const serve = await startCliServer(["--tls"], { env });
    const { address, log } = serve;
    assert.match(log, /created a TLS certificate .*sha256=([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    const certFile = `${config}/rexec/tls-cert.pem`;
    assert.equal((await Deno.stat(`${config}/rexec/tls-key.pem`)).mode! & 0o777, 0o600);

    const ok = await runCli(["run", "--ca", certFile, `tls://${address}`, "--", "echo", "sealed"], {
      env,
    });
    assert.deepEqual([ok.code, ok.stdoutText], [0, "sealed\n"]);
    const untrusted = await runCli(["run", `tls://${address}`, "--", "true"], { env });
    assert.equal(untrusted.code, 255);
    assert.match(untrusted.stderrText, /^rexec: .*not trusted.*--ca FILE/);

    const shown = await runCli(["cert"], { env });
    assert.equal(shown.code, 0);
    const fingerprint = log.match(/sha256=(\S+)/)![1];
    assert.ok(shown.stdoutText.includes(fingerprint), shown.stdoutText);
    assert.match(shown.stdoutText, /rexec run --ca tls-cert\.pem tls:\/\//);

    assert.equal((await serve.stop()).code, 0);
  } finally {
    await Deno.remove(config, { recursive: true });
  }
});

/** A self-signed certificate and key for localhost, valid from `notBefore` to `notAfter`. */
async function certificateValidBetween(notBefore: Date, notAfter: Date) {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=localhost",
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "127.0.0.1" }])],
  }, crypto);
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certPem: `${certificate.toString("pem")}\n`,
    keyPem: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`,
  };
}

Deno.test("rexec serve warns when its certificate has expired or is not valid yet, and serves anyway", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rexec_cert_dates_" });
  const day = 24 * 3600 * 1000;
  const now = Date.now();
  try {
    const cases = [
      [new Date(now - 30 * day), new Date(now - day), /WARN the TLS certificate has expired/],
      [new Date(now + day), new Date(now + 30 * day), /WARN the TLS certificate is not valid yet/],
      [new Date(now - day), new Date(now + 30 * day), undefined],
    ] as const;
    for (const [notBefore, notAfter, warning] of cases) {
      const pair = await certificateValidBetween(notBefore, notAfter);
      await Deno.writeTextFile(`${dir}/cert.pem`, pair.certPem);
      await Deno.writeTextFile(`${dir}/key.pem`, pair.keyPem, { mode: 0o600 });
      const serve = await startCliServer([
        "--tls-cert",
        `${dir}/cert.pem`,
        "--tls-key",
        `${dir}/key.pem`,
      ]);
      const log = serve.log;
      assert.equal((await serve.stop()).code, 0);
      if (warning === undefined) {
        assert.doesNotMatch(log, /WARN .*certificate/, log);
        continue;
      }
      assert.match(log, warning);
      assert.ok(log.includes(`file=${dir}/cert.pem`), log);
      assert.ok(
        log.includes(
          warning.source.includes("expired")
            ? notAfter.toISOString().slice(0, 19)
            : notBefore.toISOString().slice(0, 19),
        ),
        log,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rexec serve refuses plaintext beyond loopback and explains how to enable TLS", async () => {
  const refused = await runCli(["serve", "--listen", "0.0.0.0:0"]);
  assert.equal(refused.code, 255);
  assert.match(refused.stderrText, /^rexec: refusing to serve 0\.0\.0\.0:0 without TLS.*--tls/);
});

Deno.test("rexec serve refuses to start with a key that is not its certificate's, or a certificate file without one", async () => {
  await using dir = await tempDir();
  const [one, other] = await Promise.all([
    createSelfSignedCertificate({ names: ["localhost"] }),
    createSelfSignedCertificate({ names: ["localhost"] }),
  ]);
  await Deno.writeTextFile(`${dir.path}/cert.pem`, one.certPem);
  await Deno.writeTextFile(`${dir.path}/other-key.pem`, other.keyPem, { mode: 0o600 });
  await Deno.writeTextFile(`${dir.path}/empty.pem`, "");
  for (
    const [cert, key, says] of [
      ["cert.pem", "other-key.pem", /the private key is not the certificate's/],
      ["empty.pem", "other-key.pem", /no PEM certificate/],
    ] as const
  ) {
    const args = ["--tls-cert", `${dir.path}/${cert}`, "--tls-key", `${dir.path}/${key}`];
    const result = await runCli(["serve", "--listen", "127.0.0.1:0", ...args]);
    assert.equal(result.code, 255, result.stderrText);
    assert.match(result.stderrText, says);
    assert.ok(result.stderrText.includes(`${dir.path}/${cert} and ${dir.path}/${key}`));
    assert.doesNotMatch(result.stderrText, /listening/);
  }
});
