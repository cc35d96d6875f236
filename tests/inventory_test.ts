import assert from "node:assert/strict";
import fc from "fast-check";
import {
  detectInventoryFormat,
  type Inventory,
  InventoryError,
  type InventoryValue,
  MAX_INVENTORY_BYTES,
  MAX_INVENTORY_HOSTS,
  parseInventory,
  readInventory,
} from "../lib/fleet/inventory.ts";
import { expandHostPattern } from "../lib/fleet/inventory_draft.ts";
import { RexecError } from "../lib/errors.ts";

/** Asserts that parsing `text` fails at `line` with a message holding every one of `mentions`. */
async function rejects(
  text: string,
  line: number | undefined,
  ...mentions: string[]
): Promise<void> {
  await assert.rejects(
    parseInventory(text, { source: "inv" }),
    (error: unknown) => {
      assert.ok(error instanceof InventoryError, `not an InventoryError: ${error}`);
      assert.ok(error instanceof RexecError);
      assert.equal(error.source, "inv");
      assert.equal(error.line, line, error.message);
      assert.ok(error.message.startsWith(line === undefined ? "inv: " : `inv:${line}: `));
      for (const mention of mentions) {
        assert.ok(error.message.includes(mention), `${error.message} lacks ${mention}`);
      }
      return true;
    },
  );
}

async function ini(text: string): Promise<Inventory> {
  const inventory = await parseInventory(text, { source: "inv", format: "ini" });
  assert.equal(inventory.format, "ini");
  return inventory;
}

async function yaml(text: string): Promise<Inventory> {
  const inventory = await parseInventory(text, { source: "inv", format: "yaml" });
  assert.equal(inventory.format, "yaml");
  return inventory;
}

// ---------------------------------------------------------------------------
// Telling the forms apart

Deno.test("detectInventoryFormat(): the form is told apart by content: YAML keys and documents, INI sections and host lines", async () => {
  const cases: [string, "ini" | "yaml"][] = [
    ["all:\n  hosts:\n", "yaml"],
    ["# comment\n\nall:\n", "yaml"],
    ["---\nall: {}\n", "yaml"],
    ["%YAML 1.1\n---\nall: {}\n", "yaml"],
    ['{"all": {"hosts": {"a": null}}}', "yaml"],
    ["webservers: {hosts: {a: }}\n", "yaml"],
    ['"all":\n  hosts:\n', "yaml"],
    ["\uFEFFall:\n", "yaml"],
    ["[web]\nweb1\n", "ini"],
    ["; comment\n[web]\n", "ini"],
    ["web1\n", "ini"],
    ["web1:2222 rexec_port=7023\n", "ini"],
    ["web1 ansible_host=10.0.0.5\n", "ini"],
    ["10.0.0.5:22\n", "ini"],
    ["::1\n", "ini"],
    ["", "ini"],
    ["# only a comment\n", "ini"],
  ];
  for (const [text, format] of cases) {
    assert.equal(detectInventoryFormat(text), format, JSON.stringify(text));
    assert.equal((await parseInventory(text)).format, format, JSON.stringify(text));
  }
});

Deno.test("parseInventory(): an empty inventory has only all and ungrouped, and no hosts", async () => {
  for (const text of ["", "# nothing\n", "---\n", "---\n...\n"]) {
    const inventory = await parseInventory(text);
    assert.deepEqual([...inventory.groups.keys()], ["all", "ungrouped"]);
    assert.deepEqual(inventory.resolve("all"), []);
    assert.deepEqual(inventory.resolve("ungrouped"), []);
    assert.equal(inventory.resolve("web1"), undefined);
  }
});

// ---------------------------------------------------------------------------
// INI

const INI_EXAMPLE = `
# A fleet, Ansible-style
bastion ansible_host=203.0.113.7

[web]
web1 ansible_host=10.0.0.5 rexec_port=7023
web2
web[03:04].example.com

[db]
db-[a:c] rexec_tls=false

[prod:children]   # comment after a section
web
db

[prod:vars]
rexec_ca = /etc/rexec/ca.pem   # comment after a value
rexec_tls = true

[all:vars]
rexec_port=7022
`;

Deno.test("parseInventory() INI: hosts, groups, children and the implicit all and ungrouped", async () => {
  const inventory = await ini(INI_EXAMPLE);
  assert.deepEqual([...inventory.hosts.keys()], [
    "bastion",
    "web1",
    "web2",
    "web03.example.com",
    "web04.example.com",
    "db-a",
    "db-b",
    "db-c",
  ]);
  assert.deepEqual([...inventory.groups.keys()], ["all", "ungrouped", "web", "db", "prod"]);
  const group = (name: string) => inventory.groups.get(name)!;
  assert.deepEqual(group("all").children, ["ungrouped", "prod"]);
  assert.deepEqual(group("prod").children, ["web", "db"]);
  assert.deepEqual(group("web").parents, ["prod"]);
  assert.deepEqual(group("ungrouped").hosts, ["bastion"]);
  assert.deepEqual(group("web").hosts, ["web1", "web2", "web03.example.com", "web04.example.com"]);
  assert.deepEqual(group("db").hosts, ["db-a", "db-b", "db-c"]);
  assert.deepEqual(
    [group("all"), group("ungrouped"), group("prod"), group("web")].map((g) => g.depth),
    [0, 1, 1, 2],
  );
  assert.deepEqual(group("web").line, 5);
  assert.equal(group("all").line, 21);
  assert.equal(group("ungrouped").line, undefined);
  assert.deepEqual(inventory.hosts.get("web1"), {
    name: "web1",
    vars: { ansible_host: "10.0.0.5", rexec_port: 7023 },
    groups: ["web"],
    line: 6,
  });
  assert.deepEqual(inventory.hosts.get("bastion")!.groups, ["ungrouped"]);
  assert.deepEqual(inventory.warnings, []);
});

