/**
 * What the INI and YAML inventory parsers build on: an inventory being
 * written (hosts, groups, variables, each with the line that made it), its
 * error, and Ansible's host patterns (`web[01:50].example.com:2222`).
 * `inventory.ts` turns a finished draft into an `Inventory`.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { RexecError } from "../errors.ts";

/** A variable's value: what INI and YAML can spell. */
export type InventoryValue =
  | string
  | number
  | boolean
  | null
  | readonly InventoryValue[]
  | { readonly [key: string]: InventoryValue };

/**
 * An inventory could not be read or makes no sense: the message starts with
 * `FILE:LINE:` (or `FILE:` when no line is to blame) and says what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InventoryError } from "./inventory_draft.ts";
 * import { parseInventory } from "./inventory.ts";
 *
 * await assert.rejects(
 *   parseInventory("[web]\nweb[1:]\n", { source: "hosts.ini" }),
 *   (error: unknown) =>
 *     error instanceof InventoryError && error.source === "hosts.ini" && error.line === 2 &&
 *     error.message.startsWith("hosts.ini:2: "),
 * );
 * ```
 */
export class InventoryError extends RexecError {
  /** The inventory's name as given in `source` (usually its path). */
  readonly source: string;
  /** The line at fault, counted from 1; undefined when the whole file is. */
  readonly line: number | undefined;

