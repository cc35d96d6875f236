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
 * @module
 */

import { timingSafeEqual } from "node:crypto";

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
 * import { createNonce, isValidNonce } from "./auth.ts";
 *
 * console.assert(isValidNonce(createNonce()));
 * ```
 */
export function createNonce(): string {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/**
 * Whether `nonce` has the form {@link createNonce} produces. Peers must
 * refuse anything else so that a proof cannot be computed over, say, an
 * empty challenge.
 *
 * @example
 * ```ts
 * import { isValidNonce } from "./auth.ts";
 *
 * console.assert(!isValidNonce(""));
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
 * import { computeProof, createNonce, verifyProof } from "./auth.ts";
 *
 * const options = {
 *   token: "correct horse battery staple",
 *   role: "client" as const,
 *   serverNonce: createNonce(),
 *   clientNonce: createNonce(),
 * };
 * const mac = await computeProof(options);
 * console.assert(await verifyProof({ ...options, mac }));
 * ```
 */
export async function computeProof(options: ProofOptions): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(options.token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const message = encoder.encode(
    `rexec-auth-v1\0${options.role}\0${options.serverNonce}\0${options.clientNonce}`,
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
  return mac.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * Checks a proof in constant time.
 *
 * @example
 * ```ts
 * import { createNonce, verifyProof } from "./auth.ts";
 *
 * const ok = await verifyProof({
 *   token: "t",
 *   role: "server",
 *   serverNonce: createNonce(),
 *   clientNonce: createNonce(),
 *   mac: "forged",
 * });
 * console.assert(!ok);
 * ```
 */
export async function verifyProof(
  options: ProofOptions & { mac: string },
): Promise<boolean> {
  const expected = encoder.encode(await computeProof(options));
  const actual = encoder.encode(options.mac);
  // Comparing equal-length buffers keeps the time independent of the content;
  // the length of a well-formed proof is public anyway.
  if (actual.length !== expected.length) return false;
  return timingSafeEqual(actual, expected);
}
