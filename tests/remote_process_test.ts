import assert from "node:assert/strict";
import { FrameType } from "../lib/protocol/frame.ts";
import type { FrameWriter } from "../lib/transport/frame_writer.ts";
import { connect } from "../lib/client/client.ts";
import { CommandChannel } from "../lib/client/remote_process.ts";
import { TOKEN, turn } from "./helpers.ts";

function channel(options: { outputBuffer?: number } = {}): CommandChannel {
  const host = {
    writer: { write: () => Promise.resolve() } as unknown as FrameWriter,
    maxFrameSize: 1 << 20,
    stdinWindow: 0,
    ...options,
    onWriteFailed: () => {},
  };
  return new CommandChannel(host, { argv: ["x"] }, {});
}

Deno.test("CommandChannel: output that reached the client before the connection failed is read before the error", async () => {
  const command = channel();
  for (let i = 1; i <= 3; i++) {
    await command.deliver(FrameType.Stdout, new Uint8Array(200_000).fill(i));
  }
  const lost = new Error("connection lost");
  command.fail(lost);
  const reader = command.process.stdout.getReader();
  let received = 0;
  await assert.rejects(async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      received += value.length;
    }
  }, (error) => error === lost);
  assert.equal(received, 600_000);
  await assert.rejects(command.process.status);
});

Deno.test("CommandChannel.deliver() copies a body: the caller may reuse its buffer at once", async () => {
  const command = channel();
  const body = new Uint8Array([1, 2, 3]);
  await command.deliver(FrameType.Stderr, body);
  body.fill(9);
  command.finish({ code: 0, signal: null });
  assert.deepEqual(
    new Uint8Array(await new Response(command.process.stderr).arrayBuffer()),
    new Uint8Array([1, 2, 3]),
  );
});

Deno.test("CommandChannel: outputBuffer (ConnectOptions.bufferSize) is how much output the client holds before it stops taking more", async () => {
  const command = channel({ outputBuffer: 64 * 1024 });
  await command.deliver(FrameType.Stdout, new Uint8Array(40_000));
  let settled = false;
  const second = command.deliver(FrameType.Stdout, new Uint8Array(40_000))
    .finally(() => settled = true);
  await turn();
  assert.equal(settled, false, "80 000 bytes held: the connection waits");
  const reader = command.process.stdout.getReader();
  let received = 0;
  while (received < 80_000) received += (await reader.read()).value!.length;
  await second;
  // The default holds 1 MiB.
  const roomy = channel();
  await roomy.deliver(FrameType.Stdout, new Uint8Array(80_000));
  // Refused before any connection is made.
  await assert.rejects(
    connect({ hostname: "127.0.0.1", port: 1, token: TOKEN, bufferSize: 0 }),
    TypeError,
  );
});