  /** Creates the error for `problem` at `source:line`. */
  constructor(
    source: string,
    line: number | undefined,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${line === undefined ? source : `${source}:${line}`}: ${problem}`, options);
    this.source = source;
    this.line = line;
  }
}

/**
 * Most hosts one inventory may define, and one host pattern may expand to:
 * a bound on the memory a mistyped range such as `web[1:99999999]` takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InventoryError, MAX_INVENTORY_HOSTS } from "./inventory_draft.ts";
 * import { parseInventory } from "./inventory.ts";
 *
 * await assert.rejects(parseInventory(`web[1:${MAX_INVENTORY_HOSTS + 1}]\n`), InventoryError);
 * ```
 */
export const MAX_INVENTORY_HOSTS = 100_000;

/** Bounds the memberships a small file of big ranges can multiply. */
const MAX_MEMBERSHIPS = 1_000_000;

/** A variable as set, with the line that set it. */
export interface DraftVariable {
  /** The value. */
  readonly value: InventoryValue;
  /** The line that set it. */
  readonly line: number;
}

/**
 * A host being defined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InventoryDraft } from "./inventory_draft.ts";
 *
 * const draft = new InventoryDraft("hosts.ini");
 * const host = draft.addHost(draft.group("web", 1), "web1", 2);
 * assert.deepEqual(host.groups, ["web"]);
 * ```
 */
export interface HostDraft {
  /** The host's name. */
  readonly name: string;
  /** The line where it first appears. */
  readonly line: number;
  /** Its own variables. */
  readonly vars: Map<string, DraftVariable>;
  /** Groups it is a direct member of, in order. */
  readonly groups: string[];
}

/**
 * A group being defined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InventoryDraft } from "./inventory_draft.ts";
 *
 * const draft = new InventoryDraft("hosts.ini");
 * const prod = draft.group("prod", 1);
 * draft.addChild(prod, "web", 2);
 * assert.deepEqual(prod.children, ["web"]);
 * assert.equal(prod.childLines.get("web"), 2);
 * ```
 */
export interface GroupDraft {
  /** The group's name. */
  readonly name: string;
  /** The line where it is first named; undefined for an implicit group. */
  line: number | undefined;
  /** Direct member hosts, in order. */
  readonly hosts: string[];
  /** The same, for lookups. */
  readonly hostSet: Set<string>;
  /** Direct child groups, in order. */
  readonly children: string[];
  /** The line that named each child. */
  readonly childLines: Map<string, number>;
  /** Direct parent groups. */
  readonly parents: string[];
  /** Its own variables. */
  readonly vars: Map<string, DraftVariable>;
  /** `ansible_group_priority`; default 1. */
  priority: number;
}

/**
 * An inventory being written by a parser: hosts and groups in the order
 * they appear, with `all` and `ungrouped` there from the start.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InventoryDraft } from "./inventory_draft.ts";
 *
 * const draft = new InventoryDraft("hosts.ini");
 * const web = draft.group("web", 1);
 * draft.addHost(web, "web1", 2).vars.set("rexec_port", { value: 7023, line: 2 });
 * draft.setGroupVar(web, "ansible_group_priority", 5, 4);
 * assert.deepEqual([...draft.groups.keys()], ["all", "ungrouped", "web"]);
 * assert.equal(web.priority, 5);
 * ```
 */
export class InventoryDraft {
  /** The inventory's name, for errors. */
  readonly source: string;
  /** Hosts by name, in the order they first appear. */
  readonly hosts: Map<string, HostDraft> = new Map();
  /** Groups by name, in the order they are first named. */
  readonly groups: Map<string, GroupDraft> = new Map();
  /** Warnings, each `SOURCE:LINE: message`. */
  readonly warnings: string[] = [];
  #memberships = 0;

  /** Starts an inventory named `source` with the groups `all` and `ungrouped`. */
  constructor(source: string) {
    this.source = source;
    this.group("all", undefined);
    this.group("ungrouped", undefined);
  }

  /** Throws the {@link InventoryError} for `problem` at `line`. */
  fail(line: number | undefined, problem: string, options?: ErrorOptions): never {
    throw new InventoryError(this.source, line, problem, options);
  }

  /** Records a warning about `line`. */
  warn(line: number, message: string): void {
    this.warnings.push(`${this.source}:${line}: ${message}`);
  }

  /** The group `name`, created when new; `line` is where it is named. */
  group(name: string, line: number | undefined): GroupDraft {
    let group = this.groups.get(name);
    if (group === undefined) {
      group = {
        name,
        line,
        hosts: [],
        hostSet: new Set(),
        children: [],
        childLines: new Map(),
        parents: [],
        vars: new Map(),
        priority: 1,
      };
      this.groups.set(name, group);
    } else if (group.line === undefined) {
      group.line = line;
    }
    return group;
  }

  /**
   * Puts host `name` in `group`, creating the host when new.
   *
   * @throws {InventoryError} beyond {@link MAX_INVENTORY_HOSTS} hosts.
   */
  addHost(group: GroupDraft, name: string, line: number): HostDraft {
    let host = this.hosts.get(name);
    if (host === undefined) {
      if (this.hosts.size >= MAX_INVENTORY_HOSTS) {
        this.fail(line, `more than ${MAX_INVENTORY_HOSTS} hosts`);
      }
      host = { name, line, vars: new Map(), groups: [] };
      this.hosts.set(name, host);
    }
    if (!group.hostSet.has(name)) {
      if (++this.#memberships > MAX_MEMBERSHIPS) {
        this.fail(line, `more than ${MAX_MEMBERSHIPS} memberships of hosts in groups`);
      }
      group.hostSet.add(name);
      group.hosts.push(name);
      host.groups.push(group.name);
    }
    return host;
  }

  /**
   * Sets a group variable; `ansible_group_priority` sets the priority instead.
   *
   * @throws {InventoryError} for a priority that is not a whole number.
   */
  setGroupVar(group: GroupDraft, key: string, value: InventoryValue, line: number): void {
    if (key !== "ansible_group_priority") {
      group.vars.set(key, { value, line });
      return;
    }
    const priority = typeof value === "string" && /^\s*[-+]?\d+\s*$/.test(value)
      ? Number(value)
      : value;
    if (typeof priority !== "number" || !Number.isSafeInteger(priority)) {
      this.fail(
        line,
        `ansible_group_priority of the group ${group.name} must be a whole number, got ${
          JSON.stringify(value)
        }`,
      );
    }
    group.priority = priority;
  }

  /**
   * Makes the group `child` (created when new) a child of `parent`.
   *
   * @throws {InventoryError} when `child` is `all` or `parent` itself.
   */
  addChild(parent: GroupDraft, child: string, line: number): void {
    if (child === "all") {
      this.fail(
        line,
        `the group all contains every group, so it cannot be a child of ${parent.name}`,
      );
    }
    if (child === parent.name) this.fail(line, `the group ${child} cannot be its own child`);
    const group = this.group(child, line);
    if (parent.childLines.has(child)) return;
    parent.children.push(child);
    parent.childLines.set(child, line);
    group.parents.push(parent.name);
  }
}

/**
 * Hosts a pattern stands for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandHostPattern, type HostPattern } from "./inventory_draft.ts";
 *
 * const pattern: HostPattern = expandHostPattern("db-[a:c]", { source: "hosts", line: 1 });
 * assert.deepEqual(pattern.names, ["db-a", "db-b", "db-c"]);
 * ```
 */
export interface HostPattern {
  /** Host names, in the order the ranges count them. */
  readonly names: string[];
  /** The port after the name, when there is one (Ansible's `ansible_port`). */
  readonly port?: number;
}

/** Letters in the order Ansible's alphabetic ranges count them. */
const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** An IPv6 address, possibly with a zone. */
const IPV6 = /^[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(\.\d{1,3}){0,3}(%[\w.-]+)?$/;

function isIpv6(text: string): boolean {
  return IPV6.test(text) && (text.includes("::") || text.split(":").length >= 7);
}

/**
 * Expands an Ansible host pattern: a name with ranges (`web[01:50]`, the
 * beginning's zero padding kept; `db-[a:f]`; a step as in `[1:50:2]`; several
 * ranges in one name, the first counting slowest) and an optional `:PORT`;
 * or an IPv6 address, bare or as `[ADDRESS]:PORT`.
 *
 * @throws {InventoryError} at `source:line` for a malformed range or port,
 * a name ending in `:`, or more than {@link MAX_INVENTORY_HOSTS} hosts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandHostPattern } from "./inventory_draft.ts";
 *
 * const where = { source: "hosts.ini", line: 3 };
 * assert.deepEqual(expandHostPattern("web[08:10:2].example.com:2222", where), {
 *   names: ["web08.example.com", "web10.example.com"],
 *   port: 2222,
 * });
 * assert.deepEqual(expandHostPattern("[fe80::1]:2222", where), { names: ["fe80::1"], port: 2222 });
 * assert.deepEqual(expandHostPattern("r[1:2]n[a:b]", where).names, ["r1na", "r1nb", "r2na", "r2nb"]);
 * ```
 */
export function expandHostPattern(
  pattern: string,
  where: { readonly source: string; readonly line: number },
): HostPattern {
  const fail = (problem: string): never => {
    throw new InventoryError(
      where.source,
      where.line,
      `host ${JSON.stringify(pattern)}: ${problem}`,
    );
  };
  if (pattern === "") throw new InventoryError(where.source, where.line, "empty host name");
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(pattern);
  if (bracketed && isIpv6(bracketed[1])) {
    return { names: [bracketed[1]], ...portOf(bracketed[2], fail) };
  }
  // The ranges hold colons of their own: look for the port without them.
  const skeleton = pattern.replace(/\[[^\]]*\]/g, "[]");
  const colons = skeleton.split(":").length - 1;
  let name = pattern;
  let port: { port?: number } = {};
  if (colons === 1) {
    const portText = skeleton.slice(skeleton.indexOf(":") + 1);
    if (portText === "") fail("a host name cannot end in ':', which introduces a port");
    if (portText.includes("[]")) fail("the port must come after the ranges");
    name = pattern.slice(0, pattern.length - portText.length - 1);
    port = portOf(portText, fail);
  } else if (colons > 1 && !isIpv6(skeleton.replaceAll("[]", "0"))) {
    fail("not a host name nor an IPv6 address");
  }
  return { names: expandRanges(name, fail), ...port };
}

function portOf(text: string | undefined, fail: (problem: string) => never): { port?: number } {
  if (text === undefined) return {};
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    fail(`invalid port ${JSON.stringify(text)}: use 0 to 65535`);
  }
  return { port: Number(text) };
}

function expandRanges(name: string, fail: (problem: string) => never): string[] {
  const parts: string[][] = [];
  let rest = name;
  let count = 1;
  for (;;) {
    const open = rest.indexOf("[");
    const close = rest.indexOf("]");
    if (open === -1) {
      if (close !== -1) fail("']' without '['");
      parts.push([rest]);
      break;
    }
    if (close === -1) fail("'[' without ']'");
    if (close < open) fail("']' without '['");
    parts.push([rest.slice(0, open)]);
    const values = rangeValues(rest.slice(open + 1, close), fail);
    count *= values.length;
    if (count > MAX_INVENTORY_HOSTS) fail(`the ranges give more than ${MAX_INVENTORY_HOSTS} hosts`);
    parts.push(values);
    rest = rest.slice(close + 1);
  }
  let names = [""];
  for (const values of parts) {
    names = names.flatMap((head) => values.map((value) => head + value));
  }
  return names;
}

function rangeValues(range: string, fail: (problem: string) => never): string[] {
  const bad = (why: string): never => fail(`malformed range [${range}]: ${why}`);
  const bounds = range.split(":");
  if (bounds.length !== 2 && bounds.length !== 3) bad("write [BEGIN:END] or [BEGIN:END:STEP]");
  // As Ansible: an empty beginning counts from 0.
  const begin = bounds[0] === "" ? "0" : bounds[0];
  const [, end, stepText = "1"] = bounds;
  if (end === "") bad("the end is missing");
  if (!/^[1-9]\d{0,5}$/.test(stepText)) bad("the step must be a whole number from 1");
  const step = Number(stepText);
  const values: string[] = [];
  if (/^[A-Za-z]$/.test(begin) && /^[A-Za-z]$/.test(end)) {
    const first = LETTERS.indexOf(begin);
    const last = LETTERS.indexOf(end);
    if (first > last) bad("the beginning comes after the end");
    for (let index = first; index <= last; index += step) values.push(LETTERS[index]);
    return values;
  }
  if (!/^\d{1,15}$/.test(begin) || !/^\d{1,15}$/.test(end)) {
    bad("the bounds must be both numbers or both single letters");
  }
  const padded = begin.length > 1 && begin.startsWith("0");
  if (padded && end.length !== begin.length) {
    bad("a zero-padded beginning needs an end of the same width");
  }
  const first = Number(begin);
  const last = Number(end);
  if (first > last) bad("the beginning is greater than the end");
  if (Math.floor((last - first) / step) + 1 > MAX_INVENTORY_HOSTS) {
    bad(`more than ${MAX_INVENTORY_HOSTS} hosts`);
  }
  for (let value = first; value <= last; value += step) {
    values.push(padded ? String(value).padStart(begin.length, "0") : String(value));
  }
  return values;
}
