/**
 * A command running on a rexec server, seen from the client: stdin, stdout
 * and stderr streams and a status promise, shaped like `Deno.ChildProcess`.
 *
 * @module
 */

import { FrameType } from "../protocol/frame.ts";
import type { FrameWriter } from "../transport/frame_writer.ts";
import {
  decodeExecRequest,
  encodeJson,
  type ExecRequest,
  type ExitReason,
  type ExitReport,
  type TtyRequest,
  type WindowSize,
} from "../protocol/messages.ts";
import { PushedByteStream } from "./pushed_stream.ts";

/**
 * Bytes of output the client buffers per stream before it stops reading the
 * connection. Room for several frames lets a consumer that writes somewhere
 * slow per call (local stdout) take many frames in one write.
 */
const OUTPUT_HIGH_WATER_MARK = 1024 * 1024;

/** The channel behind each process, for the CLI's direct access below. */
const channels = new WeakMap<RemoteProcess, CommandChannel>();

/**
 * The queue behind a process's stdout or stderr, for a consumer that takes
 * its bytes in batches without stream machinery (the CLI copying them to
 * local stdout). Not part of the library's API: use the streams or
 * `output()` instead.
 *
 * @throws {TypeError} when that output is not piped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 * import { outputQueue } from "./remote_process.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const child = client.spawn(["seq", "3"]);
 *
 * const stdout = outputQueue(child, "stdout");
 * const received: string[] = [];
 * for (let bytes = await stdout.take(); bytes !== null; bytes = await stdout.take()) {
 *   received.push(new TextDecoder().decode(bytes)); // the CLI writes them to Deno.stdout
 * }
 * assert.equal(received.join(""), "1\n2\n3\n");
 * assert.equal((await child.status).code, 0);
 * ```
 */
export function outputQueue(process: RemoteProcess, name: "stdout" | "stderr"): PushedByteStream {
  return channels.get(process)!.queue(name);
}

/**
 * Where a process's stdin goes, for a producer that writes bytes without
 * stream machinery (the CLI forwarding local stdin). `write` resolves once
 * the bytes were sent, so the caller may reuse its buffer; it rejects with
 * `Deno.errors.BrokenPipe` once the command has ended. Not part of the
 * library's API: use the stream instead.
 *
 * @throws {TypeError} when stdin is not piped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 * import { stdinSink } from "./remote_process.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 * const child = client.spawn(["wc", "-c"], { stdin: "piped" });
 *
 * const stdin = stdinSink(child);
 * const buffer = new TextEncoder().encode("hello\n");
 * await stdin.write(buffer);
 * await stdin.write(buffer); // sent already, so the buffer may be reused
 * stdin.close();
 * const { stdout } = await child.output();
 * assert.equal(new TextDecoder().decode(stdout).trim(), "12");
 * ```
 */
export function stdinSink(
  process: RemoteProcess,
): { write(bytes: Uint8Array): Promise<void>; close(): void } {
  return channels.get(process)!.stdinSink();
}

/**
 * Options for `Client.spawn` and `Client.spawnShell`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 * import type { SpawnOptions } from "./remote_process.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *
 * const options: SpawnOptions = {
 *   env: { GREETING: "hello" },
 *   cwd: "/tmp",
 *   timeout: 60,
 *   stderr: "null",
 * };
 * const child = client.spawnShell('echo "$GREETING from $(pwd)"; echo lost >&2', options);
 * const { code, stdout, stderr } = await child.output();
 * assert.equal(code, 0);
 * assert.equal(new TextDecoder().decode(stdout), "hello from /tmp\n");
 * assert.equal(stderr.length, 0); // sent to the server's /dev/null
 * ```
 */
export interface SpawnOptions {
  /** Variables added to the server's environment for this command. */
  env?: Record<string, string>;
  /** Working directory on the server; `rexec serve` takes a relative one from the home directory, its default. */
  cwd?: string;
  /** Seconds after which the server terminates the command (it may cap this). */
  timeout?: number;
  /** `piped` to write the command's stdin; default `null` (it reads end of file). */
  stdin?: "piped" | "null";
  /** `piped` (default) to read stdout; `null` sends it to the server's /dev/null. */
  stdout?: "piped" | "null";
  /** `piped` (default) to read stderr; `null` sends it to the server's /dev/null. */
  stderr?: "piped" | "null";
  /** Terminates the command (SIGTERM, then SIGKILL) when aborted. */
  signal?: AbortSignal;
  /**
   * Run the command on a pseudo-terminal of this size (`term`: its `TERM`,
   * default `xterm-256color`). Its stdin, stdout and stderr are then the
   * terminal: all output comes on `stdout`, there is no `stderr`, and
   * `stdin` is piped unless asked otherwise. Closing stdin types Ctrl-D.
   */
  tty?: { rows: number; cols: number; term?: string };
}

