/**
 * `rexec cert`: makes (or shows) this host's TLS certificate and key, and
 * tells the user how clients come to trust it.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { DEFAULT_PORT, formatHostPort } from "../transport/address.ts";
import {
  defaultCertificateNames,
  defaultCertificatePaths,
  ensureCertificate,
} from "../tls/certificate.ts";
import { defaultConfigDir } from "../config/token.ts";
import { removeIfExists } from "../util/files.ts";
import type { CertConfig } from "./args.ts";

/**
 * Creates the certificate pair in the config directory unless it exists
 * (`--force` replaces it), and prints its fingerprint and the client command.
 *
 * @returns 0.
 * @throws {RexecError} when the files cannot be read or written.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it writes into the user's own config directory and prints to stdout.
 * import { runCert } from "./cert.ts";
 *
 * Deno.exit(await runCert({ mode: "cert", names: ["build-box.lan"], force: false }));
 * ```
 */
export async function runCert(config: CertConfig): Promise<number> {
  if (config.ca) {
    const { runCertAuthority } = await import("./cert_ca.ts");
    return await runCertAuthority(config);
  }
  const paths = defaultCertificatePaths(defaultConfigDir());
  if (config.force) {
    for (const file of [paths.certFile, paths.keyFile]) await removeIfExists(file);
  }
  const names = [...defaultCertificateNames(), ...config.names];
  const pair = await ensureCertificate({ ...paths, names });
  const host = config.names[0] ?? names.find((name) => !/^(localhost|127\.|::1$)/.test(name)) ??
    "localhost";
  console.log(
    [
      `${pair.created ? "created" : "using"} certificate ${pair.certFile}`,
      `private key ${pair.keyFile} (keep it secret: mode 0600)`,
      `SHA-256 fingerprint ${pair.fingerprint}`,
      ...(pair.created
        ? [`valid for ${names.join(", ")}`]
        : config.names.length > 0
        ? ["the existing certificate was kept: add --force to make a new one with these names"]
        : []),
      "",
      "Serve with it:",
      `  rexec serve --tls --listen 0.0.0.0:${DEFAULT_PORT}`,
      "Copy the certificate (not the key) to each client, check its fingerprint, and run:",
      `  rexec run --ca tls-cert.pem tls://${formatHostPort(host, DEFAULT_PORT)} -- uname -a`,
    ].join("\n"),
  );
  return 0;
}
