import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCli, type RunConfig } from "../lib/cli/args.ts";
import { UsageError } from "../lib/errors.ts";
import { InventoryError, parseInventory } from "../lib/fleet/inventory.ts";
import {
  MAX_HOSTS_FILE_BYTES,
  parseHostsFile,
  parseHostTarget,
  readHostsFile,
  resolveTargets,
  splitTargetList,
  type Target,
  type TargetSpec,
} from "../lib/fleet/targets.ts";
import { errorMentioning } from "./helpers.ts";

function specs(...texts: string[]): TargetSpec[] {
  return texts.map((text) => ({ text }));
}

function inventoryError(line: number, ...mentions: string[]): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof InventoryError, `not an InventoryError: ${error}`);
    assert.equal(error.line, line, error.message);
    for (const mention of mentions) {
      assert.ok(error.message.includes(mention), `${error.message} lacks ${mention}`);
    }
    return true;
  };
}

// ---------------------------------------------------------------------------
// One host as written

Deno.test("parseHostTarget() reads HOST[:PORT], [IPV6]:PORT, bare IPv6 and tls://", () => {
  assert.deepEqual(parseHostTarget("web1"), { hostname: "web1", port: 7022, tls: false });
  assert.deepEqual(parseHostTarget("web1", 9), { hostname: "web1", port: 9, tls: false });
  assert.deepEqual(parseHostTarget("web1.example.com:7023"), {
    hostname: "web1.example.com",
    port: 7023,
    tls: false,
    explicitPort: true,
  });
  assert.deepEqual(parseHostTarget("10.0.0.5"), { hostname: "10.0.0.5", port: 7022, tls: false });
  assert.deepEqual(parseHostTarget("[::1]:9000"), {
    hostname: "::1",
    port: 9000,
    tls: false,
    explicitPort: true,
  });
  assert.deepEqual(parseHostTarget("fe80::1%eth0"), {
    hostname: "fe80::1%eth0",
    port: 7022,
    tls: false,
  });
  assert.deepEqual(parseHostTarget("tls://box"), { hostname: "box", port: 7022, tls: true });
  assert.deepEqual(parseHostTarget("TLS://[::1]:1"), {
    hostname: "::1",
    port: 1,
    tls: true,
    explicitPort: true,
  });
  assert.deepEqual(parseHostTarget("bücher.example"), {
    hostname: "bücher.example",
    port: 7022,
    tls: false,
  });
  assert.deepEqual(parseHostTarget("under_score."), {
    hostname: "under_score.",
    port: 7022,
    tls: false,
  });
});

Deno.test("parseHostTarget() refuses what is not a host, saying why", () => {
  const rejects = (text: string, ...mentions: string[]) =>
    assert.throws(() => parseHostTarget(text), errorMentioning(UsageError, ...mentions), text);
  rejects("root@web1", "names a user", 'write "web1"');
  rejects("tls://root@web1:7023", 'write "tls://web1:7023"');
  rejects("ssh://web1", "unknown scheme ssh://", "tls://HOST");
  rejects("web1:0", "cannot connect to port 0");
  rejects("web1:http", 'invalid port "http"');
  rejects("web1:70000", 'invalid port "70000"');
  rejects("", "missing host");
  rejects(":7022", "missing host");
  rejects("web*", 'invalid host name "web*"');
  rejects("a b", 'invalid host name "a b"');
  rejects("-web", 'invalid host name "-web"');
  rejects("web..example", "invalid host name");
  rejects(".web", "invalid host name");
  rejects("a/b", "invalid host name");
  rejects("web:x:y", "write IPv6 addresses as [ADDRESS]:PORT");
});

const hostTexts = fc.oneof(
  fc.stringMatching(/^(tls:\/\/)?[a-z0-9][a-z0-9.-]{0,10}(:\d{1,6})?$/),
  fc.stringMatching(/^(tls:\/\/)?\[[0-9a-f:]{2,12}\](:\d{1,6})?$/),
  fc.stringMatching(/^[0-9a-f:]{2,12}$/),
  fc.string({ maxLength: 12 }),
);

