/**
 * Challenge-response authentication with a shared token. The token never
 * crosses the wire: each side proves it holds the token with an
 * HMAC-SHA-256 over both sides' fresh nonces, bound to its role so that one
 * side's proof can never be replayed as the other's.
 *
 * ```text
 * server -> client   AUTH_CHALLENGE { nonce: Ns }
 * client -> server   AUTH_RESPONSE  { nonce: Nc, mac: HMAC(token, "rexec-auth-v1\0client\0" Ns "\0" Nc) }
 * server -> client   AUTH_OK        { mac: HMAC(token, "rexec-auth-v1\0server\0" Ns "\0" Nc) }
 * ```
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { encodeBase64url, randomBase64url } from "../util/base64url.ts";

/** Random bytes in each nonce. */
export const NONCE_BYTES = 32;

const NONCE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const encoder = new TextEncoder();

/** Which side a proof speaks for. */
export type AuthRole = "client" | "server";

/**
 * A fresh random nonce: 32 bytes from the system CSPRNG, base64url.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNonce, isValidNonce } from "./auth.ts";
 *
 * const nonce = createNonce();
 * assert.match(nonce, /^[A-Za-z0-9_-]{43}$/);
 * assert.ok(isValidNonce(nonce));
 * assert.notEqual(createNonce(), nonce);
 * ```
 */
export function createNonce(): string {
  return randomBase64url(NONCE_BYTES);
}

/**
 * Whether `nonce` has the form {@link createNonce} produces. Peers must
 * refuse anything else so that a proof cannot be computed over, say, an
 * empty challenge.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNonce, isValidNonce } from "./auth.ts";
 *
 * assert.equal(isValidNonce(createNonce()), true);
 * assert.equal(isValidNonce(""), false);
 * assert.equal(isValidNonce("too-short"), false);
 * assert.equal(isValidNonce(`${createNonce()}=`), false);
 * ```
 */
export function isValidNonce(nonce: string): boolean {
  return NONCE_PATTERN.test(nonce);
}

/** Options for {@link computeProof} and {@link verifyProof}. */
export interface ProofOptions {
  /** The shared token, as text. */
  token: string;
  /** Which side the proof is for. */
  role: AuthRole;
  /** The server's nonce from AUTH_CHALLENGE. */
  serverNonce: string;
  /** The client's nonce from AUTH_RESPONSE. */
  clientNonce: string;
}

/**
 * Computes a proof of holding the token, base64url.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeProof, createNonce, verifyProof } from "./auth.ts";
 *
 * const options = {
 *   token: "correct horse battery staple",
 *   role: "client" as const,
 *   serverNonce: createNonce(),
 *   clientNonce: createNonce(),
 * };
 * const mac = await computeProof(options);
 * assert.ok(await verifyProof({ ...options, mac }));
 * // Bound to its role: the client's proof is no proof for the server.
 * assert.equal(await verifyProof({ ...options, role: "server", mac }), false);
 * assert.equal(await verifyProof({ ...options, token: "another token", mac }), false);
 * ```
 */
export async function computeProof(options: ProofOptions): Promise<string> {
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", await importToken(options.token), proofMessage(options)),
  );
  return encodeBase64url(mac);
}

/**
 * Checks a proof in constant time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeProof, createNonce, verifyProof } from "./auth.ts";
 *
 * const options = {
 *   token: "correct horse battery staple",
 *   role: "server" as const,
 *   serverNonce: createNonce(),
 *   clientNonce: createNonce(),
 * };
 * assert.equal(await verifyProof({ ...options, mac: await computeProof(options) }), true);
 * assert.equal(await verifyProof({ ...options, mac: "forged" }), false);
 * assert.equal(await verifyProof({ ...options, mac: "not base64url!" }), false);
 * ```
 */
export async function verifyProof(
  options: ProofOptions & { mac: string },
): Promise<boolean> {
  let mac: Uint8Array<ArrayBuffer>;
  try {
    mac = Uint8Array.fromBase64(options.mac, { alphabet: "base64url" });
  } catch (error) {
    // Not base64url: whatever it is, it is not a proof.
    if (error instanceof SyntaxError) return false;
    throw error;
  }
  // Only the one spelling computeProof gives (no padding, no stray bits) is a
  // proof; the check involves no secret, so it may take any time it likes.
  if (encodeBase64url(mac) !== options.mac) return false;
  // WebCrypto's HMAC verification compares in constant time (Deno does it
  // with ring), and unlike node:crypto's timingSafeEqual it costs the client
  // no Node compatibility layer at start-up.
  return await crypto.subtle.verify(
    "HMAC",
    await importToken(options.token),
    mac,
    proofMessage(options),
  );
}

/**
 * Most tokens whose imported keys are kept. A server proves and checks with
 * one token, a client with one per server it talks to: importing the key
 * once per token, not once per proof, takes an import off every handshake.
 */
const KEY_CACHE_SIZE = 8;

/** Imported HMAC keys by token, the least recently used first. */
const keys = new Map<string, Promise<CryptoKey>>();

function importToken(token: string): Promise<CryptoKey> {
  let key = keys.get(token);
  if (key !== undefined) {
    keys.delete(token);
  } else {
    key = crypto.subtle.importKey(
      "raw",
      encoder.encode(token),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    // A failed import is not kept: the next proof tries again.
    key.catch(() => {
      if (keys.get(token) === key) keys.delete(token);
    });
    if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value!);
  }
  keys.set(token, key);
  return key;
}

function proofMessage(options: ProofOptions): Uint8Array<ArrayBuffer> {
  return encoder.encode(
    `rexec-auth-v1\0${options.role}\0${options.serverNonce}\0${options.clientNonce}`,
  );
}
