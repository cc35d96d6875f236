import assert from "node:assert/strict";
import fc from "fast-check";
import { HandshakeError, ProtocolError } from "../lib/errors.ts";
import { encodeFrame, FrameType, MIN_MAX_FRAME_SIZE } from "../lib/protocol/frame.ts";
import {
  decodeAuthChallenge,
  decodeAuthOk,
  decodeAuthResponse,
  decodeErrorReport,
  decodeExecRequest,
  decodeExitReport,
  decodeHello,
  decodeSignalRequest,
  decodeWindow,
  describeForeignPeer,
  encodeHello,
  encodeJson,
  encodeWindow,
  type ExecRequest,
  type ExitReport,
  MAX_TIMEOUT_SECONDS,
  PROTOCOL_VERSION,
  requireEmptyBody,
} from "../lib/protocol/messages.ts";
import { utf8 } from "./helpers.ts";

const json = (value: unknown) => utf8(JSON.stringify(value));
const exec = (fields: Record<string, unknown>) =>
  json({ stdin: false, stdout: true, stderr: true, ...fields });

function helloBody(version: number, fields: unknown): Uint8Array {
  return new Uint8Array([0x52, 0x58, 0x45, 0x43, version >> 8, version & 0xff, ...json(fields)]);
}

function throwsProtocolError(decode: () => unknown, code: string, message: RegExp, what: string) {
  assert.throws(decode, (error: Error) => {
    assert.ok(error instanceof ProtocolError, `${what}: ${error}`);
    assert.equal(error.code, code, what);
    assert.match(error.message, message, what);
    return true;
  });
}

Deno.test("encodeHello(): HELLO round-trips through decodeHello(), behind the RXEC magic and a big-endian u16 version", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: MIN_MAX_FRAME_SIZE, max: Number.MAX_SAFE_INTEGER }),
      fc.string(),
      fc.option(fc.nat(), { nil: undefined }),
      (maxFrameSize, agent, stdinWindow) => {
        const hello = {
          version: PROTOCOL_VERSION,
          maxFrameSize,
          agent,
          ...(stdinWindow === undefined ? {} : { stdinWindow }),
        };
        const body = encodeHello(hello);
        assert.deepEqual(
          body.subarray(0, 6),
          new Uint8Array([0x52, 0x58, 0x45, 0x43, PROTOCOL_VERSION >> 8, PROTOCOL_VERSION & 0xff]),
        );
        assert.deepEqual(decodeHello(body), hello);
      },
    ),
  );
});

Deno.test("decodeHello(): a HELLO without the RXEC magic is a HandshakeError not_rexec", () => {
  const hello = encodeHello({ version: PROTOCOL_VERSION, maxFrameSize: 65536, agent: "x" });
  const cases = [
    new Uint8Array(0),
    utf8("RXEC"),
    utf8("RXEC\0"),
    utf8("GET / HTTP/1.1\r\n"),
    utf8("rxec\0\x01{}"),
    new Uint8Array([0x52, 0x58, 0x45, 0x44, ...hello.subarray(4)]),
    hello.subarray(1),
  ];
  for (const body of cases) {
    assert.throws(
      () => decodeHello(body),
      (error: Error) =>
        error instanceof HandshakeError && error.code === "not_rexec" &&
        /not a rexec peer/.test(error.message),
      JSON.stringify(Array.from(body)),
    );
  }
});

Deno.test("decodeHello(): a HELLO of another protocol version is a HandshakeError unsupported_version", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }).filter((version) => version !== PROTOCOL_VERSION),
      (version) => {
        assert.throws(
          () => decodeHello(helloBody(version, { maxFrameSize: 65536, agent: "future" })),
          (error: Error) =>
            error instanceof HandshakeError && error.code === "unsupported_version" &&
            error.message.includes(`protocol ${version}`),
        );
      },
    ),
  );
});

