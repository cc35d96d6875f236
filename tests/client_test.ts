import assert from "node:assert/strict";
import { computeProof, createNonce } from "../lib/protocol/auth.ts";
import { connect } from "../lib/client/client.ts";
import { ConnectionError, ProtocolError } from "../lib/errors.ts";
import { DEFAULT_MAX_FRAME_SIZE, FrameType } from "../lib/protocol/frame.ts";
import { FrameReader } from "../lib/transport/frame_reader.ts";
import { FrameWriter } from "../lib/transport/frame_writer.ts";
import {
  decodeAuthResponse,
  decodeErrorReport,
  encodeHello,
  encodeJson,
  PROTOCOL_VERSION,
} from "../lib/protocol/messages.ts";
import { TOKEN } from "./helpers.ts";

/**
 * A server that authenticates the client properly, then runs `misbehave`
 * on the connection: the client's side of a protocol violation.
 */
async function withMisbehavingServer(
  misbehave: (io: { reader: FrameReader; writer: FrameWriter }) => Promise<void>,
  test: (port: number) => Promise<void>,
): Promise<void> {
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
        agent: "fake",
        stdinWindow: 65536,
      }),
    );
    const serverNonce = createNonce();
    await writer.write(FrameType.AuthChallenge, encodeJson({ nonce: serverNonce }));
    const response = decodeAuthResponse((await reader.read())!.body);
    const proof = { token: TOKEN, serverNonce, clientNonce: response.nonce };
    await writer.write(
      FrameType.AuthOk,
      encodeJson({ mac: await computeProof({ ...proof, role: "server" }) }),
    );
    await misbehave({ reader, writer });
  })();
  await test(listener.addr.port);
  await served;
}

Deno.test("Client, sent a frame that breaks the protocol, tells the server why before hanging up", async () => {
  await withMisbehavingServer(async ({ reader, writer }) => {
    await writer.write(FrameType.Stdout, new TextEncoder().encode("unasked"));
    const farewell = await reader.read();
    assert.equal(farewell?.type, FrameType.Error);
    const report = decodeErrorReport(farewell!.body);
    assert.equal(report.code, "protocol_error");
    assert.match(report.message, /STDOUT frame with no command running/);
    assert.equal(await reader.read(), null);
  }, async (port) => {
    const client = await connect({ hostname: "127.0.0.1", port, token: TOKEN });
    await client.closed;
    assert.throws(() => client.spawn(["true"]), ProtocolError);
  });
});

Deno.test("Client, sent a COPY frame before any file operation, names it a protocol error", async () => {
  // The client loads its file transfer code with the first operation; the
  // frames of one that never started are still told apart from a running one's.
  for (const type of [FrameType.CopyInfo, FrameType.CopyData, FrameType.CopyResult]) {
    await withMisbehavingServer(async ({ reader, writer }) => {
      await writer.write(type, new TextEncoder().encode("{}"));
      const farewell = await reader.read();
      assert.equal(farewell?.type, FrameType.Error);
      const report = decodeErrorReport(farewell!.body);
      assert.equal(report.code, "protocol_error");
      assert.match(report.message, /^COPY_[A-Z]+ frame with no file operation running$/);
    }, async (port) => {
      const client = await connect({ hostname: "127.0.0.1", port, token: TOKEN });
      await client.closed;
      assert.throws(() => client.spawn(["true"]), ProtocolError);
    });
  }
});

Deno.test("Client: a server that falls silent right after the handshake is given up by the keepalive", async () => {
  let pings = 0;
  await withMisbehavingServer(async ({ reader }) => {
    // Reads what the client sends, answers nothing, until the client hangs up.
    for (let frame = await reader.read(); frame !== null; frame = await reader.read()) {
      if (frame.type === FrameType.Ping) pings++;
    }
  }, async (port) => {
    const client = await connect({ hostname: "127.0.0.1", port, token: TOKEN, keepalive: 0.1 });
    // Fails instead of hanging when silence goes unnoticed; given up after
    // four intervals of 0.1 s, far within this.
    const deadline = AbortSignal.timeout(30_000);
    await Promise.race([
      client.closed,
      new Promise((_, reject) =>
        deadline.addEventListener("abort", () => reject(new Error("silence never noticed")))
      ),
    ]);
    assert.throws(
      () => client.spawn(["true"]),
      (error: Error) =>
        error instanceof ConnectionError && /no word from the server/.test(error.message),
    );
  });
  assert.ok(pings >= 1, "the client pinged before giving up");
});
