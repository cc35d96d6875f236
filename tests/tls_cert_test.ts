import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import {
  CertificateError,
  certificateFingerprint,
  type CertificatePair,
  certificateValidity,
  createSelfSignedCertificate,
  DEFAULT_VALID_DAYS,
  defaultCertificateNames,
  defaultCertificatePaths,
  ensureCertificate,
} from "../lib/tls/certificate.ts";
import { errorMentioning, withTempDir } from "./helpers.ts";

const NAMES = ["localhost", "127.0.0.1", "::1"];
const DAY_MS = 24 * 60 * 60 * 1000;
const isWindows = Deno.build.os === "windows";

/**
 * Serves one connection with `pair` on 127.0.0.1, opens a client with
 * `connect`, and sends one byte each way. Rejects with the client's error when
 * the client refuses the server (the server's side then fails too, and is
 * awaited so nothing outlives the test).
 */
async function exchangeByte(
  pair: CertificatePair,
  connect: (port: number) => Promise<Deno.TlsConn>,
): Promise<void> {
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pair.certPem,
    key: pair.keyPem,
  });
  const served = (async () => {
    using conn = await listener.accept();
    const byte = new Uint8Array(1);
    assert.equal(await conn.read(byte), 1);
    await conn.write(byte);
  })();
  const client = (async () => {
    using conn = await connect(listener.addr.port);
    await conn.write(new Uint8Array([42]));
    const byte = new Uint8Array(1);
    assert.equal(await conn.read(byte), 1);
    assert.equal(byte[0], 42);
  })();
  const [server, result] = await Promise.allSettled([served, client]);
  if (result.status === "rejected") throw result.reason;
  if (server.status === "rejected") throw server.reason;
}

/** A TLS client on TCP to 127.0.0.1 that checks the certificate for `name`. */
function connectAs(name: string, caCerts: string[]): (port: number) => Promise<Deno.TlsConn> {
  return async (port) => {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    return await Deno.startTls(tcp, { hostname: name, caCerts });
  };
}

function isUntrusted(error: unknown): boolean {
  assert.ok(error instanceof Deno.errors.InvalidData, `not InvalidData: ${error}`);
  assert.match(error.message, /^invalid peer certificate: /);
  return true;
}

function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("createSelfSignedCertificate(): a new pair serves TLS that connectTls trusts on 127.0.0.1 with the certificate as CA", async () => {
  const pair = await createSelfSignedCertificate({ names: NAMES });
  await exchangeByte(
    pair,
    (port) => Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [pair.certPem] }),
  );
});

Deno.test("createSelfSignedCertificate(): the certificate is valid for localhost and ::1 too, and for no other name", async () => {
  const pair = await createSelfSignedCertificate({ names: NAMES });
  await exchangeByte(pair, connectAs("localhost", [pair.certPem]));
  await exchangeByte(pair, connectAs("::1", [pair.certPem]));
  await assert.rejects(
    exchangeByte(pair, connectAs("elsewhere.example", [pair.certPem])),
    (error) => isUntrusted(error) && /not valid for name/.test((error as Error).message),
  );
});

Deno.test("createSelfSignedCertificate(): a client that trusts a different self-signed certificate refuses the server", async () => {
  const pair = await createSelfSignedCertificate({ names: NAMES });
  const sameNames = await createSelfSignedCertificate({ names: NAMES });
  const otherNames = await createSelfSignedCertificate({ names: ["elsewhere.example"] });
  for (const foreign of [sameNames, otherNames]) {
    await assert.rejects(
      exchangeByte(
        pair,
        (port) => Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [foreign.certPem] }),
      ),
      isUntrusted,
    );
  }
});

