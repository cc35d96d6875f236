/**
 * rexec: run commands on another machine, from scripts and programs.
 *
 * A server ({@link serve}) runs the commands authenticated clients ask for;
 * a client ({@link connect}) runs commands on it one after another over one
 * connection, each as a {@link RemoteProcess} shaped like
 * `Deno.ChildProcess`: stdin, stdout and stderr streams, a status promise
 * and an `output()` helper. {@link runMany} runs one command on many hosts,
 * yielding each host's result as it ends. The `rexec` command line is built
 * on this API.
 *
 * @example Serve, connect, run
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "./mod.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const { code, stdout } = await client.spawn(["echo", "hello"]).output();
 * assert.equal(code, 0);
 * assert.equal(new TextDecoder().decode(stdout), "hello\n");
 * ```
 *
 * @module
 */

export { DEFAULT_PORT, type HostPort, isLoopback, parseHostPort } from "./transport/address.ts";
export {
  type AuditEvent,
  type AuditEventName,
  type AuditLog,
  AuditLogError,
  type AuditLogOptions,
  type AuditSink,
  openAuditLog,
} from "./server/audit.ts";
export type { AuditFailMode } from "./server/audit_trail.ts";
export { Client, connect, type ConnectOptions } from "./client/client.ts";
export { DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE, DEFAULT_PARALLEL } from "./client/defaults.ts";
export {
  CopyError,
  type FileFacts,
  type FileKind,
  type RemoteFiles,
  type TransferOptions,
  type TransferStats,
  type TreeEntry,
  type UploadSourceOptions,
} from "./client/transfer.ts";
export {
  AuthenticationError,
  ConnectionError,
  FrameTooLargeError,
  HandshakeError,
  ProtocolError,
  RemoteError,
  RexecError,
  SessionBusyError,
  SpawnError,
  TlsError,
  TokenError,
  TruncatedFrameError,
  UnsupportedFeatureError,
  UsageError,
} from "./errors.ts";
export {
  createTextLogger,
  formatRecord,
  type Logger,
  type LogLevel,
  type LogRecord,
  type LogValue,
  silentLogger,
} from "./util/log.ts";
export type { ExecRequest, ExitReason } from "./protocol/messages.ts";
export type { TtyRequest, WindowSize } from "./protocol/messages.ts";
export { ErrorCode, isErrorCode, type ReceivedErrorCode } from "./protocol/error_code.ts";
export {
  EXIT_BUSY,
  EXIT_CANNOT_EXECUTE,
  EXIT_NOT_FOUND,
  EXIT_REFUSED,
} from "./protocol/exit_status.ts";
export {
  type RemoteOutput,
  RemoteProcess,
  type RemoteStatus,
  type SpawnOptions,
} from "./client/remote_process.ts";
export { type CommandSlots, type ExecPolicy, type RunAs } from "./server/command.ts";
export { requireSafeTransport, serve, type ServeOptions, type Server } from "./server/server.ts";
export {
  DEFAULT_HOSTNAME,
  DEFAULT_KILL_GRACE,
  DEFAULT_LIMITS,
  DEFAULT_MAX_TIMEOUT,
  DEFAULT_STDIN_WINDOW,
} from "./server/defaults.ts";
export {
  defaultConfigDir,
  defaultTokenPath,
  type Environment,
  generateToken,
  MIN_TOKEN_LENGTH,
  type ResolvedToken,
  resolveToken,
  type ResolveTokenOptions,
  TOKEN_ENV,
} from "./config/token.ts";
export {
  CommandPolicy,
  type CommandPolicyOptions,
  DANGEROUS_ENV,
  isDangerousEnvName,
  type PolicyDecision,
  PolicyError,
  type PolicyRequest,
} from "./server/policy.ts";
export {
  CertificateError,
  certificateFingerprint,
  type CertificatePair,
  createSelfSignedCertificate,
  defaultCertificateNames,
  defaultCertificatePaths,
  ensureCertificate,
  type EnsureCertificateOptions,
  type EnsuredCertificate,
  type SelfSignedCertificateOptions,
} from "./tls/certificate.ts";
export {
  createCertificateAuthority,
  DEFAULT_CA_VALID_DAYS,
  defaultCaPaths,
  issueServerCertificate,
} from "./tls/ca.ts";
export {
  accountEnv,
  currentUser,
  isRoot,
  lookupUser,
  type LookupUserOptions,
  UnknownUserError,
  type UserAccount,
  UserLookupError,
} from "./server/user.ts";
export {
  type FleetCommand,
  type HostOutput,
  type HostResult,
  hostResultJson,
  runMany,
  type RunManyOptions,
} from "./fleet/run_many.ts";
export type { Target } from "./fleet/targets.ts";
export { VERSION } from "./version.ts";
