import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameTooLargeError, ProtocolError } from "../lib/errors.ts";
import {
  decodeHeader,
  encodeFrame,
  encodeHeader,
  FrameType,
  frameTypeName,
  HEADER_SIZE,
  isFrameType,
  MAX_ENCODABLE_BODY,
} from "../lib/protocol/frame.ts";

/** The frame table of docs/PROTOCOL.md, which this test holds the code to. */
const WIRE_NAMES: ReadonlyMap<number, string> = new Map(
  [
    ...Deno.readTextFileSync(new URL("../docs/PROTOCOL.md", import.meta.url))
      .matchAll(/^\| 0x([0-9a-f]{2}) \| ([A-Z_]+) +\|/gm),
  ].map(([, hex, name]) => [parseInt(hex, 16), name]),
);

const knownType = fc.constantFrom(...Object.values(FrameType));
const unknownType = fc.integer({ min: 0, max: 0xff }).filter((type) => !WIRE_NAMES.has(type));
const anyLength = fc.integer({ min: 0, max: MAX_ENCODABLE_BODY });

function header(length: number, type: number): Uint8Array {
  return new Uint8Array([
    length >>> 24,
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
    type,
  ]);
}

Deno.test("encodeHeader() writes a big-endian length and the type that decodeHeader() reads back", () => {
  fc.assert(
    fc.property(knownType, anyLength, fc.nat({ max: 16 }), (type, length, offset) => {
      const buffer = new Uint8Array(offset + HEADER_SIZE + 3).fill(0xaa);
      const target = buffer.subarray(offset);
      encodeHeader(target, type, length);
      assert.deepEqual(target.subarray(0, HEADER_SIZE), header(length, type));
      assert.ok(buffer.subarray(0, offset).every((byte) => byte === 0xaa));
      assert.ok(target.subarray(HEADER_SIZE).every((byte) => byte === 0xaa));
      assert.deepEqual(decodeHeader(target, MAX_ENCODABLE_BODY), { type, length });
    }),
  );
});

Deno.test("encodeFrame() puts a header before an exact copy of the body", () => {
  fc.assert(
    fc.property(knownType, fc.uint8Array({ maxLength: 3000 }), (type, body) => {
      const frame = encodeFrame(type, body);
      assert.equal(frame.length, HEADER_SIZE + body.length);
      assert.deepEqual(decodeHeader(frame, body.length), { type, length: body.length });
      assert.deepEqual(frame.subarray(HEADER_SIZE), body);
    }),
  );
  assert.deepEqual(encodeFrame(FrameType.Ping), header(0, FrameType.Ping));
});

Deno.test("decodeHeader() reads a length with the top bit set as a large positive number, not a negative one", () => {
  for (const length of [0x8000_0000, 0x8000_0001, 0xffff_fffe, 0xffff_ffff]) {
    const decoded = decodeHeader(header(length, FrameType.Stdout), MAX_ENCODABLE_BODY);
    assert.equal(decoded.length, length);
    assert.ok(decoded.length >= 2 ** 31);
  }
  assert.equal(decodeHeader(new Uint8Array([0, 0, 1, 2, FrameType.Stdin]), 1024).length, 0x0102);
  const encoded = new Uint8Array(HEADER_SIZE);
  encodeHeader(encoded, FrameType.Stdout, 2 ** 31);
  assert.deepEqual(encoded, new Uint8Array([0x80, 0, 0, 0, FrameType.Stdout]));
});

Deno.test("decodeHeader(): a header naming an unknown frame type is a ProtocolError that names the type", () => {
  fc.assert(
    fc.property(unknownType, fc.nat({ max: 4096 }), (type, length) => {
      assert.throws(
        () => decodeHeader(header(length, type), 4096),
        (error: Error) =>
          error instanceof ProtocolError && !(error instanceof FrameTooLargeError) &&
          error.code === "protocol_error" && error.message.includes(frameTypeName(type)),
      );
    }),
  );
});

Deno.test("decodeHeader(): a length above the limit is a FrameTooLargeError from the header alone", () => {
  fc.assert(
    fc.property(
      knownType,
      fc.nat({ max: MAX_ENCODABLE_BODY - 1 }),
      fc.integer({ min: 1, max: MAX_ENCODABLE_BODY }),
      (type, limit, excess) => {
        const length = Math.min(limit + excess, MAX_ENCODABLE_BODY);
        assert.throws(
          () => decodeHeader(header(length, type), limit),
          (error: Error) =>
            error instanceof FrameTooLargeError && error.length === length &&
            error.limit === limit && error.code === "frame_too_large",
        );
        assert.deepEqual(decodeHeader(header(limit, type), limit), { type, length: limit });
      },
    ),
  );
});

Deno.test("encodeHeader() refuses lengths the 32-bit field cannot hold", () => {
  for (const length of [-1, 1.5, 2 ** 32, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => encodeHeader(new Uint8Array(HEADER_SIZE), FrameType.Stdout, length),
      RangeError,
      String(length),
    );
  }
});

Deno.test("decodeHeader() needs all five header bytes", () => {
  assert.throws(() => decodeHeader(new Uint8Array([0, 0, 0, 0]), 1024), RangeError);
});

Deno.test("frameTypeName(): every frame type has its wire name and unknown types are shown in hex", () => {
  assert.deepEqual(
    new Map(Object.values(FrameType).map((type) => [type, frameTypeName(type)])),
    WIRE_NAMES,
  );
  for (let type = 0; type <= 0xff; type++) {
    assert.equal(isFrameType(type), WIRE_NAMES.has(type), `type ${type}`);
  }
  assert.equal(frameTypeName(0x00), "0x00");
  assert.equal(frameTypeName(0x07), "0x07");
  assert.equal(frameTypeName(0x47), "0x47");
  assert.equal(frameTypeName(0xff), "0xff");
});
