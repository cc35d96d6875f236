/**
 * Opening the connection `run` and `shell` share, from their configuration.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { type Client, connect } from "../client/client.ts";
import { ConnectionError, TlsError } from "../errors.ts";
import { resolveToken } from "../config/token.ts";
import type { ClientConfig } from "./args.ts";
import { printError } from "./terminal.ts";

/**
 * Resolves the token (warning on stderr, as ssh does for keys, when others
 * can read or change it), reads the CA file if one was given, connects and
 * authenticates.
 *
 * @throws {RexecError} for a missing token, an unreadable CA file, or a
 * failed connection; the caller exits 255.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveToken } from "../config/token.ts";
 * import { serve } from "../server/server.ts";
 * import { parseCli } from "./args.ts";
 * import { connectFromConfig } from "./connect.ts";
 *
 * const tokenFile = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(tokenFile, "a-shared-secret-of-some-length\n");
 *   // The token the client will find: REXEC_TOKEN when set, else the file.
 *   const { token } = await resolveToken({ tokenFile });
 *   await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 *
 *   const address = `127.0.0.1:${server.addr.port}`;
 *   const config = parseCli(["run", "--token-file", tokenFile, address, "--", "true"]);
 *   assert(config.mode === "run");
 *   await using client = await connectFromConfig(config);
 *   assert.equal(client.where, address);
 *   assert.equal((await client.spawn(["true"]).status).code, 0);
 * } finally {
 *   await Deno.remove(tokenFile);
 * }
 * ```
 */
export async function connectFromConfig(config: ClientConfig): Promise<Client> {
  const { token, warnings } = await resolveToken({ tokenFile: config.tokenFile });
  for (const warning of warnings) printError(`rexec: warning: ${warning}`);
  const caFile = config.tls?.caFile;
  const caCerts = caFile === undefined ? undefined : [await readCaCertificate(caFile)];
  return await connect({
    hostname: config.target.hostname,
    port: config.target.port,
    token,
    timeout: config.connectTimeout,
    keepalive: config.keepalive,
    ...(config.tls ? { tls: caCerts ? { caCerts } : {} } : {}),
  });
}

/**
 * Reads `--ca FILE` and checks that it holds a certificate: given anything
 * else, the TLS handshake would only report the server as not trusted.
 *
 * @throws {ConnectionError} when the file cannot be read.
 * @throws {TlsError} when it holds no certificate, saying what it holds instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TlsError } from "../errors.ts";
 * import { readCaCertificate } from "./connect.ts";
 *
 * await assert.rejects(readCaCertificate("/dev/null"), TlsError);
 * ```
 */
export async function readCaCertificate(caFile: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(caFile);
  } catch (error) {
    throw new ConnectionError(
      `cannot read the CA certificate ${caFile}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  // Loaded only for --ca, so that a plain `rexec run` does not load it.
  const { CertificateError, certificateFingerprint } = await import("../tls/certificate.ts");
  try {
    await certificateFingerprint(text);
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    const detail = /-----BEGIN CERTIFICATE-----/.test(text)
      ? error.message
      : /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(text)
      ? "it is a private key, which stays on the server"
      : "it has no -----BEGIN CERTIFICATE----- block";
    throw new TlsError(
      `${caFile} is not a PEM certificate (${detail}): give --ca the server's tls-cert.pem`,
      { cause: error },
    );
  }
  return text;
}
