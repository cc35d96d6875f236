import assert from "node:assert/strict";
import fc from "fast-check";
import { HandshakeError, ProtocolError } from "../lib/errors.ts";
import { encodeFrame, FrameType, frameTypeName } from "../lib/frame.ts";
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
  MAGIC,
  MAX_TIMEOUT_SECONDS,
  PROTOCOL_VERSION,
} from "../lib/messages.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);
const json = (value: unknown) => utf8(JSON.stringify(value));
const exec = (fields: Record<string, unknown>) =>
  json({ stdin: false, stdout: true, stderr: true, ...fields });

Deno.test("HELLO round-trips its version and fields", () => {
  const hello = {
    version: PROTOCOL_VERSION,
    maxFrameSize: 65536,
    agent: "rexec/9",
    stdinWindow: 7,
  };
  assert.deepEqual(decodeHello(encodeHello(hello)), hello);
  const body = encodeHello({ version: PROTOCOL_VERSION, maxFrameSize: 4096, agent: "x" });
  assert.deepEqual(Array.from(body.subarray(0, 4)), Array.from(MAGIC));
  assert.deepEqual(Array.from(body.subarray(4, 6)), [0, PROTOCOL_VERSION]);
});

Deno.test("a HELLO without the magic is not_rexec, another version is unsupported_version", () => {
  assert.throws(
    () => decodeHello(utf8("HTTP/1.1 200 OK")),
    (error: Error) => error instanceof HandshakeError && error.code === "not_rexec",
  );
  const future = encodeHello({ version: PROTOCOL_VERSION, maxFrameSize: 4096, agent: "x" });
  future[5] = PROTOCOL_VERSION + 1;
  assert.throws(
    () => decodeHello(future),
    (error: Error) =>
      error instanceof HandshakeError && error.code === "unsupported_version" &&
      /protocol 2/.test(error.message),
  );
});

Deno.test("a HELLO announcing a frame limit below the minimum is refused", () => {
  assert.throws(
    () => decodeHello(encodeHello({ version: PROTOCOL_VERSION, maxFrameSize: 16, agent: "x" })),
    HandshakeError,
  );
});

Deno.test("valid EXEC requests decode to what was sent", () => {
  const full = {
    argv: ["ls", "-l", ""],
    env: { A: "1", EMPTY: "" },
    cwd: "/tmp",
    timeout: 1.5,
    stdin: true,
    stdout: false,
    stderr: true,
  };
  assert.deepEqual(decodeExecRequest(json(full)), full);
  assert.deepEqual(decodeExecRequest(exec({ shell: "echo $HOME" })), {
    shell: "echo $HOME",
    stdin: false,
    stdout: true,
    stderr: true,
  });
});

Deno.test("each invalid EXEC request is a bad_request naming the field", () => {
  const cases: [Uint8Array, RegExp][] = [
    [exec({ argv: ["a"], shell: "b" }), /exactly one of argv and shell/],
    [exec({}), /exactly one of argv and shell/],
    [exec({ argv: [] }), /non-empty array/],
    [exec({ argv: "ls" }), /non-empty array/],
    [exec({ argv: [""] }), /argv\[0\] must not be empty/],
    [exec({ argv: ["ls", 3] }), /argv\[1\] must be a string/],
    [exec({ argv: ["ls", "a\0b"] }), /argv\[1\] contains a NUL/],
    [exec({ shell: 1 }), /shell must be a string/],
    [exec({ argv: ["env"], env: { "A=B": "x" } }), /env name "A=B"/],
    [exec({ argv: ["env"], env: { "": "x" } }), /env name ""/],
    [exec({ argv: ["env"], env: { A: 1 } }), /env.A must be a string/],
    [exec({ argv: ["env"], env: { A: "a\0" } }), /env.A contains a NUL/],
    [exec({ argv: ["env"], env: ["A=1"] }), /env must be an object/],
    [exec({ argv: ["pwd"], cwd: "/a\0" }), /cwd contains a NUL/],
    [exec({ argv: ["sleep"], timeout: 0 }), /timeout/],
    [exec({ argv: ["sleep"], timeout: -1 }), /timeout/],
    [exec({ argv: ["sleep"], timeout: "5" }), /timeout/],
    [exec({ argv: ["sleep"], timeout: MAX_TIMEOUT_SECONDS + 1 }), /timeout/],
    [json({ argv: ["ls"], stdout: true, stderr: true }), /stdin must be true or false/],
    [json({ argv: ["ls"], stdin: false, stderr: true }), /stdout must be true or false/],
    [json({ argv: ["ls"], stdin: false, stdout: true, stderr: "yes" }), /stderr must be/],
  ];
  for (const [body, message] of cases) {
    assert.throws(
      () => decodeExecRequest(body),
      (error: Error) =>
        error instanceof ProtocolError && error.code === "bad_request" &&
        message.test(error.message),
      new TextDecoder().decode(body),
    );
  }
});