Deno.test("decodeHello() refuses a HELLO announcing a frame limit below the minimum", () => {
  for (const maxFrameSize of [0, 1, MIN_MAX_FRAME_SIZE - 1]) {
    assert.throws(
      () => decodeHello(helloBody(PROTOCOL_VERSION, { maxFrameSize, agent: "x" })),
      (error: Error) =>
        error instanceof HandshakeError && error.message.includes(`${MIN_MAX_FRAME_SIZE}`),
    );
  }
  assert.equal(
    decodeHello(helloBody(PROTOCOL_VERSION, { maxFrameSize: MIN_MAX_FRAME_SIZE, agent: "x" }))
      .maxFrameSize,
    MIN_MAX_FRAME_SIZE,
  );
});

Deno.test("decodeHello(): a HELLO with malformed fields is a ProtocolError", () => {
  const cases: unknown[] = [
    { agent: "x" },
    { maxFrameSize: "65536", agent: "x" },
    { maxFrameSize: 65536.5, agent: "x" },
    { maxFrameSize: -65536, agent: "x" },
    { maxFrameSize: 65536 },
    { maxFrameSize: 65536, agent: 7 },
    { maxFrameSize: 65536, agent: "x", stdinWindow: -1 },
    { maxFrameSize: 65536, agent: "x", stdinWindow: "big" },
    [65536, "x"],
    null,
  ];
  for (const fields of cases) {
    assert.throws(
      () => decodeHello(helloBody(PROTOCOL_VERSION, fields)),
      ProtocolError,
      JSON.stringify(fields),
    );
  }
  assert.throws(
    () => decodeHello(new Uint8Array([...helloBody(PROTOCOL_VERSION, {}).subarray(0, 6), 0xff])),
    ProtocolError,
  );
});

Deno.test("decodeExecRequest(): valid EXEC requests decode to exactly what was sent", () => {
  const requests: ExecRequest[] = [
    { argv: ["ls"], stdin: false, stdout: true, stderr: true },
    { shell: "echo $HOME | wc -c", stdin: true, stdout: true, stderr: false },
    { shell: "exit 3", stdin: false, stdout: false, stderr: false },
    {
      argv: ["make", "-j4", ""],
      env: { CI: "1", EMPTY: "", lower_case: "ü ✓ = x" },
      cwd: "/src",
      timeout: 600,
      stdin: true,
      stdout: true,
      stderr: true,
    },
    { argv: ["sleep", "1"], env: {}, timeout: 0.001, stdin: false, stdout: true, stderr: true },
    { argv: ["sleep"], timeout: MAX_TIMEOUT_SECONDS, stdin: false, stdout: true, stderr: true },
  ];
  for (const request of requests) {
    assert.deepEqual(decodeExecRequest(encodeJson(request)), request);
  }
});