/** The `TERM` of a command on a terminal when the caller names none. */
export const DEFAULT_TERM = "xterm-256color";

/**
 * How a remote command ended.
 *
 * @example A command the server ended when its time was up
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 * import type { RemoteStatus } from "./remote_process.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *
 * const status: RemoteStatus = await client.spawn(["sleep", "60"], { timeout: 0.2 }).status;
 * assert.deepEqual(status, {
 *   success: false,
 *   code: 128 + 15,
 *   signal: "SIGTERM",
 *   reason: "timeout",
 *   message: "timed out after 0.2 s",
 * });
 * ```
 */
export interface RemoteStatus {
  /** Whether the command exited with code 0. */
  readonly success: boolean;
  /** Exit code; 128+N when killed by signal N; 126 or 127 when it could not start. */
  readonly code: number;
  /** Name of the signal that killed the command, or null. */
  readonly signal: Deno.Signal | null;
  /** Set when the server ended the command itself, or could not start it. */
  readonly reason?: ExitReason;
  /** What the server said about `reason`. */
  readonly message?: string;
}

/**
 * A remote command's status and everything it wrote.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 * import type { RemoteOutput } from "./remote_process.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *
 * const output: RemoteOutput = await client.spawnShell("echo out; echo err >&2; exit 3").output();
 * assert.equal(output.success, false);
 * assert.equal(output.code, 3);
 * assert.equal(new TextDecoder().decode(output.stdout), "out\n");
 * assert.equal(new TextDecoder().decode(output.stderr), "err\n");
 * ```
 */
export interface RemoteOutput extends RemoteStatus {
  /** All of stdout; empty when it was not piped. */
  readonly stdout: Uint8Array;
  /** All of stderr; empty when it was not piped. */
  readonly stderr: Uint8Array;
}

/** What a command channel needs from its connection. */
export interface CommandHost {
  /** The connection's frame writer. */
  readonly writer: FrameWriter;
  /** Largest frame body the server accepts. */
  readonly maxFrameSize: number;
  /** Stdin bytes the server lets a command have in flight. */
  readonly stdinWindow: number;
  /** Bytes kept per output stream before reading the connection stops; default 1 MiB. */
  readonly outputBuffer?: number;
  /** Called when a write fails: the connection is gone. */
  onWriteFailed(error: unknown): void;
}

/**
 * A command running on the server.
 *
 * Read stdout and stderr (or call {@link RemoteProcess.output}): like a
 * local child process, a command whose output nobody reads stops once the
 * buffers between them are full.
 *
 * @example Streaming stdin through a remote command
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *
 * const child = client.spawn(["tr", "a-z", "A-Z"], { stdin: "piped" });
 * const writer = child.stdin.getWriter();
 * await writer.write(new TextEncoder().encode("hello\n"));
 * await writer.close();
 * const { code, stdout } = await child.output();
 * assert.equal(code, 0);
 * assert.equal(new TextDecoder().decode(stdout), "HELLO\n");
 * ```
 *
 * @example Ending a command early
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { connect } from "./client.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
 *
 * const child = client.spawn(["sleep", "60"]);
 * child.cancel();
 * const status = await child.status;
 * assert.equal(status.reason, "cancelled");
 * assert.equal(status.signal, "SIGTERM");
 * ```
 */
export class RemoteProcess {
  /** Resolves when the command has ended; rejects when the connection failed first. */
  readonly status: Promise<RemoteStatus>;
  readonly #channel: CommandChannel;

  /** Created by `Client.spawn`. */
  constructor(channel: CommandChannel, status: Promise<RemoteStatus>) {
    this.#channel = channel;
    this.status = status;
    channels.set(this, channel);
  }

  /** The command's stdin. @throws {TypeError} when stdin is not piped. */
  get stdin(): WritableStream<Uint8Array> {
    return this.#channel.stream("stdin");
  }

  /** The command's stdout. @throws {TypeError} when stdout is not piped. */
  get stdout(): ReadableStream<Uint8Array> {
    return this.#channel.stream("stdout");
  }

  /** The command's stderr. @throws {TypeError} when stderr is not piped. */
  get stderr(): ReadableStream<Uint8Array> {
    return this.#channel.stream("stderr");
  }

  /** Waits for the command to end and returns its status and all its output. */
  async output(): Promise<RemoteOutput> {
    const collect = (name: "stdout" | "stderr") =>
      this.#channel.isPiped(name)
        ? this.#channel.queue(name).readAll()
        : Promise.resolve(new Uint8Array(0));
    const [stdout, stderr, status] = await Promise.all([
      collect("stdout"),
      collect("stderr"),
      this.status,
    ]);
    return { ...status, stdout, stderr };
  }