Deno.test("parseHostTarget() property: it accepts no host the single-host command line refuses, and agrees on the rest", () => {
  fc.assert(
    fc.property(hostTexts, (text) => {
      // With a comma the text is a list of targets, not one host (see splitTargetList).
      fc.pre(!text.includes(","));
      let single: RunConfig | undefined;
      try {
        single = parseCli(["run", text, "--", "true"]) as RunConfig;
      } catch (error) {
        assert.ok(error instanceof UsageError);
      }
      let fleet: ReturnType<typeof parseHostTarget> | undefined;
      try {
        fleet = parseHostTarget(text);
      } catch (error) {
        assert.ok(error instanceof UsageError);
      }
      if (single === undefined) {
        assert.equal(fleet, undefined, `${text} is refused by rexec run but not by targets`);
      } else if (fleet !== undefined) {
        assert.deepEqual(
          { hostname: fleet.hostname, port: fleet.port },
          { ...single.target },
          text,
        );
        assert.equal(fleet.tls, single.tls !== undefined, text);
      } else {
        // Stricter only about the characters of a host name.
        assert.throws(() => parseHostTarget(text), /invalid host name/);
      }
    }),
    { numRuns: 2000 },
  );
});

// ---------------------------------------------------------------------------
// Lists and hosts files

Deno.test("splitTargetList() splits on commas, trims, and refuses empty elements", () => {
  assert.deepEqual(splitTargetList("a"), [{ text: "a" }]);
  assert.deepEqual(splitTargetList("web, db ,[::1]:7022"), specs("web", "db", "[::1]:7022"));
  assert.throws(
    () => splitTargetList("a,,b"),
    errorMentioning(UsageError, "empty target", '"a,,b"'),
  );
  assert.throws(() => splitTargetList("a,"), errorMentioning(UsageError, "empty target"));
  assert.throws(() => splitTargetList(""), errorMentioning(UsageError, "empty target"));
});

Deno.test("parseHostsFile(): one target a line, comments and blank lines ignored", () => {
  const text =
    "\uFEFF# the fleet\r\nweb1\r\n\r\n   db1:7023  # primary\n\t# indented comment\nweb#2\n;x\n";
  assert.deepEqual(parseHostsFile(text, { source: "h" }), [
    { text: "web1", source: "h", line: 2 },
    { text: "db1:7023", source: "h", line: 4 },
    { text: "web#2", source: "h", line: 6 },
    { text: ";x", source: "h", line: 7 },
  ]);
  assert.deepEqual(parseHostsFile("", { source: "h" }), []);
  assert.throws(
    () => parseHostsFile("web1\nweb2 web3\n", { source: "hosts.txt" }),
    errorMentioning(UsageError, "hosts.txt:2: one target a line", '"web2 web3"'),
  );
  assert.throws(
    () => parseHostsFile("web1,web2\n", { source: "hosts.txt" }),
    errorMentioning(UsageError, "hosts.txt:1: one target a line"),
  );
});

