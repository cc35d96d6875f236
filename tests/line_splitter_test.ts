import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_MAX_LINE_BYTES,
  LineSplitter,
  PrefixedLineStream,
} from "../lib/fleet/line_splitter.ts";
import { concat } from "./helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Everything a splitter writes for `chunks`, end included. */
function split(
  prefix: string | Uint8Array,
  chunks: readonly Uint8Array[],
  maxLineBytes?: number,
): Uint8Array {
  const splitter = new LineSplitter(prefix, { maxLineBytes });
  const output = chunks.map((chunk) => splitter.push(chunk));
  output.push(splitter.end());
  assert.equal(splitter.pendingBytes, 0);
  return concat(output);
}

/** Cuts `bytes` at the given points. */
function chunked(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.slice(start, point));
    start = point;
  }
  return chunks;
}

/**
 * The length of the piece cut from a line longer than `max`, the plain
 * way: `max`, less the bytes of a UTF-8 character that starts in its last
 * three bytes (not at its first) and would end past it.
 */
function pieceLength(line: Uint8Array, max: number): number {
  for (let at = max - 1; at >= Math.max(1, max - 3); at--) {
    const byte = line[at];
    if (byte >= 0x80 && byte < 0xc0) continue;
    const length = byte >= 0xf8 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return at + length > max ? at : max;
  }
  return max;
}

/**
 * What the splitter must write for `input`, computed the plain way on the
 * whole input: each line cut into pieces of at most `max` bytes (fewer
 * where the limit falls within a UTF-8 character), each piece prefixed and
 * ended by a newline.
 */
function model(prefix: Uint8Array, input: Uint8Array, max: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let start = 0;
  while (start < input.length) {
    let end = input.indexOf(0x0a, start);
    if (end === -1) end = input.length;
    let piece = start;
    do {
      const pieceEnd = end - piece > max ? piece + pieceLength(input.subarray(piece), max) : end;
      parts.push(prefix, input.subarray(piece, pieceEnd), Uint8Array.of(0x0a));
      piece = pieceEnd;
    } while (piece < end);
    start = end + 1;
  }
  return concat(parts);
}

Deno.test("LineSplitter: complete lines come out prefixed; a partial one waits", () => {
  const splitter = new LineSplitter("web1: ");
  assert.equal(decode(splitter.push(encode("a\nb\nc"))), "web1: a\nweb1: b\n");
  assert.equal(splitter.pendingBytes, 1);
  assert.equal(decode(splitter.push(encode("d"))), "");
  assert.equal(decode(splitter.push(encode("e\n"))), "web1: cde\n");
  assert.equal(splitter.pendingBytes, 0);
  assert.equal(decode(splitter.end()), "");
});

Deno.test("LineSplitter.end() writes the last partial line with a newline added", () => {
  const splitter = new LineSplitter("h: ");
  splitter.push(encode("no newline"));
  assert.equal(decode(splitter.end()), "h: no newline\n");
  assert.equal(decode(splitter.end()), "");
  // Empty again, it takes a new stream.
  assert.equal(decode(splitter.push(encode("x\n"))), "h: x\n");
});

Deno.test("LineSplitter: empty lines are lines; empty input writes nothing", () => {
  assert.equal(decode(split("h: ", [encode("\n\n")])), "h: \nh: \n");
  assert.equal(decode(split("h: ", [])), "");
  assert.equal(decode(split("h: ", [new Uint8Array(0), new Uint8Array(0)])), "");
  assert.equal(decode(split("", [encode("a\nb")])), "a\nb\n");
});

Deno.test("LineSplitter: bytes pass as they are: invalid UTF-8, CR, NUL; the prefix may be bytes or UTF-8 text", () => {
  const input = Uint8Array.of(0xff, 0xfe, 0x0d, 0x0a, 0x00, 0xc3);
  const output = split(Uint8Array.of(0x80, 0x3a), [input]);
  assert.deepEqual(
    output,
    Uint8Array.of(0x80, 0x3a, 0xff, 0xfe, 0x0d, 0x0a, 0x80, 0x3a, 0x00, 0xc3, 0x0a),
  );
  assert.deepEqual(split("é: ", [encode("x")]), encode("é: x\n"));
});

Deno.test("LineSplitter: a line longer than the limit is written in pieces, each prefixed and ended", () => {
  assert.equal(decode(split("h: ", [encode("abcdefghij\n")], 4)), "h: abcd\nh: efgh\nh: ij\n");
  // Exactly the limit, with or without its newline: one line.
  assert.equal(decode(split("h: ", [encode("abcd\n")], 4)), "h: abcd\n");
  assert.equal(decode(split("h: ", [encode("abcd")], 4)), "h: abcd\n");
  assert.equal(
    decode(split("h: ", [encode("abcdefgh\nx")], 4)),
    "h: abcd\nh: efgh\nh: x\n",
  );
  // Cut where chunks meet, too.
  assert.equal(
    decode(split("h: ", [encode("ab"), encode("cd"), encode("e"), encode("\n")], 4)),
    "h: abcd\nh: e\n",
  );
  assert.equal(decode(split("h: ", [encode("abcd"), encode("\n")], 4)), "h: abcd\n");
  assert.equal(decode(split("h: ", [encode("abcd"), encode("e")], 4)), "h: abcd\nh: e\n");
  assert.equal(decode(split("", [encode("abc\n")], 1)), "a\nb\nc\n");
});

