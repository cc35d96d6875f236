import {
  decodeHeader,
  encodeFrame,
  encodeHeader,
  FrameType,
  HEADER_SIZE,
} from "../lib/protocol/frame.ts";
import { FrameReader } from "../lib/transport/frame_reader.ts";

const LARGE = new Uint8Array(64 * 1024);
const TINY = new Uint8Array(16);
const HEADER = encodeFrame(FrameType.Stdout, TINY).subarray(0, HEADER_SIZE);

function streamOf(frame: Uint8Array, count: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (sent++ < count) {
        controller.enqueue(frame.slice());
        return;
      }
      controller.close();
      // A BYOB read waiting on the empty queue completes only when answered.
      controller.byobRequest?.respond(0);
    },
  });
}

Deno.bench("encode header", { group: "header" }, () => {
  encodeHeader(new Uint8Array(HEADER_SIZE), FrameType.Stdout, 65536);
});

Deno.bench("decode header", { group: "header" }, () => {
  decodeHeader(HEADER, 1 << 20);
});

Deno.bench("encode 1 frame of 64 KiB", { group: "encode" }, () => {
  encodeFrame(FrameType.Stdout, LARGE);
});

Deno.bench("encode 1 frame of 16 B", { group: "encode" }, () => {
  encodeFrame(FrameType.Stdout, TINY);
});

const LARGE_FRAME = encodeFrame(FrameType.Stdout, LARGE);
const TINY_FRAME = encodeFrame(FrameType.Stdout, TINY);

Deno.bench("decode 1000 frames of 64 KiB from a byte stream", {
  group: "decode",
}, async () => {
  const reader = new FrameReader(streamOf(LARGE_FRAME, 1000), { maxFrameSize: 1 << 20 });
  while (await reader.read() !== null);
});

Deno.bench("decode 1000 frames of 16 B from a byte stream", { group: "decode" }, async () => {
  const reader = new FrameReader(streamOf(TINY_FRAME, 1000), { maxFrameSize: 1 << 20 });
  while (await reader.read() !== null);
});
