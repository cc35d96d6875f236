/**
 * The codes rexec gives, each written once: the ERROR codes against
 * docs/PROTOCOL.md, and a code from a newer peer carried through rather
 * than refused.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect } from "../lib/client/client.ts";
import { RemoteError } from "../lib/errors.ts";
import { ErrorCode, isErrorCode } from "../lib/protocol/error_code.ts";
import { DEFAULT_MAX_FRAME_SIZE, FrameType } from "../lib/protocol/frame.ts";
import {
  decodeErrorReport,
  encodeHello,
  encodeJson,
  PROTOCOL_VERSION,
} from "../lib/protocol/messages.ts";
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
    await writer.write(
      FrameType.Hello,
      encodeHello({
        version: PROTOCOL_VERSION,
        maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
        agent: "a newer rexec",
        stdinWindow: 65536,
      }),
    );
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
