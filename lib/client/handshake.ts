/**
 * The client's side of the handshake: HELLO both ways, then the
 * challenge-response that proves to the server that the client holds the
 * token, and to the client that the server holds it too.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import {
  AuthenticationError,
  ConnectionError,
  HandshakeError,
  ProtocolError,
  RemoteError,
} from "../errors.ts";
import { computeProof, createNonce, isValidNonce, verifyProof } from "../protocol/auth.ts";
import { ErrorCode } from "../protocol/error_code.ts";
import { type Frame, FrameType, frameTypeName } from "../protocol/frame.ts";
import {
  decodeAuthChallenge,
  decodeAuthOk,
  decodeErrorReport,
  decodeHello,
  describeForeignPeer,
  encodeHello,
  encodeJson,
  type Hello,
  PROTOCOL_VERSION,
} from "../protocol/messages.ts";
import { FrameReader } from "../transport/frame_reader.ts";
import { FrameWriter } from "../transport/frame_writer.ts";
import { VERSION } from "../version.ts";

/** Most bytes the client reads ahead of the frame it is decoding. */
const CLIENT_READ_AHEAD = 1024 * 1024;

/** Options for {@link authenticate}. */
export interface AuthenticateOptions {
  /** The shared token. */
  readonly token: string;
  /** Largest frame body accepted from the server. */
  readonly maxFrameSize: number;
  /** Whether the connection is TLS, for the message when the server speaks TLS and this does not. */
  readonly tls: boolean;
  /** `host:port` of the server, for messages. */
  readonly where: string;
  /** Most bytes read ahead of the frame being decoded; default 1 MiB. */
  readonly readAhead?: number;
}

/** An authenticated connection's frame reader and writer, and what the server announced. */
export interface Authenticated {
  /** Reads the server's frames from here on. */
  readonly reader: FrameReader;
  /** Writes frames to the server. */
  readonly writer: FrameWriter;
  /** The server's HELLO. */
  readonly hello: Hello;
}

/**
 * Runs the handshake on a fresh connection.
 *
 * @throws {AuthenticationError} when either side's token does not match.
 * @throws {HandshakeError} when the peer is not a rexec server of this
 * protocol version, or speaks TLS to a plaintext client.
 * @throws {RemoteError} when the server refused the connection (busy, say).
 * @throws {ConnectionError} when the server closed the connection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../server/server.ts";
 * import { authenticate } from "./handshake.ts";
 *
 * const token = "a-shared-secret-of-some-length";
 * await using server = await serve({ token, hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
 * const { hello } = await authenticate(conn, {
 *   token,
 *   maxFrameSize: 1 << 20,
 *   tls: false,
 *   where: "127.0.0.1",
 * });
 * assert.match(hello.agent, /^rexec\//);
 * ```
 */
export async function authenticate(
  conn: Deno.Conn,
  options: AuthenticateOptions,
): Promise<Authenticated> {
  const { maxFrameSize, where } = options;
  // A client reads one connection, often a fast stream of output: reading
  // it in larger pieces is worth the memory. It reads the connection itself,
  // not its readable stream: fewer steps per read, and a one-shot client
  // that never makes a stream does not load their machinery at all.
  const reader = new FrameReader(conn, {
    maxFrameSize,
    maxReadAhead: options.readAhead ?? CLIENT_READ_AHEAD,
  });
  const writer = new FrameWriter(conn);
  await writer.write(
    FrameType.Hello,
    encodeHello({ version: PROTOCOL_VERSION, maxFrameSize, agent: `rexec/${VERSION}` }),
  );
  const read = async (expected: FrameType): Promise<Uint8Array> => {
    let frame: Frame | null;
    try {
      frame = await reader.read();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      const kind = describeForeignPeer(reader.lastHeader);
      if (kind === "unknown") throw error;
      throw new HandshakeError(
        kind === "TLS" && !options.tls
          ? `${where} speaks TLS: connect with --tls (or a tls:// address)`
          : `${where} is not a rexec server (it speaks ${kind})`,
        ErrorCode.NotRexec,
        { cause: error },
      );
    }
    if (frame === null) {
      throw new ConnectionError(
        `${where} closed the connection during the handshake`,
      );
    }
    if (frame.type === FrameType.Error) {
      const report = decodeErrorReport(frame.body);
      if (report.code === ErrorCode.AuthFailed) {
        throw new AuthenticationError(
          `authentication failed: ${where} rejected the token`,
        );
      }
      throw new RemoteError(report.code, `${where}: ${report.message}`);
    }
    if (frame.type !== expected) {
      throw new ProtocolError(
        `expected ${frameTypeName(expected)} from the server, got ${frameTypeName(frame.type)}`,
      );
    }
    return frame.body;
  };
  const hello = decodeHello(await read(FrameType.Hello));
  const { nonce: serverNonce } = decodeAuthChallenge(
    await read(FrameType.AuthChallenge),
  );
  if (!isValidNonce(serverNonce)) {
    throw new ProtocolError("the server's AUTH_CHALLENGE nonce is malformed");
  }
  const clientNonce = createNonce();
  const proof = { token: options.token, serverNonce, clientNonce };
  await writer.write(
    FrameType.AuthResponse,
    encodeJson({
      nonce: clientNonce,
      mac: await computeProof({ ...proof, role: "client" }),
    }),
  );
  const { mac } = decodeAuthOk(await read(FrameType.AuthOk));
  if (!(await verifyProof({ ...proof, role: "server", mac }))) {
    throw new AuthenticationError(
      `authentication failed: ${where} accepted the token but could not prove it holds it; it may not be the server you meant`,
    );
  }
  return { reader, writer, hello };
}
