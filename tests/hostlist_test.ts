import assert from "node:assert/strict";
import fc from "fast-check";
import { UsageError } from "../lib/errors.ts";
import { expandHostNames, foldHostNames, MAX_EXPANDED_NAMES } from "../lib/fleet/hostlist.ts";

Deno.test("foldHostNames(): consecutive numbers fold into ranges, gaps into elements", () => {
  assert.equal(foldHostNames(["web1", "web2", "web3", "web5"]), "web[1-3,5]");
  assert.equal(foldHostNames(["web5", "web3", "web1", "web2"]), "web[1-3,5]");
  assert.equal(foldHostNames(["n1", "n3", "n5"]), "n[1,3,5]");
  assert.equal(foldHostNames(["web9", "web10", "web11"]), "web[9-11]");
  assert.equal(foldHostNames(["web1"]), "web1");
  assert.equal(foldHostNames([]), "");
  assert.equal(foldHostNames(new Set(["a1", "a2"])), "a[1-2]");
});

Deno.test("foldHostNames(): zero padding is kept; numbers of other widths are elements of their own", () => {
  assert.equal(foldHostNames(["web01", "web02", "web03"]), "web[01-03]");
  assert.equal(foldHostNames(["web08", "web09", "web10", "web11"]), "web[08-11]");
  assert.equal(foldHostNames(["web098", "web099", "web100"]), "web[098-100]");
  assert.equal(foldHostNames(["web1", "web01", "web2", "web02"]), "web[1-2,01-02]");
  assert.equal(foldHostNames(["web0", "web1", "web00"]), "web[0-1,00]");
  assert.equal(foldHostNames(["web9", "web010"]), "web[9,010]");
});

Deno.test("foldHostNames(): names with several numbers fold on the last one that varies", () => {
  assert.equal(
    foldHostNames(["rack1-node01", "rack1-node02", "rack2-node01", "rack2-node02"]),
    "rack1-node[01-02],rack2-node[01-02]",
  );
  assert.equal(
    foldHostNames(["rack1-node01", "rack2-node01", "rack3-node01"]),
    "rack[1-3]-node01",
  );
  assert.equal(
    foldHostNames(["10.0.0.5:7022", "10.0.0.6:7022", "10.0.0.7:7023"]),
    "10.0.0.[5-6]:7022,10.0.0.7:7023",
  );
  assert.equal(
    foldHostNames(["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]),
    "127.0.0.1:[7001-7003]",
  );
});

Deno.test("foldHostNames(): names without numbers, and names with brackets or commas, are left as they are", () => {
  assert.equal(foldHostNames(["alpha", "beta", "alpha"]), "alpha,beta");
  assert.equal(
    foldHostNames(["[::1]:7001", "[::1]:7002", "tls://web1", "tls://web2"]),
    "[::1]:7001,[::1]:7002,tls://web[1-2]",
  );
});

Deno.test("foldHostNames(): expressions come in the order of their first name", () => {
  assert.equal(foldHostNames(["web2", "db1", "web1", "cache", "db2"]), "web[1-2],db[1-2],cache");
  assert.equal(foldHostNames(["b", "a1", "z", "a2"]), "b,a[1-2],z");
});

Deno.test("expandHostNames() reads ranges, padding, several ranges, and literal brackets", () => {
  assert.deepEqual(expandHostNames("web[1-3,5]"), ["web1", "web2", "web3", "web5"]);
  assert.deepEqual(expandHostNames("web[01-03,10]"), ["web01", "web02", "web03", "web10"]);
  assert.deepEqual(expandHostNames("web[098-100]"), ["web098", "web099", "web100"]);
  assert.deepEqual(expandHostNames("r[1-2]n[1-2]"), ["r1n1", "r1n2", "r2n1", "r2n2"]);
  assert.deepEqual(expandHostNames("a,b,a"), ["a", "b"]);
  assert.deepEqual(expandHostNames("[::1]:7022,[fe80::1]:[1-2]"), [
    "[::1]:7022",
    "[fe80::1]:1",
    "[fe80::1]:2",
  ]);
  assert.deepEqual(expandHostNames("web[3]"), ["web3"]);
  assert.deepEqual(expandHostNames("x[a-b]"), ["x[a-b]"]);
});

Deno.test("expandHostNames() refuses backward spans, empty elements and huge lists", () => {
  const rejects = (text: string, mention: string) =>
    assert.throws(
      () => expandHostNames(text),
      (error: unknown) => error instanceof UsageError && error.message.includes(mention),
      text,
    );
  rejects("web[5-3]", "the range 5-3 runs backwards");
  rejects("a,,b", "empty element");
  rejects("", "empty element");
  rejects(`web[1-${MAX_EXPANDED_NAMES + 1}]`, `more than ${MAX_EXPANDED_NAMES}`);
  rejects("a[1-1000]b[1-1000]c[1-1000]", `more than ${MAX_EXPANDED_NAMES}`);
  rejects("a[1-999999999999999999999]", `more than ${MAX_EXPANDED_NAMES}`);
});

Deno.test("foldHostNames(): twenty thousand names, in thousands of ranges, fold and expand back", () => {
  const names = Array.from({ length: 20_000 }, (_, index) => `node${index % 5000}-r${index}`);
  const folded = foldHostNames(names);
  assert.deepEqual(new Set(expandHostNames(folded)), new Set(names));
});

/** Host names as targets name them: letters, digits, dots, dashes, ports, IPv6 in brackets. */
const hostName = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[a-z]{1,3}(-?[0-9]{1,3}){0,3}(\.[a-z0-9]{1,3})?$/) },
  {
    weight: 2,
    arbitrary: fc.stringMatching(/^(10|127)\.0\.[0-9]{1,2}\.[0-9]{1,3}(:[0-9]{2,5})?$/),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^\[[0-9a-f]{0,4}::[0-9a-f]{1,4}\](:[0-9]{1,5})?$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^(tls:\/\/)?[a-z]{1,4}[0-9]{0,3}(:[0-9]{1,5})?$/) },
);

