/**
 * A TLS certificate for a server that has none: a fresh ECDSA P-256 key and a
 * self-signed certificate for the names clients use to reach the server, kept
 * in two PEM files that the server creates on its first start. Clients trust
 * the certificate itself (`caCerts`), or check its SHA-256 fingerprint.
 *
 * @module
 */

import { FileDraft } from "../util/files.ts";
import { joinPath, parentDir } from "../util/paths.ts";
import { RexecError } from "../errors.ts";

/**
 * A TLS certificate or its files could not be made, read or used. The message
 * says which file and what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RexecError } from "../errors.ts";
 * import { certificateFingerprint, CertificateError } from "./certificate.ts";
 *
 * await assert.rejects(
 *   certificateFingerprint("-----BEGIN PRIVATE KEY-----\n..."),
 *   (error) =>
 *     error instanceof CertificateError && error instanceof RexecError &&
 *     error.message === "no PEM certificate (-----BEGIN CERTIFICATE-----) in the text",
 * );
 * ```
 */
export class CertificateError extends RexecError {}

/**
 * A certificate, its private key and its fingerprint, as PEM text ready for
 * `serve({ tls: { cert, key } })`; see {@link createSelfSignedCertificate}.
 */
export interface CertificatePair {
  /** The certificate: one `CERTIFICATE` PEM block. */
  readonly certPem: string;
  /** The private key: one PKCS#8 `PRIVATE KEY` PEM block. Keep it secret. */
  readonly keyPem: string;
  /** The certificate's SHA-256 fingerprint, as {@link certificateFingerprint} gives it. */
  readonly fingerprint: string;
}

/** Options for {@link createSelfSignedCertificate}. */
export interface SelfSignedCertificateOptions {
  /**
   * The names clients connect to: host names, IPv4 and IPv6 addresses. The
   * first is also the subject's common name. At least one.
   */
  readonly names: readonly string[];
  /** How many days from now the certificate is valid; default {@link DEFAULT_VALID_DAYS}. */
  readonly validDays?: number;
}

/**
 * Default validity of a new certificate, in days: the longest that Apple's
 * platforms accept for a TLS server certificate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   certificateValidity,
 *   createSelfSignedCertificate,
 *   DEFAULT_VALID_DAYS,
 * } from "./certificate.ts";
 *
 * const { certPem } = await createSelfSignedCertificate({ names: ["localhost"] });
 * const { notAfter } = await certificateValidity(certPem);
 * const days = (notAfter.getTime() - Date.now()) / (24 * 60 * 60 * 1000);
 * assert.equal(Math.round(days), DEFAULT_VALID_DAYS);
 * ```
 */
export const DEFAULT_VALID_DAYS = 825;

/** How far notBefore lies in the past, so a client whose clock is behind accepts a new certificate. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The key and signature algorithm of every certificate rexec makes: ECDSA
 * on P-256 with SHA-256.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KEY_ALGORITHM } from "./certificate.ts";
 *
 * const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, false, ["sign", "verify"]);
 * assert.equal(keys.privateKey.algorithm.name, "ECDSA");
 * ```
 */
export const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/**
 * When a certificate made now for `validDays` days starts and ends: an hour
 * back from now, for clients whose clock is behind, to `validDays` from now.
 *
 * @throws {CertificateError} when `validDays` is not a positive number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CertificateError, validityPeriod } from "./certificate.ts";
 *
 * const { notBefore, notAfter } = validityPeriod(1);
 * assert.ok(notBefore.getTime() < Date.now() && Date.now() < notAfter.getTime());
 * assert.throws(() => validityPeriod(0), CertificateError);
 * ```
 */
export function validityPeriod(validDays: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(validDays) || validDays <= 0) {
    throw new CertificateError(
      `a certificate must be valid for a positive number of days, not ${validDays}`,
    );
  }
  const now = Date.now();
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + validDays * DAY_MS) };
}

