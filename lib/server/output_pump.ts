/**
 * Carries one output stream of a command (its stdout or stderr pipe) to the
 * client as frames, adapting the frame size to the connection: while the
 * connection keeps up, each read from the pipe goes out at once as its own
 * frame, read straight into the buffer it is sent from; while a frame is
 * still being written, what the pipe yields meanwhile is gathered into the
 * next frame, up to its limit. A slow reader thus gets fewer, larger frames
 * (less work per byte on both ends), and output is never held back waiting
 * for more.
 *
 * @module
 */

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
   * Sends one encoded frame; resolves once the connection took it. While it
   * is pending, output gathers for the next frame; a rejection ends the pump.
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
 * import { FrameType } from "../protocol/frame.ts";
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
 * console.assert(frames.length === 1 && frames[0].length === 5 + 5);
 * ```
 */
export async function pumpOutput(
  reader: ReadableStreamBYOBReader,
  options: PumpOutputOptions,
): Promise<void> {
  const { type, maxBody, write, onSent } = options;
  const readSize = Math.min(PIPE_READ_SIZE, maxBody);
  // A frame buffer starts with room for one read and grows to maxBody only
  // when output actually gathers, so a command that says little costs little.
  const frameBuffer = (body: number) => new Uint8Array(HEADER_SIZE + body);
  // The frame being gathered: `filled` body bytes behind room for the header.
  let gathering = frameBuffer(readSize);
  let filled = 0;
  // The other frame buffer, free once its write is done.
  let spare: Uint8Array<ArrayBuffer> | undefined;
  let scratch: Uint8Array<ArrayBuffer> | undefined;
  let sending: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;

  // Invariant: whenever no write is pending, nothing gathered is waiting.
  // Called only with something gathered and no write pending.
  const send = () => {
    const body = filled;
    const frame = gathering.subarray(0, HEADER_SIZE + body);
    encodeHeader(frame, type, body);
    const written = gathering;
    gathering = spare ?? frameBuffer(readSize);
    spare = undefined;
    filled = 0;
    sending = write(frame).then(
      () => {
        onSent?.(body);
        // A grown buffer is kept only while output is gathering; a stream
        // gone quiet goes back to holding one read's worth.
        if (filled > 0 || written.length <= HEADER_SIZE + readSize) spare = written;
        sending = undefined;
        if (filled > 0) send();
      },
      (error) => {
        failure ??= { error };
        sending = undefined;
        reader.cancel(error).catch(() => {});
      },
    );
  };

  let readError: { error: unknown } | undefined;
  try {
    for (;;) {
      if (filled === 0) {
        // Nothing waits to be sent, so the read may hold this buffer for as
        // long as the pipe stays quiet.
        const { value, done } = await reader.read(
          new Uint8Array(gathering.buffer, HEADER_SIZE, readSize),
        );
        if (value === undefined || failure) break;
        gathering = new Uint8Array(value.buffer as ArrayBuffer);
        if (done) break;
        filled = value.length;
      } else {
        // A write is pending and a frame is gathering: read elsewhere, so
        // that the gathered bytes can go out the moment the write is done.
        const { value, done } = await reader.read(scratch ?? new Uint8Array(readSize));
        if (value === undefined || failure) break;
        scratch = new Uint8Array(value.buffer as ArrayBuffer);
        if (done) break;
        if (filled + value.length > maxBody) {
          await sending;
          if (failure) break;
        }
        if (HEADER_SIZE + filled + value.length > gathering.length) {
          const larger = frameBuffer(maxBody);
          larger.set(gathering.subarray(0, HEADER_SIZE + filled));
          gathering = larger;
        }
        gathering.set(value, HEADER_SIZE + filled);
        filled += value.length;
      }
      if (sending === undefined && filled > 0) send();
    }
  } catch (error) {
    // What was read before the pipe failed is still sent, before the caller
    // goes on to report the command's end.
    readError = { error };
  }
  while (!failure && (sending !== undefined || filled > 0)) {
    if (sending !== undefined) await sending;
    else send();
  }
  if (failure) throw failure.error;
  if (readError) throw readError.error;
}