Deno.test("decodeExecRequest(): each invalid EXEC request is a bad_request that names what is wrong", () => {
  const cases: [Uint8Array, RegExp][] = [
    [exec({ argv: ["ls"], shell: "ls" }), /exactly one of argv, shell and login/],
    [exec({}), /exactly one of argv, shell and login/],
    [exec({ argv: [] }), /argv must be a non-empty array/],
    [exec({ argv: "ls" }), /argv must be a non-empty array/],
    [exec({ argv: { 0: "ls" } }), /argv must be a non-empty array/],
    [exec({ argv: [""] }), /argv\[0\] must not be empty/],
    [exec({ argv: ["ls", 3] }), /argv\[1\] must be a string/],
    [exec({ argv: [null] }), /argv\[0\] must be a string/],
    [exec({ argv: ["ls", "a\0b"] }), /argv\[1\] contains a NUL/],
    [exec({ shell: 1 }), /shell must be a string/],
    [exec({ shell: null }), /shell must be a string/],
    [exec({ shell: "echo \0" }), /shell contains a NUL/],
    [exec({ argv: ["env"], env: ["A=1"] }), /env must be an object/],
    [exec({ argv: ["env"], env: "A=1" }), /env must be an object/],
    [exec({ argv: ["env"], env: null }), /env must be an object/],
    [exec({ argv: ["env"], env: { "A=B": "x" } }), /env name "A=B" is not a valid name/],
    [exec({ argv: ["env"], env: { "=A": "x" } }), /env name "=A" is not a valid name/],
    [exec({ argv: ["env"], env: { "": "x" } }), /env name "" is not a valid name/],
    [exec({ argv: ["env"], env: { "A\0": "x" } }), /env name "A\\u0000" is not a valid name/],
    [exec({ argv: ["env"], env: { A: 1 } }), /env\.A must be a string/],
    [exec({ argv: ["env"], env: { A: "a\0" } }), /env\.A contains a NUL/],
    [exec({ argv: ["pwd"], cwd: 1 }), /cwd must be a string/],
    [exec({ argv: ["pwd"], cwd: "/a\0" }), /cwd contains a NUL/],
    [exec({ argv: ["sleep"], timeout: 0 }), /timeout must be a number of seconds above 0/],
    [exec({ argv: ["sleep"], timeout: -1 }), /timeout must be/],
    [exec({ argv: ["sleep"], timeout: -0.5 }), /timeout must be/],
    [exec({ argv: ["sleep"], timeout: "5" }), /timeout must be/],
    [exec({ argv: ["sleep"], timeout: null }), /timeout must be/],
    [exec({ argv: ["sleep"], timeout: MAX_TIMEOUT_SECONDS + 1 }), /timeout must be/],
    [
      utf8('{"argv":["sleep"],"timeout":1e999,"stdin":false,"stdout":true,"stderr":true}'),
      /timeout/,
    ],
    [
      utf8('{"argv":["sleep"],"timeout":-1e999,"stdin":false,"stdout":true,"stderr":true}'),
      /timeout/,
    ],
    [json({ argv: ["ls"], stdout: true, stderr: true }), /stdin must be true or false/],
    [json({ argv: ["ls"], stdin: false, stderr: true }), /stdout must be true or false/],
    [json({ argv: ["ls"], stdin: false, stdout: true }), /stderr must be true or false/],
    [json({ argv: ["ls"], stdin: 0, stdout: true, stderr: true }), /stdin must be true or false/],
    [json({ argv: ["ls"], stdin: false, stdout: "yes", stderr: true }), /stdout must be/],
  ];
  for (const [body, message] of cases) {
    throwsProtocolError(
      () => decodeExecRequest(body),
      "bad_request",
      message,
      new TextDecoder().decode(body),
    );
  }
});

Deno.test("decodeExecRequest(): an EXEC body that is not a UTF-8 JSON object is a ProtocolError", () => {
  const bodies = [
    new Uint8Array(0),
    utf8("argv=ls"),
    utf8('{"argv":["ls"]'),
    new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    new Uint8Array([0xc3, 0x28]),
    json(["ls"]),
    json("ls"),
    json(null),
    json(1),
  ];
  for (const body of bodies) {
    assert.throws(
      () => decodeExecRequest(body),
      (error: Error) => error instanceof ProtocolError && /^EXEC body/.test(error.message),
      JSON.stringify(Array.from(body)),
    );
  }
});

Deno.test("decodeSignalRequest() accepts the forwardable signal names and refuses every other one", () => {
  const forwardable = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGTERM",
    "SIGKILL",
    "SIGUSR1",
    "SIGUSR2",
    "SIGALRM",
    "SIGSTOP",
    "SIGCONT",
    "SIGTSTP",
    "SIGWINCH",
  ];
  for (const signal of forwardable) {
    assert.deepEqual(decodeSignalRequest(encodeJson({ signal: signal as Deno.Signal })), {
      signal,
    });
  }
  for (const signal of ["SIGSEGV", "SIGBOGUS", "INT", "sigint", "SIGINT ", ""]) {
    throwsProtocolError(
      () => decodeSignalRequest(json({ signal })),
      "bad_request",
      /is not a signal rexec forwards/,
      signal,
    );
  }
  for (const fields of [{ signal: 2 }, { signal: null }, {}]) {
    assert.throws(() => decodeSignalRequest(json(fields)), ProtocolError, JSON.stringify(fields));
  }
});