/**
 * Makes a new ECDSA P-256 key and a self-signed certificate for `names`: a
 * server certificate (not a CA) whose subject alternative names hold every
 * name, addresses as iPAddress and the rest as dNSName entries.
 *
 * @throws {CertificateError} when `names` is empty or holds something that is
 * neither a host name nor an IP address, or `validDays` is not positive.
 *
 * @example A TLS server and a client that trusts exactly its certificate
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { serve } from "../server/server.ts";
 * import { CertificateError, createSelfSignedCertificate } from "./certificate.ts";
 *
 * const { certPem, keyPem, fingerprint } = await createSelfSignedCertificate({
 *   names: ["localhost", "127.0.0.1", "::1"],
 * });
 * assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({
 *   token,
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   tls: { cert: certPem, key: keyPem },
 * });
 * await using client = await connect({
 *   hostname: "127.0.0.1",
 *   port: server.addr.port,
 *   token,
 *   tls: { caCerts: [certPem] },
 * });
 * const { code, stdout } = await client.spawn(["echo", "over TLS"]).output();
 * assert.equal(code, 0);
 * assert.equal(new TextDecoder().decode(stdout), "over TLS\n");
 *
 * await assert.rejects(createSelfSignedCertificate({ names: ["not a name"] }), CertificateError);
 * ```
 */
export async function createSelfSignedCertificate(
  options: SelfSignedCertificateOptions,
): Promise<CertificatePair> {
  const period = validityPeriod(options.validDays ?? DEFAULT_VALID_DAYS);
  const subjectNames = certificateNames(options.names);
  // Loaded here rather than at the top: it installs a global Reflect polyfill
  // and takes a while to load, which only the code that makes a certificate
  // should pay for. Named in full, not through deno.json's import map, which
  // a program importing this library by path or URL does not have.
  const x509 = await import("npm:@peculiar/x509@^1.14.3");
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [subjectNames[0].value] }],
    ...period,
    signingAlgorithm: KEY_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(subjectNames),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    ],
  }, crypto);
  const certPem = `${certificate.toString("pem")}\n`;
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const keyPem = `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`;
  return { certPem, keyPem, fingerprint: await certificateFingerprint(certPem) };
}

/**
 * The SHA-256 fingerprint of the first certificate in PEM text: uppercase hex
 * byte pairs joined by `:`, as `openssl x509 -noout -fingerprint -sha256`
 * prints it after the `=`.
 *
 * @throws {CertificateError} when the text holds no certificate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { certificateFingerprint, createSelfSignedCertificate } from "./certificate.ts";
 *
 * const pair = await createSelfSignedCertificate({ names: ["localhost"] });
 * const fingerprint = await certificateFingerprint(pair.certPem);
 * assert.equal(fingerprint, pair.fingerprint);
 * assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
 * const other = await createSelfSignedCertificate({ names: ["localhost"] });
 * assert.notEqual(await certificateFingerprint(other.certPem), fingerprint);
 * ```
 */
