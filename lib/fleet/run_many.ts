/**
 * One command on many hosts: {@link runMany} connects to each target, runs
 * the command there, and yields one {@link HostResult} per host as each
 * ends, with at most `parallel` hosts at once.
 *
 * @module
 */

import { connect } from "../client/client.ts";
import { DEFAULT_PARALLEL } from "../client/defaults.ts";
import { outputQueue, type RemoteProcess, stdinSink } from "../client/remote_process.ts";
import type { PushedByteStream } from "../client/pushed_stream.ts";
import { resolveToken } from "../config/token.ts";
import { TlsError } from "../errors.ts";
import { formatHostPort } from "../transport/address.ts";
import { concatBytes } from "../util/bytes.ts";
import { StdinFanout } from "./stdin_fanout.ts";
import { parseHostTarget, type Target } from "./targets.ts";

/**
 * How one host's run ended, with everything it wrote (unless the output was
 * streamed instead, see {@link RunManyOptions.collectOutput}). The fields are
 * those of `rexec run --json`, in camelCase; {@link hostResultJson} writes
 * the JSON line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HostResult } from "./run_many.ts";
 *
 * const unreachable: HostResult = {
 *   host: "db9",
 *   address: "db9:7022",
 *   exitCode: null,
 *   signal: null,
 *   timedOut: false,
 *   error: "cannot connect to db9:7022: connection refused",
 *   durationMs: 3,
 *   stdout: new Uint8Array(0),
 *   stderr: new Uint8Array(0),
 * };
 * assert.equal(unreachable.exitCode, null); // no command ran
 * ```
 */
export interface HostResult {
  /** The target as the user named it: a host alias, or the host as written. */
  readonly host: string;
  /** `HOST:PORT` connected to. */
  readonly address: string;
  /** The command's exit code (128+N when killed by signal N); null when `error` is set. */
  readonly exitCode: number | null;
  /** Name of the signal that ended the command, or null. */
  readonly signal: string | null;
  /** Whether the server ended the command at the per-host timeout. */
  readonly timedOut: boolean;
  /** Why rexec itself failed for this host (unreachable, authentication, refused, lost); else null. */
  readonly error: string | null;
  /** Milliseconds from the start of connecting to the end. */
  readonly durationMs: number;
  /** Everything the command wrote to stdout (empty when streamed instead). */
  readonly stdout: Uint8Array;
  /** Everything the command wrote to stderr (empty when streamed instead). */
  readonly stderr: Uint8Array;
  /**
   * When the server turned the command down (its policy, too busy, shutting
   * down): why, and the exit status it gave, which a single-host run exits with.
   */
  readonly refusal?: { readonly reason: "refused" | "busy" | "shutdown"; readonly code: number };
}

/**
 * A piece of one host's output, as {@link RunManyOptions.onOutput} gets it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HostOutput } from "./run_many.ts";
 *
 * const output: HostOutput = { host: "web1", stream: "stdout", bytes: new Uint8Array([0x0a]) };
 * assert.equal(output.stream, "stdout");
 * ```
 */
export interface HostOutput {
  /** The target's name. */
  readonly host: string;
  /** Which of its outputs. */
  readonly stream: "stdout" | "stderr";
  /** The bytes; valid only until the returned promise settles (copy them to keep them). */
  readonly bytes: Uint8Array;
}

/**
 * Options of {@link runMany}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunManyOptions } from "./run_many.ts";
 *
 * const options: RunManyOptions = { token: "a-shared-secret-of-some-length", parallel: 8 };
 * assert.equal(options.parallel, 8);
 * ```
 */