Deno.test("foldHostNames() property: expanding the folded list gives back the names, each once", () => {
  fc.assert(
    fc.property(fc.array(hostName, { maxLength: 60 }), (names) => {
      const folded = foldHostNames(names);
      if (names.length === 0) {
        assert.equal(folded, "");
        return;
      }
      const expanded = expandHostNames(folded);
      assert.deepEqual(new Set(expanded), new Set(names), folded);
      assert.equal(expanded.length, new Set(names).size, folded);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("foldHostNames() property: folding gives no more expressions than names, and folding again changes nothing", () => {
  fc.assert(
    fc.property(fc.array(hostName, { minLength: 1, maxLength: 60 }), (names) => {
      const folded = foldHostNames(names);
      const expressions = folded.split(/,(?![^[]*\])/);
      assert.ok(expressions.length <= new Set(names).size, folded);
      assert.equal(foldHostNames(expandHostNames(folded)), folded);
    }),
    { numRuns: 500 },
  );
});

Deno.test("foldHostNames() property: names that differ only in a consecutive number fold into one range", () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z.-]{1,6}$/),
      fc.stringMatching(/^[a-z.-]{0,6}$/),
      fc.nat(10_000),
      fc.integer({ min: 2, max: 300 }),
      fc.boolean(),
      (prefix, suffix, first, count, padded) => {
        const width = padded ? String(first + count).length + 1 : 0;
        const format = (value: number) => String(value).padStart(width, "0");
        const names = Array.from(
          { length: count },
          (_, index) => `${prefix}${format(first + index)}${suffix}`,
        );
        assert.equal(
          foldHostNames(names.toReversed()),
          `${prefix}[${format(first)}-${format(first + count - 1)}]${suffix}`,
        );
      },
    ),
  );
});
