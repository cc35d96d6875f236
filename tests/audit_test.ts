import assert from "node:assert/strict";
import { type AuditEvent, AuditLogError, openAuditLog } from "../lib/server/audit.ts";
import { AuditTrail } from "../lib/server/audit_trail.ts";
import type { LogRecord } from "../lib/util/log.ts";
import {
  connectTo,
  errorMentioning,
  exists,
  startServer,
  waitFor,
  withTempDir,
} from "./helpers.ts";

/** A sink that keeps records, and throws ENOSPC-like errors while `full` is set. */
function failingSink() {
  const records: AuditEvent[] = [];
  const sink = {
    full: false,
    records,
    write: (event: AuditEvent) => {
      if (sink.full) {
        throw new AuditLogError("cannot write the audit log x: No space left on device");
      }
      records.push(event);
    },
  };
  return sink;
}

function messages(logs: readonly LogRecord[], pattern: RegExp): LogRecord[] {
  return logs.filter((record) => pattern.test(record.message));
}

Deno.test("openAuditLog(): an audit log in a missing directory is an AuditLogError that says so, and creates nothing", async () => {
  await withTempDir(async (dir) => {
    assert.throws(
      () => openAuditLog(`${dir}/missing/audit.jsonl`),
      errorMentioning(
        AuditLogError,
        `${dir}/missing/audit.jsonl`,
        `the directory ${dir}/missing does not exist`,
      ),
    );
    assert.equal(await exists(`${dir}/missing`), false);
    assert.throws(() => openAuditLog(dir), errorMentioning(AuditLogError, dir, "is a directory"));
    await Deno.writeTextFile(`${dir}/file`, "");
    assert.throws(
      () => openAuditLog(`${dir}/file/audit.jsonl`),
      errorMentioning(AuditLogError, "not one"),
    );
  });
});

Deno.test("AuditLog.reopen() after a rename writes new records to a new file at the same path, mode 0600", async () => {
  await withTempDir(async (top) => {
    const dir = `${top}/logs`;
    await Deno.mkdir(dir);
    const path = `${dir}/audit.jsonl`;
    using audit = openAuditLog(path);
    audit.write({ event: "connect", session: 1, peer: "127.0.0.1:1" });
    await Deno.rename(path, `${path}.1`);
    audit.write({ event: "disconnect", session: 1, peer: "127.0.0.1:1" });
    audit.reopen();
    audit.write({ event: "connect", session: 2, peer: "127.0.0.1:2" });
    const read = async (file: string) =>
      (await Deno.readTextFile(file)).trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual((await read(`${path}.1`)).map((r) => `${r.event}:${r.session}`), [
      "connect:1",
      "disconnect:1",
    ]);
    assert.deepEqual((await read(path)).map((r) => `${r.event}:${r.session}`), ["connect:2"]);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);

    await Deno.remove(dir, { recursive: true });
    assert.throws(() => audit.reopen(), errorMentioning(AuditLogError, "does not exist"));
    assert.equal(await exists(dir), false);
  });
});

Deno.test("AuditTrail says once per run of failures that it cannot write, and when it can again", () => {
  const sink = failingSink();
  const logs: LogRecord[] = [];
  using trail = new AuditTrail({ sink: sink.write, logger: (record) => logs.push(record) });
  const record: AuditEvent = { event: "exec", session: 1, peer: "127.0.0.1:1" };
  assert.equal(trail.write(record), true);
  sink.full = true;
  for (let i = 0; i < 5; i++) assert.equal(trail.write(record), false);
  assert.equal(messages(logs, /cannot write the audit log/).length, 1);
  assert.equal(logs[0].level, "error");
  assert.match(logs[0].message, /refusing new commands/);
  assert.match(String(logs[0].fields?.error), /No space left/);
  sink.full = false;
  assert.equal(trail.write(record), true);
  assert.deepEqual(messages(logs, /can be written again/).map((r) => r.fields?.lost_records), [5]);
  sink.full = true;
  trail.write(record);
  assert.equal(messages(logs, /cannot write the audit log/).length, 2);
});

Deno.test("AuditTrail: records of unauthenticated connections are limited per address, and a summary counts the rest", () => {
  let now = 1_000_000;
  const sink = failingSink();
  using trail = new AuditTrail({
    sink: sink.write,
    preAuthRate: 2,
    preAuthBurst: 4,
    now: () => now,
  });
  const admitted = () => trail.admitPreAuth("192.0.2.1");
  assert.deepEqual([admitted(), admitted(), admitted(), admitted(), admitted()], [
    true,
    true,
    true,
    true,
    false,
  ]);
  assert.equal(trail.admitPreAuth("198.51.100.7"), true, "another address has its own allowance");
  now += 500;
  assert.deepEqual([admitted(), admitted()], [true, false]);
  trail.suppressed("192.0.2.1", ["connect", "auth", "disconnect"]);
  trail.suppressed("192.0.2.1", ["disconnect"]);
  trail.suppressed("198.51.100.7", []);
  assert.equal(sink.records.length, 0, "nothing is written before the summary");
  trail.flush();
  assert.deepEqual(sink.records, [{
    event: "suppressed",
    peer: "192.0.2.1",
    suppressed: 4,
    events: { connect: 1, auth: 1, disconnect: 2 },
    since: new Date(1_000_500).toISOString(),
  }]);
  trail.flush();
  assert.equal(sink.records.length, 1, "a summary is written once");
  // Records that are never limited: those of authenticated sessions.
  for (let i = 0; i < 100; i++) trail.write({ event: "exec", session: 1, peer: "192.0.2.1:1" });
  assert.equal(sink.records.length, 101);
});

