/**
 * `rexec serve`: the server with zero configuration, logging to stderr,
 * until SIGINT or SIGTERM.
 *
 * @module
 */

import { createTextLogger } from "../log.ts";
import { serve } from "../server.ts";
import { formatAddr } from "../server_session.ts";
import { resolveToken } from "../token.ts";
import type { ServeConfig } from "./args.ts";
import { watchInterrupts } from "./interrupts.ts";

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/**
 * Serves until a stop signal, then shuts down cleanly.
 *
 * @returns 0 after a clean shutdown.
 * @throws {RexecError} when the token or the listen address is unusable.
 *
 * @example
 * ```ts ignore
 * import { parseCli } from "./args.ts";
 * import { runServe } from "./serve.ts";
 *
 * const config = parseCli(["serve", "--listen", "[::1]:7022"]);
 * if (config.mode === "serve") Deno.exit(await runServe(config));
 * ```
 */
export async function runServe(config: ServeConfig): Promise<number> {
  const logger = createTextLogger();
  const token = await resolveToken({
    tokenFile: config.tokenFile,
    createIfMissing: true,
  });
  for (const warning of token.warnings) logger({ level: "warn", message: warning });
  logger({
    level: "info",
    message: token.created ? "created a new token" : "using token",
    fields: {
      source: token.source,
      hint: token.source === "REXEC_TOKEN"
        ? undefined
        : "clients on other machines need this token: copy the file, or set REXEC_TOKEN to its content",
    },
  });
  const server = serve({
    token: token.token,
    hostname: config.listen.hostname,
    port: config.listen.port,
    maxFrameSize: config.maxFrameSize,
    maxTimeout: config.maxTimeout,
    killGrace: config.killGrace,
    logger,
  });
  logger({ level: "info", message: "listening", fields: { address: formatAddr(server.addr) } });
  if (!LOOPBACK.test(config.listen.hostname)) {
    logger({
      level: "warn",
      message: "traffic is not encrypted: anyone on the network path can read commands and output",
    });
  }
  using _interrupts = watchInterrupts((signal, count) => {
    if (count > 1) return;
    logger({ level: "info", message: "shutting down", fields: { signal } });
    server.shutdown();
  });
  await server.finished;
  logger({ level: "info", message: "stopped" });
  return 0;
}