Deno.test("decodeExitReport(): EXIT reports round-trip with and without a reason", () => {
  const reports: ExitReport[] = [
    { code: 0, signal: null },
    { code: 255, signal: null },
    { code: 143, signal: "SIGTERM" },
    { code: 124, signal: "SIGTERM", reason: "timeout", message: "timed out after 5 s" },
    { code: 130, signal: "SIGINT", reason: "cancelled", message: "cancelled" },
    { code: 143, signal: "SIGTERM", reason: "shutdown" },
    { code: 127, signal: null, reason: "spawn_failed", message: "nosuch: command not found" },
  ];
  for (const report of reports) assert.deepEqual(decodeExitReport(encodeJson(report)), report);
});

Deno.test("decodeExitReport(): malformed EXIT reports are protocol errors", () => {
  const cases: unknown[] = [
    { signal: null },
    { code: 256, signal: null },
    { code: -1, signal: null },
    { code: 1.5, signal: null },
    { code: "0", signal: null },
    { code: 0 },
    { code: 0, signal: 15 },
    { code: 0, signal: null, reason: "crashed" },
    { code: 0, signal: null, reason: null },
    { code: 0, signal: null, message: 1 },
  ];
  for (const fields of cases) {
    assert.throws(() => decodeExitReport(json(fields)), ProtocolError, JSON.stringify(fields));
  }
});

Deno.test("messages: ERROR and AUTH bodies round-trip and need every field as a string", () => {
  assert.deepEqual(decodeErrorReport(encodeJson({ code: "busy", message: "one at a time" })), {
    code: "busy",
    message: "one at a time",
  });
  assert.deepEqual(decodeAuthChallenge(encodeJson({ nonce: "n" })), { nonce: "n" });
  assert.deepEqual(decodeAuthResponse(encodeJson({ nonce: "n", mac: "m" })), {
    nonce: "n",
    mac: "m",
  });
  assert.deepEqual(decodeAuthOk(encodeJson({ mac: "m" })), { mac: "m" });
  assert.throws(() => decodeErrorReport(json({ code: "busy" })), ProtocolError);
  assert.throws(() => decodeErrorReport(json({ code: 1, message: "m" })), ProtocolError);
  assert.throws(() => decodeAuthChallenge(json({})), ProtocolError);
  assert.throws(() => decodeAuthResponse(json({ nonce: "n" })), ProtocolError);
  assert.throws(() => decodeAuthOk(json({ mac: null })), ProtocolError);
});

Deno.test("decodeWindow(): STDIN_WINDOW is a big-endian u32 written by encodeWindow(), and nothing else", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.nat({ max: 8 }),
      (increment, offset) => {
        const body = encodeWindow(increment);
        assert.deepEqual(
          body,
          new Uint8Array([
            increment >>> 24,
            (increment >>> 16) & 0xff,
            (increment >>> 8) & 0xff,
            increment & 0xff,
          ]),
        );
        const shifted = new Uint8Array(offset + 4);
        shifted.set(body, offset);
        assert.equal(decodeWindow(shifted.subarray(offset)), increment);
      },
    ),
  );
  for (const length of [0, 3, 5, 8]) {
    throwsProtocolError(
      () => decodeWindow(new Uint8Array(length)),
      "protocol_error",
      new RegExp(`must be 4 bytes, got ${length}`),
      `${length} bytes`,
    );
  }
});

Deno.test("requireEmptyBody(): frames that carry no body must have none", () => {
  requireEmptyBody(FrameType.Cancel, new Uint8Array(0));
  throwsProtocolError(
    () => requireEmptyBody(FrameType.StdinEof, new Uint8Array(2)),
    "protocol_error",
    /STDIN_EOF frame must have an empty body, got 2 bytes/,
    "STDIN_EOF",
  );
});