Deno.test("LineSplitter: a stream without newlines holds at most the limit", () => {
  const splitter = new LineSplitter("h: ", { maxLineBytes: 1000 });
  let written = 0;
  for (let index = 0; index < 500; index++) {
    written += splitter.push(new Uint8Array(777).fill(0x61)).length;
    assert.ok(splitter.pendingBytes <= 1000);
  }
  written += splitter.end().length;
  // 388 500 bytes in pieces of 1000: 389 lines of prefix and newline.
  assert.equal(written, 500 * 777 + 389 * 4);
  assert.equal(new LineSplitter("x").maxLineBytes, DEFAULT_MAX_LINE_BYTES);
});

Deno.test("LineSplitter.push(): a chunk is not kept: the caller may reuse its buffer", () => {
  const splitter = new LineSplitter("h: ");
  const buffer = encode("abc");
  assert.equal(decode(splitter.push(buffer)), "");
  buffer.fill(0x7a);
  assert.equal(decode(splitter.push(encode("\n"))), "h: abc\n");
  const prefix = encode("p: ");
  const other = new LineSplitter(prefix);
  prefix.fill(0x21);
  assert.equal(decode(other.push(encode("x\n"))), "p: x\n");
});

Deno.test("LineSplitter refuses an invalid limit", () => {
  for (const maxLineBytes of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => new LineSplitter("h", { maxLineBytes }), RangeError, String(maxLineBytes));
  }
});

const inputs = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  // Mostly newlines and a few byte values, so that lines are short and many.
  fc.array(fc.constantFrom(0x0a, 0x0a, 0x61, 0x62, 0xff, 0x0d), { maxLength: 300 })
    .map((bytes) => Uint8Array.from(bytes)),
);
const cuts = fc.array(fc.nat(400), { maxLength: 30 });
const prefixes = fc.oneof(fc.constant(""), fc.string({ maxLength: 8 }).map((text) => `${text}: `));

Deno.test("LineSplitter property: lines without their prefixes give back the input, plus a final newline when missing", () => {
  fc.assert(
    fc.property(inputs, cuts, prefixes, (input, cutPoints, prefix) => {
      const output = split(prefix, chunked(input, cutPoints));
      const prefixBytes = encode(prefix);
      const restored: Uint8Array[] = [];
      let position = 0;
      while (position < output.length) {
        // Every line starts with the prefix...
        assert.deepEqual(output.subarray(position, position + prefixBytes.length), prefixBytes);
        position += prefixBytes.length;
        // ...and ends at the first newline after it.
        const end = output.indexOf(0x0a, position) + 1;
        assert.ok(end > 0, "a line without its newline");
        restored.push(output.subarray(position, end));
        position = end;
      }
      const expected = input.length > 0 && input[input.length - 1] !== 0x0a
        ? concat([input, Uint8Array.of(0x0a)])
        : input;
      assert.deepEqual(concat(restored), expected);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("LineSplitter property: with any limit and any chunking, the output is each line cut into pieces of at most the limit", () => {
  fc.assert(
    fc.property(
      inputs,
      cuts,
      prefixes,
      fc.integer({ min: 1, max: 12 }),
      (input, cutPoints, prefix, max) => {
        const chunks = chunked(input, cutPoints);
        const splitter = new LineSplitter(prefix, { maxLineBytes: max });
        const outputs: Uint8Array[] = [];
        for (const chunk of chunks) {
          outputs.push(splitter.push(chunk));
          assert.ok(splitter.pendingBytes <= max);
        }
        outputs.push(splitter.end());
        assert.deepEqual(concat(outputs), model(encode(prefix), input, max));
        // Each output is a whole number of lines: never torn.
        for (const output of outputs) {
          assert.ok(output.length === 0 || output[output.length - 1] === 0x0a);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("PrefixedLineStream property: the stream form writes the same as the splitter, in chunks of whole lines", async () => {
  await fc.assert(
    fc.asyncProperty(
      inputs,
      cuts,
      fc.integer({ min: 1, max: 12 }),
      async (input, cutPoints, max) => {
        const chunks = chunked(input, cutPoints);
        const stream = ReadableStream.from(chunks).pipeThrough(
          new PrefixedLineStream("s: ", { maxLineBytes: max }),
        );
        const outputs = await Array.fromAsync(stream);
        for (const output of outputs) {
          assert.ok(output.length > 0 && output[output.length - 1] === 0x0a);
        }
        assert.deepEqual(concat(outputs), model(encode("s: "), input, max));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("LineSplitter: a long line is never cut within a UTF-8 character, however it comes in chunks", () => {
  const text = `${"é€😀x".repeat(30_000)}\n`;
  const line = encode(text);
  const strict = new TextDecoder("utf-8", { fatal: true });
  for (const chunkSize of [1, 7, 4096, 65_536, line.length]) {
    const chunks = [];
    for (let start = 0; start < line.length; start += chunkSize) {
      chunks.push(line.subarray(start, start + chunkSize));
    }
    const output = split("h: ", chunks);
    let rejoined = "";
    let pieces = 0;
    for (let start = 0; start < output.length; pieces++) {
      const end = output.indexOf(0x0a, start);
      assert.ok(end - start - 3 <= DEFAULT_MAX_LINE_BYTES);
      // Each piece alone is valid UTF-8: no character was cut in two.
      rejoined += strict.decode(output.subarray(start + 3, end));
      start = end + 1;
    }
    assert.ok(pieces > 1);
    assert.equal(`${rejoined}\n`, text, `chunks of ${chunkSize}`);
  }
});