Deno.test("parseInventory() INI: a semicolon starts a comment only at the start of a line", async () => {
  await rejects("web2 ; comment\n", 1, 'expected KEY=VALUE after the host "web2", got ";"');
  assert.deepEqual((await ini("; web1\n  ;web2\nweb3\n")).resolve("all"), ["web3"]);
});

Deno.test("parseInventory() INI: variables follow Ansible's precedence", async () => {
  const inventory = await ini(INI_EXAMPLE);
  assert.deepEqual(inventory.hostVars("web1"), {
    rexec_port: 7023,
    rexec_ca: "/etc/rexec/ca.pem",
    rexec_tls: true,
    ansible_host: "10.0.0.5",
  });
  assert.deepEqual(inventory.hostVars("web2"), {
    rexec_port: 7022,
    rexec_ca: "/etc/rexec/ca.pem",
    rexec_tls: true,
  });
  assert.equal(inventory.hostVars("db-b").rexec_tls, false);
  assert.deepEqual(inventory.hostVars("bastion"), {
    rexec_port: 7022,
    ansible_host: "203.0.113.7",
  });
});

Deno.test("parseInventory() INI: a deeper group wins over a shallower one, whatever the order of the file", async () => {
  const inventory = await ini(`
[leaf]
h
[leaf:vars]
v=leaf
[mid:children]
leaf
[mid:vars]
v=mid
w=mid
[top:children]
mid
[top:vars]
v=top
w=top
x=top
[all:vars]
v=all
w=all
x=all
y=all
`);
  assert.deepEqual(inventory.hostVars("h"), { v: "leaf", w: "mid", x: "top", y: "all" });
  assert.deepEqual(inventory.variable("h", "w"), { value: "mid", line: 10, group: "mid" });
  assert.deepEqual(inventory.variable("h", "y"), { value: "all", line: 21, group: "all" });
  assert.equal(inventory.variable("h", "z"), undefined);
});

Deno.test("parseInventory() INI: at equal depth the group whose name sorts later wins, unless a priority says otherwise", async () => {
  const text = `
[zeta]
h
[alpha]
h
[zeta:vars]
v=zeta
[alpha:vars]
v=alpha
`;
  assert.equal((await ini(text)).hostVars("h").v, "zeta");
  assert.deepEqual((await ini(text)).variable("h", "v"), { value: "zeta", line: 7, group: "zeta" });
  const prioritized = await ini(`${text}ansible_group_priority=10\n`);
  assert.equal(prioritized.hostVars("h").v, "alpha");
  assert.equal(prioritized.groups.get("alpha")!.priority, 10);
  assert.equal(prioritized.groups.get("zeta")!.priority, 1);
  assert.equal("ansible_group_priority" in prioritized.groups.get("alpha")!.vars, false);
  await rejects(
    `${text}ansible_group_priority=high\n`,
    10,
    "ansible_group_priority",
    "whole number",
  );
});

Deno.test("parseInventory() INI: depth is the longest path from all, so a group under two parents is as deep as the deeper", async () => {
  const inventory = await ini(`
[a:children]
b
c
[b:children]
c
[c]
h
[a:vars]
v=a
[c:vars]
v=c
[b:vars]
v=b
`);
  assert.deepEqual(["all", "a", "b", "c"].map((name) => inventory.groups.get(name)!.depth), [
    0,
    1,
    2,
    3,
  ]);
  assert.equal(inventory.hostVars("h").v, "c");
});

Deno.test("parseInventory() INI: a host's own variables win over every group's, the last assignment of a host winning", async () => {
  const inventory = await ini(`
[g]
h v=first
[g:vars]
v=group
[g2]
h v=second w=2
`);
  assert.deepEqual(inventory.hostVars("h"), { v: "second", w: 2 });
  assert.deepEqual(inventory.variable("h", "v"), { value: "second", line: 7 });
  assert.deepEqual(inventory.hosts.get("h")!.groups, ["g", "g2"]);
});

Deno.test("parseInventory() INI: values are typed roughly as Ansible types them", async () => {
  const inventory = await ini(`
h a=5 b=-12 c=1.5 d=1e3 e=true f=False g=None i="5" j='"5"' k=007 l=0x1F m=[1,2] n=yes o=10.0.0.5 p="two words" q=1_000 r=a=b s= t="a'b" u=True
[all:vars]
va=5
vb="5"
vc='two words'
vd=true
ve = spaced value with = sign
vf=["a", "b"]
vg="escaped \\"quote\\" and \\t tab"
vh=
vi=#not a comment
vj=value#not a comment either
vk='kept # inside quotes'  # and a real comment
`);
  const expected: Record<string, InventoryValue> = {
    va: 5,
    vb: "5",
    vc: "two words",
    vd: true,
    ve: "spaced value with = sign",
    vf: '["a", "b"]',
    vg: 'escaped "quote" and \t tab',
    vh: "",
    vi: "#not a comment",
    vj: "value#not a comment either",
    vk: "kept # inside quotes",
    a: 5,
    b: -12,
    c: 1.5,
    d: 1000,
    e: true,
    f: false,
    g: null,
    i: 5,
    j: "5",
    k: "007",
    l: 31,
    m: "[1,2]",
    n: "yes",
    o: "10.0.0.5",
    p: "two words",
    q: 1000,
    r: "a=b",
    s: "",
    t: "a'b",
    u: true,
  };
  assert.deepEqual(inventory.hostVars("h"), expected);
});