  /** Sends `signal` (default SIGTERM) to the command's process group on the server. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    this.#channel.sendControl(FrameType.Signal, encodeJson({ signal }));
  }

  /**
   * Tells the command's terminal its new size; the command gets SIGWINCH.
   *
   * @throws {TypeError} when the command was not started with `tty`.
   *
   * @example A full-screen program learns of a resize
   * ```ts
   * import assert from "node:assert/strict";
   * import { serve } from "../server/server.ts";
   * import { connect } from "./client.ts";
   *
   * const token = "a-shared-secret-of-some-length";
   * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
   * await using client = await connect({ hostname: "127.0.0.1", port: server.addr.port, token });
   * const child = client.spawnShell(
   *   "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done",
   *   { tty: { rows: 24, cols: 80 } },
   * );
   * const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
   * let screen = "";
   * while (!screen.includes("ready")) screen += (await reader.read()).value;
   * child.resize({ rows: 50, cols: 132 });
   * for (let part = await reader.read(); !part.done; part = await reader.read()) screen += part.value;
   * assert.match(screen, /50 132\r\n/);
   * assert.equal((await child.status).code, 0);
   * ```
   */
  resize(size: WindowSize): void {
    if (!this.#channel.hasTerminal) throw new TypeError("the command has no terminal to resize");
    this.#channel.sendControl(
      FrameType.WindowSize,
      encodeJson({ rows: size.rows, cols: size.cols }),
    );
  }

  /**
   * Asks the server to end the command and everything it started: SIGTERM,
   * then SIGKILL after the server's grace period. The status then has
   * reason `cancelled`.
   */
  cancel(): void {
    this.#channel.sendControl(FrameType.Cancel);
  }
}

/**
 * The client's side of one command: turns incoming frames into stream data
 * and a status, and the caller's stdin into frames within the server's
 * window. Internal to the client.
 */
export class CommandChannel {
  /** The user-facing process. */
  readonly process: RemoteProcess;
  readonly #host: CommandHost;
  readonly #request: ExecRequest;
  readonly #status: PromiseWithResolvers<RemoteStatus>;
  readonly #stdout: PushedByteStream | undefined;
  readonly #stderr: PushedByteStream | undefined;
  #stdin: WritableStream<Uint8Array> | undefined;
  #credit: number;
  #creditWaiter: PromiseWithResolvers<void> | undefined;
  #ended = false;
  #stdinEnded = false;

  /**
   * Sends the EXEC request and sets up the streams.
   *
   * @throws {TypeError} when the request would be refused by the server, for
   * example an env name with `=` or a timeout out of range.
   */
  constructor(
    host: CommandHost,
    command: Pick<ExecRequest, "argv" | "shell" | "login">,
    options: SpawnOptions,
  ) {
    this.#host = host;
    this.#credit = host.stdinWindow;
    const tty: TtyRequest | undefined = options.tty && {
      rows: options.tty.rows,
      cols: options.tty.cols,
      term: options.tty.term ?? DEFAULT_TERM,
    };
    this.#request = {
      ...command,
      ...(options.env ? { env: { ...options.env } } : {}),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      ...(tty ? { tty } : {}),
      stdin: tty ? options.stdin !== "null" : options.stdin === "piped",
      stdout: options.stdout !== "null",
      // A terminal has one output: what the command writes to stderr comes on stdout.
      stderr: !tty && options.stderr !== "null",
    };
    const exec = encodeJson(this.#request);
    try {
      // The server's own validator, run here so that a bad request is a local
      // error instead of a protocol error that ends the connection.
      decodeExecRequest(exec);
    } catch (error) {
      throw new TypeError((error as Error).message, { cause: error });
    }
    this.#status = Promise.withResolvers<RemoteStatus>();
    // Rejections are for whoever awaits the status; a caller who only reads
    // the streams sees the same error there and must not crash on it.
    this.#status.promise.catch(() => undefined);
    const highWaterMark = host.outputBuffer ?? OUTPUT_HIGH_WATER_MARK;
    const output = () => new PushedByteStream({ highWaterMark });
    this.#stdout = this.#request.stdout ? output() : undefined;
    this.#stderr = this.#request.stderr ? output() : undefined;
    this.process = new RemoteProcess(this, this.#status.promise);
    this.sendControl(FrameType.Exec, exec);
    const { signal } = options;
    if (signal) {
      const onAbort = () => this.process.cancel();
      if (signal.aborted) onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#status.promise.finally(() => signal.removeEventListener("abort", onAbort))
        .catch(() => undefined);
    }
  }

  /** Whether the command runs on a terminal. */
  get hasTerminal(): boolean {
    return this.#request.tty !== undefined;
  }

  /** Whether the named stream was requested as piped. */
  isPiped(name: "stdin" | "stdout" | "stderr"): boolean {
    return this.#request[name];
  }

  /**
   * The named stream, made on first use: a client that never asks for one
   * (`output()`, the CLI) never loads the streams machinery.
   *
   * @throws {TypeError} when it is not piped.
   */
  stream(name: "stdin"): WritableStream<Uint8Array>;
  stream(name: "stdout" | "stderr"): ReadableStream<Uint8Array>;
  stream(
    name: "stdin" | "stdout" | "stderr",
  ): WritableStream<Uint8Array> | ReadableStream<Uint8Array> {
    if (name !== "stdin") return this.queue(name).readable;
    if (!this.#request.stdin) throw new TypeError("stdin is not piped");
    this.#stdin ??= new WritableStream<Uint8Array>({
      write: (chunk) => this.#sendStdin(chunk),
      close: () => this.#endStdin(),
      abort: () => this.#endStdin(),
    });
    return this.#stdin;
  }

