/**
 * The client's defaults, apart from the client itself so that the command
 * line can show and parse them without loading the client's code. Imports
 * nothing.
 *
 * @module
 */

/** Default seconds allowed for connecting and authenticating. */
export const DEFAULT_CONNECT_TIMEOUT = 15;

/** Default seconds between keepalive PINGs from the client. */
export const DEFAULT_KEEPALIVE = 30;

/** Default most hosts a fleet run (`runMany`, `rexec run TARGETS`) runs at once. */
export const DEFAULT_PARALLEL = 32;