Deno.test("parseInventory() INI: an unquoted # on a host line starts a comment, as in a shell line", async () => {
  const inventory = await ini("h a=1 # b=2\nh2 c=x#y\nh3 d='#kept' e=\"#kept\" f=\\#kept\n");
  assert.deepEqual(inventory.hosts.get("h")!.vars, { a: 1 });
  assert.deepEqual(inventory.hosts.get("h2")!.vars, { c: "x" });
  assert.deepEqual(inventory.hosts.get("h3")!.vars, { d: "#kept", e: "#kept", f: "#kept" });
});

Deno.test("parseInventory() INI: host ranges expand in order, keeping zero padding, with steps and letters", async () => {
  const inventory = await ini(`
[num]
web[1:3]
[padded]
web[08:11].example.com
[step]
n[01:09:4]
[alpha]
db-[a:c]
[alphastep]
x[a:e:2]
[two]
r[1:2]-n[a:b]
[from0]
z[:2]
`);
  const hosts = (group: string) => inventory.groups.get(group)!.hosts;
  assert.deepEqual(hosts("num"), ["web1", "web2", "web3"]);
  assert.deepEqual(hosts("padded"), [
    "web08.example.com",
    "web09.example.com",
    "web10.example.com",
    "web11.example.com",
  ]);
  assert.deepEqual(hosts("step"), ["n01", "n05", "n09"]);
  assert.deepEqual(hosts("alpha"), ["db-a", "db-b", "db-c"]);
  assert.deepEqual(hosts("alphastep"), ["xa", "xc", "xe"]);
  // Ansible counts letters a..z then A..Z.
  assert.deepEqual(hosts("two"), ["r1-na", "r1-nb", "r2-na", "r2-nb"]);
  assert.deepEqual(hosts("from0"), ["z0", "z1", "z2"]);
  await rejects("r[Y:B]\n", 1, "malformed range [Y:B]", "the beginning comes after the end");
  assert.deepEqual((await ini("r[y:B]\n")).resolve("all"), ["ry", "rz", "rA", "rB"]);
});

Deno.test("parseInventory() INI: a malformed range is an error naming the line, the host and what is wrong", async () => {
  await rejects(
    "[web]\nweb[1:]\n",
    2,
    'host "web[1:]"',
    "malformed range [1:]",
    "the end is missing",
  );
  await rejects("web[1]\n", 1, "malformed range [1]", "[BEGIN:END]");
  await rejects("web[1:2:3:4]\n", 1, "malformed range [1:2:3:4]");
  await rejects("web[5:1]\n", 1, "the beginning is greater than the end");
  await rejects("web[1:5:0]\n", 1, "the step must be a whole number from 1");
  await rejects("web[1:5:x]\n", 1, "the step");
  await rejects("web[01:100]\n", 1, "same width");
  await rejects("web[a:5]\n", 1, "both numbers or both single letters");
  await rejects("web[aa:ab]\n", 1, "both numbers or both single letters");
  await rejects("web[-1:5]\n", 1, "both numbers");
  await rejects("web[1:3\n", 1, "'[' without ']'");
  await rejects("web1]\n", 1, "']' without '['");
  await rejects("web]1[\n", 1, "']' without '['");
  await rejects("web1:3]\n", 1, 'invalid port "3]"');
  await rejects(`web[1:${MAX_INVENTORY_HOSTS + 1}]\n`, 1, `more than ${MAX_INVENTORY_HOSTS} hosts`);
  await rejects("a[1:1000]b[1:1000]\n", 1, `more than ${MAX_INVENTORY_HOSTS} hosts`);
});

Deno.test("parseInventory() INI: a port after the host name sets ansible_port, and IPv6 addresses are hosts", async () => {
  const inventory = await ini(`
web1:2222 rexec_port=7023
web[1:2]:2200
10.0.0.5:22
::1
fe80::1%eth0
[2001:db8::1]:2022
2001:db8::[a:b]
`);
  assert.deepEqual([...inventory.hosts.keys()], [
    "web1",
    "web2",
    "10.0.0.5",
    "::1",
    "fe80::1%eth0",
    "2001:db8::1",
    "2001:db8::a",
    "2001:db8::b",
  ]);
  assert.deepEqual(inventory.hosts.get("web1")!.vars, { ansible_port: 2200, rexec_port: 7023 });
  assert.deepEqual(inventory.hosts.get("10.0.0.5")!.vars, { ansible_port: 22 });
  assert.deepEqual(inventory.hosts.get("2001:db8::1")!.vars, { ansible_port: 2022 });
  assert.deepEqual(inventory.hosts.get("::1")!.vars, {});
  await rejects("[g]\nweb1:\n", 2, "cannot end in ':'");
  await rejects("web1:ssh\n", 1, 'invalid port "ssh"');
  await rejects("web1:99999\n", 1, 'invalid port "99999"');
  await rejects("web1:22[1:2]\n", 1, "the port must come after the ranges");
  await rejects("a:b:c\n", 1, "not a host name nor an IPv6 address");
});

Deno.test("parseInventory() INI: a group may be named as a child or given vars before its section, but it must have one", async () => {
  const inventory = await ini("[parent:children]\nchild\n[child:vars]\nv=1\n[child]\nh\n");
  assert.deepEqual(inventory.resolve("parent"), ["h"]);
  assert.equal(inventory.hostVars("h").v, 1);
  assert.deepEqual((await ini("[kids:children]\n[kids]\n")).resolve("kids"), []);
  await rejects(
    "[web]\nh\n[nosuch:vars]\nv=1\n",
    3,
    "[nosuch:vars]",
    "no [nosuch] section defines",
  );
  await rejects("[web]\nh\n[web:children]\nnosuch\n", 4, "[web:children] names the group nosuch");
  await rejects(
    "[p:children]\nlater\nnever\n[later]\n",
    3,
    "[p:children] names the group never",
  );
  // [all:vars] and [ungrouped:vars] need no section: the groups always exist.
  assert.equal((await ini("h\n[ungrouped:vars]\nv=1\n")).hostVars("h").v, 1);
});

