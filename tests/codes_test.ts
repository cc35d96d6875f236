/**
 * The codes rexec gives, each written once: the ERROR codes against
 * docs/PROTOCOL.md, the exit statuses against `--help` and README, and a
 * code from a newer peer carried through rather than refused.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EXIT_STATUS_TABLE, helpText } from "../lib/cli/help.ts";
import { connect } from "../lib/client/client.ts";
import { RemoteError } from "../lib/errors.ts";
import { ErrorCode, isErrorCode } from "../lib/protocol/error_code.ts";
import * as exitStatus from "../lib/protocol/exit_status.ts";
import { DEFAULT_MAX_FRAME_SIZE, FrameType } from "../lib/protocol/frame.ts";
import { decodeErrorReport, encodeJson } from "../lib/protocol/messages.ts";
import { FrameReader } from "../lib/transport/frame_reader.ts";
import { FrameWriter } from "../lib/transport/frame_writer.ts";
import { TOKEN } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url);

/** The rows of the first Markdown table after `heading`: the cells of each, trimmed. */
async function tableAfter(file: string, heading: RegExp): Promise<string[][]> {
  const lines = (await Deno.readTextFile(new URL(file, ROOT))).split("\n");
  const start = lines.findIndex((line) => heading.test(line));
  assert.notEqual(start, -1, `${file} has no heading ${heading}`);
  const first = lines.findIndex((line, index) => index > start && line.startsWith("|"));
  const rows: string[][] = [];
  for (let index = first + 2; lines[index]?.startsWith("|"); index++) {
    rows.push(lines[index].split("|").slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

/**
 * The statuses rexec reports beside the command's own, from the constants:
 * signals as `128+N`; the largest status there is is a bound, not one.
 */
function statusesFromConstants(): Set<string> {
  const statuses = new Set<string>();
  for (const [name, value] of Object.entries(exitStatus)) {
    if (typeof value !== "number" || name === "EXIT_STATUS_MAX") continue;
    statuses.add(name === "EXIT_SIGNAL_BASE" ? `${value}+N` : `${value}`);
  }
  return statuses;
}

/** The statuses in the exit-status table of a help text. */
function statusesInHelp(text: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => /^Exit status/.test(line));
  assert.notEqual(start, -1, "the help has no exit-status table");
  const statuses: string[] = [];
  for (let index = start + 1; /^ {2}\S/.test(lines[index] ?? ""); index++) {
    statuses.push(lines[index].trim().split(/\s+/)[0]);
  }
  return statuses;
}

Deno.test("ErrorCode: docs/PROTOCOL.md's table lists exactly the codes rexec sends", async () => {
  const documented = (await tableAfter("docs/PROTOCOL.md", /^#+ ERROR codes/)).map(([code]) =>
    code.replace(/^`(.*)`$/, "$1")
  );
  assert.equal(new Set(documented).size, documented.length, "a code is listed twice");
  assert.deepEqual(documented.toSorted(), Object.values(ErrorCode).toSorted());
});

Deno.test("ErrorCode: isErrorCode knows every code and nothing else", () => {
  for (const code of Object.values(ErrorCode)) assert.ok(isErrorCode(code), code);
  for (const code of ["", "AUTH_FAILED", "auth_failed ", "toString", "from_a_newer_release"]) {
    assert.equal(isErrorCode(code), false, code);
  }
});

Deno.test("decodeErrorReport() keeps a code this release does not know, as it came", () => {
  const report = decodeErrorReport(
    encodeJson({ code: "from_a_newer_release" as ErrorCode, message: "moving house" }),
  );
  assert.deepEqual(report, { code: "from_a_newer_release", message: "moving house" });
  assert.equal(isErrorCode(report.code), false);
});

Deno.test("connect() rejects with a RemoteError carrying a code this release does not know", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    using conn = await listener.accept();
    const reader = new FrameReader(conn.readable, { maxFrameSize: DEFAULT_MAX_FRAME_SIZE });
    const writer = new FrameWriter(conn);
    assert.equal((await reader.read())?.type, FrameType.Hello);
    // Instead of its HELLO, as a server turning a client away does.
    await writer.write(
      FrameType.Error,
      encodeJson({ code: "from_a_newer_release" as ErrorCode, message: "moving house" }),
    );
    assert.equal(await reader.read(), null);
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  await assert.rejects(connect({ hostname: "127.0.0.1", port, token: TOKEN }), (error) => {
    assert.ok(error instanceof RemoteError, String(error));
    assert.equal(error.code, "from_a_newer_release");
    assert.equal(error.message, `127.0.0.1:${port}: moving house`);
    return true;
  });
  await served;
});

Deno.test("helpText(): the exit-status table lists exactly the statuses of exit_status.ts", () => {
  const expected = statusesFromConstants();
  assert.deepEqual(new Set(EXIT_STATUS_TABLE.map(([status]) => status)), expected);
  for (const topic of [undefined, "run"] as const) {
    const shown = statusesInHelp(helpText(topic));
    assert.equal(new Set(shown).size, shown.length, `${topic ?? "overview"}: a status twice`);
    assert.deepEqual(new Set(shown), expected, `${topic ?? "overview"} help`);
  }
});

Deno.test("README: the exit-status table lists the statuses --help shows", async () => {
  const rows = await tableAfter("README.md", /^#+ Exit status/);
  const statuses = rows.map(([status]) => status).filter((status) => !status.startsWith("0"));
  assert.equal(new Set(statuses).size, statuses.length, "a status is listed twice");
  assert.deepEqual(new Set(statuses), statusesFromConstants());
});
