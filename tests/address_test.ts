import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_PORT, parseHostPort } from "../lib/transport/address.ts";
import { UsageError } from "../lib/errors.ts";

function rejects(text: string, ...mentions: string[]): void {
  assert.throws(
    () => parseHostPort(text, DEFAULT_PORT),
    (error: unknown) =>
      error instanceof UsageError && mentions.every((mention) => error.message.includes(mention)),
    JSON.stringify(text),
  );
}

const ports = fc.integer({ min: 0, max: 65535 });

Deno.test("DEFAULT_PORT is 7022", () => {
  assert.equal(DEFAULT_PORT, 7022);
});

Deno.test("parseHostPort(): a host without a port gets the default port passed in", () => {
  assert.deepEqual(parseHostPort("build-box", 1234), { hostname: "build-box", port: 1234 });
  assert.deepEqual(parseHostPort("10.0.0.5", 7022), { hostname: "10.0.0.5", port: 7022 });
});

Deno.test("parseHostPort(): HOST:PORT gives the host and the port", () => {
  assert.deepEqual(parseHostPort("build-box:9000", 7022), { hostname: "build-box", port: 9000 });
  assert.deepEqual(parseHostPort("10.0.0.5:7022", 1), { hostname: "10.0.0.5", port: 7022 });
  assert.deepEqual(parseHostPort("box:0", 7022), { hostname: "box", port: 0 });
  assert.deepEqual(parseHostPort("box:65535", 7022), { hostname: "box", port: 65535 });
});

Deno.test("parseHostPort(): IPv6 addresses are bracketed with a port, or bare without one", () => {
  assert.deepEqual(parseHostPort("[::1]:9000", 7022), { hostname: "::1", port: 9000 });
  assert.deepEqual(parseHostPort("[::1]", 7022), { hostname: "::1", port: 7022 });
  assert.deepEqual(parseHostPort("::1", 7022), { hostname: "::1", port: 7022 });
  assert.deepEqual(parseHostPort("::", 7022), { hostname: "::", port: 7022 });
  assert.deepEqual(parseHostPort("2001:db8::8a2e:370:7334", 7022), {
    hostname: "2001:db8::8a2e:370:7334",
    port: 7022,
  });
  assert.deepEqual(parseHostPort("[fe80::1]:1", 7022), { hostname: "fe80::1", port: 1 });
});

Deno.test("parseHostPort(): a port that is not a number from 0 to 65535 is rejected, naming it and the address", () => {
  rejects("box:65536", 'invalid port "65536"', '"box:65536"', "0 to 65535");
  rejects("box:123456", 'invalid port "123456"');
  rejects("box:-1", 'invalid port "-1"');
  rejects("box:+80", 'invalid port "+80"');
  rejects("box:1e3", 'invalid port "1e3"');
  rejects("box: 80", 'invalid port " 80"');
  rejects("box:ssh", 'invalid port "ssh"');
  rejects("box:", 'invalid port ""', '"box:"');
  rejects("[::1]:", 'invalid port ""', '"[::1]:"');
  rejects("[::1]:99999", 'invalid port "99999"', '"[::1]:99999"');
});

Deno.test("parseHostPort(): an empty host is rejected, naming the address", () => {
  rejects("", "missing host", '""');
  rejects(":7022", "missing host", '":7022"');
  rejects("[]", "missing host", '"[]"');
  rejects("[]:7022", "missing host", '"[]:7022"');
});

Deno.test("parseHostPort(): any host name and port formatted as HOST:PORT parse back to themselves", () => {
  fc.assert(
    fc.property(fc.oneof(fc.domain(), fc.ipV4()), ports, (hostname, port) => {
      assert.deepEqual(parseHostPort(`${hostname}:${port}`, DEFAULT_PORT), { hostname, port });
    }),
  );
});

Deno.test("parseHostPort(): any host name without a port gets the default port", () => {
  fc.assert(
    fc.property(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()), ports, (hostname, port) => {
      assert.deepEqual(parseHostPort(hostname, port), { hostname, port });
    }),
  );
});

Deno.test("parseHostPort(): any IPv6 address formatted as [ADDRESS]:PORT parses back to itself", () => {
  fc.assert(
    fc.property(fc.ipV6(), ports, (hostname, port) => {
      assert.deepEqual(parseHostPort(`[${hostname}]:${port}`, DEFAULT_PORT), { hostname, port });
    }),
  );
});

Deno.test("parseHostPort(): any port above 65535 is rejected", () => {
  fc.assert(
    fc.property(fc.domain(), fc.integer({ min: 65536, max: 99999 }), (hostname, port) => {
      rejects(`${hostname}:${port}`, `invalid port "${port}"`);
    }),
  );
});

Deno.test("parseHostPort(): stray brackets and colons that make no IPv6 address are rejected", () => {
  rejects("box:22:33", "invalid host", '"box:22:33"');
  rejects("[::1", "invalid host");
  rejects("a]:80", "invalid host");
  assert.deepEqual(parseHostPort("fe80::1%eth0", 7022), { hostname: "fe80::1%eth0", port: 7022 });
  assert.deepEqual(parseHostPort("::ffff:10.0.0.1", 7022), {
    hostname: "::ffff:10.0.0.1",
    port: 7022,
  });
});
