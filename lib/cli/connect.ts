/**
 * Opening the connection `run` and `shell` share, from their configuration.
 *
 * @module
 */

import { type Client, connect } from "../client.ts";
import { ConnectionError } from "../errors.ts";
import { resolveToken } from "../token.ts";
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
 * ```ts ignore
 * import { parseCli } from "./args.ts";
 * import { connectFromConfig } from "./connect.ts";
 *
 * const config = parseCli(["run", "tls://build-box", "--", "true"]);
 * if (config.mode === "run") await using client = await connectFromConfig(config);
 * ```
 */
export async function connectFromConfig(config: ClientConfig): Promise<Client> {
  const { token, warnings } = await resolveToken({ tokenFile: config.tokenFile });
  for (const warning of warnings) printError(`rexec: warning: ${warning}`);
  const caFile = config.tls?.caFile;
  let caCerts: string[] | undefined;
  if (caFile !== undefined) {
    try {
      caCerts = [await Deno.readTextFile(caFile)];
    } catch (error) {
      throw new ConnectionError(
        `cannot read the CA certificate ${caFile}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return await connect({
    hostname: config.target.hostname,
    port: config.target.port,
    token,
    timeout: config.connectTimeout,
    keepalive: config.keepalive,
    ...(config.tls ? { tls: caCerts ? { caCerts } : {} } : {}),
  });
}
