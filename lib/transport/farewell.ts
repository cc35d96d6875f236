/**
 * The last frame either side sends before it hangs up on purpose: an ERROR
 * saying why, so that the other side can tell its user. A peer that does not
 * read must not hold the connection open, so the farewell gets a deadline.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { FrameType } from "../protocol/frame.ts";
import { encodeJson, type ErrorReport } from "../protocol/messages.ts";
import { settlesWithin } from "../util/deadline.ts";
import type { FrameWriter } from "./frame_writer.ts";

/** How long a farewell ERROR frame may take before the connection is closed anyway. */
export const FAREWELL_TIMEOUT_MS = 1000;

/**
 * Writes an ERROR frame with `report`, waiting at most
 * {@link FAREWELL_TIMEOUT_MS} for the peer to take it.
 *
 * @returns whether the frame was written in time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameType, HEADER_SIZE } from "../protocol/frame.ts";
 * import { decodeErrorReport } from "../protocol/messages.ts";
 * import { FrameWriter } from "./frame_writer.ts";
 * import { sendFarewell } from "./farewell.ts";
 *
 * const written: Uint8Array[] = [];
 * const writer = new FrameWriter({
 *   write: (bytes) => {
 *     written.push(bytes.slice());
 *     return Promise.resolve(bytes.length);
 *   },
 * });
 * const report = { code: "server_shutdown", message: "the server is shutting down" } as const;
 * assert.equal(await sendFarewell(writer, report), true);
 * assert.equal(written[0][4], FrameType.Error);
 * assert.deepEqual(decodeErrorReport(written[0].subarray(HEADER_SIZE)), report);
 * ```
 */
export function sendFarewell(writer: FrameWriter, report: ErrorReport): Promise<boolean> {
  return settlesWithin(writer.write(FrameType.Error, encodeJson(report)), FAREWELL_TIMEOUT_MS);
}
