import assert from "node:assert/strict";
import {
  AuthThrottle,
  type AuthThrottleOptions,
  type ProofCheck,
  type ThrottleClock,
} from "../lib/server/auth_throttle.ts";

/** A clock that moves only when told to, running the timers that fall due. */
class FakeClock implements ThrottleClock {
  #now = 1_000_000;
  #timers: { at: number; callback: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, ms: number): () => void {
    const timer = { at: this.#now + ms, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Moves time on by `ms`, running each timer that falls due, then lets promises settle. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      const next = this.#timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#now = next.at;
      this.#timers = this.#timers.filter((t) => t !== next);
      next.callback();
      await flush();
    }
    this.#now = until;
    await flush();
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function withClock(options: AuthThrottleOptions = {}) {
  const clock = new FakeClock();
  const throttle = new AuthThrottle({ ...options, clock });
  return { clock, throttle };
}

/** Admits and fails one proof from `address`; returns the hold on its answer. */
async function fail(throttle: AuthThrottle, address: string): Promise<number> {
  using check = await throttle.admit(address);
  return check.failed();
}

/** Whether `promise` has settled, without waiting for it. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await flush();
  return done;
}

Deno.test("AuthThrottle.admit(): a right proof is admitted at once and leaves nothing behind", async () => {
  const { throttle } = withClock();
  for (let i = 0; i < 100; i++) {
    using check = await throttle.admit("192.0.2.1");
    check.passed();
  }
  assert.equal(throttle.size, 0);
});

Deno.test("AuthThrottle.admit(): the answer to each wrong proof is held longer, doubling up to the cap, one after another", async () => {
  const { clock, throttle } = withClock({ baseDelayMs: 100, maxDelayMs: 1000 });
  const holds: number[] = [];
  for (let i = 0; i < 6; i++) {
    holds.push(await fail(throttle, "192.0.2.1"));
    // Each answer goes out before the next proof arrives.
    await clock.advance(holds.at(-1)!);
  }
  assert.deepEqual(holds, [100, 200, 400, 800, 1000, 1000]);
});

Deno.test("AuthThrottle.admit(): wrong proofs checked together are answered one after another, not all at once", async () => {
  const { throttle } = withClock({ baseDelayMs: 100, maxDelayMs: 100, maxHeld: 4 });
  const holds = [];
  for (let i = 0; i < 4; i++) holds.push(await fail(throttle, "192.0.2.1"));
  assert.deepEqual(holds, [100, 200, 300, 400]);
});

Deno.test("AuthThrottle.admit(): a right proof is checked at once after others from its address failed, and failures stay", async () => {
  const { throttle } = withClock({ baseDelayMs: 5000, maxHeld: 8 });
  for (let i = 0; i < 7; i++) await fail(throttle, "192.0.2.1");
  const right = throttle.admit("192.0.2.1");
  assert.ok(await settled(right), "the right proof waited");
  (await right).passed();
  // The success wiped nothing: the next wrong proof is held longer still.
  assert.equal(throttle.failures("192.0.2.1"), 7);
  assert.equal(throttle.held("192.0.2.1"), 7);
});

Deno.test("AuthThrottle.admit(): however many proofs arrive at once, only maxHeld are checked before an answer goes out", async () => {
  const { clock, throttle } = withClock({ baseDelayMs: 100, maxDelayMs: 100, maxHeld: 4 });
  const admitted: ProofCheck[] = [];
  let total = 0;
  for (let i = 0; i < 150; i++) {
    throttle.admit("192.0.2.1").then((check) => {
      admitted.push(check);
      total++;
    });
  }
  await flush();
  assert.equal(admitted.length, 4);
  for (const check of admitted.splice(0)) check.failed();
  await flush();
  assert.equal(admitted.length, 0, "held answers keep their places");
  // One place frees per delay: 150 guesses cannot be tested faster than that.
  await clock.advance(100);
  assert.equal(admitted.length, 1);
  admitted.shift()!.failed();
  await clock.advance(100);
  assert.equal(admitted.length, 1);
  admitted.shift()!.failed();
  await clock.advance(1000);
  // Four more answers went out, and with them four more places.
  assert.equal(admitted.length, 4);
  // Right proofs give their places back at once: the rest are checked without waiting.
  while (admitted.length > 0) {
    admitted.shift()!.passed();
    await flush();
  }
  assert.equal(total, 150);
  assert.equal(throttle.waiting("192.0.2.1"), 0);
});

Deno.test("AuthThrottle.admit(): when a place frees, the newest waiting proof is checked first", async () => {
  const { clock, throttle } = withClock({ baseDelayMs: 1000, maxDelayMs: 1000, maxHeld: 1 });
  await fail(throttle, "192.0.2.1");
  const queued = Array.from({ length: 5 }, () => throttle.admit("192.0.2.1"));
  const newest = throttle.admit("192.0.2.1");
  await clock.advance(1000);
  assert.ok(await settled(newest));
  for (const admission of queued) assert.ok(!(await settled(admission)));
  (await newest).passed();
  for (const admission of queued.toReversed()) (await admission).passed();
});

Deno.test("AuthThrottle.admit(): a place stays held until its answer's time, even if the proof's connection left", async () => {
  const { clock, throttle } = withClock({ baseDelayMs: 1000, maxDelayMs: 1000, maxHeld: 1 });
  await fail(throttle, "192.0.2.1");
  const next = throttle.admit("192.0.2.1");
  await clock.advance(999);
  assert.ok(!(await settled(next)));
  await clock.advance(1);
  assert.ok(await settled(next));
  (await next).passed();
});

Deno.test("AuthThrottle.admit(): a waiting proof whose connection ends gives up its turn", async () => {
  const { clock, throttle } = withClock({ baseDelayMs: 1000, maxDelayMs: 1000, maxHeld: 1 });
  await fail(throttle, "192.0.2.1");
  const gone = new AbortController();
  const abandoned = throttle.admit("192.0.2.1", gone.signal);
  const next = throttle.admit("192.0.2.1");
  gone.abort(new Error("connection closed"));
  await assert.rejects(abandoned, /connection closed/);
  assert.equal(throttle.waiting("192.0.2.1"), 1);
  await clock.advance(1000);
  assert.ok(await settled(next));
  (await next).passed();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("AuthThrottle.admit(): an undecided check gives its place back when disposed", async () => {
  const { throttle } = withClock({ maxHeld: 1 });
  {
    using _check = await throttle.admit("192.0.2.1");
  }
  const next = throttle.admit("192.0.2.1");
  assert.ok(await settled(next));
  (await next).passed();
  assert.equal(throttle.size, 0);
});

Deno.test("AuthThrottle.admit(): other addresses are not slowed by one that fails", async () => {
  const { throttle } = withClock({ maxHeld: 2 });
  for (let i = 0; i < 2; i++) await fail(throttle, "192.0.2.1");
  assert.ok(!(await settled(throttle.admit("192.0.2.1"))));
  for (const address of ["198.51.100.7", "::1"]) {
    const admission = throttle.admit(address);
    assert.ok(await settled(admission));
    (await admission).passed();
  }
});

Deno.test("AuthThrottle forgets an address's failures in time", async () => {
  const { clock, throttle } = withClock({ forgetAfterMs: 60_000, baseDelayMs: 100 });
  await fail(throttle, "192.0.2.1");
  await fail(throttle, "192.0.2.1");
  await clock.advance(60_000);
  assert.equal(throttle.failures("192.0.2.1"), 0);
  assert.equal(await fail(throttle, "192.0.2.1"), 100);
  await clock.advance(60_000);
  using check = await throttle.admit("192.0.2.1");
  check.passed();
  assert.equal(throttle.size, 0);
});

Deno.test("AuthThrottle: memory is bounded: the stalest addresses are dropped first", async () => {
  const { clock, throttle } = withClock({ maxAddresses: 3 });
  for (const address of ["a", "b", "c", "d"]) {
    await fail(throttle, address);
    await clock.advance(1);
  }
  assert.equal(throttle.size, 3);
  assert.equal(throttle.failures("a"), 0);
  assert.equal(throttle.failures("d"), 1);
});
