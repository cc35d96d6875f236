/**
 * Shared fixtures and helpers for the tests: an in-process server on an
 * ephemeral loopback port, the `rexec` CLI run as a real subprocess, raw
 * protocol sessions, temporary directories and a few byte and error helpers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import fc from "fast-check";
import { RexecError } from "../lib/errors.ts";
import { computeProof, createNonce } from "../lib/protocol/auth.ts";
import { connect } from "../lib/client/client.ts";
import { DEFAULT_MAX_FRAME_SIZE, type Frame, FrameType } from "../lib/protocol/frame.ts";
import { FrameReader } from "../lib/transport/frame_reader.ts";
import { FrameWriter } from "../lib/transport/frame_writer.ts";
import {
  decodeAuthChallenge,
  encodeHello,
  encodeJson,
  PROTOCOL_VERSION,
} from "../lib/protocol/messages.ts";
import type { LogRecord } from "../lib/util/log.ts";
import { serve, type ServeOptions, type Server } from "../lib/server/server.ts";

/** The token every test server and client shares. */
export const TOKEN = "test-token-with-enough-length-0123";

/** Path of the CLI entry point. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** The permissions `deno task rexec` grants, kept in step with deno.json. */
export const CLI_PERMISSIONS = [
  "--allow-net",
  "--allow-run",
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=hostname,uid",
];

/** A server for one test, with the log records it wrote. */
export interface TestServer extends AsyncDisposable {
  readonly server: Server;
  readonly port: number;
  /** `127.0.0.1:PORT`, as the CLI takes it. */
  readonly address: string;
  readonly logs: LogRecord[];
}

