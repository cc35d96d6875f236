/**
 * Reading a frame body that holds one JSON object, as the command and the
 * copy messages both do.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { ErrorCode } from "./error_code.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The JSON object in a frame body; `what` names the frame in the error.
 *
 * @throws {ProtocolError} with `code` when the body is not UTF-8 JSON, or
 * holds something else than an object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError } from "../errors.ts";
 * import { parseJsonObject } from "./json_body.ts";
 *
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * assert.deepEqual(parseJsonObject(bytes('{"a":1}'), "EXEC"), { a: 1 });
 * assert.throws(() => parseJsonObject(bytes("[]"), "EXEC"), ProtocolError);
 * ```
 */
export function parseJsonObject(
  body: Uint8Array,
  what: string,
  code: ErrorCode = ErrorCode.ProtocolError,
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch (error) {
    throw new ProtocolError(`${what} body is not valid UTF-8 JSON`, code, { cause: error });
  }
  if (!isRecord(value)) throw new ProtocolError(`${what} body must be a JSON object`, code);
  return value;
}

/**
 * Whether a parsed JSON value is an object (not null, not an array).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRecord } from "./json_body.ts";
 *
 * assert.equal(isRecord({}), true);
 * assert.equal(isRecord([]), false);
 * assert.equal(isRecord(null), false);
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