Deno.test("parseInventory() INI: a bad line or section is an error naming the line", async () => {
  await rejects(
    "[web:hosts]\nh\n[web:kids]\nx\n",
    3,
    "section [web:kids] has an unknown type",
    "[web:children]",
  );
  await rejects("[web server]\nh\n", 1, "malformed section", "no spaces");
  await rejects("[web]]\n", 1, "malformed section");
  await rejects("[]\n", 1, "malformed section");
  await rejects("[web]\nh\n[web:vars]\njust words\n", 4, "expected KEY=VALUE in [web:vars]");
  await rejects("[web:vars]\n=1\n[web]\n", 2, 'invalid variable name ""');
  await rejects("[web:vars]\ntwo words=1\n[web]\n", 2, 'invalid variable name "two words"');
  await rejects(
    "[web]\nweb1 rexec_port\n",
    2,
    'expected KEY=VALUE after the host "web1", got "rexec_port"',
  );
  await rejects("[web]\nweb1 =1\n", 2, 'got "=1"');
  await rejects("[p:children]\nweb server\n", 2, "expected a group name in [p:children]");
  await rejects("web1 a='unclosed\n", 1, "single quote is not closed");
  await rejects('web1 a="unclosed\n', 1, "double quote is not closed");
  await rejects("web1 a=b\\\n", 1, "a backslash ends the line");
  await rejects('""\n', 1, "empty host name");
});

Deno.test("parseInventory() INI: children that loop are an error naming the cycle and the line that closes it", async () => {
  await rejects("[a:children]\nb\n[b:children]\nc\n[c:children]\na\n", 6, "cycle: a > b > c > a");
  await rejects("[a:children]\na\n", 2, "the group a cannot be its own child");
  await rejects("[a:children]\nall\n", 2, "the group all contains every group", "child of a");
  await rejects("[a:children]\nb\n[b:children]\na\n", 4, "cycle: a > b > a");
});

Deno.test("parseInventory() INI: a long chain of children does not exhaust the stack", async () => {
  const depth = 20_000;
  let text = "";
  for (let index = 0; index < depth; index++) text += `[g${index}:children]\ng${index + 1}\n`;
  text += `[g${depth}]\nh\n[g0:vars]\nv=top\n[g${depth}:vars]\nv=bottom\n`;
  const inventory = await ini(text);
  assert.equal(inventory.groups.get(`g${depth}`)!.depth, depth + 1);
  assert.deepEqual(inventory.resolve("g0"), ["h"]);
  assert.equal(inventory.hostVars("h").v, "bottom");
  await rejects(`${text}[g${depth}:children]\ng0\n`, depth * 2 + 8, "cycle");
});

Deno.test("parseInventory() INI: a host listed before any section and in a group is not ungrouped, as in Ansible", async () => {
  const inventory = await ini("h1\nh2\n[web]\nh1\n[all]\nh3\n");
  assert.deepEqual(inventory.groups.get("ungrouped")!.hosts, ["h2", "h3"]);
  assert.deepEqual(inventory.hosts.get("h1")!.groups, ["web"]);
  assert.deepEqual(inventory.hosts.get("h3")!.groups, ["all", "ungrouped"]);
  assert.deepEqual(inventory.groups.get("all")!.hosts, ["h3"]);
  assert.deepEqual(inventory.resolve("all"), ["h1", "h2", "h3"]);
});

Deno.test("parseInventory() INI: CRLF line endings and a byte order mark are read", async () => {
  const inventory = await parseInventory("\uFEFF[web]\r\nweb1 a=1\r\n[web:vars]\r\nb=2\r\n");
  assert.equal(inventory.format, "ini");
  assert.deepEqual(inventory.hostVars("web1"), { b: 2, a: 1 });
});

Deno.test("Inventory.resolve(): a name that is both a host and a group resolves to both, with a warning", async () => {
  const inventory = await ini("[web]\nweb1\nweb\n[db]\nweb\ndb1\n");
  assert.deepEqual(inventory.resolve("web"), ["web1", "web"]);
  assert.deepEqual(inventory.warnings, ["inv:3: web is the name of both a host and a group"]);
});

// ---------------------------------------------------------------------------
// Resolving names

Deno.test("Inventory.resolve() gives hosts in inventory order, each once, through children recursively", async () => {
  const inventory = await ini(`
[b]
b2
shared
b1
[a]
a1
shared
[both:children]
a
b
[top:children]
both
b
[empty]
[emptyparent:children]
empty
`);
  assert.deepEqual(inventory.resolve("all"), ["b2", "shared", "b1", "a1"]);
  assert.deepEqual(inventory.resolve("both"), ["b2", "shared", "b1", "a1"]);
  assert.deepEqual(inventory.resolve("top"), ["b2", "shared", "b1", "a1"]);
  assert.deepEqual(inventory.resolve("a"), ["shared", "a1"]);
  assert.deepEqual(inventory.resolve("shared"), ["shared"]);
  assert.deepEqual(inventory.resolve("empty"), []);
  assert.deepEqual(inventory.resolve("emptyparent"), []);
  assert.deepEqual(inventory.resolve("ungrouped"), []);
  assert.equal(inventory.resolve("nosuch"), undefined);
  assert.equal(inventory.resolve("B"), undefined);
});

Deno.test("Inventory.hostVars() and variable() refuse a name that is not a host", async () => {
  const inventory = await ini("[web]\nweb1\n");
  assert.throws(() => inventory.hostVars("web"), RangeError);
  assert.throws(() => inventory.variable("nosuch", "v"), RangeError);
});

