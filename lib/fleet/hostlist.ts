/**
 * Host lists in the range notation of clustershell and pdsh
 * (`web[1-3,5],db1`), for `--collapse` headers: {@link foldHostNames} writes
 * many names short, {@link expandHostNames} reads them back.
 *
 * Folding works on the runs of digits in a name. Names that are the same
 * but for one run of digits fold into one `prefix[ranges]suffix`; when names
 * differ in several runs, the last run that varies is folded
 * (`rack1-node01,rack1-node02,rack2-node01` gives
 * `rack1-node[01-02],rack2-node01`). Zero padding is kept: a range starts
 * with the width of its first number (`web[08-10]` is web08, web09, web10),
 * and numbers of other widths go in their own elements (`web[1,01]`).
 * Names without digits, and names holding `[`, `]` or `,`, are left as they
 * are. The expressions come in the order their first name came.
 *
 * `expandHostNames(foldHostNames(names))` gives back the names, each once,
 * whenever no name holds a `,` or a `[...]` of digits, `-` and `,` (which
 * would read as a range); an IPv6 target such as `[::1]:7022` is fine.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/**
 * Folds host names into a comma-separated list of ranges, each name once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { foldHostNames } from "./hostlist.ts";
 *
 * assert.equal(foldHostNames(["web1", "web2", "web3", "web5"]), "web[1-3,5]");
 * assert.equal(foldHostNames(["web03", "db1", "web01", "web02", "web10"]), "web[01-03,10],db1");
 * assert.equal(foldHostNames(["10.0.0.5:7022", "10.0.0.6:7022"]), "10.0.0.[5-6]:7022");
 * assert.equal(foldHostNames(["alpha", "beta", "alpha"]), "alpha,beta");
 * ```
 */
export function foldHostNames(names: Iterable<string>): string {
  const unique = [...new Set(names)];
  const folded: { first: number; text: string }[] = [];
  const bySkeleton = new Map<string, { index: number; parts: string[] }[]>();
  unique.forEach((name, index) => {
    const parts = name.split(/(\d+)/);
    if (parts.length === 1 || /[[\],]/.test(name)) {
      folded.push({ first: index, text: name });
      return;
    }
    const skeleton = JSON.stringify(parts.filter((_, position) => position % 2 === 0));
    const group = bySkeleton.get(skeleton) ?? [];
    group.push({ index, parts });
    bySkeleton.set(skeleton, group);
  });
  for (const group of bySkeleton.values()) folded.push(...foldGroup(group));
  folded.sort((a, b) => a.first - b.first);
  return folded.map((entry) => entry.text).join(",");
}

/** Folds names that share their text between digits, on the last run of digits that varies. */
function foldGroup(group: { index: number; parts: string[] }[]): { first: number; text: string }[] {
  const runs = (group[0].parts.length - 1) / 2;
  const partition = (run: number) => {
    const position = run * 2 + 1;
    const partitions = new Map<string, { index: number; parts: string[] }[]>();
    for (const member of group) {
      const key = JSON.stringify(member.parts.map((part, at) => at === position ? "" : part));
      const members = partitions.get(key);
      if (members) members.push(member);
      else partitions.set(key, [member]);
    }
    return { position, partitions: [...partitions.values()] };
  };
  for (let run = runs - 1; run >= 0; run--) {
    const { position, partitions } = partition(run);
    if (partitions.every((members) => members.length === 1)) continue;
    return partitions.map((members) => {
      const [{ parts }] = members;
      const text = members.length === 1
        ? parts.join("")
        : `${parts.slice(0, position).join("")}[${
          formatRanges(members.map((member) => member.parts[position]))
        }]${parts.slice(position + 1).join("")}`;
      return { first: members[0].index, text };
    });
  }
  return group.map((member) => ({ first: member.index, text: member.parts.join("") }));
}

/** `["3", "1", "2", "5"]` as `1-3,5`; each range keeps the width of its first number. */
function formatRanges(numbers: string[]): string {
  const sorted = [...numbers].sort((a, b) => {
    const difference = BigInt(a) - BigInt(b);
    return difference < 0n ? -1 : difference > 0n ? 1 : a.length - b.length;
  });
  const left = new Set(sorted);
  const elements: string[] = [];
  for (const start of sorted) {
    if (!left.delete(start)) continue;
    const width = paddedWidth(start);
    let end = start;
    for (let next = BigInt(start) + 1n; left.has(pad(next, width)); next++) {
      end = pad(next, width);
      left.delete(end);
    }
    elements.push(end === start ? start : `${start}-${end}`);
  }
  return elements.join(",");
}

