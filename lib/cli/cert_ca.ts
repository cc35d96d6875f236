/**
 * `rexec cert --ca-init` and `rexec cert --ca-sign --name HOST`: the fleet's
 * certificate authority, kept in the config directory of the machine the
 * administrator works on, and the server certificates it signs.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { defaultConfigDir } from "../config/token.ts";
import { createCertificateAuthority, defaultCaPaths, issueServerCertificate } from "../tls/ca.ts";
import { CertificateError } from "../tls/certificate.ts";
import { DEFAULT_PORT, formatHostPort } from "../transport/address.ts";
import { removeIfExists, writeFileExclusive } from "../util/files.ts";
import { joinPath } from "../util/paths.ts";
import type { CertConfig } from "./args.ts";
import { printError } from "./terminal.ts";

/**
 * Makes the CA (`--ca-init`) or issues a server certificate (`--ca-sign`),
 * writing keys with mode 0600, and prints what to do with the files.
 *
 * @returns 0.
 * @throws {CertificateError} when a file exists (without `--force`), cannot
 * be read or written, or the CA is missing.
 *
 * @example
 * ```ts ignore
 * // Not run as a test: it writes into the user's config directory and prints to stdout.
 * import { runCertAuthority } from "./cert_ca.ts";
 *
 * await runCertAuthority({ mode: "cert", ca: "init", names: [], force: false });
 * await runCertAuthority({ mode: "cert", ca: "sign", names: ["web1.lan"], force: false });
 * ```
 */
export async function runCertAuthority(config: CertConfig): Promise<number> {
  const configDir = defaultConfigDir();
  const ca = defaultCaPaths(configDir);
  if (config.ca === "init") {
    await Deno.mkdir(configDir, { recursive: true, mode: 0o700 });
    const pair = await createCertificateAuthority();
    await writePair(ca, pair, config.force, "rexec cert --ca-init --force");
    console.log(
      [
        `created CA certificate ${ca.certFile}`,
        `CA private key ${ca.keyFile} (mode 0600: keep it here, never on a server)`,
        `SHA-256 fingerprint ${pair.fingerprint}`,
        "",
        "Issue a certificate for each server:",
        "  rexec cert --ca-sign --name web1.example.net --name 10.0.0.5",
        "Give clients the CA certificate, which trusts every server it signed:",
        `  rexec run --ca ${ca.certFile} tls://web1.example.net -- uptime`,
      ].join("\n"),
    );
    return 0;
  }
  const [certPem, keyPem] = await Promise.all([
    readCa(ca.certFile, "certificate"),
    readCa(ca.keyFile, "key"),
  ]);
  const { mode } = await Deno.stat(ca.keyFile);
  if (mode !== null && (mode & 0o077) !== 0) {
    // As ssh does for keys: whoever can read this one can make servers every client trusts.
    printError(
      `rexec: warning: CA key ${ca.keyFile} can be reached by other users (mode ` +
        `0${(mode & 0o777).toString(8)}): with it anyone issues certificates your clients ` +
        `trust; run: chmod 600 ${ca.keyFile}`,
    );
  }
  const pair = await issueServerCertificate({ ca: { certPem, keyPem }, names: config.names });
  const base = config.names[0].replace(/[^A-Za-z0-9.-]/g, "_");
  const out = config.out ?? ".";
  const files = {
    certFile: joinPath(out, `${base}-cert.pem`),
    keyFile: joinPath(out, `${base}-key.pem`),
  };
  await writePair(files, pair, config.force, "--force");
  console.log(
    [
      `created certificate ${files.certFile} for ${
        config.names.join(", ")
      }, signed by ${ca.certFile}`,
      `private key ${files.keyFile} (mode 0600: copy it to that server only)`,
      `SHA-256 fingerprint ${pair.fingerprint}`,
      "",
      "On the server:",
      `  rexec serve --tls-cert ${base}-cert.pem --tls-key ${base}-key.pem --listen 0.0.0.0:${DEFAULT_PORT}`,
      "Clients trust it with the CA certificate:",
      `  rexec run --ca ${ca.certFile} tls://${
        formatHostPort(config.names[0], DEFAULT_PORT)
      } -- uptime`,
    ].join("\n"),
  );
  return 0;
}

async function readCa(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const hint = error instanceof Deno.errors.NotFound
      ? " (make the CA with rexec cert --ca-init)"
      : "";
    throw new CertificateError(
      `cannot read the CA ${what} ${path}: ${(error as Error).message}${hint}`,
      { cause: error },
    );
  }
}

/** Writes the key (mode 0600) and the certificate, refusing to replace either unless forced. */
async function writePair(
  files: { certFile: string; keyFile: string },
  pair: { certPem: string; keyPem: string },
  force: boolean,
  forceHint: string,
): Promise<void> {
  if (force) {
    for (const file of [files.certFile, files.keyFile]) await removeIfExists(file);
  }
  // A key written before its certificate could not be is taken back: left
  // beside an older certificate, it would sign what no client trusts.
  const written: string[] = [];
  try {
    for (
      const [path, data, mode] of [
        [files.keyFile, pair.keyPem, 0o600],
        [files.certFile, pair.certPem, 0o644],
      ] as const
    ) {
      let created: boolean;
      try {
        created = await writeFileExclusive(path, data, { mode });
      } catch (error) {
        throw new CertificateError(`cannot write ${path}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (!created) {
        throw new CertificateError(`${path} exists: keep it, or replace it with ${forceHint}`);
      }
      written.push(path);
    }
  } catch (error) {
    for (const path of written) await removeIfExists(path);
    throw error;
  }
}