Deno.test("describeForeignPeer() recognises foreign peers from their first bytes: HTTP, TLS and SSH", () => {
  const cases: [Uint8Array, string][] = [
    ...["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"].map((
      method,
    ): [Uint8Array, string] => [utf8(`${method} / HTTP/1.1\r\nHost: x\r\n`), "HTTP"]),
    [utf8("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "HTTP"],
    [utf8("GET /"), "HTTP"],
    // Often only a frame header's worth of bytes has arrived.
    ...["DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "POST /", "HEAD /", "PUT /"].map((
      method,
    ): [Uint8Array, string] => [utf8(method.slice(0, 5)), "HTTP"]),
    [new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]), "TLS"],
    [new Uint8Array([0x16, 0x03, 0x03, 0x00, 0x7a]), "TLS"],
    [utf8("SSH-2.0-OpenSSH_9.6\r\n"), "SSH"],
    [utf8("SSH-"), "SSH"],
    [encodeFrame(FrameType.Hello, new Uint8Array(10)), "unknown"],
    [new Uint8Array(0), "unknown"],
    [new Uint8Array([0x16]), "unknown"],
    [utf8("get / HTTP/1.1"), "unknown"],
    [utf8("GETS / HTTP/1.1"), "unknown"],
    [utf8("SSH2.0"), "unknown"],
  ];
  for (const [bytes, expected] of cases) {
    assert.equal(describeForeignPeer(bytes), expected, JSON.stringify(Array.from(bytes)));
  }
});

Deno.test("messages: every decoder either decodes arbitrary bytes or throws a ProtocolError, never anything else", () => {
  const decoders: [string, (body: Uint8Array) => unknown][] = [
    ["decodeHello", decodeHello],
    ["decodeAuthChallenge", decodeAuthChallenge],
    ["decodeAuthResponse", decodeAuthResponse],
    ["decodeAuthOk", decodeAuthOk],
    ["decodeExecRequest", decodeExecRequest],
    ["decodeSignalRequest", decodeSignalRequest],
    ["decodeExitReport", decodeExitReport],
    ["decodeErrorReport", decodeErrorReport],
    ["decodeWindow", decodeWindow],
  ];
  const value = fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom("SIGINT", "timeout", "\0"));
  const fieldNames = [
    "maxFrameSize",
    "agent",
    "stdinWindow",
    "nonce",
    "mac",
    "argv",
    "shell",
    "env",
    "cwd",
    "timeout",
    "stdin",
    "stdout",
    "stderr",
    "signal",
    "code",
    "reason",
    "message",
    "__proto__",
    "constructor",
  ];
  const object = fc.dictionary(fc.constantFrom(...fieldNames), value);
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.string({ unit: "binary" }).map(utf8),
    fc.jsonValue().map(json),
    object.map(json),
    fc.tuple(fc.integer({ min: 0, max: 2 }), object).map(([version, fields]) =>
      helloBody(version, fields)
    ),
    fc.tuple(fc.uint8Array({ maxLength: 8 }), object).map(([junk, fields]) =>
      new Uint8Array([...helloBody(PROTOCOL_VERSION, fields), ...junk])
    ),
  );
  fc.assert(
    fc.property(bodies, (body) => {
      for (const [name, decode] of decoders) {
        try {
          decode(body);
        } catch (error) {
          assert.ok(error instanceof ProtocolError, `${name} threw ${error}`);
        }
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decodeExecRequest(): a malformed EXEC body is a bad_request, like a malformed field", () => {
  for (const body of [new Uint8Array(0), new Uint8Array([0xc3, 0x28]), json(["ls"])]) {
    assert.throws(
      () => decodeExecRequest(body),
      (error: Error) => error instanceof ProtocolError && error.code === "bad_request",
    );
  }
});

Deno.test("encodeWindow() refuses a STDIN_WINDOW increment outside 32 bits, not wrapping it", () => {
  for (const increment of [-1, 2 ** 32, 1.5]) {
    assert.throws(() => encodeWindow(increment), RangeError);
  }
});

Deno.test("decodeExitReport(): an EXIT signal must look like a signal name", () => {
  for (const signal of ["", "TERM", "sigterm", "SIG TERM"]) {
    assert.throws(() => decodeExitReport(json({ code: 143, signal })), ProtocolError);
  }
});
