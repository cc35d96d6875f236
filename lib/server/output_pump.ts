/**
 * Carries one output stream of a command (its stdout or stderr pipe) to the
 * client as frames, moving as many bytes per frame as the pipe has ready.
 * After each read, the pump reads again at once: while the pipe yields more
 * before the event loop comes round, the bytes gather into the same frame,
 * up to its limit; the frame goes out as soon as the pipe has nothing more
 * to give right now. A fast producer (a big file, a dump) thus gets large
 * frames, a socket write each, where a pipe read alone never yields more than
 * the pipe holds (64 KiB on Linux); a trickle still goes out at once. While
 * a frame is being written, the next read goes on, so the pipe keeps
 * draining.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { encodeHeader, type FrameType, HEADER_SIZE } from "../protocol/frame.ts";

/**
 * Most bytes asked of the pipe per read. A Linux pipe holds 64 KiB, so a
 * read never yields more.
 */
const PIPE_READ_SIZE = 64 * 1024;

/** Options for {@link pumpOutput}. */
export interface PumpOutputOptions {
  /** STDOUT or STDERR. */
  readonly type: FrameType;
  /** Largest frame body to send; the client's limit or less. */
  readonly maxBody: number;
  /**
   * Sends one encoded frame; resolves once the connection took it, when the
   * frame's buffer may be filled again. While it is pending, output gathers
   * for the next frame; a rejection ends the pump.
   */
  readonly write: (frame: Uint8Array) => Promise<void>;
  /** Told the body size of each frame once it was written. */
  readonly onSent?: (bytes: number) => void;
}

/**
 * Reads `reader` to its end and sends all of it; resolves once the last
 * frame was written. Cancelling the reader ends the pump after what was
 * already read has been sent.
 *
 * @throws the error of a failed write, after cancelling the reader.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameType, HEADER_SIZE } from "../protocol/frame.ts";
 * import { pumpOutput } from "./output_pump.ts";
 *
 * const frames: Uint8Array[] = [];
 * const pipe = new Blob(["hello"]).stream().getReader({ mode: "byob" });
 * await pumpOutput(pipe, {
 *   type: FrameType.Stdout,
 *   maxBody: 65536,
 *   write: (frame) => {
 *     frames.push(frame.slice());
 *     return Promise.resolve();
 *   },
 * });
 * assert.equal(frames.length, 1);
 * assert.deepEqual([...frames[0].subarray(0, HEADER_SIZE)], [0, 0, 0, 5, FrameType.Stdout]);
 * assert.equal(new TextDecoder().decode(frames[0].subarray(HEADER_SIZE)), "hello");
 * ```
 */
export async function pumpOutput(
  reader: ReadableStreamBYOBReader,
  options: PumpOutputOptions,
): Promise<void> {
  const { type, maxBody, write, onSent } = options;
  const readSize = Math.min(PIPE_READ_SIZE, maxBody);
  // The frame: `filled` body bytes behind room for the header. It starts
  // with room for one read, and grows to maxBody only when output gathers.
  let frame = new Uint8Array(HEADER_SIZE + readSize);
  let filled = 0;
  // Where reads go while a frame holds bytes: the frame's own buffer is
  // transferred to a BYOB read, and could not be sent while one waits.
  let scratch = new ArrayBuffer(readSize);
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  let ended = false;
  let writeFailed = false;
  let readError: { error: unknown } | undefined;

  /** Takes a read's result: its bytes join the frame. */
  const take = (
    { value, done }: ReadableStreamReadResult<Uint8Array>,
    into: "frame" | "scratch",
  ) => {
    if (value === undefined) {
      // Cancelled: the buffer went with the stream.
      ended = true;
      if (into === "frame") frame = new Uint8Array(HEADER_SIZE + readSize);
      return;
    }
    if (into === "frame") {
      frame = new Uint8Array(value.buffer as ArrayBuffer);
    } else {
      scratch = value.buffer as ArrayBuffer;
      if (HEADER_SIZE + filled + value.length > frame.length) {
        const larger = new Uint8Array(HEADER_SIZE + maxBody);
        larger.set(frame.subarray(0, HEADER_SIZE + filled));
        frame = larger;
      }
      frame.set(value, HEADER_SIZE + filled);
    }
    filled += value.length;
    if (done) ended = true;
  };

  const send = async () => {
    const body = filled;
    const bytes = frame.subarray(0, HEADER_SIZE + body);
    encodeHeader(bytes, type, body);
    try {
      await write(bytes);
    } catch (error) {
      writeFailed = true;
      pending?.catch(() => {});
      reader.cancel(error).catch(() => {});
      throw error;
    }
    filled = 0;
    onSent?.(body);
  };

  try {
    while (!ended) {
      if (filled === 0 && pending === undefined) {
        // Nothing to send: the read may hold the frame's own buffer for as
        // long as the pipe stays quiet, and fill it in place.
        take(
          await reader.read(new Uint8Array(frame.buffer, HEADER_SIZE, readSize)),
          "frame",
        );
        continue;
      }
      if (filled >= maxBody) {
        await send();
        continue;
      }
      pending ??= reader.read(new Uint8Array(scratch, 0, Math.min(readSize, maxBody - filled)));
      const result = filled === 0 ? await pending : await Promise.race([pending, nextTurn()]);
      if (result !== undefined) {
        pending = undefined;
        take(result, "scratch");
        // Keep gathering while the pipe has more and the frame has room.
        if (!ended && filled < maxBody) continue;
      }
      if (filled > 0) await send();
    }
  } catch (error) {
    if (writeFailed) throw error;
    // What was read before the pipe failed is still sent, before the caller
    // goes on to report the command's end.
    readError = { error };
  }
  if (filled > 0) await send();
  if (readError) throw readError.error;
}

/** Resolves once the event loop has come round: reads that could complete now have. */
function nextTurn(): Promise<undefined> {
  return new Promise((resolve) => setImmediate(() => resolve(undefined)));
}
