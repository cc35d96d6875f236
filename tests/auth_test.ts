import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import {
  type AuthRole,
  computeProof,
  createNonce,
  isValidNonce,
  NONCE_BYTES,
  verifyProof,
} from "../lib/protocol/auth.ts";

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const nonceArbitrary = fc.string({
  unit: fc.constantFrom(...BASE64URL),
  minLength: 43,
  maxLength: 43,
});
const proofOptions = fc.record({
  token: fc.string({ unit: "grapheme", minLength: 1, maxLength: 32 }),
  role: fc.constantFrom<AuthRole>("client", "server"),
  serverNonce: nonceArbitrary,
  clientNonce: nonceArbitrary,
});

Deno.test("computeProof(): a proof is the HMAC-SHA-256 of the role and both nonces that PROTOCOL.md specifies", async () => {
  await fc.assert(
    fc.asyncProperty(proofOptions, async (options) => {
      const expected = createHmac("sha256", options.token)
        .update(`rexec-auth-v1\0${options.role}\0${options.serverNonce}\0${options.clientNonce}`)
        .digest("base64url");
      assert.equal(await computeProof(options), expected);
    }),
    { numRuns: 50 },
  );
});

Deno.test("verifyProof(): a proof made with the right token verifies", async () => {
  await fc.assert(
    fc.asyncProperty(proofOptions, async (options) => {
      assert.equal(await verifyProof({ ...options, mac: await computeProof(options) }), true);
    }),
    { numRuns: 50 },
  );
});

Deno.test("verifyProof(): a proof does not verify with another token, the other role or swapped nonces", async () => {
  await fc.assert(
    fc.asyncProperty(
      proofOptions,
      fc.string({ minLength: 1, maxLength: 64 }),
      async (options, other) => {
        fc.pre(other !== options.token && options.serverNonce !== options.clientNonce);
        const mac = await computeProof(options);
        const otherRole: AuthRole = options.role === "client" ? "server" : "client";
        assert.equal(await verifyProof({ ...options, token: other, mac }), false);
        assert.equal(await verifyProof({ ...options, role: otherRole, mac }), false);
        assert.equal(
          await verifyProof({
            ...options,
            serverNonce: options.clientNonce,
            clientNonce: options.serverNonce,
            mac,
          }),
          false,
        );
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("verifyProof(): a tampered, truncated or extended proof does not verify", async () => {
  await fc.assert(
    fc.asyncProperty(
      proofOptions,
      fc.nat(),
      fc.constantFrom(...BASE64URL),
      async (options, position, replacement) => {
        const mac = await computeProof(options);
        const at = position % mac.length;
        fc.pre(mac[at] !== replacement);
        const tampered = mac.slice(0, at) + replacement + mac.slice(at + 1);
        assert.equal(await verifyProof({ ...options, mac: tampered }), false);
        assert.equal(await verifyProof({ ...options, mac: mac.slice(0, at) }), false);
        assert.equal(await verifyProof({ ...options, mac: mac + replacement }), false);
        assert.equal(await verifyProof({ ...options, mac: `${mac}=` }), false);
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("createNonce() gives distinct 32-byte base64url nonces that isValidNonce() accepts", () => {
  const nonces = new Set(Array.from({ length: 1000 }, createNonce));
  assert.equal(nonces.size, 1000);
  for (const nonce of nonces) {
    assert.ok(isValidNonce(nonce), nonce);
    assert.equal(Uint8Array.fromBase64(nonce, { alphabet: "base64url" }).length, NONCE_BYTES);
  }
});

Deno.test("isValidNonce() accepts exactly 43 base64url characters", () => {
  fc.assert(fc.property(nonceArbitrary, (nonce) => assert.ok(isValidNonce(nonce))));
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength: 100 }).filter((s) =>
        s.length !== 43
      ),
      (nonce) => assert.equal(isValidNonce(nonce), false),
    ),
  );
  fc.assert(
    fc.property(
      nonceArbitrary,
      fc.nat({ max: 42 }),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) =>
        !BASE64URL.includes(c)
      ),
      (nonce, at, bad) => {
        assert.equal(isValidNonce(nonce.slice(0, at) + bad + nonce.slice(at + 1)), false);
      },
    ),
  );
  const valid = createNonce();
  for (
    const bad of [
      "",
      `${valid}\n`,
      ` ${valid.slice(1)}`,
      `${valid.slice(0, 42)}=`,
      "+".repeat(43),
      "/".repeat(43),
    ]
  ) {
    assert.equal(isValidNonce(bad), false, JSON.stringify(bad));
  }
});

Deno.test("proofs stay right while more tokens are used in turn than keys are kept", async () => {
  const tokens = Array.from({ length: 20 }, (_, index) => `token-${index}-${"x".repeat(index)}`);
  for (let pass = 0; pass < 2; pass++) {
    for (const [index, token] of tokens.entries()) {
      const options = {
        token,
        role: "client" as const,
        serverNonce: createNonce(),
        clientNonce: createNonce(),
      };
      const mac = await computeProof(options);
      const expected = createHmac("sha256", token)
        .update(`rexec-auth-v1\0client\0${options.serverNonce}\0${options.clientNonce}`)
        .digest("base64url");
      assert.equal(mac, expected);
      assert.ok(await verifyProof({ ...options, mac }));
      const other = tokens[(index + 1) % tokens.length];
      assert.ok(!(await verifyProof({ ...options, token: other, mac })));
    }
  }
});
