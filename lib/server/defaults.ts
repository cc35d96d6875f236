/**
 * The server's defaults, apart from the server itself so that the command
 * line can show and parse them without loading the server's code.
 *
 * @module
 */

/**
 * The address the server listens on when none is given: loopback only.
 *
 * @example
 * ```ts
 * import { DEFAULT_HOSTNAME } from "./defaults.ts";
 *
 * console.assert(DEFAULT_HOSTNAME === "127.0.0.1");
 * ```
 */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/**
 * Default seconds between SIGTERM and SIGKILL when a command is ended.
 *
 * @example
 * ```ts
 * import { DEFAULT_KILL_GRACE } from "./defaults.ts";
 *
 * console.assert(DEFAULT_KILL_GRACE === 2);
 * ```
 */
export const DEFAULT_KILL_GRACE = 2;

/**
 * Default server maximum for a command's run time, in seconds: one day.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_TIMEOUT } from "./defaults.ts";
 *
 * console.assert(DEFAULT_MAX_TIMEOUT === 86_400);
 * ```
 */
export const DEFAULT_MAX_TIMEOUT = 24 * 60 * 60;

/**
 * Default stdin bytes a client may have in flight per command.
 *
 * @example
 * ```ts
 * import { DEFAULT_STDIN_WINDOW } from "./defaults.ts";
 *
 * console.assert(DEFAULT_STDIN_WINDOW === 256 * 1024);
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
 * @example
 * ```ts
 * import { DEFAULT_LIMITS } from "./defaults.ts";
 *
 * console.assert(DEFAULT_LIMITS.handshakeTimeout === 10);
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
