/**
 * The server's side of the handshake: it reads the client's HELLO (telling
 * HTTP, TLS and SSH clients what they reached), answers with its own and a
 * challenge, checks the client's proof of the token when the throttle lets
 * it, holds back the answer to a wrong proof, and proves that it holds the
 * token too.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import {
  AuthenticationError,
  FrameTooLargeError,
  HandshakeError,
  ProtocolError,
} from "../errors.ts";
import { computeProof, createNonce, isValidNonce, verifyProof } from "../protocol/auth.ts";
import { ErrorCode } from "../protocol/error_code.ts";
import { encodeFrame, type Frame, FrameType, frameTypeName } from "../protocol/frame.ts";
import {
  decodeAuthResponse,
  decodeHello,
  describeForeignPeer,
  encodeHello,
  encodeJson,
  type ErrorReport,
  type Hello,
  PROTOCOL_VERSION,
} from "../protocol/messages.ts";
import { FAREWELL_TIMEOUT_MS } from "../transport/farewell.ts";
import type { FrameReader } from "../transport/frame_reader.ts";
import type { FrameWriter } from "../transport/frame_writer.ts";
import { settlesWithin, sleep } from "../util/deadline.ts";
import type { LogValue } from "../util/log.ts";
import type { AuthThrottle, ProofCheck } from "./auth_throttle.ts";

/** What a client with a wrong token is told. */
export const WRONG_TOKEN = "authentication failed: the client's token does not match the server's";

/**
 * Where an unfinished handshake stands, so that a handshake timeout can tell
 * the client the right thing: its proof waits for the throttle, or its wrong
 * proof's answer is being held back.
 */
export type HandshakeStage = "open" | "throttled" | "answer held";

/** The server has no session slot for a client that authenticated. */
export class SessionRefusedError extends Error {
  /** The ERROR the client is sent. */
  readonly report: ErrorReport;

  /** Creates the error with the report for the client. */
  constructor(report: ErrorReport) {
    super(report.message);
    this.report = report;
  }
}

const HTTP_REFUSAL = new TextEncoder().encode(
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
    "This port speaks the rexec protocol, not HTTP. Use: rexec run HOST -- COMMAND\n",
);

/** What {@link acceptClient} needs of its session. */
export interface AcceptClientOptions {
  /** Reads the client's frames; its limit is the pre-authentication one. */
  readonly reader: FrameReader;
  /** Writes to the client. */
  readonly writer: FrameWriter;
  /** The shared token. */
  readonly token: string;
  /** Largest frame body accepted after authentication, announced in HELLO. */
  readonly maxFrameSize: number;
  /** Name and version announced in HELLO. */
  readonly agent: string;
  /** Stdin bytes a client may have in flight per command, announced in HELLO. */
  readonly stdinWindow: number;
  /** Optional operations announced in HELLO, such as `copy`. */
  readonly features?: readonly string[];
  /** Decides when a proof may be checked and how long a wrong one's answer waits; none: at once. */
  readonly throttle?: AuthThrottle;
  /** The client's IP address, what the throttle counts by. */
  readonly address: string;
  /** Aborts when the connection closes, ending any wait. */
  readonly signal: AbortSignal;
  /** Told where the handshake stands. */
  readonly onStage: (stage: HandshakeStage) => void;
  /** The session's log. */
  readonly log: (
    level: "info" | "warn",
    message: string,
    fields?: Record<string, LogValue | undefined>,
  ) => void;
  /** Records an `auth` audit event with these fields. */
  readonly audit: (fields: Record<string, unknown>) => void;
  /**
   * Asked once the proof is right, before AUTH_OK goes out: `"gone"` when the
   * session ended meanwhile, a report to refuse the client with, or nothing
   * to let it in.
   */
  readonly admit: () => "gone" | ErrorReport | undefined;
}

/**
 * Runs the handshake with a client.
 *
 * @returns the client's HELLO once it has authenticated; undefined when it
 * left, or spoke another protocol and was told so.
 * @throws {AuthenticationError} after a wrong proof, once its answer is due.
 * @throws {SessionRefusedError} when `admit` refused the client.
 * @throws {ProtocolError} when the client broke the protocol.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { authenticate } from "../client/handshake.ts";
 * import { HANDSHAKE_MAX_FRAME_SIZE } from "../protocol/frame.ts";
 * import { FrameReader } from "../transport/frame_reader.ts";
 * import { FrameWriter } from "../transport/frame_writer.ts";
 * import { acceptClient } from "./handshake.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using clientConn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using serverConn = await listener.accept();
 * const [hello, client] = await Promise.all([
 *   acceptClient({
 *     reader: new FrameReader(serverConn, { maxFrameSize: HANDSHAKE_MAX_FRAME_SIZE }),
 *     writer: new FrameWriter(serverConn),
 *     token,
 *     maxFrameSize: 1 << 20,
 *     agent: "rexec/example",
 *     stdinWindow: 1 << 18,
 *     address: "127.0.0.1",
 *     signal: new AbortController().signal,
 *     onStage: () => {},
 *     log: () => {},
 *     audit: () => {},
 *     admit: () => undefined, // room for it: let it in
 *   }),
 *   authenticate(clientConn, { token, maxFrameSize: 1 << 20, tls: false, where: "127.0.0.1" }),
 * ]);
 * assert.match(hello?.agent ?? "", /^rexec\//); // the client's HELLO
 * assert.equal(client.hello.agent, "rexec/example");
 * assert.equal(client.hello.stdinWindow, 1 << 18);
 * ```
 */
