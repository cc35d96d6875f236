/**
 * base64url text without padding, the form rexec gives its tokens, nonces
 * and proofs: safe in an environment variable, a file and JSON alike.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

/**
 * `bytes` as base64url text without padding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBase64url } from "./base64url.ts";
 *
 * assert.equal(encodeBase64url(new Uint8Array([0xfb, 0xff])), "-_8");
 * ```
 */
export function encodeBase64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * `byteCount` bytes from the system's cryptographic random number
 * generator, as base64url text without padding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomBase64url } from "./base64url.ts";
 *
 * const secret = randomBase64url(32);
 * assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
 * assert.notEqual(secret, randomBase64url(32));
 * ```
 */
export function randomBase64url(byteCount: number): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}
