import assert from "node:assert/strict";
import { computeProof, createNonce, isValidNonce, verifyProof } from "../lib/auth.ts";

const base = {
  token: "the-shared-token-0123456789",
  role: "client" as const,
  serverNonce: createNonce(),
  clientNonce: createNonce(),
};

Deno.test("a proof made with the token verifies", async () => {
  const mac = await computeProof(base);
  assert.ok(await verifyProof({ ...base, mac }));
});

Deno.test("a proof does not verify with another token, role or nonce, or when tampered with", async () => {
  const mac = await computeProof(base);
  assert.equal(await verifyProof({ ...base, token: "another-token-0123456789", mac }), false);
  assert.equal(await verifyProof({ ...base, role: "server", mac }), false);
  assert.equal(await verifyProof({ ...base, serverNonce: createNonce(), mac }), false);
  assert.equal(
    await verifyProof({
      ...base,
      serverNonce: base.clientNonce,
      clientNonce: base.serverNonce,
      mac,
    }),
    false,
  );
  const tampered = (mac[0] === "A" ? "B" : "A") + mac.slice(1);
  assert.equal(await verifyProof({ ...base, mac: tampered }), false);
  assert.equal(await verifyProof({ ...base, mac: "" }), false);
  assert.equal(await verifyProof({ ...base, mac: mac + "A" }), false);
});

Deno.test("the client's and the server's proofs differ, so one cannot stand in for the other", async () => {
  assert.notEqual(await computeProof(base), await computeProof({ ...base, role: "server" }));
});

Deno.test("nonces are fresh and well-formed, and malformed ones are recognised", () => {
  const nonces = new Set(Array.from({ length: 100 }, createNonce));
  assert.equal(nonces.size, 100);
  for (const nonce of nonces) assert.ok(isValidNonce(nonce));
  for (
    const bad of ["", "short", "A".repeat(42), "A".repeat(44), "A".repeat(42) + "=", "+".repeat(43)]
  ) {
    assert.equal(isValidNonce(bad), false, bad);
  }
});