Deno.test("readHostsFile() reads a file; a missing, huge or non-UTF-8 one is a UsageError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/hosts`;
    await Deno.writeTextFile(path, "web1\n# x\nweb2:7023\n");
    assert.deepEqual(await readHostsFile(path), [
      { text: "web1", source: path, line: 1 },
      { text: "web2:7023", source: path, line: 3 },
    ]);
    await assert.rejects(
      readHostsFile(`${dir}/missing`),
      (error: unknown) =>
        errorMentioning(UsageError, `cannot read the hosts file ${dir}/missing`)(error) &&
        (error as Error).cause instanceof Deno.errors.NotFound,
    );
    await Deno.writeFile(path, new Uint8Array([0xc3, 0x28, 0x0a]));
    await assert.rejects(readHostsFile(path), errorMentioning(UsageError, "not UTF-8"));
    const file = await Deno.open(path, { write: true, truncate: true });
    await file.truncate(MAX_HOSTS_FILE_BYTES + 1);
    file.close();
    await assert.rejects(readHostsFile(path), errorMentioning(UsageError, "larger than"));
    await assert.rejects(
      readHostsFile(path, { signal: AbortSignal.abort(new Error("stop")) }),
      /stop/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// Resolving without an inventory

Deno.test("resolveTargets(): without an inventory every target is a host, named as written, each name once", () => {
  assert.deepEqual(
    resolveTargets(specs("web1", "tls://web2:7023", "web1", "[::1]:9", "web1:7022")),
    [
      { name: "web1", hostname: "web1", port: 7022 },
      { name: "tls://web2:7023", hostname: "web2", port: 7023, tls: {} },
      { name: "[::1]:9", hostname: "::1", port: 9 },
      { name: "web1:7022", hostname: "web1", port: 7022 },
    ],
  );
});

Deno.test("resolveTargets(): the command line's --tls, --ca and --token-file apply to hosts that set none", () => {
  const defaults = { tls: { caFile: "ca.pem" }, tokenFile: "tok" };
  assert.deepEqual(resolveTargets(specs("a", "tls://b"), { defaults }), [
    { name: "a", hostname: "a", port: 7022, tls: { caFile: "ca.pem" }, tokenFile: "tok" },
    { name: "tls://b", hostname: "b", port: 7022, tls: { caFile: "ca.pem" }, tokenFile: "tok" },
  ]);
  assert.deepEqual(resolveTargets(specs("a"), { defaults: { tls: {} } }), [
    { name: "a", hostname: "a", port: 7022, tls: {} },
  ]);
});

Deno.test("resolveTargets(): no targets, or a bad one, is a UsageError; one from a hosts file names the file and line", () => {
  assert.throws(() => resolveTargets([]), errorMentioning(UsageError, "no targets"));
  assert.throws(
    () => resolveTargets(specs("good", "web*")),
    errorMentioning(UsageError, 'invalid host name "web*"'),
  );
  assert.throws(
    () => resolveTargets([{ text: "web1" }, { text: "root@web2", source: "hosts.txt", line: 7 }]),
    errorMentioning(UsageError, "hosts.txt:7: ", "names a user"),
  );
});

// ---------------------------------------------------------------------------
// Resolving with an inventory

const INVENTORY = `
lone
[web]
web1 ansible_host=10.0.0.5
web2 ansible_host=10.0.0.6 rexec_host=192.168.0.6 rexec_port=7023
web3 ansible_port=2222
[db]
db1 ansible_host=fe80::1%eth0 rexec_tls=false
db2 ansible_host=db2.internal rexec_token_file=/etc/rexec/db.token
[prod:children]
web
db
[prod:vars]
rexec_ca=certs/ca.pem
rexec_token_file=~/.config/rexec/prod.token
[empty]
`;

Deno.test("resolveTargets(): inventory names come first: aliases, groups in inventory order, all; each host once", async () => {
  const inventory = await parseInventory(INVENTORY, { source: "/etc/rexec/inventory" });
  const names = (...texts: string[]) =>
    resolveTargets(specs(...texts), { inventory }).map((target) => target.name);
  assert.deepEqual(names("web"), ["web1", "web2", "web3"]);
  assert.deepEqual(names("web2", "prod", "lone"), ["web2", "web1", "web3", "db1", "db2", "lone"]);
  assert.deepEqual(names("all"), ["lone", "web1", "web2", "web3", "db1", "db2"]);
  assert.deepEqual(names("ungrouped"), ["lone"]);
  // Not in the inventory: a host for the connector to resolve.
  assert.deepEqual(resolveTargets(specs("elsewhere"), { inventory }), [
    { name: "elsewhere", hostname: "elsewhere", port: 7022 },
  ]);
  assert.throws(
    () => resolveTargets(specs("web1", "empty"), { inventory }),
    errorMentioning(
      UsageError,
      'the group "empty" of the inventory /etc/rexec/inventory has no hosts',
    ),
  );
});

Deno.test("resolveTargets(): an inventory host's address, port, TLS, CA and token come from its variables", async () => {
  const inventory = await parseInventory(INVENTORY, { source: "/etc/rexec/inventory" });
  const targets = new Map(
    resolveTargets(specs("all"), {
      inventory,
      inventoryDir: "/etc/rexec",
      homeDir: "/home/ops",
    }).map((target) => [target.name, target]),
  );
  const ca = { caFile: "/etc/rexec/certs/ca.pem" };
  const prodToken = "/home/ops/.config/rexec/prod.token";
  assert.deepEqual(targets.get("lone"), { name: "lone", hostname: "lone", port: 7022 });
  assert.deepEqual(targets.get("web1"), {
    name: "web1",
    hostname: "10.0.0.5",
    port: 7022,
    tls: ca,
    tokenFile: prodToken,
  });
  // rexec_host wins over ansible_host; ansible_port (SSH's) is not rexec's port.
  assert.deepEqual(targets.get("web2"), {
    name: "web2",
    hostname: "192.168.0.6",
    port: 7023,
    tls: ca,
    tokenFile: prodToken,
  });
  assert.deepEqual(targets.get("web3"), {
    name: "web3",
    hostname: "web3",
    port: 7022,
    tls: ca,
    tokenFile: prodToken,
  });
  // rexec_tls=false turns TLS off even with a group's rexec_ca.
  assert.deepEqual(targets.get("db1"), {
    name: "db1",
    hostname: "fe80::1%eth0",
    port: 7022,
    tokenFile: prodToken,
  });
  assert.deepEqual(targets.get("db2"), {
    name: "db2",
    hostname: "db2.internal",
    port: 7022,
    tls: ca,
    tokenFile: "/etc/rexec/db.token",
  });
});

Deno.test("resolveTargets(): paths in the inventory are used as written without inventoryDir and homeDir", async () => {
  const inventory = await parseInventory(INVENTORY);
  const [web1] = resolveTargets(specs("web1"), { inventory });
  assert.deepEqual(web1.tls, { caFile: "certs/ca.pem" });
  assert.equal(web1.tokenFile, "~/.config/rexec/prod.token");
  const windows = await parseInventory("h rexec_ca=C:\\\\certs\\\\ca.pem rexec_token_file=/abs\n");
  assert.deepEqual(
    resolveTargets(specs("h"), { inventory: windows, inventoryDir: "/etc/rexec/" }),
    [
      {
        name: "h",
        hostname: "h",
        port: 7022,
        tls: { caFile: "C:\\certs\\ca.pem" },
        tokenFile: "/abs",
      },
    ],
  );
  const relative = await parseInventory("h rexec_ca=ca.pem\n");
  assert.equal(
    resolveTargets(specs("h"), { inventory: relative, inventoryDir: "/etc/rexec/" })[0].tls?.caFile,
    "/etc/rexec/ca.pem",
  );
});

Deno.test("resolveTargets(): rexec_tls takes Ansible's spellings of true and false", async () => {
  const cases: [string, boolean][] = [
    ["true", true],
    ["True", true],
    ["yes", true],
    ["'on'", true],
    ["1", true],
    ["false", false],
    ["no", false],
    ["OFF", false],
    ["0", false],
  ];
  for (const [value, tls] of cases) {
    const inventory = await parseInventory(`h rexec_tls=${value}\n`);
    const [target] = resolveTargets(specs("h"), { inventory, defaults: { tls: { caFile: "d" } } });
    assert.deepEqual(target.tls, tls ? { caFile: "d" } : undefined, value);
  }
  const yaml = await parseInventory(
    "all:\n  hosts:\n    h: {rexec_tls: yes}\n    i: {rexec_tls: off}\n",
  );
  assert.deepEqual(resolveTargets(specs("all"), { inventory: yaml }).map((target) => target.tls), [
    {},
    undefined,
  ]);
});

Deno.test("resolveTargets(): the command line's settings are defaults that the inventory's variables override", async () => {
  const inventory = await parseInventory(
    "plain\nwithca rexec_ca=/inv/ca.pem\nnotls rexec_tls=false\ntok rexec_token_file=/inv/tok\n",
  );
  const defaults = { tls: { caFile: "/cli/ca.pem" }, tokenFile: "/cli/tok" };
  assert.deepEqual(resolveTargets(specs("all"), { inventory, defaults }), [
    {
      name: "plain",
      hostname: "plain",
      port: 7022,
      tls: { caFile: "/cli/ca.pem" },
      tokenFile: "/cli/tok",
    },
    {
      name: "withca",
      hostname: "withca",
      port: 7022,
      tls: { caFile: "/inv/ca.pem" },
      tokenFile: "/cli/tok",
    },
    { name: "notls", hostname: "notls", port: 7022, tokenFile: "/cli/tok" },
    {
      name: "tok",
      hostname: "tok",
      port: 7022,
      tls: { caFile: "/cli/ca.pem" },
      tokenFile: "/inv/tok",
    },
  ]);
});

Deno.test("resolveTargets(): an alias written with a port or tls:// is that inventory host, the port or TLS overriding", async () => {
  const inventory = await parseInventory(INVENTORY);
  assert.deepEqual(resolveTargets(specs("web2:9000", "tls://db1", "web2"), { inventory }), [
    {
      name: "web2:9000",
      hostname: "192.168.0.6",
      port: 9000,
      tls: { caFile: "certs/ca.pem" },
      tokenFile: "~/.config/rexec/prod.token",
    },
    {
      name: "tls://db1",
      hostname: "fe80::1%eth0",
      port: 7022,
      tls: { caFile: "certs/ca.pem" },
      tokenFile: "~/.config/rexec/prod.token",
    },
    {
      name: "web2",
      hostname: "192.168.0.6",
      port: 7023,
      tls: { caFile: "certs/ca.pem" },
      tokenFile: "~/.config/rexec/prod.token",
    },
  ]);
  assert.throws(
    () => resolveTargets(specs("web:7023"), { inventory }),
    errorMentioning(UsageError, '"web:7023": web is a group of the inventory', "rexec_port"),
  );
  assert.throws(
    () => resolveTargets(specs("tls://prod"), { inventory }),
    errorMentioning(UsageError, "prod is a group"),
  );
});

Deno.test("resolveTargets(): an inventory variable that makes no sense is an InventoryError at the line that set it", async () => {
  const check = async (text: string, line: number, ...mentions: string[]) => {
    const inventory = await parseInventory(text, { source: "inv" });
    assert.throws(
      () => resolveTargets(specs("all"), { inventory }),
      inventoryError(line, ...mentions),
    );
  };
  await check("h rexec_port=http\n", 1, "rexec_port of h must be a port number", '"http"');
  await check("h rexec_port=0\n", 1, "rexec_port of h");
  await check("h rexec_port=65536\n", 1, "rexec_port of h");
  await check("h rexec_port=1.5\n", 1, "rexec_port of h");
  await check("[g]\nh\n[g:vars]\nrexec_port=x\n", 4, "rexec_port of h (set for the group g)");
  await check("h rexec_tls=maybe\n", 1, "rexec_tls of h must be true or false");
  await check(
    "h ansible_host=10.0.0.5:22\n",
    1,
    "ansible_host of h must be an address without a port",
  );
  await check("h rexec_host='a b'\n", 1, "rexec_host of h");
  await check("h rexec_host=''\n", 1, "rexec_host of h");
  await check("h rexec_host=tls://x\n", 1, "rexec_host of h");
  await check("h rexec_ca=''\n", 1, "rexec_ca of h must be a file path");
  await check("all:\n  hosts:\n    h:\n      rexec_token_file: [a]\n", 3, "rexec_token_file of h");
  await check(
    "all:\n  hosts:\n    'web 1':\n",
    3,
    "the host web 1 needs ansible_host or rexec_host",
  );
  // A port in ansible_port is Ansible's business, whatever it holds.
  const inventory = await parseInventory("h ansible_port=ssh\n");
  assert.equal(resolveTargets(specs("h"), { inventory })[0].port, 7022);
});

Deno.test("resolveTargets() property: targets come out each name once, in the order first named, with valid ports", async () => {
  const inventory = await parseInventory(
    "[a]\nh[1:4]\n[b]\nh[3:6]\n[c:children]\na\nb\n[b:vars]\nrexec_port=7100\n",
  );
  const text = fc.constantFrom("a", "b", "c", "all", "h1", "h5", "x", "x:1", "tls://y", "[::1]:2");
  fc.assert(
    fc.property(fc.array(text, { minLength: 1, maxLength: 12 }), (texts) => {
      const targets: Target[] = resolveTargets(specs(...texts), { inventory });
      const names = targets.map((target) => target.name);
      assert.equal(new Set(names).size, names.length);
      const expected: string[] = [];
      for (const written of texts) {
        for (const name of inventory.resolve(written) ?? [written]) {
          if (!expected.includes(name)) expected.push(name);
        }
      }
      assert.deepEqual(names, expected);
      for (const target of targets) assert.ok(target.port >= 1 && target.port <= 65535);
    }),
  );
});
