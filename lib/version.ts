/**
 * The rexec release this code is.
 *
 * @module
 */

/**
 * The rexec version, announced in HELLO and printed by `rexec --version`;
 * deno.json's `version`, the package's on JSR, is the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client/client.ts";
 * import { serve } from "./server/server.ts";
 * import { VERSION } from "./version.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * assert.equal(client.serverAgent, `rexec/${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";