export interface RunManyOptions {
  /**
   * The token for targets without a token file of their own; when absent,
   * found as `rexec run` finds it (`REXEC_TOKEN`, else the default file).
   */
  readonly token?: string;
  /** Variables added to each server's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory on each server. */
  readonly cwd?: string;
  /** Seconds after which each server terminates its command. */
  readonly timeout?: number;
  /** Seconds allowed to connect and authenticate, per host; default 15. */
  readonly connectTimeout?: number;
  /** Seconds between keepalive PINGs; 0 disables. */
  readonly keepalive?: number;
  /** Most hosts at once; default {@link DEFAULT_PARALLEL}. */
  readonly parallel?: number;
  /**
   * Bytes every host reads as its stdin, each its own copy; when absent,
   * stdin is empty. A stream is read no further than 8 MiB ahead of the
   * slowest running host.
   */
  readonly stdin?: ReadableStream<Uint8Array> | Uint8Array;
  /**
   * Ends every running command (and waits for its end) and starts no more
   * hosts; the hosts not started are yielded with an error.
   */
  readonly signal?: AbortSignal;
  /** Called with output as it arrives; the next piece of that host's stream waits for it. */
  readonly onOutput?: (output: HostOutput) => void | Promise<void>;
  /** Called when a host starts connecting. */
  readonly onStart?: (target: Target) => void;
  /** Keep each host's output for its result; default true. */
  readonly collectOutput?: boolean;
  /** Called with warnings about token files others can read. */
  readonly onWarning?: (message: string) => void;
}

/** What to run: an argv, or a line for the remote `/bin/sh -c`. */
export type FleetCommand = readonly string[] | { readonly shell: string };

/**
 * Runs `command` on every target, at most `parallel` at once, and yields
 * each host's result as it ends. A host that fails (unreachable, refused,
 * connection lost) is a result with `error` set, never an exception: the
 * others still run. Breaking out of the loop ends the commands still running.
 *
 * Targets are {@link Target}s (as `resolveTargets` makes them from names and
 * an inventory) or strings `HOST[:PORT]` / `tls://HOST[:PORT]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { runMany } from "./run_many.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using a = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using b = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * const targets = [`127.0.0.1:${a.addr.port}`, `127.0.0.1:${b.addr.port}`];
 *
 * const results = [];
 * for await (const result of runMany(targets, ["sh", "-c", "cat; exit 3"], {
 *   token,
 *   stdin: new TextEncoder().encode("hi\n"),
 * })) {
 *   results.push(result);
 * }
 * assert.equal(results.length, 2);
 * for (const result of results) {
 *   assert.equal(result.exitCode, 3);
 *   assert.equal(result.error, null);
 *   assert.equal(new TextDecoder().decode(result.stdout), "hi\n");
 * }
 * ```
 */
export async function* runMany(
  targets: readonly (Target | string)[],
  command: FleetCommand,
  options: RunManyOptions = {},
): AsyncGenerator<HostResult, void, undefined> {
  const list = targets.map(toTarget);
  const parallel = options.parallel ?? DEFAULT_PARALLEL;
  if (!Number.isSafeInteger(parallel) || parallel < 1) {
    throw new RangeError(`parallel must be a whole number from 1, got ${parallel}`);
  }
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const fanout = options.stdin === undefined
    ? undefined
    : new StdinFanout(options.stdin, list.length);
  const secrets = new Secrets(options);
  const done: HostResult[] = [];
  let wake: (() => void) | undefined;
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const target = list[next++];
      const stdin = fanout?.reader();
      let result: HostResult;
      try {
        result = stop.signal.aborted
          ? notStarted(target)
          : await runOne(target, command, options, stop.signal, secrets, stdin);
      } catch (error) {
        // A failure of the caller's onOutput or onStart: that host's result says so.
        result = failed(target, 0, messageOf(error));
      } finally {
        stdin?.close();
      }
      done.push(result);
      wake?.();
    }
  };
  const workers = Promise.all(
    Array.from({ length: Math.min(parallel, list.length) }, worker),
  );
  let yielded = 0;
  try {
    while (yielded < list.length) {
      if (done.length === 0) {
        const woken = new Promise<void>((resolve) => wake = resolve);
        await woken;
        wake = undefined;
        continue;
      }
      yielded++;
      yield done.shift()!;
    }
  } finally {
    // Reached early only when the caller stopped iterating: end the rest.
    stop.abort();
    await workers;
    options.signal?.removeEventListener("abort", onAbort);
    fanout?.close();
  }
}