Deno.test("Inventory is read-only", async () => {
  const inventory = await ini("[web]\nweb1 a=1\n[web:vars]\nb=2\n");
  assert.throws(() => {
    (inventory.hosts.get("web1")!.vars as Record<string, InventoryValue>).a = 2;
  }, TypeError);
  assert.throws(() => {
    (inventory.groups.get("web")!.hosts as string[]).push("x");
  }, TypeError);
  const vars = inventory.hostVars("web1");
  vars.a = 3;
  assert.equal(inventory.hostVars("web1").a, 1);
});

Deno.test("Inventory.hostVars(): a variable named __proto__ is an ordinary variable", async () => {
  const inventory = await ini("h __proto__=1\n[all:vars]\nconstructor=2\n");
  const vars = inventory.hostVars("h");
  assert.equal(Object.getPrototypeOf(vars), Object.prototype);
  assert.deepEqual(Object.keys(vars).sort(), ["__proto__", "constructor"]);
  assert.equal(vars["__proto__"], 1);
});

// ---------------------------------------------------------------------------
// YAML

const YAML_EXAMPLE = `
# The same fleet as INI_EXAMPLE, in YAML
all:
  hosts:
    bastion:
      ansible_host: 203.0.113.7
  vars:
    rexec_port: 7022
  children:
    prod:
      vars:
        rexec_ca: /etc/rexec/ca.pem
        rexec_tls: yes
      children:
        web:
          hosts:
            web1: { ansible_host: 10.0.0.5, rexec_port: 7023 }
            web2:
            web[03:04].example.com:
        db:
          hosts:
            db-[a:c]:
              rexec_tls: false
`;

Deno.test("parseInventory() YAML: the tree of all, hosts, children and vars, as in the INI form", async () => {
  const fromYaml = await yaml(YAML_EXAMPLE);
  const fromIni = await ini(INI_EXAMPLE);
  assert.deepEqual([...fromYaml.hosts.keys()], [...fromIni.hosts.keys()]);
  for (const name of ["all", "ungrouped", "prod", "web", "db"]) {
    assert.deepEqual(fromYaml.resolve(name), fromIni.resolve(name), name);
    assert.equal(fromYaml.groups.get(name)!.depth, fromIni.groups.get(name)!.depth, name);
  }
  for (const host of fromIni.hosts.keys()) {
    assert.deepEqual(fromYaml.hostVars(host), { ...fromIni.hostVars(host) }, host);
  }
  assert.equal(fromYaml.hosts.get("web1")!.line, 17);
  assert.equal(fromYaml.groups.get("db")!.line, 20);
  assert.deepEqual(fromYaml.variable("web2", "rexec_tls"), {
    value: true,
    line: 13,
    group: "prod",
  });
});

Deno.test("parseInventory() YAML: values keep their YAML 1.1 types, as Ansible reads them", async () => {
  const inventory = await yaml(`
all:
  hosts:
    h:
      a: yes
      b: off
      c: "yes"
      d: 0777
      e: 1.5
      f: ~
      g: [1, two, { three: 3 }]
      h: { nested: { deeper: true } }
      i: 2001-12-14
      j: !vault |
        $ANSIBLE_VAULT;1.1;AES256
        3130
      k: "7023"
      l: [a: 1]
`);
  assert.deepEqual(inventory.hostVars("h"), {
    a: true,
    b: false,
    c: "yes",
    d: 511,
    e: 1.5,
    f: null,
    g: [1, "two", { three: 3 }],
    h: { nested: { deeper: true } },
    i: "2001-12-14",
    j: "$ANSIBLE_VAULT;1.1;AES256\n3130\n",
    k: "7023",
    l: [{ a: 1 }],
  });
});

Deno.test("parseInventory() YAML: names are taken as written, so a host called yes or 1234 keeps its name", async () => {
  // YAML 1.1 reads both yes and on as true, yet they are two hosts.
  const inventory = await yaml(
    "all:\n  hosts:\n    yes:\n    1234:\n    0777:\n    '007':\n    on: {v: 1}\n",
  );
  assert.deepEqual([...inventory.hosts.keys()], ["yes", "1234", "0777", "007", "on"]);
});

Deno.test("parseInventory() YAML: top-level groups other than all, hosts given as a single name, null sections", async () => {
  const inventory = await yaml(`
web:
  hosts: web1
  vars:
db:
  hosts:
    db1:
  children:
empty:
alsoempty: {}
`);
  assert.deepEqual(inventory.groups.get("all")!.children, [
    "ungrouped",
    "web",
    "db",
    "empty",
    "alsoempty",
  ]);
  assert.deepEqual(inventory.resolve("web"), ["web1"]);
  assert.deepEqual(inventory.resolve("empty"), []);
});

Deno.test("parseInventory() YAML: a group named in several places is one group, its hosts and vars merged", async () => {
  const inventory = await yaml(`
all:
  children:
    east:
      children:
        web:
          hosts:
            web1:
    west:
      children:
        web:
          hosts:
            web2:
          vars:
            v: west
`);
  assert.deepEqual(inventory.resolve("web"), ["web1", "web2"]);
  assert.deepEqual(inventory.groups.get("web")!.parents, ["east", "west"]);
  assert.equal(inventory.hostVars("web1").v, "west");
});

Deno.test("parseInventory() YAML: anchors, aliases and merge keys", async () => {
  const inventory = await yaml(`
defaults: &defaults
  vars: &tls
    rexec_tls: true
    rexec_port: 7023
all:
  children:
    web:
      vars:
        <<: *tls
        rexec_port: 7024
      hosts: &webhosts
        web1:
        web2: *tls
    again:
      hosts: *webhosts
`);
  assert.deepEqual(inventory.groups.get("web")!.vars, { rexec_tls: true, rexec_port: 7024 });
  assert.deepEqual(inventory.resolve("again"), ["web1", "web2"]);
  assert.deepEqual(inventory.hosts.get("web2")!.vars, { rexec_tls: true, rexec_port: 7023 });
  assert.deepEqual(inventory.groups.get("defaults")!.vars, { rexec_tls: true, rexec_port: 7023 });
});

