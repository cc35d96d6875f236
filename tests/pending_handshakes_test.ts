import assert from "node:assert/strict";
import { PendingHandshakes } from "../lib/server/pending_handshakes.ts";

Deno.test("PendingHandshakes.add(): an address at its cap makes room with its own oldest handshake, not another's", () => {
  const pending = new PendingHandshakes<string>({ max: 100, maxPerSource: 3 });
  assert.equal(pending.add("other", "198.51.100.7"), undefined);
  for (const name of ["a1", "a2", "a3"]) assert.equal(pending.add(name, "192.0.2.1"), undefined);
  assert.deepEqual(pending.add("a4", "192.0.2.1"), { evicted: "a1", cap: "source" });
  assert.deepEqual(pending.add("a5", "192.0.2.1"), { evicted: "a2", cap: "source" });
  assert.equal(pending.from("192.0.2.1"), 3);
  assert.ok(pending.has("other"));
});

Deno.test("PendingHandshakes.add(): at the total cap the oldest handshake of all makes room", () => {
  const pending = new PendingHandshakes<string>({ max: 3, maxPerSource: 3 });
  pending.add("a", "192.0.2.1");
  pending.add("b", "192.0.2.2");
  pending.add("c", "192.0.2.3");
  assert.deepEqual(pending.add("d", "192.0.2.4"), { evicted: "a", cap: "total" });
  assert.equal(pending.size, 3);
  assert.equal(pending.from("192.0.2.1"), 0);
});

Deno.test("PendingHandshakes: a handshake that finished frees its place and is never evicted", () => {
  const pending = new PendingHandshakes<string>({ max: 2, maxPerSource: 2 });
  pending.add("a", "192.0.2.1");
  pending.add("b", "192.0.2.1");
  assert.ok(pending.delete("a"));
  assert.ok(!pending.delete("a"));
  assert.equal(pending.add("c", "192.0.2.1"), undefined);
  assert.deepEqual(pending.add("d", "192.0.2.1"), { evicted: "b", cap: "source" });
});

Deno.test("PendingHandshakes: caps must be whole numbers of at least 1", () => {
  assert.throws(() => new PendingHandshakes({ max: 0, maxPerSource: 1 }), RangeError);
  assert.throws(() => new PendingHandshakes({ max: 1, maxPerSource: 1.5 }), RangeError);
});