export async function certificateFingerprint(certPem: string): Promise<string> {
  const block = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/
    .exec(certPem);
  if (!block) {
    throw new CertificateError("no PEM certificate (-----BEGIN CERTIFICATE-----) in the text");
  }
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = Uint8Array.fromBase64(block[1].replace(/\s+/g, ""), { lastChunkHandling: "strict" });
  } catch (error) {
    throw new CertificateError(`the PEM certificate is not valid base64: ${error}`, {
      cause: error,
    });
  }
  if (!isDerSequence(der)) {
    throw new CertificateError("the PEM certificate is not a DER-encoded certificate");
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/**
 * When the first certificate in PEM text starts and stops being valid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { certificateValidity, createSelfSignedCertificate } from "./certificate.ts";
 *
 * const pair = await createSelfSignedCertificate({ names: ["localhost"], validDays: 30 });
 * const { notBefore, notAfter } = await certificateValidity(pair.certPem);
 * assert.ok(notBefore.getTime() <= Date.now() && Date.now() < notAfter.getTime());
 * ```
 */
export async function certificateValidity(
  certPem: string,
): Promise<{ readonly notBefore: Date; readonly notAfter: Date }> {
  const block = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----/
    .exec(certPem);
  if (!block) {
    throw new CertificateError("no PEM certificate (-----BEGIN CERTIFICATE-----) in the text");
  }
  // node:crypto reads a certificate in a few milliseconds where @peculiar/x509
  // takes half a second to load; a TLS server loads node:tls anyway.
  const { X509Certificate } = await import("node:crypto");
  try {
    const certificate = new X509Certificate(block[0]);
    return { notBefore: certificate.validFromDate, notAfter: certificate.validToDate };
  } catch (error) {
    throw new CertificateError(`the PEM certificate cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Checks that `keyPem` is the private key of the first certificate in
 * `certPem`: a server given another host's key (or a CA's certificate file
 * for its own) would listen, and then fail every TLS handshake.
 *
 * @throws {CertificateError} when either cannot be read, or they do not belong together.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CertificateError, checkCertificateKey, createSelfSignedCertificate } from "./certificate.ts";
 *
 * const one = await createSelfSignedCertificate({ names: ["localhost"] });
 * const other = await createSelfSignedCertificate({ names: ["localhost"] });
 * await checkCertificateKey(one.certPem, one.keyPem);
 * await assert.rejects(checkCertificateKey(one.certPem, other.keyPem), CertificateError);
 * ```
 */
export async function checkCertificateKey(certPem: string, keyPem: string): Promise<void> {
  const block = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----/
    .exec(certPem);
  if (!block) {
    throw new CertificateError(
      "no PEM certificate (-----BEGIN CERTIFICATE-----) in the certificate file",
    );
  }
  // node:crypto reads every PEM form of a key a TLS server takes (PKCS#8, SEC1, PKCS#1).
  const { createPrivateKey, X509Certificate } = await import("node:crypto");
  let certificate;
  try {
    certificate = new X509Certificate(block[0]);
  } catch (error) {
    throw new CertificateError(`the PEM certificate cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new CertificateError(`the private key cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new CertificateError(
      "the private key is not the certificate's: give the key made with this certificate " +
        "(rexec cert --ca-sign writes NAME-cert.pem and NAME-key.pem together)",
    );
  }
}

/**
 * The names a server's certificate is for when none are given: `localhost`,
 * `127.0.0.1`, `::1` and, when Deno may read it, the machine's host name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultCertificateNames } from "./certificate.ts";
 *
 * const names = defaultCertificateNames();
 * assert.deepEqual(names.slice(0, 3), ["localhost", "127.0.0.1", "::1"]);
 * assert.ok(names.length <= 4); // and this machine's host name, when it is a valid one
 * ```
 */
export function defaultCertificateNames(): string[] {
  const names = ["localhost", "127.0.0.1", "::1"];
  let hostname: string;
  try {
    hostname = Deno.hostname();
  } catch (error) {
    // Without --allow-sys=hostname, Deno refuses with NotCapable; the
    // loopback names still make a usable certificate.
    if (error instanceof Deno.errors.NotCapable) return names;
    throw error;
  }
  const name = hostname.toLowerCase();
  if (name !== "" && !names.includes(name) && isHostName(name)) names.push(name);
  return names;
}

/**
 * Where the server keeps its certificate and key by default: `tls-cert.pem`
 * and `tls-key.pem` in `configDir` (the directory of the token file).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultCertificatePaths } from "./certificate.ts";
 *
 * assert.deepEqual(defaultCertificatePaths("/home/ada/.config/rexec"), {
 *   certFile: "/home/ada/.config/rexec/tls-cert.pem",
 *   keyFile: "/home/ada/.config/rexec/tls-key.pem",
 * });
 * ```
 */
export function defaultCertificatePaths(configDir: string): { certFile: string; keyFile: string } {
  return {
    certFile: joinPath(configDir, "tls-cert.pem"),
    keyFile: joinPath(configDir, "tls-key.pem"),
  };
}

/** Options for {@link ensureCertificate}. */
export interface EnsureCertificateOptions {
  /** The certificate file (PEM). */
  readonly certFile: string;
  /** The private key file (PKCS#8 PEM), mode 0600 when created here. */
  readonly keyFile: string;
  /** Names for a new certificate; default {@link defaultCertificateNames}. */
  readonly names?: readonly string[];
}

/** What {@link ensureCertificate} found or made. */
export interface EnsuredCertificate {
  /** The certificate file. */
  readonly certFile: string;
  /** The private key file. */
  readonly keyFile: string;
  /** The certificate's SHA-256 fingerprint, for the log and for clients to compare. */
  readonly fingerprint: string;
  /** Whether the pair was created just now. */
  readonly created: boolean;
}

/**
 * Uses the certificate and key in `certFile` and `keyFile`, or creates both
 * when neither exists: the directory with mode 0700, the key with mode 0600
 * (never visible half written or with a wider mode) and the certificate with
 * mode 0644.
 *
 * @throws {CertificateError} when only one of the two files exists, or a file
 * cannot be read or written; the message names the file and what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultCertificatePaths, ensureCertificate } from "./certificate.ts";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const paths = defaultCertificatePaths(`${dir}/rexec`);
 *   const first = await ensureCertificate(paths);
 *   assert.equal(first.created, true);
 *   assert.equal((await Deno.stat(first.keyFile)).mode! & 0o777, 0o600);
 *   const again = await ensureCertificate(paths);
 *   assert.equal(again.created, false);
 *   assert.equal(again.fingerprint, first.fingerprint);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function ensureCertificate(
  options: EnsureCertificateOptions,
): Promise<EnsuredCertificate> {
  const { certFile, keyFile } = options;
  const [haveCert, haveKey] = await Promise.all([exists(certFile), exists(keyFile)]);
  if (!haveCert && !haveKey) {
    const pair = await createSelfSignedCertificate({
      names: options.names ?? defaultCertificateNames(),
    });
    if (await writePair(options, pair)) {
      return { certFile, keyFile, fingerprint: pair.fingerprint, created: true };
    }
  }
  return await readPair(options);
}

async function readPair(
  { certFile, keyFile }: EnsureCertificateOptions,
): Promise<EnsuredCertificate> {
  const [haveCert, haveKey] = await Promise.all([exists(certFile), exists(keyFile)]);
  if (haveCert !== haveKey) {
    const [present, missing] = haveCert ? [certFile, keyFile] : [keyFile, certFile];
    throw new CertificateError(
      `TLS ${haveCert ? "key" : "certificate"} file ${missing} is missing but ${present} exists: ` +
        `restore ${missing}, or delete ${present} to have a new certificate and key created ` +
        `(clients must then trust the new certificate)`,
    );
  }
  const certPem = await readText(certFile, "certificate");
  const keyPem = await readText(keyFile, "key");
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(keyPem)) {
    throw new CertificateError(`TLS key file ${keyFile} holds no PEM private key`);
  }
  let fingerprint: string;
  try {
    fingerprint = await certificateFingerprint(certPem);
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    throw new CertificateError(`TLS certificate file ${certFile}: ${error.message}`, {
      cause: error,
    });
  }
  return { certFile, keyFile, fingerprint, created: false };
}

/**
 * Writes the pair unless either file exists; false when another process got
 * there first, so the caller reads what it wrote instead.
 */
async function writePair(
  { certFile, keyFile }: EnsureCertificateOptions,
  pair: CertificatePair,
): Promise<boolean> {
  try {
    await Deno.mkdir(parentDir(keyFile), { recursive: true, mode: 0o700 });
    await Deno.mkdir(parentDir(certFile), { recursive: true, mode: 0o700 });
    await using key = await FileDraft.write(keyFile, pair.keyPem, { mode: 0o600 });
    await using cert = await FileDraft.write(certFile, pair.certPem, { mode: 0o644 });
    // Each file appears under its name complete or not at all, and never
    // replaces a file that another server created meanwhile. The key goes
    // first: whoever publishes it owns the pair.
    if (!await key.publish()) return false;
    if (!await cert.publish()) throw new Deno.errors.AlreadyExists(`${certFile} exists`);
  } catch (error) {
    throw new CertificateError(
      `cannot create TLS certificate ${certFile} and key ${keyFile}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return true;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new CertificateError(
      `cannot read TLS ${what} file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new CertificateError(`cannot check ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Whether `der` is exactly one DER SEQUENCE, as every certificate is. */
function isDerSequence(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  let length = der[1];
  let header = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || der.length < 2 + octets) return false;
    length = 0;
    for (const byte of der.subarray(2, 2 + octets)) length = length * 256 + byte;
    header += octets;
  }
  return header + length === der.length;
}

/**
 * A new certificate serial number, as hex: 16 random bytes, the first in
 * 0x40..0x7f, so that it is positive and always 16 bytes long in DER.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomSerialNumber } from "./certificate.ts";
 *
 * assert.match(randomSerialNumber(), /^[4-7][0-9a-f]{31}$/);
 * ```
 */
export function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x3f) | 0x40;
  return bytes.toHex();
}

/** A subject alternative name entry: a DNS name or an IP address. */
export type GeneralName = { type: "dns" | "ip"; value: string };

/**
 * The subject alternative names for host names and addresses, each once:
 * addresses as iPAddress, the rest as dNSName entries.
 *
 * @throws {CertificateError} for something that is neither a host name nor an
 * IP address, or no names at all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { certificateNames } from "./certificate.ts";
 *
 * assert.deepEqual(certificateNames(["Web1.lan", "10.0.0.5", "web1.lan"]), [
 *   { type: "dns", value: "web1.lan" },
 *   { type: "ip", value: "10.0.0.5" },
 * ]);
 * ```
 */
export function certificateNames(names: readonly string[]): GeneralName[] {
  if (names.length === 0) {
    throw new CertificateError("a certificate needs at least one host name or address");
  }
  return uniqueNames(names.map(subjectAlternativeName));
}

/** The subject alternative name entry for a host name or address. */
function subjectAlternativeName(name: string): GeneralName {
  const unbracketed = /^\[(.*)\]$/.exec(name)?.[1] ?? name;
  if (IPV4.test(unbracketed)) return { type: "ip", value: unbracketed };
  if (unbracketed.includes(":")) {
    // URL parsing validates the address and writes it in canonical form,
    // with an embedded IPv4 part as hex, which is all the encoder reads.
    try {
      return { type: "ip", value: new URL(`http://[${unbracketed}]/`).hostname.slice(1, -1) };
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      throw new CertificateError(`${name} is not a valid IPv6 address`, { cause: error });
    }
  }
  if (!isHostName(name)) {
    throw new CertificateError(
      `${JSON.stringify(name)} is neither a host name nor an IP address ` +
        `(write international names in their xn-- form)`,
    );
  }
  return { type: "dns", value: name.toLowerCase().replace(/\.$/, "") };
}

function uniqueNames(names: readonly GeneralName[]): GeneralName[] {
  const seen = new Set<string>();
  return names.filter(({ type, value }) => {
    const key = `${type}:${value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A DNS name as certificates hold them: ASCII labels, optionally a leading `*.` wildcard. */
function isHostName(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.replace(/^\*\./, "").replace(/\.$/, "").split(".");
  // An all-digit last label is a mistyped address, not a name.
  if (/^\d+$/.test(labels[labels.length - 1])) return false;
  return labels.every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}