  /** The queue behind stdout or stderr. @throws {TypeError} when it is not piped. */
  queue(name: "stdout" | "stderr"): PushedByteStream {
    const queue = name === "stdout" ? this.#stdout : this.#stderr;
    if (!queue) throw new TypeError(`${name} is not piped`);
    return queue;
  }

  /** Stdin without a stream. @throws {TypeError} when it is not piped. */
  stdinSink(): { write(bytes: Uint8Array): Promise<void>; close(): void } {
    if (!this.#request.stdin) throw new TypeError("stdin is not piped");
    return { write: (bytes) => this.#sendStdin(bytes), close: () => this.#endStdin() };
  }

  /** Sends a control frame while the command runs; a no-op once it ended. */
  sendControl(type: FrameType, body?: Uint8Array): void {
    if (this.#ended) return;
    this.#host.writer.write(type, body).catch((error) => this.#host.onWriteFailed(error));
  }

  /**
   * Takes a STDOUT or STDERR frame, copying its body; resolves when there is
   * room for more. The bytes reach the consumer at the next
   * {@link flushOutput}, or sooner when the queue fills up.
   */
  async deliver(type: FrameType, body: Uint8Array): Promise<void> {
    const target = type === FrameType.Stdout ? this.#stdout : this.#stderr;
    await target?.pushCopy(body);
  }

  /**
   * Hands delivered output to the consumers: the connection's reader calls
   * it when it has no further frame at hand, so that output read in one
   * burst reaches them together.
   */
  flushOutput(): void {
    this.#stdout?.flush();
    this.#stderr?.flush();
  }

  /**
   * Resolves once the consumers are done with the output they took (see
   * `PushedByteStream.returned`): the connection's reader waits for it
   * before reading on, so that the socket fills meanwhile and is read in
   * fewer, larger pieces, rather than woken for every frame.
   */
  async outputReturned(): Promise<void> {
    await this.#stdout?.returned();
    await this.#stderr?.returned();
  }

  /** Takes a STDIN_WINDOW grant. */
  grant(bytes: number): void {
    this.#credit += bytes;
    this.#wakeStdin();
  }

  /** Takes the EXIT report. */
  finish(report: ExitReport): void {
    this.#end();
    this.#stdout?.close();
    this.#stderr?.close();
    this.#status.resolve({
      success: report.code === 0 && report.signal === null,
      code: report.code,
      signal: report.signal,
      ...(report.reason ? { reason: report.reason } : {}),
      ...(report.message ? { message: report.message } : {}),
    });
  }

  /** The connection failed before the command ended. */
  fail(error: Error): void {
    this.#end();
    this.#stdout?.error(error);
    this.#stderr?.error(error);
    this.#status.reject(error);
  }

  #end(): void {
    this.#ended = true;
    this.#wakeStdin();
  }

  async #sendStdin(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      while (this.#credit === 0 && !this.#ended) {
        this.#creditWaiter ??= Promise.withResolvers<void>();
        await this.#creditWaiter.promise;
      }
      if (this.#ended) {
        throw new Deno.errors.BrokenPipe("the remote command has ended");
      }
      const size = Math.min(this.#credit, this.#host.maxFrameSize, chunk.length - offset);
      this.#credit -= size;
      await this.#host.writer.write(FrameType.Stdin, chunk.subarray(offset, offset + size));
      offset += size;
    }
  }

  #endStdin(): void {
    if (this.#stdinEnded) return;
    this.#stdinEnded = true;
    this.sendControl(FrameType.StdinEof);
  }

  #wakeStdin(): void {
    this.#creditWaiter?.resolve();
    this.#creditWaiter = undefined;
  }
}
