/**
 * Parsing `HOST[:PORT]` the way users write it: `build-box`, `10.0.0.5:7022`,
 * `[::1]:7022`, or a bare IPv6 address such as `::1`.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/**
 * The port rexec uses when none is given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_PORT, parseHostPort } from "./address.ts";
 *
 * const { port } = parseHostPort("build-box", DEFAULT_PORT);
 * assert.equal(port, 7022);
 * ```
 */
export const DEFAULT_PORT = 7022;

/** A host and a port, as {@link parseHostPort} returns them. */
export interface HostPort {
  /** Host name or IP address, without brackets. */
  readonly hostname: string;
  /** TCP port. */
  readonly port: number;
}

/**
 * `HOST:PORT` as users write it back: an IPv6 address in brackets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatHostPort, parseHostPort } from "./address.ts";
 *
 * assert.equal(formatHostPort("::1", 7022), "[::1]:7022");
 * assert.equal(formatHostPort("build-box", 7022), "build-box:7022");
 * const back = parseHostPort(formatHostPort("::1", 9000), 7022);
 * assert.deepEqual(back, { hostname: "::1", port: 9000 });
 * ```
 */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** Hex groups, colons, an optional dotted IPv4 tail and an optional zone. */
const IPV6 = /^[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(\.\d{1,3}){0,3}(%[\w.-]+)?$/;

/**
 * Parses `HOST[:PORT]`, using `defaultPort` when no port is given.
 *
 * @throws {UsageError} when the host is empty or malformed (stray brackets,
 * several colons that do not make an IPv6 address), or the port is not 0 to
 * 65535.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "../errors.ts";
 * import { parseHostPort } from "./address.ts";
 *
 * assert.deepEqual(parseHostPort("[::1]:9000", 7022), { hostname: "::1", port: 9000 });
 * assert.deepEqual(parseHostPort("build-box", 7022), { hostname: "build-box", port: 7022 });
 * assert.deepEqual(parseHostPort("fe80::1", 7022), { hostname: "fe80::1", port: 7022 });
 * assert.throws(() => parseHostPort("build-box:70000", 7022), UsageError);
 * assert.throws(() => parseHostPort("::1:9000]", 7022), /write IPv6 addresses as \[ADDRESS\]/);
 * ```
 */
export function parseHostPort(text: string, defaultPort: number): HostPort {
  let hostname: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    [, hostname, portText] = bracketed;
  } else if (text.indexOf(":") !== text.lastIndexOf(":")) {
    // More than one colon and no brackets: a bare IPv6 address, no port.
    hostname = text;
  } else {
    [hostname, portText] = text.split(":");
  }
  if (hostname === "") {
    throw new UsageError(`missing host in address ${JSON.stringify(text)}`);
  }
  if (/[[\]]/.test(hostname) || (hostname.includes(":") && !IPV6.test(hostname))) {
    throw new UsageError(
      `invalid host in address ${JSON.stringify(text)}: write IPv6 addresses as [ADDRESS]:PORT`,
    );
  }
  if (portText === undefined) return { hostname, port: defaultPort };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UsageError(
      `invalid port ${JSON.stringify(portText)} in address ${JSON.stringify(text)}: use 0 to 65535`,
    );
  }
  return { hostname, port };
}

/**
 * Whether `hostname` names the loopback interface: `localhost`, an address
 * in 127.0.0.0/8, or `::1` (also IPv4-mapped). Other names are not looked
 * up: an address that is not plainly loopback counts as a network.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopback } from "./address.ts";
 *
 * for (const host of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost"]) {
 *   assert.equal(isLoopback(host), true, host);
 * }
 * for (const host of ["0.0.0.0", "::", "10.0.0.5", "build-box"]) {
 *   assert.equal(isLoopback(host), false, host);
 * }
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const ipv4 = host.replace(/^::ffff:/, "");
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ipv4)) {
    return ipv4.split(".").every((part) => Number(part) <= 255);
  }
  return /^(0{0,4}:){2,7}0{0,3}1$/.test(host) && host.replace(/[0:]/g, "") === "1";
}

/**
 * Formats a socket address as `host:port`, bracketing IPv6 hosts; other
 * transports by their name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatAddr } from "./address.ts";
 *
 * assert.equal(formatAddr({ transport: "tcp", hostname: "::1", port: 7022 }), "[::1]:7022");
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * assert.equal(formatAddr(listener.addr), `127.0.0.1:${listener.addr.port}`);
 * ```
 */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  return formatHostPort(addr.hostname, addr.port);
}