/**
 * The `rexec run --json` line for a result: the fields in snake_case, output
 * as text when it is UTF-8, else as `stdout_base64` / `stderr_base64`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostResultJson } from "./run_many.ts";
 *
 * const line = hostResultJson({
 *   host: "web1",
 *   address: "10.0.0.5:7022",
 *   exitCode: 0,
 *   signal: null,
 *   timedOut: false,
 *   error: null,
 *   durationMs: 12,
 *   stdout: new TextEncoder().encode("up\n"),
 *   stderr: new Uint8Array([0xff]),
 * });
 * assert.deepEqual(JSON.parse(line), {
 *   host: "web1",
 *   address: "10.0.0.5:7022",
 *   exit_code: 0,
 *   signal: null,
 *   timed_out: false,
 *   error: null,
 *   duration_ms: 12,
 *   stdout: "up\n",
 *   stderr_base64: "/w==",
 * });
 * ```
 */
export function hostResultJson(result: HostResult): string {
  return [...hostResultJsonParts(result)].join("");
}

/**
 * The same line as {@link hostResultJson}, newline not included, in pieces
 * of a few MiB each: an output too big to be one string in memory (more
 * than about 500 MiB) can still be written, one piece after the other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostResultJson, hostResultJsonParts } from "./run_many.ts";
 *
 * const result = {
 *   host: "web1",
 *   address: "10.0.0.5:7022",
 *   exitCode: 0,
 *   signal: null,
 *   timedOut: false,
 *   error: null,
 *   durationMs: 12,
 *   stdout: new Uint8Array(20_000_000).fill(0x61),
 *   stderr: new Uint8Array(0),
 * };
 * const parts = [...hostResultJsonParts(result)];
 * assert.ok(parts.length > 1);
 * assert.equal(parts.join(""), hostResultJson(result));
 * ```
 */
export function* hostResultJsonParts(result: HostResult): Generator<string, void, undefined> {
  const head = JSON.stringify({
    host: result.host,
    address: result.address,
    exit_code: result.exitCode,
    signal: result.signal,
    timed_out: result.timedOut,
    error: result.error,
    duration_ms: result.durationMs,
  });
  yield head.slice(0, -1);
  yield* outputField("stdout", result.stdout);
  yield* outputField("stderr", result.stderr);
  yield "}";
}

/** Bytes of output turned into JSON at a time: a few MiB of text, whatever the output's size. */
const PIECE_BYTES = 4 * 1024 * 1024;