Deno.test("parseInventory() YAML: keys Ansible skips are warnings, naming the line", async () => {
  const inventory = await yaml("all:\n  hosts:\n    h:\n  host:\n    x:\n  varz: {a: 1}\n");
  assert.deepEqual(inventory.warnings, [
    "inv:4: skipping the key host of the group all: only hosts, children and vars are valid",
    "inv:6: skipping the key varz of the group all: only hosts, children and vars are valid",
  ]);
  assert.deepEqual(inventory.resolve("all"), ["h"]);
});

Deno.test("parseInventory() YAML: a definition of the wrong shape is an error naming the line", async () => {
  await rejects(
    "all:\n  hosts:\n    - web1\n    - web2\n",
    2,
    "hosts of the group all must be a mapping, got a list",
    "web1:",
  );
  await rejects(
    "all:\n  children:\n    web: [a, b]\n",
    3,
    "the group web must be a mapping",
    "got a list",
  );
  await rejects("web: just text\n", 1, "the group web must be a mapping");
  await rejects(
    "all:\n  hosts:\n    web1: 10.0.0.5\n",
    3,
    "the variables of the host web1 must be a mapping",
  );
  await rejects("all:\n  vars: [a]\n", 2, "vars of the group all must be a mapping");
  await rejects("---\n- all\n", 2, "a YAML inventory is a mapping of groups", "a list");
  await rejects("all:\n  hosts:\n    ? [a, b]\n", 3, "a key here must be a name");
  await rejects("all:\n  hosts:\n    ~:\n", 3, "a key here must be a name");
  await rejects("all:\n  hosts:\n    web[1:]:\n", 3, "malformed range [1:]");
  await rejects("all:\n  hosts:\n    web1:\n  vars:\n    <<: 5\n", 5, "a << merge takes a mapping");
});

Deno.test("parseInventory() YAML: invalid YAML is an error naming the line", async () => {
  await rejects("all:\n  hosts:\n    web1:\n    web1:\n", 4, "duplicate key web1", "line 3");
  await rejects("all:\n  vars:\n    a: 1\n    b: 2\n    a: 3\n", 5, "duplicate key a", "line 3");
  await rejects("all:\n  hosts: [\n", 3, "invalid YAML");
  await rejects("all:\n  hosts:\n    'web1\n", 4, "invalid YAML");
  await rejects("all: {}\n---\nweb: {}\n", 2, "invalid YAML", "multiple documents");
  await rejects("all:\n  hosts:\n    web1: *nope\n", 3, "unknown alias *nope");
});

Deno.test("parseInventory() YAML: the configuration of an inventory plugin is refused with what to do", async () => {
  await rejects(
    "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n",
    1,
    "inventory plugin",
    "ansible-inventory",
  );
});

Deno.test("parseInventory() YAML: children that loop are an error naming the cycle", async () => {
  await rejects(
    "all:\n  children:\n    a:\n      children:\n        a:\n",
    5,
    "the group a cannot be its own child",
  );
  await rejects(
    "a:\n  children:\n    b:\nb:\n  children:\n    c:\nc:\n  children:\n    a:\n",
    9,
    "cycle: a > b > c > a",
  );
  await rejects("a:\n  children:\n    all:\n", 3, "the group all contains every group");
});

Deno.test("parseInventory() YAML: alias bombs and deep nesting are refused, not expanded", async () => {
  let bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (let level = 1; level < 12; level++) {
    const previous = `*a${level - 1}`;
    bomb += `a${level}: &a${level} [${Array(10).fill(previous).join(", ")}]\n`;
  }
  await assert.rejects(
    parseInventory(`all:\n  vars:\n${bomb.replace(/^/gm, "    ")}`),
    (error: unknown) =>
      error instanceof InventoryError && /aliases expand to too much/.test(error.message),
  );
  const deep = `all:\n  vars:\n    v: ${"[".repeat(200)}${"]".repeat(200)}\n`;
  await assert.rejects(parseInventory(deep), InventoryError);
  let nested = "all:\n";
  let indent = "  ";
  for (let level = 0; level < 100; level++) {
    nested += `${indent}children:\n${indent}  g${level}:\n`;
    indent += "    ";
  }
  await assert.rejects(
    parseInventory(nested),
    (error: unknown) => error instanceof InventoryError && /nested too deeply/.test(error.message),
  );
});

// ---------------------------------------------------------------------------
// Property tests

/** A random inventory model, written out in both forms. */
interface Model {
  groups: { name: string; hosts: string[]; vars: [string, string | number | boolean][] }[];
  edges: [number, number][];
  hostVars: [string, string, string | number | boolean][];
}