Deno.test("AuditTrail tracks a bounded number of addresses and loses no count when it drops one", () => {
  const sink = failingSink();
  using trail = new AuditTrail({ sink: sink.write, preAuthBurst: 1, maxAddresses: 3 });
  for (let i = 0; i < 3; i++) {
    trail.admitPreAuth(`192.0.2.${i}`);
    trail.suppressed(`192.0.2.${i}`, ["connect"]);
  }
  trail.admitPreAuth("192.0.2.200");
  assert.deepEqual(sink.records.map((r) => [r.peer, r.suppressed]), [["192.0.2.0", 1]]);
  trail[Symbol.dispose]();
  assert.deepEqual(sink.records.map((r) => r.peer), [
    "192.0.2.0",
    "192.0.2.1",
    "192.0.2.2",
  ]);
});

Deno.test("serve() with audit: while the audit log cannot be written, commands are refused (125) and the server recovers when it can", async () => {
  const sink = failingSink();
  await using server = await startServer({ audit: sink.write });
  sink.full = true;
  {
    await using client = await connectTo(server);
    for (let i = 0; i < 3; i++) {
      const status = await client.spawn(["echo", "unaudited"]).status;
      assert.equal(status.code, 125);
      assert.equal(status.reason, "refused");
      assert.match(status.message ?? "", /cannot write its audit log/);
    }
    assert.equal(messages(server.logs, /cannot write the audit log/).length, 1);
    sink.full = false;
    const output = await client.spawn(["echo", "audited"]).output();
    assert.equal(output.code, 0);
  }
  assert.ok(await waitFor(() => sink.records.some((r) => r.event === "disconnect")));
  assert.equal(messages(server.logs, /can be written again/).length, 1);
  assert.deepEqual(sink.records.map((r) => r.event), ["exec", "exit", "disconnect"]);
  assert.deepEqual(sink.records[0].argv, ["echo", "audited"]);
});

Deno.test("serve() with auditFail open: commands run while the audit log cannot be written, and the log says so once", async () => {
  const sink = failingSink();
  await using server = await startServer({ audit: sink.write, auditFail: "open" });
  sink.full = true;
  await using client = await connectTo(server);
  for (let i = 0; i < 2; i++) {
    assert.equal((await client.spawn(["true"]).status).code, 0);
  }
  assert.deepEqual(
    messages(server.logs, /cannot write the audit log/).map((record) => record.message),
    ["cannot write the audit log: commands keep running, unaudited"],
  );
});

Deno.test("serve() with audit: a request refused for its size has an exec record (its size, not its content) before its exit record", async () => {
  const events: AuditEvent[] = [];
  await using server = await startServer({
    maxExecSize: 1024,
    audit: (event) => events.push(event),
  });
  {
    await using client = await connectTo(server);
    const status = await client.spawn(["echo", "x".repeat(4096)]).status;
    assert.equal(status.code, 125);
    assert.equal((await client.spawn(["true"]).status).code, 0);
  }
  assert.ok(await waitFor(() => events.some((e) => e.event === "disconnect")));
  const commands = events.filter((e) => e.event === "exec" || e.event === "exit");
  assert.deepEqual(commands.map((e) => e.event), ["exec", "exit", "exec", "exit"]);
  assert.equal(typeof commands[0].request_bytes, "number");
  assert.ok((commands[0].request_bytes as number) > 4096);
  assert.equal(commands[0].argv, undefined);
  assert.ok(!JSON.stringify(commands[0]).includes("xxxx"));
  assert.equal(commands[1].reason, "refused");
});

Deno.test("serve() with audit: a flood of unauthenticated connections from one address is summarised, and an authenticated session loses no record", async () => {
  const events: AuditEvent[] = [];
  const server = await startServer({ audit: (event) => events.push(event) });
  const flood = 60;
  for (let i = 0; i < flood; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    conn.close();
  }
  const closed = () =>
    server.logs.filter((record) => record.message === "connection closed").length;
  assert.ok(await waitFor(() => closed() === flood), `${closed()} of ${flood} sessions ended`);
  {
    await using client = await connectTo(server);
    assert.equal((await client.spawn(["true"]).status).code, 0);
  }
  await server.server.shutdown();

  const sessionOf = (event: AuditEvent) => event.session;
  const authenticated = events.find((e) => e.event === "auth" && e.result === "ok")!.session;
  assert.deepEqual(
    events.filter((e) => sessionOf(e) === authenticated).map((e) => e.event),
    ["connect", "auth", "exec", "exit", "disconnect"],
  );
  const summaries = events.filter((e) => e.event === "suppressed");
  assert.ok(summaries.length >= 1, "no summary record");
  const suppressed = (name: string) =>
    summaries.reduce((sum, e) => sum + ((e.events as Record<string, number>)[name] ?? 0), 0);
  assert.ok(suppressed("connect") + suppressed("disconnect") > 0, "nothing was suppressed");
  for (const name of ["connect", "disconnect"]) {
    const written = events.filter((e) =>
      e.event === name && e.session !== authenticated && e.session
    ).length;
    assert.equal(written + suppressed(name), flood, `${name}: every record written or counted`);
  }
  for (const summary of summaries) assert.equal(summary.peer, "127.0.0.1");
});