function* outputField(name: string, bytes: Uint8Array): Generator<string, void, undefined> {
  if (isUtf8(bytes)) {
    yield `,"${name}":"`;
    const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    for (let start = 0; start < bytes.length; start += PIECE_BYTES) {
      const end = Math.min(start + PIECE_BYTES, bytes.length);
      // stream: a character cut at the end of a piece is finished by the next.
      const text = decoder.decode(bytes.subarray(start, end), { stream: end < bytes.length });
      yield JSON.stringify(text).slice(1, -1);
    }
    yield '"';
  } else {
    // Not UTF-8: the bytes go as they are, in base64, three bytes to four characters.
    yield `,"${name}_base64":"`;
    const piece = PIECE_BYTES - PIECE_BYTES % 3;
    for (let start = 0; start < bytes.length; start += piece) {
      yield base64(bytes.subarray(start, start + piece));
    }
    yield '"';
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  try {
    for (let start = 0; start < bytes.length; start += PIECE_BYTES) {
      const end = Math.min(start + PIECE_BYTES, bytes.length);
      decoder.decode(bytes.subarray(start, end), { stream: end < bytes.length });
    }
    return true;
  } catch {
    return false;
  }
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

function toTarget(target: Target | string): Target {
  if (typeof target !== "string") return target;
  const host = parseHostTarget(target);
  return {
    name: target,
    hostname: host.hostname,
    port: host.port,
    ...(host.tls ? { tls: {} } : {}),
  };
}

const EMPTY = new Uint8Array(0);

/** Bytes of buffer per connection and output stream, and the largest frame asked for. */
const FLEET_BUFFER_SIZE = 64 * 1024;

type StdinReader = ReturnType<StdinFanout["reader"]>;

function notStarted(target: Target): HostResult {
  return failed(target, 0, "not started: the run was cancelled");
}

function failed(target: Target, durationMs: number, error: string): HostResult {
  return {
    host: target.name,
    address: formatHostPort(target.hostname, target.port),
    exitCode: null,
    signal: null,
    timedOut: false,
    error,
    durationMs,
    stdout: EMPTY,
    stderr: EMPTY,
  };
}

/** Tokens and CA certificates, each file read once for all the hosts that name it. */
class Secrets {
  readonly #options: RunManyOptions;
  readonly #tokens = new Map<string | undefined, Promise<string>>();
  readonly #cas = new Map<string, Promise<string>>();

  constructor(options: RunManyOptions) {
    this.#options = options;
  }

  token(tokenFile: string | undefined): Promise<string> {
    if (tokenFile === undefined && this.#options.token !== undefined) {
      return Promise.resolve(this.#options.token);
    }
    let found = this.#tokens.get(tokenFile);
    if (!found) {
      found = resolveToken({ tokenFile }).then(({ token, warnings }) => {
        for (const warning of warnings) this.#options.onWarning?.(warning);
        return token;
      });
      found.catch(() => undefined);
      this.#tokens.set(tokenFile, found);
    }
    return found;
  }

  ca(path: string): Promise<string> {
    let found = this.#cas.get(path);
    if (!found) {
      found = readCa(path);
      found.catch(() => undefined);
      this.#cas.set(path, found);
    }
    return found;
  }
}

async function readCa(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new TlsError(`cannot read the CA certificate ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TlsError(`${path} is not a PEM certificate: it has no -----BEGIN CERTIFICATE-----`);
  }
  return text;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

async function runOne(
  target: Target,
  command: FleetCommand,
  options: RunManyOptions,
  stop: AbortSignal,
  secrets: Secrets,
  stdinReader: StdinReader | undefined,
): Promise<HostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  options.onStart?.(target);
  {
    let client;
    try {
      const token = await secrets.token(target.tokenFile);
      const caFile = target.tls?.caFile;
      const caCerts = caFile === undefined ? undefined : [await secrets.ca(caFile)];
      // Aborting while connecting drops the connection; once connected, the
      // command is cancelled instead, so that its EXIT is awaited.
      const connecting = new AbortController();
      const onStop = () => connecting.abort();
      stop.addEventListener("abort", onStop, { once: true });
      try {
        client = await connect({
          hostname: target.hostname,
          port: target.port,
          token,
          signal: connecting.signal,
          // Many connections at once: small buffers each keep the total bounded.
          maxFrameSize: FLEET_BUFFER_SIZE,
          bufferSize: FLEET_BUFFER_SIZE,
          ...(options.connectTimeout !== undefined ? { timeout: options.connectTimeout } : {}),
          ...(options.keepalive !== undefined ? { keepalive: options.keepalive } : {}),
          ...(target.tls ? { tls: caCerts ? { caCerts } : {} } : {}),
        });
      } finally {
        stop.removeEventListener("abort", onStop);
      }
    } catch (error) {
      if (stop.aborted) return failed(target, elapsed(), "cancelled while connecting");
      return failed(target, elapsed(), messageOf(error));
    }
    await using _client = client;
    if (stop.aborted) return failed(target, elapsed(), "cancelled while connecting");
    const spawnOptions = {
      env: { ...options.env },
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      stdin: stdinReader ? "piped" as const : "null" as const,
      signal: stop,
    };
    const child = "shell" in command
      ? client.spawnShell(command.shell, spawnOptions)
      : client.spawn(command as readonly string[], spawnOptions);
    const stdinCopy = stdinReader ? copyStdin(stdinReader, child) : undefined;
    const collect = options.collectOutput ?? true;
    const drained = (stream: "stdout" | "stderr") =>
      drain(target, stream, child, options.onOutput, collect);
    const [stdout, stderr, status] = await Promise.all([
      drained("stdout"),
      drained("stderr"),
      child.status.then((status) => ({ status }), (error: unknown) => ({ error })),
    ]);
    if (stdout.failure || stderr.failure) throw (stdout.failure ?? stderr.failure)!.reason;
    if (stdinCopy && "readFailure" in stdinCopy) {
      // rexec ended the command, not the host: the result says why.
      const why = `reading local stdin failed: ${messageOf(stdinCopy.readFailure)}`;
      return { ...failed(target, elapsed(), why), stdout, stderr };
    }
    if ("error" in status) {
      return { ...failed(target, elapsed(), messageOf(status.error)), stdout, stderr };
    }
    const { reason, message, code, signal } = status.status;
    if (reason === "refused" || reason === "busy" || reason === "shutdown") {
      return {
        // The host is named where the error is shown: the message is the server's own.
        ...failed(target, elapsed(), message ?? reason),
        stdout,
        stderr,
        refusal: { reason, code },
      };
    }
    const note = reason === "spawn_failed" && message ? `rexec: ${message}\n` : "";
    return {
      host: target.name,
      address: formatHostPort(target.hostname, target.port),
      exitCode: code,
      signal,
      timedOut: reason === "timeout",
      error: null,
      durationMs: elapsed(),
      stdout,
      // A program that could not start says why on its stderr, as a shell would.
      stderr: note === "" ? stderr : concatBytes([stderr, new TextEncoder().encode(note)]),
    };
  }
}

/** Copies this host's copy of stdin to its command, end of file included. */
function copyStdin(
  reader: StdinReader,
  child: RemoteProcess,
): { readFailure?: unknown } {
  const copy: { readFailure?: unknown } = {};
  const sink = stdinSink(child);
  const next = () =>
    reader.next().catch((error: unknown) => {
      copy.readFailure = error;
      throw error;
    });
  (async () => {
    for (let bytes = await next(); bytes !== null; bytes = await next()) {
      await sink.write(bytes);
    }
    sink.close();
  })().catch((error) => {
    // The command ended before reading all of its stdin: it needs no more.
    // Local stdin failing (another error) leaves it without the rest: it ends.
    if (!(error instanceof Deno.errors.BrokenPipe)) child.cancel();
  }).finally(() => reader.close());
  return copy;
}

/**
 * Reads one output of the command to its end. When the connection fails,
 * the output ends with what came; the command's status says why. When
 * `onOutput` fails, the command is cancelled and the failure kept for the
 * result.
 */
async function drain(
  target: Target,
  stream: "stdout" | "stderr",
  child: RemoteProcess,
  onOutput: RunManyOptions["onOutput"],
  collect: boolean,
): Promise<Uint8Array & { failure?: { reason: unknown } }> {
  const queue: PushedByteStream = outputQueue(child, stream);
  const parts: Uint8Array[] = [];
  for (;;) {
    let bytes: Uint8Array | null;
    try {
      bytes = await queue.take();
    } catch {
      break; // the connection failed: child.status rejects with the reason
    }
    if (bytes === null) break;
    if (collect) parts.push(bytes.slice());
    if (!onOutput) continue;
    try {
      await onOutput({ host: target.name, stream, bytes });
    } catch (reason) {
      queue.cancel();
      child.cancel();
      return Object.assign(concatBytes(parts), { failure: { reason } });
    }
  }
  return concatBytes(parts);
}
