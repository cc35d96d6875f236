/**
 * The latency yardstick for commands in a session: about the least a Deno
 * server can do to run a command for a client over a loopback socket. For
 * each request line it spawns `true` with stdout and stderr piped, reads both
 * to their end, waits for the exit status and answers with it, one request
 * after another on one connection. No framing, authentication, policy or
 * logging: what rexec adds per command is measured against this.
 *
 * ```sh
 * # listens on a free loopback port and says "listening port=PORT" on stderr
 * deno run --allow-net=127.0.0.1 --allow-run=true bench/spawn_server.ts
 * ```
 *
 * @module
 */

/** A request is one newline; the answer is the exit code and a newline. */
const NEWLINE = 0x0a;

/** Serves every connection until killed. */
async function serve(): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.error(`listening port=${listener.addr.port}`);
  for await (const conn of listener) {
    conn.setNoDelay(true);
    answer(conn).catch((error) => console.error(`connection failed: ${error}`)).finally(() => {
      try {
        conn.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    });
  }
}

/** Runs `true` once per newline received, answering each with its exit code. */
async function answer(conn: Deno.Conn): Promise<void> {
  const encoder = new TextEncoder();
  const request = new Uint8Array(4096);
  for (;;) {
    const read = await conn.read(request);
    if (read === null) return;
    for (const byte of request.subarray(0, read)) {
      if (byte !== NEWLINE) throw new Error("a request is a bare newline");
      const child = new Deno.Command("true", {
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const [status] = await Promise.all([
        child.status,
        new Response(child.stdout).arrayBuffer(),
        new Response(child.stderr).arrayBuffer(),
      ]);
      await writeAll(conn, encoder.encode(`${status.code}\n`));
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

/**
 * Sends `count` requests one after another over one connection to the
 * yardstick at `port`; resolves to each one's milliseconds, answer included.
 *
 * @throws {Error} when an answer is not exit code 0.
 */
export async function spawnOverSocket(
  port: number,
  count: number,
  signal?: AbortSignal,
): Promise<number[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const request = new Uint8Array([NEWLINE]);
  const reply = new Uint8Array(64);
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      signal?.throwIfAborted();
      const start = performance.now();
      await conn.write(request);
      let length = 0;
      while (!reply.subarray(0, length).includes(NEWLINE)) {
        const read = await conn.read(reply.subarray(length));
        if (read === null) throw new Error("the spawn yardstick closed the connection");
        length += read;
      }
      samples.push(performance.now() - start);
      const answer = new TextDecoder().decode(reply.subarray(0, length)).trim();
      if (answer !== "0") throw new Error(`true exited ${answer} in the spawn yardstick`);
    }
  } finally {
    conn.close();
  }
  return samples;
}

if (import.meta.main) await serve();
