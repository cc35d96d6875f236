/**
 * The throughput yardstick: the bytes of `head -c BYTES /dev/zero` over a
 * plain Deno TCP socket, without framing, authentication or encryption, by
 * the plainest copy loops that use Deno's fastest calls: the server reads
 * the child's pipe into one reused buffer as large as a pipe read can yield
 * and writes each piece to the socket; the client reads the socket into a
 * 1 MiB buffer (as rexec's client does) and writes each piece to stdout.
 * Every read or write waits for the one before, so that while one side is
 * busy, bytes pile up in the pipe or the socket and the next call moves
 * them all.
 *
 * The child runs in a session of its own (`setsid`), as rexec and sshd run
 * every command: Linux schedules each session as a group of its own
 * (autogroup), and on a busy machine that alone moves the figures by up to
 * half; both sides of a comparison should pay it alike.
 *
 * ```sh
 * # listens on a free loopback port and says "listening port=PORT" on stderr;
 * # each connection sends a line "BYTES" and gets the stdout of
 * # `head -c BYTES /dev/zero`
 * deno run --allow-net=127.0.0.1 --allow-run=setsid bench/raw_copy.ts serve
 * # asks for BYTES and reads them to stdout; exits 1 unless exactly BYTES came
 * deno run --allow-net=127.0.0.1 bench/raw_copy.ts read PORT BYTES
 * ```
 *
 * @module
 */

/** Longest request line: a byte count. */
const MAX_LINE = 32;

/**
 * Bytes per read. A Linux pipe holds 64 KiB (Deno cannot raise that: it has
 * no fcntl for F_SETPIPE_SZ), so reads from the child never return more; a
 * socket read takes whatever has arrived, up to 1 MiB.
 */
const PIPE_CHUNK = 64 * 1024;
const SOCKET_CHUNK = 1024 * 1024;

/** Serves every connection until killed. */
async function serve(): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.error(`listening port=${listener.addr.port}`);
  for await (const conn of listener) {
    copyTo(conn).catch((error) => {
      console.error(`copy failed: ${error}`);
      conn.close();
    });
  }
}

/** Reads the byte count, then copies `head -c` to the connection and closes it. */
async function copyTo(conn: Deno.Conn): Promise<void> {
  const line = new Uint8Array(MAX_LINE);
  let length = 0;
  while (!line.subarray(0, length).includes(0x0a)) {
    const read = await conn.read(line.subarray(length));
    if (read === null || length + read >= MAX_LINE) throw new Error("no byte count");
    length += read;
  }
  const bytes = new TextDecoder().decode(line.subarray(0, length)).trim();
  const child = new Deno.Command("setsid", {
    args: ["head", "-c", bytes, "/dev/zero"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(PIPE_CHUNK);
  try {
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(buffer));
      if (done || value === undefined) break;
      buffer = value.buffer as ArrayBuffer;
      await writeAll(conn, value);
    }
  } finally {
    conn.close();
  }
}

/** Writes all of `bytes`: a write may take only part of them. */
async function writeAll(
  to: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await to.write(bytes.subarray(offset));
  }
}

/** Asks for `bytes` and reads the answer to its end into stdout; returns how many came. */
async function read(port: number, bytes: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(`${bytes}\n`));
  const buffer = new Uint8Array(SOCKET_CHUNK);
  let total = 0;
  try {
    for (;;) {
      const read = await conn.read(buffer);
      if (read === null) return total;
      total += read;
      await writeAll(Deno.stdout, buffer.subarray(0, read));
    }
  } finally {
    conn.close();
  }
}

if (import.meta.main) {
  const [mode, ...numbers] = Deno.args;
  const [port, bytes] = numbers.map(Number);
  if (mode === "serve" && numbers.length === 0) {
    await serve();
  } else if (mode === "read" && numbers.length === 2 && [port, bytes].every(Number.isSafeInteger)) {
    const total = await read(port, bytes);
    if (total !== bytes) {
      console.error(`read ${total} bytes, expected ${bytes}`);
      Deno.exit(1);
    }
  } else {
    console.error("usage: raw_copy.ts serve | raw_copy.ts read PORT BYTES");
    Deno.exit(2);
  }
}