/** The width a zero-padded number keeps; 0 when it is not padded. */
function paddedWidth(number: string): number {
  return number.length > 1 && number.startsWith("0") ? number.length : 0;
}

function pad(value: bigint, width: number): string {
  return String(value).padStart(width, "0");
}

/**
 * Most names {@link expandHostNames} produces from one text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "../errors.ts";
 * import { expandHostNames, MAX_EXPANDED_NAMES } from "./hostlist.ts";
 *
 * // A mistyped range is refused before a single name is made.
 * assert.throws(
 *   () => expandHostNames(`web[1-${MAX_EXPANDED_NAMES + 1}]`),
 *   (error) => error instanceof UsageError && /has more than 1000000 names/.test(error.message),
 * );
 * ```
 */
export const MAX_EXPANDED_NAMES = 1_000_000;

/** The inside of a range: numbers and `LOW-HIGH` spans, separated by commas. */
const RANGES = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/**
 * Expands a list in range notation (`web[1-3,5],db1`) into names, in order,
 * each once. A `[...]` that holds anything but digits, `-` and `,` is part
 * of a name (`[::1]:7022`); several ranges in one name multiply, the first
 * varying slowest.
 *
 * @throws {UsageError} for a span that runs backwards (`[5-3]`), an empty
 * element (`a,,b`), or more than {@link MAX_EXPANDED_NAMES} names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandHostNames } from "./hostlist.ts";
 *
 * assert.deepEqual(expandHostNames("web[1-3,5],db1"), ["web1", "web2", "web3", "web5", "db1"]);
 * assert.deepEqual(expandHostNames("web[08-10]"), ["web08", "web09", "web10"]);
 * assert.deepEqual(expandHostNames("r[1-2]n[1-2]"), ["r1n1", "r1n2", "r2n1", "r2n2"]);
 * assert.deepEqual(expandHostNames("[::1]:[7001-7002]"), ["[::1]:7001", "[::1]:7002"]);
 * ```
 */
export function expandHostNames(text: string): string[] {
  const names = new Set<string>();
  for (const expression of splitTopLevel(text)) {
    if (expression === "") {
      throw new UsageError(`empty element in the host list ${JSON.stringify(text)}`);
    }
    let expanded = [""];
    for (const piece of expression.split(/(\[[^[\]]*\])/)) {
      const inside = piece.slice(1, -1);
      const values = piece.startsWith("[") && RANGES.test(inside) ? rangeValues(inside) : [piece];
      if (expanded.length * values.length > MAX_EXPANDED_NAMES) {
        throw new UsageError(
          `the host list ${JSON.stringify(text)} has more than ${MAX_EXPANDED_NAMES} names`,
        );
      }
      expanded = expanded.flatMap((head) => values.map((value) => head + value));
    }
    for (const name of expanded) names.add(name);
    if (names.size > MAX_EXPANDED_NAMES) {
      throw new UsageError(
        `the host list ${JSON.stringify(text)} has more than ${MAX_EXPANDED_NAMES} names`,
      );
    }
  }
  return [...names];
}

/** Splits at the commas that are not inside brackets. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === "[") depth++;
    else if (char === "]") depth = Math.max(0, depth - 1);
    else if (char === "," && depth === 0) {
      parts.push(text.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function rangeValues(ranges: string): string[] {
  const values: string[] = [];
  for (const element of ranges.split(",")) {
    const [low, high = low] = element.split("-");
    const first = BigInt(low);
    const last = BigInt(high);
    if (last < first) throw new UsageError(`the range ${element} runs backwards`);
    if (last - first >= BigInt(MAX_EXPANDED_NAMES)) {
      throw new UsageError(`the range ${element} has more than ${MAX_EXPANDED_NAMES} names`);
    }
    const width = paddedWidth(low);
    for (let value = first; value <= last; value++) values.push(pad(value, width));
  }
  return values;
}
