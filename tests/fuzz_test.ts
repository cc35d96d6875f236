/**
 * A bounded run of the protocol fuzzer in tests/fuzz.ts, for CI: a fixed
 * seed and 300 connections, a few seconds. Replay it, or any iteration of it,
 * with `deno run -A --v8-flags=--expose-gc tests/fuzz.ts --seed 20250601
 * --iterations 300 [--replay N --trace]`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatReport, runFuzz, summaryLine } from "./fuzz.ts";

Deno.test("serve() under the fuzzer: 300 hostile connections leave the server serving, with no process, descriptor or memory leaked", async () => {
  const report = await runFuzz({
    iterations: 300,
    seed: 20250601,
    checkpoints: 2,
  });
  console.log(summaryLine(report));
  if (!report.ok) console.log(formatReport(report));
  assert.equal(report.iterations, 300);
  assert.ok(report.expectationsChecked > 100, "too few protocol expectations were checked");
  assert.deepEqual(report.checks, {
    sessions: true,
    goodClient: true,
    children: true,
    fds: true,
    heap: report.memory.gc ? true : null,
    unhandled: true,
    serverErrors: true,
    expectations: true,
    serverFrames: true,
    harness: true,
  });
});