export async function acceptClient(options: AcceptClientOptions): Promise<Hello | undefined> {
  const { reader, writer } = options;
  const hello = await readHello(options);
  if (hello === undefined) return undefined;
  const serverNonce = createNonce();
  const helloFrame = encodeFrame(
    FrameType.Hello,
    encodeHello({
      version: PROTOCOL_VERSION,
      maxFrameSize: options.maxFrameSize,
      agent: options.agent,
      stdinWindow: options.stdinWindow,
      ...(options.features ? { features: options.features } : {}),
    }),
  );
  const challengeFrame = encodeFrame(FrameType.AuthChallenge, encodeJson({ nonce: serverNonce }));
  // One write, so one segment: the client needs both before it can answer.
  const frames = new Uint8Array(helloFrame.length + challengeFrame.length);
  frames.set(helloFrame);
  frames.set(challengeFrame, helloFrame.length);
  await writer.writeEncoded(frames);
  const frame = await reader.read();
  if (frame === null) return undefined;
  if (frame.type !== FrameType.AuthResponse) {
    throw new ProtocolError(
      `expected ${frameTypeName(FrameType.AuthResponse)}, got ${frameTypeName(frame.type)}`,
    );
  }
  const response = decodeAuthResponse(frame.body);
  if (!isValidNonce(response.nonce)) {
    throw new ProtocolError("AUTH_RESPONSE nonce is malformed");
  }
  const proof = { token: options.token, serverNonce, clientNonce: response.nonce };
  using check = await admitProof(options);
  if (!(await verifyProof({ ...proof, role: "client", mac: response.mac }))) {
    await holdWrongAnswer(options, check);
    throw new AuthenticationError(WRONG_TOKEN);
  }
  check?.passed();
  const admission = options.admit();
  if (admission === "gone") return undefined;
  if (admission) throw new SessionRefusedError(admission);
  await writer.write(
    FrameType.AuthOk,
    encodeJson({ mac: await computeProof({ ...proof, role: "server" }) }),
  );
  return hello;
}

/**
 * Waits until the throttle lets this proof be checked: at once, unless
 * this address has too many wrong answers held back.
 */
async function admitProof(options: AcceptClientOptions): Promise<ProofCheck | undefined> {
  const { throttle } = options;
  if (!throttle) return undefined;
  options.onStage("throttled");
  const check = await throttle.admit(options.address, options.signal);
  options.onStage("open");
  if (check.waitedMs > 0) {
    options.log("info", "checked a proof after waiting for failures from its address", {
      waited_ms: Math.round(check.waitedMs),
    });
  }
  return check;
}

/**
 * Counts a wrong proof and holds its answer back as long as the throttle
 * says: the answer, not the check, is what the client waits for.
 */
async function holdWrongAnswer(
  options: AcceptClientOptions,
  check: ProofCheck | undefined,
): Promise<void> {
  const holdMs = check?.failed() ?? 0;
  options.log("warn", "authentication failed", { answer_in_ms: Math.round(holdMs) });
  options.audit({ result: "failed" });
  if (holdMs <= 0) return;
  options.onStage("answer held");
  await sleep(holdMs, options.signal);
}

async function readHello(options: AcceptClientOptions): Promise<Hello | undefined> {
  let frame: Frame | null;
  try {
    frame = await options.reader.read();
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return await refuseForeignPeer(options, error);
  }
  if (frame === null) return undefined;
  if (frame.type !== FrameType.Hello) {
    return await refuseForeignPeer(
      options,
      new HandshakeError(`expected HELLO, got ${frameTypeName(frame.type)}`, ErrorCode.NotRexec),
    );
  }
  return decodeHello(frame.body);
}

async function refuseForeignPeer(
  options: AcceptClientOptions,
  error: ProtocolError,
): Promise<undefined> {
  const kind = describeForeignPeer(options.reader.lastHeader);
  if (kind === "unknown") {
    // Only now: an HTTP, TLS or SSH opening reads as a huge length too.
    if (error instanceof FrameTooLargeError) throw error;
    throw new HandshakeError(
      `the peer is not a rexec client: ${error.message}`,
      ErrorCode.NotRexec,
    );
  }
  options.log("warn", `refused a peer that speaks ${kind}, not rexec`);
  if (kind === "HTTP") {
    await settlesWithin(options.writer.writeEncoded(HTTP_REFUSAL), FAREWELL_TIMEOUT_MS);
  }
  return undefined;
}