const word = fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/);
// Few host and variable names, so that groups share hosts and set the same
// variables: precedence is then put to work.
const hostName = fc.constantFrom("h_1", "h_2", "h_3", "h_4", "h_5", "h_6");
const varName = fc.constantFrom("v_a", "v_b", "v_c");
const scalar = fc.oneof(
  fc.stringMatching(/^[A-Za-z/][A-Za-z0-9 ./_-]{0,11}[A-Za-z0-9]$/),
  fc.integer({ min: -1000, max: 100_000 }),
  fc.boolean(),
);
const modelArbitrary: fc.Arbitrary<Model> = fc.uniqueArray(word, { minLength: 1, maxLength: 6 })
  .chain((groupNames) =>
    fc.record({
      groups: fc.tuple(
        ...groupNames.map((name) =>
          fc.record({
            name: fc.constant(`g_${name}`),
            hosts: fc.uniqueArray(hostName, { maxLength: 4 }),
            vars: fc.uniqueArray(fc.tuple(varName, scalar), {
              maxLength: 3,
              selector: ([key]) => key,
            }),
          })
        ),
      ),
      // Edges go from a lower index to a higher one, so the graph has no cycle.
      edges: groupNames.length < 2 ? fc.constant([]) : fc.uniqueArray(
        fc.tuple(fc.nat(groupNames.length - 2), fc.nat(groupNames.length - 1))
          .map(([a, b]): [number, number] => [a, a + 1 + (b % (groupNames.length - 1 - a))]),
        { maxLength: 8, selector: ([a, b]) => `${a}>${b}` },
      ),
      hostVars: fc.array(
        fc.tuple(hostName, varName, scalar),
        {
          maxLength: 4,
        },
      ),
    })
  );

function iniValue(value: string | number | boolean, onHostLine: boolean): string {
  if (typeof value !== "string") return String(value);
  // Quoted so that "5" or "true" stay strings; on a host line the shell-like
  // split takes off one layer of quotes first, as Ansible's documentation says.
  return onHostLine ? `'"${value}"'` : `"${value}"`;
}

function yamlValue(value: string | number | boolean): string {
  return JSON.stringify(value);
}

function toIni(model: Model): string {
  let text = "";
  for (const [host, key, value] of model.hostVars) {
    text += `${host} ${key}=${iniValue(value, true)}\n`;
  }
  for (const group of model.groups) {
    text += `[${group.name}]\n${group.hosts.join("\n")}\n`;
    text += `[${group.name}:vars]\n`;
    for (const [key, value] of group.vars) text += `${key} = ${iniValue(value, false)}\n`;
  }
  for (const [parent, child] of model.edges) {
    text += `[${model.groups[parent].name}:children]\n${model.groups[child].name}\n`;
  }
  return text;
}

function toYaml(model: Model): string {
  let text = "all:\n  hosts:\n";
  const byHost = new Map<string, [string, string | number | boolean][]>();
  for (const [host, key, value] of model.hostVars) {
    byHost.set(host, [...(byHost.get(host) ?? []), [key, value]]);
  }
  for (const [host, vars] of byHost) {
    text += `    ${host}:\n`;
    // Later assignments win, as in INI: keep the last of each key.
    for (const [key, value] of new Map(vars)) text += `      ${key}: ${yamlValue(value)}\n`;
  }
  for (const group of model.groups) {
    text += `${group.name}:\n  hosts:\n`;
    for (const host of group.hosts) text += `    ${host}:\n`;
    text += "  vars:\n";
    for (const [key, value] of group.vars) text += `    ${key}: ${yamlValue(value)}\n`;
    text += "  children:\n";
    for (const [parent, child] of model.edges) {
      if (model.groups[parent] === group) text += `    ${model.groups[child].name}:\n`;
    }
  }
  return text;
}

Deno.test("parseInventory() property: the INI and YAML forms of one inventory read the same", async () => {
  await fc.assert(
    fc.asyncProperty(modelArbitrary, async (model) => {
      const fromIni = await parseInventory(toIni(model));
      const fromYaml = await parseInventory(toYaml(model));
      assert.equal(fromIni.format, "ini");
      assert.equal(fromYaml.format, "yaml");
      assert.deepEqual(new Set(fromIni.hosts.keys()), new Set(fromYaml.hosts.keys()));
      assert.deepEqual(new Set(fromIni.groups.keys()), new Set(fromYaml.groups.keys()));
      for (const group of fromIni.groups.values()) {
        const other = fromYaml.groups.get(group.name)!;
        assert.equal(other.depth, group.depth, group.name);
        assert.deepEqual(new Set(other.children), new Set(group.children), group.name);
        assert.deepEqual(
          new Set(fromYaml.resolve(group.name)),
          new Set(fromIni.resolve(group.name)),
        );
      }
      for (const host of fromIni.hosts.keys()) {
        assert.deepEqual(fromYaml.hostVars(host), fromIni.hostVars(host), host);
      }
    }),
  );
});

Deno.test("Inventory.resolve() property: gives a group's hosts and its descendants', each once, in inventory order", async () => {
  await fc.assert(
    fc.asyncProperty(modelArbitrary, async (model) => {
      const inventory = await parseInventory(toIni(model));
      const order = [...inventory.hosts.keys()];
      model.groups.forEach((group, index) => {
        const below = new Set([index]);
        for (let grew = true; grew;) {
          grew = false;
          for (const [parent, child] of model.edges) {
            if (below.has(parent) && !below.has(child)) {
              below.add(child);
              grew = true;
            }
          }
        }
        const expected = new Set([...below].flatMap((member) => model.groups[member].hosts));
        const resolved = inventory.resolve(group.name)!;
        assert.deepEqual(new Set(resolved), expected);
        assert.equal(resolved.length, expected.size);
        assert.deepEqual(resolved, order.filter((host) => expected.has(host)));
      });
      assert.deepEqual(inventory.resolve("all"), order);
    }),
  );
});

