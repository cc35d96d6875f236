/**
 * A small certificate authority for a fleet: one CA key and certificate,
 * kept where the administrator works, and a server certificate for each host
 * signed by it, so that clients trust every host with the one CA certificate
 * (`--ca ca-cert.pem`). The CA key never needs to be on a server.
 *
 * @module
 */

import {
  CertificateError,
  certificateFingerprint,
  certificateNames,
  type CertificatePair,
  DEFAULT_VALID_DAYS,
  KEY_ALGORITHM,
  randomSerialNumber,
  validityPeriod,
} from "./certificate.ts";
import { joinPath } from "../util/paths.ts";

/**
 * Default validity of a new CA certificate, in days: ten years, since
 * replacing it means handing every client a new one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CA_VALID_DAYS } from "./ca.ts";
 *
 * assert.equal(DEFAULT_CA_VALID_DAYS, 3650);
 * ```
 */
export const DEFAULT_CA_VALID_DAYS = 3650;

/**
 * The files of the CA in a config directory: `ca-cert.pem` and `ca-key.pem`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultCaPaths } from "./ca.ts";
 *
 * assert.deepEqual(defaultCaPaths("/home/ada/.config/rexec"), {
 *   certFile: "/home/ada/.config/rexec/ca-cert.pem",
 *   keyFile: "/home/ada/.config/rexec/ca-key.pem",
 * });
 * ```
 */
export function defaultCaPaths(configDir: string): { certFile: string; keyFile: string } {
  return {
    certFile: joinPath(configDir, "ca-cert.pem"),
    keyFile: joinPath(configDir, "ca-key.pem"),
  };
}

/**
 * Makes a new CA: an ECDSA P-256 key and a self-signed CA certificate that
 * may sign server certificates only (path length 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createCertificateAuthority } from "./ca.ts";
 *
 * const ca = await createCertificateAuthority({ name: "example fleet CA" });
 * assert.match(ca.certPem, /^-----BEGIN CERTIFICATE-----/);
 * assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
 * ```
 */
export async function createCertificateAuthority(
  options: { readonly name?: string; readonly validDays?: number } = {},
): Promise<CertificatePair> {
  const x509 = await loadX509();
  const period = validityPeriod(options.validDays ?? DEFAULT_CA_VALID_DAYS);
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [options.name ?? "rexec CA"] }],
    ...period,
    signingAlgorithm: KEY_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    ],
  }, crypto);
  return await pairOf(x509, certificate, keys.privateKey);
}

/**
 * Issues a server certificate for `names`, signed by the CA, with a new key.
 *
 * @throws {CertificateError} for a CA key or certificate that cannot be
 * read, a CA certificate that is not a CA, or a bad name.
 *
 * @example A client trusting the CA reaches a server whose certificate it signed
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { serve } from "../server/server.ts";
 * import { createCertificateAuthority, issueServerCertificate } from "./ca.ts";
 *
 * const ca = await createCertificateAuthority();
 * const server = await issueServerCertificate({ ca, names: ["localhost", "127.0.0.1"] });
 *
 * const token = "a-shared-secret-of-some-length";
 * await using listening = await serve({
 *   token,
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   tls: { cert: server.certPem, key: server.keyPem },
 * });
 * await using client = await connect({
 *   hostname: "127.0.0.1",
 *   port: listening.addr.port,
 *   token,
 *   tls: { caCerts: [ca.certPem] },
 * });
 * assert.equal((await client.spawn(["true"]).status).code, 0);
 * ```
 */
export async function issueServerCertificate(options: {
  /** The CA's certificate and key (PEM). */
  readonly ca: { readonly certPem: string; readonly keyPem: string };
  /** Host names and addresses clients use to reach the server; the first is the common name. */
  readonly names: readonly string[];
  /** Days from now the certificate is valid; default 825. */
  readonly validDays?: number;
}): Promise<CertificatePair> {
  const subjectNames = certificateNames(options.names);
  const period = validityPeriod(options.validDays ?? DEFAULT_VALID_DAYS);
  const x509 = await loadX509();
  let caCert;
  let caKey: CryptoKey;
  try {
    caCert = new x509.X509Certificate(options.ca.certPem);
    const der = x509.PemConverter.decode(options.ca.keyPem)[0];
    if (der === undefined) throw new Error("no PEM block");
    caKey = await crypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, false, ["sign"]);
  } catch (error) {
    throw new CertificateError(
      `cannot read the CA certificate and key: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const constraints = caCert.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) {
    throw new CertificateError(
      "the CA certificate is not a CA (make one with rexec cert --ca-init)",
    );
  }
  if (caCert.notAfter.getTime() <= Date.now()) {
    throw new CertificateError(
      `the CA certificate expired on ${caCert.notAfter.toISOString()}: clients refuse what it ` +
        "signs (make a new CA with rexec cert --ca-init --force, and give clients its certificate)",
    );
  }
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [subjectNames[0].value] }],
    issuer: caCert.subject,
    ...period,
    signingAlgorithm: KEY_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(subjectNames),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
    ],
  }, crypto);
  // A key of another CA (a --ca-init --force elsewhere, a file copied from
  // the wrong place) signs just as well: clients would refuse the result.
  if (!await certificate.verify({ publicKey: caCert.publicKey, signatureOnly: true }, crypto)) {
    throw new CertificateError(
      "the CA key does not belong to the CA certificate: it signs certificates that clients " +
        "trusting that certificate refuse (keep ca-cert.pem and ca-key.pem from the same --ca-init)",
    );
  }
  return await pairOf(x509, certificate, keys.privateKey);
}

type X509 = typeof import("npm:@peculiar/x509@^1.14.3");

/** Loaded only to make certificates: see createSelfSignedCertificate. */
function loadX509(): Promise<X509> {
  return import("npm:@peculiar/x509@^1.14.3");
}

async function pairOf(
  x509: X509,
  certificate: InstanceType<X509["X509Certificate"]>,
  privateKey: CryptoKey,
): Promise<CertificatePair> {
  const certPem = `${certificate.toString("pem")}\n`;
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", privateKey);
  const keyPem = `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`;
  return { certPem, keyPem, fingerprint: await certificateFingerprint(certPem) };
}