Deno.test("bodies that are not UTF-8 JSON objects are protocol errors", () => {
  for (const body of [utf8("not json"), new Uint8Array([0xff, 0xfe]), json([1]), json(null)]) {
    assert.throws(() => decodeExecRequest(body), ProtocolError);
    assert.throws(() => decodeErrorReport(body), ProtocolError);
  }
});

Deno.test("SIGNAL accepts the forwardable signals and nothing else", () => {
  for (const signal of ["SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGUSR1"]) {
    assert.equal(decodeSignalRequest(json({ signal })).signal, signal);
  }
  for (const signal of ["SIGSEGV", "INT", "", 9]) {
    assert.throws(() => decodeSignalRequest(json({ signal })), ProtocolError);
  }
});

Deno.test("EXIT, ERROR, AUTH and STDIN_WINDOW bodies round-trip", () => {
  const exit = { code: 124, signal: "SIGTERM" as const, reason: "timeout" as const, message: "m" };
  assert.deepEqual(decodeExitReport(encodeJson(exit)), exit);
  assert.deepEqual(decodeExitReport(encodeJson({ code: 0, signal: null })), {
    code: 0,
    signal: null,
  });
  assert.throws(() => decodeExitReport(json({ code: 300, signal: null })), ProtocolError);
  assert.throws(
    () => decodeExitReport(json({ code: 1, signal: null, reason: "x" })),
    ProtocolError,
  );
  assert.deepEqual(decodeErrorReport(encodeJson({ code: "c", message: "m" })), {
    code: "c",
    message: "m",
  });
  assert.equal(decodeAuthChallenge(encodeJson({ nonce: "n" })).nonce, "n");
  assert.deepEqual(decodeAuthResponse(encodeJson({ nonce: "n", mac: "m" })), {
    nonce: "n",
    mac: "m",
  });
  assert.equal(decodeAuthOk(encodeJson({ mac: "m" })).mac, "m");
  for (const increment of [0, 1, 65536, 0xffff_ffff]) {
    assert.equal(decodeWindow(encodeWindow(increment)), increment);
  }
  assert.throws(() => decodeWindow(new Uint8Array(3)), ProtocolError);
});

Deno.test("foreign peers are recognised from their first bytes", () => {
  assert.equal(describeForeignPeer(utf8("GET / HTTP/1.1")), "HTTP");
  assert.equal(describeForeignPeer(utf8("POST /x HTTP/1.1")), "HTTP");
  assert.equal(describeForeignPeer(utf8("PRI * HTTP/2.0")), "HTTP");
  assert.equal(describeForeignPeer(utf8("SSH-2.0-OpenSSH_9.6")), "SSH");
  assert.equal(describeForeignPeer(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00])), "TLS");
  assert.equal(describeForeignPeer(encodeFrame(FrameType.Hello).subarray(0, 5)), "unknown");
});

Deno.test("every decoder either decodes random bytes or throws a ProtocolError", () => {
  const decoders = [
    decodeHello,
    decodeAuthChallenge,
    decodeAuthResponse,
    decodeAuthOk,
    decodeExecRequest,
    decodeSignalRequest,
    decodeExitReport,
    decodeErrorReport,
    decodeWindow,
  ];
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.json().map(utf8),
    fc.jsonValue().map((value) => json({ argv: value, shell: value, env: value, code: value })),
  );
  fc.assert(
    fc.property(bodies, (body) => {
      for (const decode of decoders) {
        try {
          decode(body);
        } catch (error) {
          assert.ok(error instanceof ProtocolError, `${decode.name}: ${error}`);
        }
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("frame type names are the wire names", () => {
  assert.equal(frameTypeName(FrameType.AuthChallenge), "AUTH_CHALLENGE");
  assert.equal(frameTypeName(FrameType.StdinWindow), "STDIN_WINDOW");
  assert.equal(frameTypeName(0x47), "0x47");
});
