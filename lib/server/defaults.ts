/**
 * The server's defaults, apart from the server itself so that the command
 * line can show and parse them without loading the server's code.
 *
 * @module
 */

/**
 * The address the server listens on when none is given: loopback only.
 *
 * @example A server told only its token and port listens on loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "./server.ts";
 * import { DEFAULT_HOSTNAME } from "./defaults.ts";
 *
 * await using server = await serve({ token: "a-shared-secret-of-some-length", port: 0 });
 * assert.equal(server.addr.hostname, DEFAULT_HOSTNAME);
 * ```
 */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/** Default seconds between SIGTERM and SIGKILL when a command is ended. */
export const DEFAULT_KILL_GRACE = 2;

/** Default server maximum for a command's run time, in seconds: one day. */
export const DEFAULT_MAX_TIMEOUT = 24 * 60 * 60;

/**
 * Default stdin bytes a client may have in flight per command.
 *
 * @example A server announces the window in its HELLO
 * ```ts
 * import assert from "node:assert/strict";
 * import { authenticate } from "../client/handshake.ts";
 * import { serve } from "./server.ts";
 * import { DEFAULT_STDIN_WINDOW } from "./defaults.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * const { hello } = await authenticate(conn, {
 *   token,
 *   maxFrameSize: 1 << 20,
 *   tls: false,
 *   where: "127.0.0.1",
 * });
 * assert.equal(hello.stdinWindow, DEFAULT_STDIN_WINDOW);
 * ```
 */
export const DEFAULT_STDIN_WINDOW = 256 * 1024;

/**
 * Default limits: how long a connection may take to authenticate, how long
 * an authenticated session may sit without a command, how often keepalive
 * PINGs go out (a peer silent, or not reading, for three of them is
 * dropped), all in seconds; how many authenticated sessions may be open and
 * how many commands may run at once; how many connections may be
 * authenticating at once, in all and from one address (sized so that a
 * host starting a couple of hundred clients at once, a CI runner or a
 * library opening a pool, has them all served: each costs tens of KiB for
 * at most the handshake timeout; beyond that the oldest unfinished
 * handshake makes room); the largest EXEC request in
 * bytes; how long the answer to a wrong token is held back, in seconds,
 * doubling with each further recent failure from the same address.
 *
 * @example A request over the default EXEC size is refused, not run
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../client/client.ts";
 * import { serve } from "./server.ts";
 * import { DEFAULT_LIMITS } from "./defaults.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const tooLong = "x".repeat(DEFAULT_LIMITS.maxExecSize);
 * const status = await client.spawn(["echo", tooLong]).status;
 * assert.equal(status.reason, "refused");
 * const limit = DEFAULT_LIMITS.maxExecSize;
 * assert.match(status.message ?? "", new RegExp(`this server takes at most ${limit}`));
 * ```
 */
export const DEFAULT_LIMITS = {
  handshakeTimeout: 10,
  idleTimeout: 3600,
  keepalive: 30,
  maxSessions: 512,
  maxCommands: 256,
  maxStartups: 512,
  maxStartupsPerSource: 256,
  maxExecSize: 256 * 1024,
  authFailureDelay: 0.25,
} as const;