Deno.test("Inventory.hostVars() property: a host's variable comes from the host, else the deepest group, ties by priority then name", async () => {
  await fc.assert(
    fc.asyncProperty(modelArbitrary, async (model) => {
      const inventory = await parseInventory(toIni(model));
      for (const [name, host] of inventory.hosts) {
        const vars = inventory.hostVars(name);
        for (const [key, value] of Object.entries(vars)) {
          const origin = inventory.variable(name, key)!;
          assert.deepEqual(origin.value, value);
          if (origin.group === undefined) {
            assert.ok(Object.hasOwn(host.vars, key));
            continue;
          }
          assert.ok(!Object.hasOwn(host.vars, key));
          // No other group of the host that sets the key outranks the origin.
          const winner = inventory.groups.get(origin.group)!;
          for (const group of inventory.groups.values()) {
            if (group === winner || !Object.hasOwn(group.vars, key)) continue;
            if (!(inventory.resolve(group.name) ?? []).includes(name) && group.name !== "all") {
              continue;
            }
            const outranks = group.depth > winner.depth ||
              (group.depth === winner.depth && group.name > winner.name);
            assert.ok(!outranks, `${group.name} should win over ${winner.name} for ${key}`);
          }
        }
      }
    }),
  );
});

Deno.test("expandHostPattern() property: host ranges expand to what counting gives", () => {
  fc.assert(
    fc.property(
      word,
      fc.stringMatching(/^[a-z.-]{0,6}$/),
      fc.nat(300),
      fc.nat(40),
      fc.integer({ min: 1, max: 7 }),
      fc.boolean(),
      (prefix, suffix, begin, span, step, pad) => {
        const end = begin + span;
        const width = String(end).length + 1;
        const format = (value: number) => pad ? String(value).padStart(width, "0") : String(value);
        const pattern = `${prefix}[${format(begin)}:${format(end)}:${step}]${suffix}`;
        const expected: string[] = [];
        for (let value = begin; value <= end; value += step) {
          expected.push(`${prefix}${format(value)}${suffix}`);
        }
        assert.deepEqual(expandHostPattern(pattern, { source: "x", line: 1 }).names, expected);
      },
    ),
  );
});

Deno.test("parseInventory() property: any text either parses or fails with an InventoryError", async () => {
  const fragments = fc.constantFrom(
    "[web]",
    "[web:vars]",
    "[web:children]",
    "[all:vars]",
    "web[1:3]",
    "a=1",
    "h k=v",
    "all:",
    "  hosts:",
    "    h:",
    "  children:",
    "    web:",
    "  vars:",
    "&a",
    "*a",
    "<<:",
    "'",
    '"',
    "#",
    ";",
    "---",
    ":",
    "[",
    "]",
    "- x",
    "{",
    "}",
  );
  const line = fc.array(fc.oneof(fragments, fc.string({ maxLength: 6 })), { maxLength: 4 })
    .map((parts) => parts.join(" "));
  await fc.assert(
    fc.asyncProperty(
      fc.array(line, { maxLength: 12 }),
      fc.constantFrom(undefined, "ini", "yaml"),
      async (lines, format) => {
        try {
          await parseInventory(lines.join("\n"), { format: format as "ini" | "yaml" | undefined });
        } catch (error) {
          assert.ok(error instanceof InventoryError, String((error as Error)?.stack ?? error));
        }
      },
    ),
    { numRuns: 500 },
  );
});

// ---------------------------------------------------------------------------
// Reading files

Deno.test("readInventory() reads a file, naming it in errors; a missing, huge or non-UTF-8 file is an InventoryError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/inventory`;
    await Deno.writeTextFile(path, "[web]\nweb1\nweb[\n");
    await assert.rejects(
      readInventory(path),
      (error: unknown) =>
        error instanceof InventoryError && error.message.startsWith(`${path}:3: `),
    );
    await Deno.writeTextFile(path, "all:\n  hosts:\n    web1:\n");
    assert.deepEqual((await readInventory(path)).resolve("all"), ["web1"]);
    // The format option overrides what the content says.
    await assert.rejects(readInventory(path, { format: "ini" }), /host "all:"/);
    await assert.rejects(
      readInventory(`${dir}/missing`),
      (error: unknown) =>
        error instanceof InventoryError && error.line === undefined &&
        error.message.startsWith(`${dir}/missing: cannot read the inventory: `) &&
        error.cause instanceof Deno.errors.NotFound,
    );
    await Deno.writeFile(path, new Uint8Array([0x77, 0x65, 0x62, 0xff, 0x0a]));
    await assert.rejects(readInventory(path), /is not UTF-8 text/);
    const huge = await Deno.open(path, { write: true, truncate: true });
    await huge.truncate(MAX_INVENTORY_BYTES + 1);
    huge.close();
    await assert.rejects(readInventory(path), /larger than/);
    const controller = new AbortController();
    controller.abort(new DOMException("stop", "AbortError"));
    await assert.rejects(readInventory(path, { signal: controller.signal }), /stop/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseInventory(): YAML needs LOG_TOKENS and LOG_STREAM ignored (or allowed) under a restricted --allow-env; INI needs nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/parse.ts`;
    const module = new URL("../lib/fleet/inventory.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { parseInventory } from ${JSON.stringify(module)};
try {
  const inventory = await parseInventory(Deno.args[0]);
  console.log(inventory.format, inventory.resolve("all")!.join(","));
} catch (error) {
  console.log((error as Error).name, (error as Error).message);
}
`,
    );
    const run = async (text: string, ...flags: string[]) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--config",
          new URL("../deno.json", import.meta.url).pathname,
          "--allow-read",
          ...flags,
          script,
          text,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(output.success, new TextDecoder().decode(output.stderr));
      return new TextDecoder().decode(output.stdout).trim();
    };
    const yamlText = "all:\n  hosts:\n    web1:\n";
    assert.equal(await run("[web]\nweb1\n"), "ini web1");
    const refused = await run(yamlText, "--allow-env=HOME");
    assert.match(refused, /^InventoryError inventory: reading a YAML inventory needs/);
    assert.match(refused, /--ignore-env=LOG_TOKENS,LOG_STREAM/);
    assert.equal(
      await run(yamlText, "--allow-env=HOME", "--ignore-env=LOG_TOKENS,LOG_STREAM"),
      "yaml web1",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
