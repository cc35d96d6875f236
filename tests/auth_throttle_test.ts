import assert from "node:assert/strict";
import { AuthThrottle } from "../lib/auth_throttle.ts";

function withClock(options: ConstructorParameters<typeof AuthThrottle>[0] = {}) {
  const clock = { now: 1_000_000 };
  const throttle = new AuthThrottle({ ...options, now: () => clock.now });
  return { clock, throttle };
}

Deno.test("an address with no failures never waits", () => {
  const { throttle } = withClock();
  for (let i = 0; i < 100; i++) assert.equal(throttle.reserve("192.0.2.1"), 0);
});

Deno.test("each failure doubles the spacing of the failing address's attempts, up to the cap", () => {
  const { throttle } = withClock({ baseDelayMs: 100, maxDelayMs: 1000 });
  const spacings: number[] = [];
  for (let i = 0; i < 6; i++) {
    throttle.failed("192.0.2.1");
    const first = throttle.reserve("192.0.2.1")!;
    const second = throttle.reserve("192.0.2.1")!;
    spacings.push(second - first);
  }
  assert.deepEqual(spacings, [100, 200, 400, 800, 1000, 1000]);
});

Deno.test("parallel attempts from a failing address queue one behind another", () => {
  const { throttle } = withClock({ baseDelayMs: 100 });
  throttle.failed("192.0.2.1");
  const waits = [1, 2, 3, 4].map(() => throttle.reserve("192.0.2.1"));
  assert.deepEqual(waits, [100, 200, 300, 400]);
});

Deno.test("other addresses are not slowed by one that fails", () => {
  const { throttle } = withClock();
  for (let i = 0; i < 50; i++) throttle.failed("192.0.2.1");
  assert.equal(throttle.reserve("198.51.100.7"), 0);
  assert.equal(throttle.reserve("::1"), 0);
});

Deno.test("a wait longer than allowed is refused without claiming an attempt", () => {
  const { throttle } = withClock({ baseDelayMs: 100 });
  for (let i = 0; i < 5; i++) throttle.failed("192.0.2.1");
  const wait = throttle.reserve("192.0.2.1")!;
  assert.equal(throttle.reserve("192.0.2.1", wait), null);
  assert.equal(throttle.reserve("192.0.2.1", wait), null);
});

Deno.test("success and time both forget an address's failures", () => {
  const { clock, throttle } = withClock({ forgetAfterMs: 60_000 });
  throttle.failed("192.0.2.1");
  throttle.succeeded("192.0.2.1");
  assert.equal(throttle.reserve("192.0.2.1"), 0);
  throttle.failed("192.0.2.2");
  clock.now += 60_000;
  assert.equal(throttle.reserve("192.0.2.2"), 0);
  assert.equal(throttle.size, 0);
});

Deno.test("memory is bounded: the stalest addresses are dropped first", () => {
  const { clock, throttle } = withClock({ maxAddresses: 3 });
  for (const address of ["a", "b", "c", "d"]) {
    throttle.failed(address);
    clock.now += 1;
  }
  assert.equal(throttle.size, 3);
  assert.equal(throttle.reserve("a"), 0);
  assert.ok(throttle.reserve("d")! > 0);
});
