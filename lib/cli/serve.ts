/**
 * `rexec serve`: the server with zero configuration, logging to stderr,
 * until SIGINT or SIGTERM. SIGHUP reopens the audit log file, for log
 * rotation.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { formatAddr, isLoopback } from "../transport/address.ts";
import { type AuditLog, AuditLogError, openAuditLog } from "../server/audit.ts";
import { CertificateError } from "../tls/certificate.ts";
import { createTextLogger, type Logger } from "../util/log.ts";
import { requireSafeTransport, serve } from "../server/server.ts";
import {
  certificateValidity,
  checkCertificateKey,
  defaultCertificateNames,
  defaultCertificatePaths,
  ensureCertificate,
} from "../tls/certificate.ts";
import { configDirWarning, defaultConfigDir, resolveToken, TOKEN_ENV } from "../config/token.ts";
import { UsageError } from "../errors.ts";
import { CommandPolicy } from "../server/policy.ts";
import type { RunAs } from "../server/command.ts";
import {
  accountEnv,
  currentUser,
  isRoot,
  lookupUser,
  UnknownUserError,
  type UserAccount,
} from "../server/user.ts";
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
 * // Not run as a test: it serves until this process gets SIGINT or SIGTERM, then exits.
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
  // Opened first: a path that cannot be used stops the start before the
  // token file or a certificate is made. Never creates a directory.
  using audit = config.auditLog === undefined ? undefined : openAuditLog(config.auditLog);
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
  const tls = config.tls ? await loadTls(config, logger, token.warnings) : undefined;
  const policy = await CommandPolicy.create({
    ...(config.allow ? { allow: config.allow } : {}),
    ...(config.envAllow ? { envAllow: config.envAllow } : {}),
  });
  if (policy.allowed) {
    logger({ level: "info", message: "allowed programs", fields: { allow: policy.allowed } });
  }
  const runAs = await commandAccount(config.user, logger);
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
    ...(audit ? { audit: audit.write, auditFail: config.auditFail } : {}),
    ...(config.noTty ? { noTty: true } : {}),
    ...(config.copyRoot !== undefined ? { copyRoot: config.copyRoot } : {}),
    ...(config.noCopy ? { noCopy: true } : {}),
  });
  // Before "listening": a signal sent as soon as that line appears must
  // find the handlers in place, not the default action.
  let stops = 0;
  using _interrupts = watchInterrupts((signal) => {
    if (signal === "SIGHUP" && audit && audit.path !== "-") {
      reopenAuditLog(audit, logger);
      return;
    }
    if (++stops > 1) return;
    logger({ level: "info", message: "shutting down", fields: { signal } });
    server.shutdown();
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
  await server.finished;
  logger({ level: "info", message: "stopped" });
  return 0;
}

/** Log rotation renamed the audit log: records go to a new file at its path from now on. */
function reopenAuditLog(audit: AuditLog, logger: Logger): void {
  try {
    audit.reopen();
    logger({ level: "info", message: "reopened the audit log", fields: { file: audit.path } });
  } catch (error) {
    if (!(error instanceof AuditLogError)) throw error;
    logger({
      level: "error",
      message: "cannot reopen the audit log; still writing to the file open before",
      fields: { error: error.message },
    });
  }
}

/** The certificate and key to serve: the files given, or this host's pair, made on first use. */
async function loadTls(
  config: ServeConfig,
  logger: Logger,
  loggedWarnings: readonly string[],
): Promise<{ cert: string; key: string }> {
  let certFile = config.tls?.certFile;
  let keyFile = config.tls?.keyFile;
  if (certFile === undefined || keyFile === undefined) {
    const names = defaultCertificateNames();
    const { hostname } = config.listen;
    if (!names.includes(hostname) && !/^(0\.0\.0\.0|::)$/.test(hostname)) names.push(hostname);
    const configDir = defaultConfigDir();
    const dirWarning = await configDirWarning(configDir);
    if (dirWarning !== undefined && !loggedWarnings.includes(dirWarning)) {
      logger({ level: "warn", message: dirWarning });
    }
    const pair = await ensureCertificate({ ...defaultCertificatePaths(configDir), names });
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
  const cert = await read(certFile, "certificate");
  const key = await read(keyFile, "key");
  try {
    await checkCertificateKey(cert, key);
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    throw new CertificateError(`${certFile} and ${keyFile}: ${error.message}`, { cause: error });
  }
  await warnIfOutOfDate(cert, certFile, logger);
  return { cert, key };
}

/**
 * Says so when the certificate is expired or not valid yet: the server
 * serves it all the same, but every client will refuse it.
 */
async function warnIfOutOfDate(cert: string, file: string, logger: Logger): Promise<void> {
  let validity: { notBefore: Date; notAfter: Date };
  try {
    validity = await certificateValidity(cert);
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    logger({
      level: "warn",
      message: "cannot read the TLS certificate's validity period",
      fields: { file, error: error.message },
    });
    return;
  }
  const now = Date.now();
  if (now > validity.notAfter.getTime()) {
    logger({
      level: "warn",
      message: "the TLS certificate has expired: clients will refuse it",
      fields: {
        file,
        not_after: validity.notAfter.toISOString(),
        hint:
          "make a new one (rexec cert --force, then give clients the new tls-cert.pem) or renew it",
      },
    });
  } else if (now < validity.notBefore.getTime()) {
    logger({
      level: "warn",
      message: "the TLS certificate is not valid yet: clients will refuse it until then",
      fields: {
        file,
        not_before: validity.notBefore.toISOString(),
        hint: "check this machine's clock, or the certificate's dates",
      },
    });
  }
}

/**
 * The account commands run in: the one `--user` names, checked, or else the
 * server's own, so that commands start in its home with its variables, as
 * with ssh. An own uid missing from /etc/passwd leaves commands in the
 * server's working directory and environment.
 */
async function commandAccount(
  name: string | undefined,
  logger: Logger,
): Promise<RunAs | undefined> {
  if (name === undefined) {
    let own: UserAccount;
    try {
      own = await currentUser();
    } catch (error) {
      if (!(error instanceof UnknownUserError)) throw error;
      logger({
        level: "warn",
        message:
          "this server's uid has no account in /etc/passwd: commands start in the server's working directory, with its HOME",
        fields: { uid: Deno.uid() },
      });
      return undefined;
    }
    return { home: own.home, env: accountEnv(own) };
  }
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
  return { uid: account.uid, gid: account.gid, home: account.home, env: accountEnv(account) };
}