Deno.test("createSelfSignedCertificate(): the certificate is a P-256 server certificate for every name, not a CA", async () => {
  const before = Date.now();
  const pair = await createSelfSignedCertificate({
    names: ["build-box", "10.0.0.7", "[fe80::1]", "::ffff:192.0.2.1"],
  });
  const cert = new x509.X509Certificate(pair.certPem);

  assert.equal(cert.subject, "CN=build-box");
  assert.equal(cert.issuer, cert.subject);
  assert.ok(await cert.isSelfSigned(crypto));
  assert.deepEqual(cert.publicKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  assert.deepEqual(san?.names.toJSON(), [
    { type: "dns", value: "build-box" },
    { type: "ip", value: "10.0.0.7" },
    { type: "ip", value: "fe80::1" },
    { type: "ip", value: "::ffff:c000:201" },
  ]);
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  assert.ok(basic?.critical && !basic.ca);
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  assert.ok(usage?.critical);
  assert.equal(usage.usages, x509.KeyUsageFlags.digitalSignature);
  assert.deepEqual([...cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []], [
    x509.ExtendedKeyUsage.serverAuth,
  ]);
  assert.match(cert.serialNumber, /^[4-7][0-9a-f]{31}$/);
  assert.ok(cert.notBefore.getTime() < before, "notBefore allows for a client clock behind");
  const days = (cert.notAfter.getTime() - before) / DAY_MS;
  assert.ok(days >= DEFAULT_VALID_DAYS - 1 && days <= DEFAULT_VALID_DAYS + 1, `${days} days`);
  assert.match(
    pair.keyPem,
    /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/,
  );
});

Deno.test("createSelfSignedCertificate(): validDays sets the lifetime and two certificates never share key or serial", async () => {
  const a = await createSelfSignedCertificate({ names: ["localhost"], validDays: 7 });
  const b = await createSelfSignedCertificate({ names: ["localhost"], validDays: 7 });
  const [certA, certB] = [new x509.X509Certificate(a.certPem), new x509.X509Certificate(b.certPem)];
  const days = (certA.notAfter.getTime() - Date.now()) / DAY_MS;
  assert.ok(days > 6 && days <= 7, `${days} days`);
  assert.notEqual(certA.serialNumber, certB.serialNumber);
  assert.notEqual(a.keyPem, b.keyPem);
  assert.notEqual(a.fingerprint, b.fingerprint);
});

Deno.test("createSelfSignedCertificate() refuses no names, malformed names and a non-positive lifetime", async () => {
  await assert.rejects(
    createSelfSignedCertificate({ names: [] }),
    errorMentioning(CertificateError, "at least one"),
  );
  for (const name of ["", "two words", "bad_label", "héllo.example", "10.0.0.256", ":::1"]) {
    await assert.rejects(
      createSelfSignedCertificate({ names: [name] }),
      errorMentioning(CertificateError),
    );
  }
  for (const validDays of [0, -1, NaN, Infinity]) {
    await assert.rejects(
      createSelfSignedCertificate({ names: ["localhost"], validDays }),
      errorMentioning(CertificateError, "positive number of days"),
    );
  }
});

Deno.test({
  name:
    "certificateFingerprint(): the fingerprint is what openssl x509 -fingerprint -sha256 prints (needs openssl on PATH)",
  ignore: !hasOpenssl(),
  async fn() {
    await withTempDir(async (dir) => {
      const pair = await createSelfSignedCertificate({ names: NAMES });
      await Deno.writeTextFile(`${dir}/cert.pem`, pair.certPem);
      const { success, stdout } = await new Deno.Command("openssl", {
        args: ["x509", "-noout", "-fingerprint", "-sha256", "-in", `${dir}/cert.pem`],
        stderr: "inherit",
      }).output();
      assert.ok(success);
      const printed = new TextDecoder().decode(stdout).trim();
      assert.match(printed, /^sha256 fingerprint=/i);
      assert.equal(pair.fingerprint, printed.slice(printed.indexOf("=") + 1));
    });
  },
});

Deno.test("certificateFingerprint() reads the first certificate of a bundle and refuses text without one", async () => {
  const first = await createSelfSignedCertificate({ names: ["localhost"] });
  const second = await createSelfSignedCertificate({ names: ["localhost"] });
  assert.match(first.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(
    await certificateFingerprint(`subject=CN = localhost\n${first.certPem}${second.certPem}`),
    first.fingerprint,
  );
  assert.equal(
    await certificateFingerprint(first.certPem.replaceAll("\n", "\r\n")),
    first.fingerprint,
  );
  await assert.rejects(
    certificateFingerprint(first.keyPem),
    errorMentioning(CertificateError, "no PEM certificate"),
  );
  await assert.rejects(
    certificateFingerprint("-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"),
    errorMentioning(CertificateError, "not valid base64"),
  );
  await assert.rejects(
    certificateFingerprint("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    errorMentioning(CertificateError, "not a DER-encoded certificate"),
  );
});

Deno.test("certificateValidity() reads the first certificate's dates and refuses text without one", async () => {
  const first = await createSelfSignedCertificate({ names: ["localhost"], validDays: 10 });
  const second = await createSelfSignedCertificate({ names: ["localhost"], validDays: 20 });
  const { notBefore, notAfter } = await certificateValidity(`${first.certPem}${second.certPem}`);
  assert.ok(notBefore.getTime() <= Date.now());
  const days = (notAfter.getTime() - Date.now()) / DAY_MS;
  assert.ok(days > 9 && days <= 10, `${days} days`);
  await assert.rejects(
    certificateValidity(first.keyPem),
    errorMentioning(CertificateError, "no PEM certificate"),
  );
  await assert.rejects(
    certificateValidity("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    errorMentioning(CertificateError, "cannot be read"),
  );
});

Deno.test("defaultCertificateNames() are the loopback names and this host's name, once each", () => {
  const names = defaultCertificateNames();
  assert.deepEqual(names.slice(0, 3), NAMES);
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.length <= 4);
});

Deno.test("defaultCertificatePaths() are tls-cert.pem and tls-key.pem in the config directory", () => {
  assert.deepEqual(defaultCertificatePaths("/home/ada/.config/rexec"), {
    certFile: "/home/ada/.config/rexec/tls-cert.pem",
    keyFile: "/home/ada/.config/rexec/tls-key.pem",
  });
});

Deno.test({
  name:
    "ensureCertificate() creates a 0700 directory, a 0600 key and a 0644 certificate that serve TLS",
  ignore: isWindows,
  async fn() {
    await withTempDir(async (dir) => {
      const paths = defaultCertificatePaths(`${dir}/config/rexec`);
      const result = await ensureCertificate({ ...paths, names: NAMES });

      assert.deepEqual({ ...result, fingerprint: "" }, {
        ...paths,
        fingerprint: "",
        created: true,
      });
      assert.equal((await Deno.stat(`${dir}/config/rexec`)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(paths.keyFile)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(paths.certFile)).mode! & 0o777, 0o644);
      assert.deepEqual(
        (await Array.fromAsync(Deno.readDir(`${dir}/config/rexec`))).map((e) => e.name).sort(),
        ["tls-cert.pem", "tls-key.pem"],
        "no temporary files are left behind",
      );
      const pair = {
        certPem: await Deno.readTextFile(paths.certFile),
        keyPem: await Deno.readTextFile(paths.keyFile),
        fingerprint: result.fingerprint,
      };
      assert.equal(await certificateFingerprint(pair.certPem), result.fingerprint);
      await exchangeByte(pair, connectAs("localhost", [pair.certPem]));
    });
  },
});

Deno.test("ensureCertificate() uses an existing pair as it is: same fingerprint, nothing rewritten", async () => {
  await withTempDir(async (dir) => {
    const paths = defaultCertificatePaths(dir);
    const first = await ensureCertificate(paths);
    const certPem = await Deno.readTextFile(paths.certFile);
    const keyPem = await Deno.readTextFile(paths.keyFile);

    const second = await ensureCertificate({ ...paths, names: ["other.example"] });
    assert.deepEqual(second, { ...first, created: false });
    assert.equal(await Deno.readTextFile(paths.certFile), certPem);
    assert.equal(await Deno.readTextFile(paths.keyFile), keyPem);
  });
});

Deno.test("ensureCertificate() refuses a certificate without its key and a key without its certificate", async () => {
  await withTempDir(async (dir) => {
    const paths = defaultCertificatePaths(dir);
    const pair = await createSelfSignedCertificate({ names: NAMES });

    await Deno.writeTextFile(paths.certFile, pair.certPem);
    await assert.rejects(
      ensureCertificate(paths),
      errorMentioning(
        CertificateError,
        `key file ${paths.keyFile} is missing`,
        `delete ${paths.certFile}`,
      ),
    );
    assert.equal(await Deno.readTextFile(paths.certFile), pair.certPem, "left as it was");

    await Deno.remove(paths.certFile);
    await Deno.writeTextFile(paths.keyFile, pair.keyPem);
    await assert.rejects(
      ensureCertificate(paths),
      errorMentioning(
        CertificateError,
        `certificate file ${paths.certFile} is missing`,
        `delete ${paths.keyFile}`,
      ),
    );
    assert.equal(await Deno.readTextFile(paths.keyFile), pair.keyPem, "left as it was");
  });
});

Deno.test("ensureCertificate() refuses files that hold no certificate or no key, naming the file", async () => {
  await withTempDir(async (dir) => {
    const paths = defaultCertificatePaths(dir);
    const pair = await createSelfSignedCertificate({ names: NAMES });

    await Deno.writeTextFile(paths.certFile, "not a certificate\n");
    await Deno.writeTextFile(paths.keyFile, pair.keyPem);
    await assert.rejects(
      ensureCertificate(paths),
      errorMentioning(CertificateError, paths.certFile),
    );

    await Deno.writeTextFile(paths.certFile, pair.certPem);
    await Deno.writeTextFile(paths.keyFile, pair.certPem);
    await assert.rejects(
      ensureCertificate(paths),
      errorMentioning(CertificateError, paths.keyFile, "no PEM private key"),
    );
  });
});
