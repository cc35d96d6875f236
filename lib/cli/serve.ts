/**
 * `rexec serve`: the server with zero configuration, logging to stderr,
 * until SIGINT or SIGTERM.
 *
 * @module
 */

import { isLoopback } from "../address.ts";
import { openAuditLog } from "../audit.ts";
import { CertificateError } from "../tls_cert.ts";
import { createTextLogger, type Logger } from "../log.ts";
import { requireSafeTransport, serve } from "../server.ts";
import { formatAddr } from "../server_session.ts";
import {
  defaultCertificateNames,
  defaultCertificatePaths,
  ensureCertificate,
} from "../tls_cert.ts";
import { defaultConfigDir, resolveToken, TOKEN_ENV } from "../token.ts";
import { UsageError } from "../errors.ts";
import { CommandPolicy } from "../policy.ts";
import type { RunAs } from "../server_command.ts";
import { isRoot, lookupUser } from "../user.ts";
import type { ServeConfig } from "./args.ts";
import { watchInterrupts } from "./interrupts.ts";

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
  // Before the token file is made: a refused start should leave nothing behind.
  requireSafeTransport({
    ...config.listen,
    tls: config.tls,
    insecurePlaintext: config.insecurePlaintext,
  });
  const logger = createTextLogger();
  const token = await resolveToken({
    tokenFile: config.tokenFile,
    createIfMissing: true,
  });
  // Commands inherit the server's environment; the token is not theirs to read.
  if (token.source === TOKEN_ENV) Deno.env.delete(TOKEN_ENV);
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
  const tls = config.tls ? await loadTls(config, logger) : undefined;
  const policy = await CommandPolicy.create({
    ...(config.allow ? { allow: config.allow } : {}),
    ...(config.envAllow ? { envAllow: config.envAllow } : {}),
  });
  if (policy.allowed) {
    logger({ level: "info", message: "allowed programs", fields: { allow: policy.allowed } });
  }
  const runAs = config.user === undefined ? undefined : await accountToRunAs(config.user, logger);
  using audit = config.auditLog === undefined ? undefined : openAuditLog(config.auditLog, {
    onError: (error) =>
      logger({
        level: "error",
        message: "cannot write the audit log",
        fields: { file: config.auditLog, error: error.message },
      }),
  });
  const server = await serve({
    token: token.token,
    hostname: config.listen.hostname,
    port: config.listen.port,
    maxFrameSize: config.maxFrameSize,
    maxTimeout: config.maxTimeout,
    killGrace: config.killGrace,
    logger,
    ...(tls ? { tls } : {}),
    insecurePlaintext: config.insecurePlaintext,
    handshakeTimeout: config.handshakeTimeout,
    idleTimeout: config.idleTimeout,
    keepalive: config.keepalive,
    maxSessions: config.maxSessions,
    maxCommands: config.maxCommands,
    maxStartups: config.maxStartups,
    maxStartupsPerSource: config.maxStartupsPerSource,
    maxExecSize: config.maxExecSize,
    authFailureDelay: config.authFailureDelay,
    policy,
    ...(runAs ? { runAs } : {}),
    ...(audit ? { audit: audit.write } : {}),
  });
  logger({
    level: "info",
    message: "listening",
    fields: { address: formatAddr(server.addr), tls: tls !== undefined },
  });
  if (!tls && !isLoopback(config.listen.hostname)) {
    logger({
      level: "warn",
      message:
        "--insecure-plaintext: traffic is not encrypted; anyone on the network path can read commands and output",
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

/** The certificate and key to serve: the files given, or this host's pair, made on first use. */
async function loadTls(
  config: ServeConfig,
  logger: Logger,
): Promise<{ cert: string; key: string }> {
  let certFile = config.tls?.certFile;
  let keyFile = config.tls?.keyFile;
  if (certFile === undefined || keyFile === undefined) {
    const names = defaultCertificateNames();
    const { hostname } = config.listen;
    if (!names.includes(hostname) && !/^(0\.0\.0\.0|::)$/.test(hostname)) names.push(hostname);
    const pair = await ensureCertificate({ ...defaultCertificatePaths(defaultConfigDir()), names });
    ({ certFile, keyFile } = pair);
    logger({
      level: "info",
      message: pair.created ? "created a TLS certificate" : "using TLS certificate",
      fields: {
        file: certFile,
        sha256: pair.fingerprint,
        hint: "clients trust it with: rexec run --ca <copy of this file> tls://HOST -- CMD",
      },
    });
  }
  const read = async (file: string, what: string) => {
    try {
      return await Deno.readTextFile(file);
    } catch (error) {
      throw new CertificateError(
        `cannot read the TLS ${what} ${file}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  };
  return { cert: await read(certFile, "certificate"), key: await read(keyFile, "key") };
}

/** The account `--user` names, checked and turned into what commands run as. */
async function accountToRunAs(name: string, logger: Logger): Promise<RunAs> {
  if (!isRoot()) {
    throw new UsageError(
      `--user ${name} needs rexec serve to run as root; without --user, commands run as the server's own user`,
    );
  }
  const account = await lookupUser(name);
  logger({
    level: "info",
    message: "commands run as",
    fields: { user: account.name, uid: account.uid, gid: account.gid },
  });
  return {
    uid: account.uid,
    gid: account.gid,
    env: { HOME: account.home, USER: account.name, LOGNAME: account.name, SHELL: account.shell },
  };
}