/** Starts a server on a free loopback port with a short kill grace period. */
export async function startServer(options: Partial<ServeOptions> = {}): Promise<TestServer> {
  const logs: LogRecord[] = [];
  const server = await serve({
    token: TOKEN,
    hostname: "127.0.0.1",
    port: 0,
    killGrace: 0.5,
    logger: (record) => logs.push(record),
    ...options,
  });
  return {
    server,
    port: server.addr.port,
    address: `127.0.0.1:${server.addr.port}`,
    logs,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Connects a client to a test server. */
export function connectTo(server: TestServer, token = TOKEN): ReturnType<typeof connect> {
  return connect({ hostname: "127.0.0.1", port: server.port, token });
}

/** What a CLI run produced. */
export interface CliResult {
  readonly code: number;
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
  readonly stdoutText: string;
  readonly stderrText: string;
}

/** Options for {@link runCli} and {@link spawnCli}. */
export interface CliOptions {
  /** Bytes for stdin; stdin is closed after them. Default: no stdin (null). */
  stdin?: Uint8Array;
  /** Extra environment. */
  env?: Record<string, string>;
  /**
   * REXEC_TOKEN for the subprocess; the test token by default. With null the
   * subprocess gets a clean environment (PATH, HOME and `env` only), so that
   * no REXEC_TOKEN from the caller's shell leaks in.
   */
  token?: string | null;
  /** Working directory of the subprocess; the test's own by default. */
  cwd?: string;
  /** Deno permissions of the subprocess; {@link CLI_PERMISSIONS} by default. */
  permissions?: readonly string[];
}

/** Starts `rexec ARGS...` as a subprocess with piped stdio. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.permissions ?? CLI_PERMISSIONS), MAIN, ...args],
    clearEnv: options.token === null,
    env: {
      NO_COLOR: "1",
      ...(options.token === null
        ? { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/" }
        : { REXEC_TOKEN: options.token ?? TOKEN }),
      ...options.env,
    },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `rexec ARGS...` to completion. */
export async function runCli(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const child = spawnCli(args, options);
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout,
    stderr,
    stdoutText: decoder.decode(stdout),
    stderrText: decoder.decode(stderr),
  };
}

/** Whether a process with this pid exists; a zombie counts as gone. */
export async function processExists(pid: number): Promise<boolean> {
  const { code, stdout } = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const state = new TextDecoder().decode(stdout).trim();
  return code === 0 && state !== "" && !state.startsWith("Z");
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return await condition();
}

/**
 * Reads from `reader` until the text read so far contains or matches
 * `needle`. Fails after `timeoutMs` (default 30 s) with what it did read, so
 * that a test waiting for output that never comes fails instead of hanging.
 */
export async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  needle: string | RegExp,
  timeoutMs = 30_000,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const found = () => typeof needle === "string" ? text.includes(needle) : needle.test(text);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no ${needle} within ${timeoutMs} ms; read: ${JSON.stringify(text)}`)),
      timeoutMs,
    );
  });
  try {
    while (!found()) {
      const { value, done } = await Promise.race([reader.read(), expired]);
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/** Encodes text as UTF-8. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Decodes UTF-8 text. */
export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** A connection that speaks frames directly, for tests that misbehave on purpose. */
export interface RawSession extends Disposable {
  readonly conn: Deno.TcpConn;
  readonly reader: FrameReader;
  readonly writer: FrameWriter;
}

/**
 * Opens a raw connection; with `authenticate` it performs the handshake
 * (HELLO, AUTH_RESPONSE) with the codec and leaves the session ready for EXEC.
 */
export async function openRawSession(
  server: TestServer,
  options: { authenticate: boolean },
): Promise<RawSession> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const reader = new FrameReader(conn.readable, { maxFrameSize: DEFAULT_MAX_FRAME_SIZE });
  const writer = new FrameWriter(conn);
  const session: RawSession = {
    conn,
    reader,
    writer,
    [Symbol.dispose]() {
      try {
        conn.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    },
  };
  if (!options.authenticate) return session;
  await sendHello(writer);
  await expectFrame(reader, FrameType.Hello);
  await answerChallenge(reader, writer);
  return session;
}

/** Sends a client's HELLO, announcing `maxFrameSize`, on a raw connection. */
export function sendHello(
  writer: FrameWriter,
  maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE,
): Promise<void> {
  return writer.write(
    FrameType.Hello,
    encodeHello({ version: PROTOCOL_VERSION, maxFrameSize, agent: "raw" }),
  );
}

/** Reads the next frame and returns its body; throws unless it is of `type`. */
async function expectFrame(reader: FrameReader, type: FrameType): Promise<Uint8Array> {
  const frame = await reader.read();
  if (frame?.type !== type) throw new Error(`expected ${type}, got ${frame?.type}`);
  return frame.body;
}

/**
 * The client's half of the handshake after the HELLOs: answers the server's
 * AUTH_CHALLENGE with a proof made with `token` and waits for AUTH_OK.
 */
export async function answerChallenge(
  reader: FrameReader,
  writer: FrameWriter,
  token: string = TOKEN,
): Promise<void> {
  const { nonce: serverNonce } = decodeAuthChallenge(
    await expectFrame(reader, FrameType.AuthChallenge),
  );
  const clientNonce = createNonce();
  const mac = await computeProof({ token, role: "client", serverNonce, clientNonce });
  await writer.write(FrameType.AuthResponse, encodeJson({ nonce: clientNonce, mac }));
  await expectFrame(reader, FrameType.AuthOk);
}

/** Reads frames until the connection ends; returns them. */
export async function readAllFrames(reader: FrameReader): Promise<Frame[]> {
  const frames: Frame[] = [];
  try {
    for (let frame = await reader.read(); frame !== null; frame = await reader.read()) {
      frames.push(frame);
    }
  } catch (error) {
    if (
      !(error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BadResource)
    ) {
      throw error;
    }
  }
  return frames;
}

/** A `rexec serve` subprocess started by {@link startCliServer}. */
export interface CliServer {
  /** `HOST:PORT` it listens on, as the CLI takes it. */
  readonly address: string;
  /** Its log as read so far: up to its "listening" line, then what {@link waitForLog} read. */
  readonly log: string;
  /** Reads the log until `needle` appears in what is read from now on. */
  waitForLog(needle: string | RegExp): Promise<void>;
  /** Sends `signal` to the server. */
  signal(signal: Deno.Signal): void;
  /** Sends SIGTERM and waits for the server to exit; returns its exit code and whole log. */
  stop(): Promise<{ code: number; log: string }>;
}

/**
 * Starts `rexec serve ARGS` on a free loopback port and waits until it
 * listens. A device such as /dev/full needs `permissions: ["--allow-all"]`.
 */
export async function startCliServer(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliServer> {
  const serve = spawnCli(["serve", "--listen", "127.0.0.1:0", ...args], options);
  const logReader = serve.stderr.getReader();
  let log = await readUntil(logReader, /listening address=\S+\s/);
  const address = log.match(/listening address=(\S+)\s/)![1];
  return {
    address,
    get log() {
      return log;
    },
    async waitForLog(needle: string | RegExp) {
      log += await readUntil(logReader, needle);
    },
    signal(signal: Deno.Signal) {
      serve.kill(signal);
    },
    async stop() {
      serve.kill("SIGTERM");
      logReader.releaseLock();
      const { code, stderr } = await serve.output();
      return { code, log: log + text(stderr) };
    },
  };
}

/**
 * Runs `fn` with a new temporary directory (its real path, as the server
 * sees it) and removes the directory afterwards.
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  await using dir = await tempDir();
  return await fn(dir.path);
}

/** A new temporary directory (its real path), removed with everything in it when disposed. */
export async function tempDir(): Promise<AsyncDisposable & { readonly path: string }> {
  // realPath: on some systems the temporary directory itself is behind a link.
  const path = await Deno.realPath(await Deno.makeTempDir({ prefix: "rexec_test_" }));
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Whether anything exists at `path`, a dangling link included. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * A check for `assert.throws` and `assert.rejects`: the error is a
 * {@link RexecError} of class `type` whose message holds every one of `mentions`.
 */
export function errorMentioning(
  type: abstract new (...args: never[]) => Error,
  ...mentions: string[]
): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof type, `not a ${type.name}: ${error}`);
    assert.ok(error instanceof RexecError, `not a RexecError: ${error}`);
    for (const mention of mentions) {
      assert.ok(error.message.includes(mention), `${error.message} lacks ${mention}`);
    }
    return true;
  };
}

/** The bytes of `parts`, one after another, in a new array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Bodies of many kilobytes, filled by xorshift from a seed: cheap to generate and to shrink. */
export function largeBody(minLength: number, maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.integer({ min: minLength, max: maxLength }), fc.integer()).map(
    ([length, seed]) => {
      const body = new Uint8Array(length);
      let state = seed | 1;
      for (let i = 0; i < length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        body[i] = state;
      }
      return body;
    },
  );
}

/**
 * Lets every pending callback run: a promise that could settle now has. It
 * waits for a timer and then for an immediate, so that work queued with
 * setImmediate before it (as pumpOutput queues its next look at the pipe)
 * has run too: on a loaded machine a timer of 0 ms fires first.
 */
export function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(() => setImmediate(resolve), 0));
}
