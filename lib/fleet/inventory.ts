/**
 * Ansible inventories, in INI or YAML form, as rexec reads them to name the
 * hosts and groups of a fleet. Pure: {@link parseInventory} reads only its
 * arguments; {@link readInventory} is the one function that opens a file.
 *
 * What is read, as Ansible reads it:
 *
 * - INI: `[group]` sections of host lines, `[group:children]` sections of
 *   group names, `[group:vars]` sections of `KEY=VALUE` lines; hosts before
 *   any section are ungrouped; `#` and `;` start a comment line. A host line
 *   is a host name or pattern followed by `KEY=VALUE` variables, split like a
 *   shell line (quotes group words; an unquoted `#` starts a comment). A
 *   `[group:vars]` line is one `KEY=VALUE`, the value running to the end of
 *   the line (a `#` after a space starts a comment).
 * - YAML: groups at the top level (usually only `all`), each a mapping with
 *   `hosts` (host name or pattern: its variables or nothing), `children`
 *   (group name: its definition) and `vars`. Parsed as YAML 1.1, as Ansible
 *   does, so `yes` and `on` are booleans as values; host and group names are
 *   taken as written (a host `yes:` is named `yes`).
 * - Host patterns: `web[01:50].example.com` (the zero padding of the
 *   beginning is kept), `db-[a:f]`, a step as in `[1:50:2]`, several ranges
 *   in one name. A `:PORT` after the name sets `ansible_port` (Ansible's SSH
 *   port; rexec itself reads `rexec_port`).
 * - The implicit groups: `all` holds every host and every group without a
 *   parent; `ungrouped` holds the hosts in no other group.
 *
 * INI values are typed as Ansible types them, roughly: `5` and `-1.5` are
 * numbers, `true`/`True` and `false`/`False` booleans, `None` null, `'a b'`
 * and `"a b"` the string inside the quotes; anything else, Python lists and
 * dictionaries included, is a string. YAML values keep their YAML types.
 *
 * Variable precedence, as Ansible's: a host's own variables win over those of
 * its groups; among the groups the host belongs to (directly or through
 * children), a group deeper in the tree wins over a shallower one (`all` is
 * depth 0, its children depth 1, and a group's depth is its longest path from
 * `all`); at equal depth the higher `ansible_group_priority` (default 1)
 * wins, then the group whose name sorts later (so `[b:vars]` beats
 * `[a:vars]`).
 *
 * Stricter than Ansible: a `[group:children]` cycle, a group definition that
 * is not a mapping, a duplicate YAML key and a malformed range are errors
 * with the file and line. Keys Ansible skips with a warning (anything but
 * `hosts`, `children` and `vars` in a YAML group) become
 * {@link Inventory.warnings}.
 *
 * The YAML parser (npm `yaml`) is loaded only when a YAML inventory is
 * parsed, and it reads the environment variables `LOG_TOKENS` and
 * `LOG_STREAM` while it parses: a program with a restricted `--allow-env`
 * needs `--ignore-env=LOG_TOKENS,LOG_STREAM` (or those names in
 * `--allow-env`) to read YAML inventories, or gets an {@link InventoryError}
 * saying so.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import {
  type DraftVariable,
  InventoryDraft,
  InventoryError,
  type InventoryValue,
} from "./inventory_draft.ts";
import { parseIniInventory } from "./inventory_ini.ts";
import { readBoundedText } from "./text_file.ts";

export { InventoryError, type InventoryValue, MAX_INVENTORY_HOSTS } from "./inventory_draft.ts";

/**
 * The two forms of inventory file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectInventoryFormat, type InventoryFormat } from "./inventory.ts";
 *
 * const format: InventoryFormat = detectInventoryFormat("[web]\nweb1\n");
 * assert.equal(format, "ini");
 * ```
 */
export type InventoryFormat = "ini" | "yaml";

/**
 * A host of the inventory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInventory } from "./inventory.ts";
 *
 * const inventory = await parseInventory("[web]\nweb1 ansible_host=10.0.0.5 rexec_port=7023\n");
 * const host = inventory.hosts.get("web1")!;
 * assert.deepEqual(host.vars, { ansible_host: "10.0.0.5", rexec_port: 7023 });
 * assert.deepEqual(host.groups, ["web"]);
 * assert.equal(host.line, 2);
 * ```
 */
export interface InventoryHost {
  /** The host's inventory name (its alias). */
  readonly name: string;
  /**
   * Variables set on the host itself, not those of its groups: see
   * {@link Inventory.hostVars} for the values that apply.
   */
  readonly vars: Readonly<Record<string, InventoryValue>>;
  /** Groups the host is a direct member of, in the order it joined them. */
  readonly groups: readonly string[];
  /** The line where the host first appears. */
  readonly line: number;
}

/**
 * A group of the inventory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInventory } from "./inventory.ts";
 *
 * const inventory = await parseInventory("[web]\nweb1\n[prod:children]\nweb\n");
 * const web = inventory.groups.get("web")!;
 * assert.deepEqual(web.hosts, ["web1"]);
 * assert.deepEqual(web.parents, ["prod"]);
 * assert.equal(web.depth, 2);
 * assert.deepEqual(inventory.groups.get("all")!.children, ["ungrouped", "prod"]);
 * ```
 */
export interface InventoryGroup {
  /** The group's name. */
  readonly name: string;
  /** Hosts that are direct members, in the order they joined. */
  readonly hosts: readonly string[];
  /** Direct child groups, in the order they were named. */
  readonly children: readonly string[];
  /** Direct parent groups. */
  readonly parents: readonly string[];
  /** The group's own variables (without `ansible_group_priority`). */
  readonly vars: Readonly<Record<string, InventoryValue>>;
  /** `ansible_group_priority`: breaks ties between groups of equal depth; default 1. */
  readonly priority: number;
  /** Longest path from `all`: 0 for `all`, 1 for its children, and so on. */
  readonly depth: number;
  /** The line where the group is first named; undefined for an implicit `all` or `ungrouped`. */
  readonly line: number | undefined;
}

/**
 * Where a variable's value for a host comes from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInventory } from "./inventory.ts";
 *
 * const inventory = await parseInventory("web1\n[all:vars]\nrexec_port=7023\n");
 * const origin = inventory.variable("web1", "rexec_port")!;
 * assert.deepEqual(origin, { value: 7023, line: 3, group: "all" });
 * ```
 */
export interface VariableOrigin {
  /** The value that applies. */
  readonly value: InventoryValue;
  /** The line that set it. */
  readonly line: number;
  /** The group whose variable it is; absent when it is set on the host itself. */
  readonly group?: string;
}

/**
 * Options of {@link parseInventory}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ParseInventoryOptions, parseInventory } from "./inventory.ts";
 *
 * const options: ParseInventoryOptions = { source: "/etc/rexec/inventory", format: "ini" };
 * assert.equal((await parseInventory("web1\n", options)).source, "/etc/rexec/inventory");
 * ```
 */
export interface ParseInventoryOptions {
  /** The name errors and warnings give the inventory, usually its path; default `inventory`. */
  readonly source?: string;
  /** The form of the text; told apart by content ({@link detectInventoryFormat}) when absent. */
  readonly format?: InventoryFormat;
}

/**
 * A parsed inventory: its hosts and groups, and the names they answer to.
 *
 * @example Expanding a group to its hosts
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInventory } from "./inventory.ts";
 *
 * const inventory = await parseInventory(`
 * [web]
 * web[1:3] rexec_port=7023
 * [db]
 * db1 ansible_host=10.0.0.9
 * [prod:children]
 * web
 * db
 * `);
 * assert.deepEqual(inventory.resolve("prod"), ["web1", "web2", "web3", "db1"]);
 * assert.deepEqual(inventory.resolve("db1"), ["db1"]);
 * assert.equal(inventory.resolve("nosuch"), undefined);
 * assert.equal(inventory.hostVars("web2").rexec_port, 7023);
 * ```
 */
export class Inventory {
  /** The name given in {@link ParseInventoryOptions.source}. */
  readonly source: string;
  /** The form the text was read in. */
  readonly format: InventoryFormat;
  /** Every host by name, in the order they first appear. */
  readonly hosts: ReadonlyMap<string, InventoryHost>;
  /** Every group by name, `all` and `ungrouped` first. */
  readonly groups: ReadonlyMap<string, InventoryGroup>;
  /** What Ansible would warn about, each as `FILE:LINE: message`. */
  readonly warnings: readonly string[];
  readonly #order: ReadonlyMap<string, number>;
  readonly #hostVarLines: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly #groupVarLines: ReadonlyMap<string, ReadonlyMap<string, number>>;

  /** Created by {@link parseInventory}. */
  constructor(parts: {
    source: string;
    format: InventoryFormat;
    hosts: ReadonlyMap<string, InventoryHost>;
    groups: ReadonlyMap<string, InventoryGroup>;
    warnings: readonly string[];
    hostVarLines: ReadonlyMap<string, ReadonlyMap<string, number>>;
    groupVarLines: ReadonlyMap<string, ReadonlyMap<string, number>>;
  }) {
    this.source = parts.source;
    this.format = parts.format;
    this.hosts = parts.hosts;
    this.groups = parts.groups;
    this.warnings = parts.warnings;
    this.#hostVarLines = parts.hostVarLines;
    this.#groupVarLines = parts.groupVarLines;
    this.#order = new Map([...parts.hosts.keys()].map((name, index) => [name, index]));
  }

  /**
   * The hosts `name` stands for, in inventory order and each once: a host
   * alias gives that host; a group gives its hosts and those of its
   * children, recursively (`all` gives every host); a name that is both a
   * group and a host gives both. Undefined when `name` is neither; an empty
   * array for a group without hosts.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { parseInventory } from "./inventory.ts";
   *
   * const inventory = await parseInventory("lone\n[b]\nb2\nb1\n[a]\nb1\na1\n");
   * assert.deepEqual(inventory.resolve("all"), ["lone", "b2", "b1", "a1"]);
   * assert.deepEqual(inventory.resolve("a"), ["b1", "a1"]);
   * assert.deepEqual(inventory.resolve("ungrouped"), ["lone"]);
   * ```
   */
  resolve(name: string): string[] | undefined {
    const group = this.groups.get(name);
    if (group === undefined) return this.hosts.has(name) ? [name] : undefined;
    if (name === "all") return [...this.hosts.keys()];
    const found = new Set<string>();
    if (this.hosts.has(name)) found.add(name);
    for (const member of this.#descendants(name)) {
      for (const host of this.groups.get(member)!.hosts) found.add(host);
    }
    return [...found].sort((a, b) => this.#order.get(a)! - this.#order.get(b)!);
  }

  /**
   * The variables that apply to host `name`: its groups' merged by
   * precedence (see the module documentation), then its own.
   *
   * @throws {RangeError} when there is no such host.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { parseInventory } from "./inventory.ts";
   *
   * const inventory = await parseInventory(`
   * [web]
   * web1 color=red
   * [web:vars]
   * color=blue
   * size=2
   * [all:vars]
   * size=1
   * zone=eu
   * `);
   * assert.deepEqual(inventory.hostVars("web1"), { size: 2, zone: "eu", color: "red" });
   * ```
   */
  hostVars(name: string): Record<string, InventoryValue> {
    const merged: [string, InventoryValue][] = [];
    for (const group of this.#groupsByPrecedence(name)) {
      merged.push(...Object.entries(this.groups.get(group)!.vars));
    }
    merged.push(...Object.entries(this.#host(name).vars));
    return Object.fromEntries(merged);
  }

  /**
   * The value of variable `variable` for host `name`, with the line that set
   * it and the group it belongs to: for error messages that point at the
   * line to fix. Undefined when no group nor the host sets it.
   *
   * @throws {RangeError} when there is no such host.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { parseInventory } from "./inventory.ts";
   *
   * const inventory = await parseInventory("[web]\nweb1 rexec_port=7023\n");
   * assert.deepEqual(inventory.variable("web1", "rexec_port"), { value: 7023, line: 2 });
   * assert.equal(inventory.variable("web1", "rexec_tls"), undefined);
   * ```
   */
  variable(name: string, variable: string): VariableOrigin | undefined {
    const host = this.#host(name);
    if (Object.hasOwn(host.vars, variable)) {
      return { value: host.vars[variable], line: this.#hostVarLines.get(name)!.get(variable)! };
    }
    let origin: VariableOrigin | undefined;
    for (const group of this.#groupsByPrecedence(name)) {
      const vars = this.groups.get(group)!.vars;
      if (Object.hasOwn(vars, variable)) {
        origin = {
          value: vars[variable],
          line: this.#groupVarLines.get(group)!.get(variable)!,
          group,
        };
      }
    }
    return origin;
  }

  #host(name: string): InventoryHost {
    const host = this.hosts.get(name);
    if (host === undefined) {
      throw new RangeError(`${JSON.stringify(name)} is not a host of ${this.source}`);
    }
    return host;
  }

  /** Every group host `name` is in, directly or as a descendant, weakest first. */
  #groupsByPrecedence(name: string): string[] {
    const host = this.#host(name);
    const found = new Set<string>(["all"]);
    const queue = [...host.groups];
    while (queue.length > 0) {
      const group = queue.pop()!;
      if (found.has(group)) continue;
      found.add(group);
      queue.push(...this.groups.get(group)!.parents);
    }
    const groups = [...found].map((group) => this.groups.get(group)!);
    groups.sort((a, b) =>
      a.depth - b.depth || a.priority - b.priority || (a.name < b.name ? -1 : 1)
    );
    return groups.map((group) => group.name);
  }

  /** `name` and every group below it. */
  #descendants(name: string): Set<string> {
    const found = new Set<string>();
    const queue = [name];
    while (queue.length > 0) {
      const group = queue.pop()!;
      if (found.has(group)) continue;
      found.add(group);
      queue.push(...this.groups.get(group)!.children);
    }
    return found;
  }
}

/**
 * Tells an INI inventory from a YAML one by its first line that is not blank
 * nor a comment: YAML when it starts a document (`---`, `%YAML`), a flow
 * mapping (`{`), or is a mapping key (`all:` followed by a space or nothing);
 * INI otherwise (a `[section]`, a host line such as `web1` or `web1:2222`,
 * or nothing at all).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectInventoryFormat } from "./inventory.ts";
 *
 * assert.equal(detectInventoryFormat("# fleet\nall:\n  hosts:\n    web1:\n"), "yaml");
 * assert.equal(detectInventoryFormat("---\nall: {}\n"), "yaml");
 * assert.equal(detectInventoryFormat("; fleet\n[web]\nweb1\n"), "ini");
 * assert.equal(detectInventoryFormat("web1:2222 rexec_port=7023\n"), "ini");
 * ```
 */
export function detectInventoryFormat(text: string): InventoryFormat {
  for (const raw of text.replace(/^\uFEFF/, "").split(/\r\n|[\n\r]/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (/^(---|%YAML|\{)/.test(line)) return "yaml";
    if (/^("[^"]*"|'[^']*'|[^\s"'[#;][^\s]*?):(\s|$)/.test(line)) return "yaml";
    return "ini";
  }
  return "ini";
}

/**
 * Parses an inventory in INI or YAML form (told apart by content unless
 * `format` is given).
 *
 * @throws {InventoryError} naming the file, the line and what is wrong: a
 * bad line or section, a malformed host range, a group that names itself
 * among its descendants, invalid YAML.
 *
 * @example An INI inventory
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInventory } from "./inventory.ts";
 *
 * const inventory = await parseInventory(`
 * bastion ansible_host=203.0.113.7     # ungrouped
 * [web]
 * web[01:03].example.com
 * [web:vars]
 * rexec_tls=true
 * `, { source: "hosts.ini" });
 * assert.equal(inventory.format, "ini");
 * assert.deepEqual(inventory.resolve("web"), [
 *   "web01.example.com",
 *   "web02.example.com",
 *   "web03.example.com",
 * ]);
 * assert.equal(inventory.hostVars("web02.example.com").rexec_tls, true);
 * ```
 *
 * @example The same in YAML
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInventory } from "./inventory.ts";
 *
 * const inventory = await parseInventory(`
 * all:
 *   hosts:
 *     bastion: { ansible_host: 203.0.113.7 }
 *   children:
 *     web:
 *       hosts:
 *         web[01:03].example.com:
 *       vars:
 *         rexec_tls: yes
 * `);
 * assert.equal(inventory.format, "yaml");
 * assert.deepEqual(inventory.resolve("ungrouped"), ["bastion"]);
 * assert.equal(inventory.hostVars("web03.example.com").rexec_tls, true);
 * ```
 */
export async function parseInventory(
  text: string,
  options: ParseInventoryOptions = {},
): Promise<Inventory> {
  const source = options.source ?? "inventory";
  const format = options.format ?? detectInventoryFormat(text);
  const draft = new InventoryDraft(source);
  if (format === "ini") {
    parseIniInventory(text.replace(/^\uFEFF/, ""), draft);
  } else {
    // Loaded only for a YAML inventory: the yaml package takes a good part
    // of a `rexec run`'s start-up, which an INI inventory need not pay.
    const { parseYamlInventory } = await import("./inventory_yaml.ts");
    parseYamlInventory(text, draft);
  }
  return reconcile(draft, format);
}

/**
 * Options of {@link readInventory}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readInventory, type ReadInventoryOptions } from "./inventory.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "web1\n");
 *   const options: ReadInventoryOptions = { format: "ini", signal: AbortSignal.abort() };
 *   await assert.rejects(
 *     readInventory(path, options),
 *     (error) => (error as Error).name === "AbortError",
 *   );
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export interface ReadInventoryOptions {
  /** Aborts the reading. */
  readonly signal?: AbortSignal;
  /** The form of the file; told apart by content when absent. */
  readonly format?: InventoryFormat;
}

/**
 * Largest inventory file {@link readInventory} reads, in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InventoryError } from "./inventory_draft.ts";
 * import { MAX_INVENTORY_BYTES, readInventory } from "./inventory.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.truncate(path, MAX_INVENTORY_BYTES + 1); // a sparse file, one byte too large
 *   await assert.rejects(
 *     readInventory(path),
 *     (error) =>
 *       error instanceof InventoryError && /larger than 16777216 bytes/.test(error.message),
 *   );
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export const MAX_INVENTORY_BYTES = 16 * 1024 * 1024;

/**
 * Reads and parses the inventory file at `path`, which errors then name.
 *
 * @throws {InventoryError} when the file cannot be read, is larger than
 * {@link MAX_INVENTORY_BYTES}, is not UTF-8, or does not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readInventory } from "./inventory.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "all:\n  hosts:\n    web1:\n");
 *   const inventory = await readInventory(path);
 *   assert.equal(inventory.source, path);
 *   assert.deepEqual(inventory.resolve("all"), ["web1"]);
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export async function readInventory(
  path: string,
  options: ReadInventoryOptions = {},
): Promise<Inventory> {
  let text: string;
  try {
    text = await readBoundedText(path, { maxBytes: MAX_INVENTORY_BYTES, signal: options.signal });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new InventoryError(path, undefined, `cannot read the inventory: ${describe(error)}`, {
      cause: error,
    });
  }
  return await parseInventory(text, { source: path, format: options.format });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------
// Reconciling a draft as Ansible does once a source is read, then checking
// the group graph.

function reconcile(draft: InventoryDraft, format: InventoryFormat): Inventory {
  const all = draft.groups.get("all")!;
  const ungrouped = draft.groups.get("ungrouped")!;
  for (const group of draft.groups.values()) {
    if (group !== all && group.parents.length === 0) {
      all.children.push(group.name);
      group.parents.push("all");
    }
  }
  checkCycles(draft);
  // As Ansible: a host named in a group is not ungrouped, even when it was
  // also listed before any section; a host in no group (or only in all) is.
  const grouped = new Set<string>();
  for (const host of draft.hosts.values()) {
    const elsewhere = host.groups.some((group) => group !== "all" && group !== "ungrouped");
    if (elsewhere && ungrouped.hostSet.has(host.name)) {
      grouped.add(host.name);
      host.groups.splice(host.groups.indexOf("ungrouped"), 1);
    } else if (!elsewhere && !ungrouped.hostSet.has(host.name)) {
      draft.addHost(ungrouped, host.name, host.line);
    }
  }
  if (grouped.size > 0) {
    const kept = ungrouped.hosts.filter((name) => !grouped.has(name));
    ungrouped.hosts.length = 0;
    for (const name of kept) ungrouped.hosts.push(name);
    for (const name of grouped) ungrouped.hostSet.delete(name);
  }
  for (const host of draft.hosts.values()) {
    if (draft.groups.has(host.name)) {
      draft.warn(host.line, `${host.name} is the name of both a host and a group`);
    }
  }
  const depths = groupDepths(draft);
  const values = (vars: Map<string, DraftVariable>) =>
    Object.freeze(Object.fromEntries([...vars].map(([key, { value }]) => [key, value])));
  const lines = (vars: Map<string, DraftVariable>) =>
    new Map([...vars].map(([key, { line }]) => [key, line]));
  const hosts = [...draft.hosts.values()];
  const groups = [...draft.groups.values()];
  return new Inventory({
    source: draft.source,
    format,
    hosts: new Map(hosts.map((host) => [
      host.name,
      Object.freeze({
        name: host.name,
        vars: values(host.vars),
        groups: Object.freeze([...host.groups]),
        line: host.line,
      }),
    ])),
    groups: new Map(groups.map((group) => [
      group.name,
      Object.freeze({
        name: group.name,
        hosts: Object.freeze([...group.hosts]),
        children: Object.freeze([...group.children]),
        parents: Object.freeze([...group.parents]),
        vars: values(group.vars),
        priority: group.priority,
        depth: depths.get(group.name)!,
        line: group.line,
      }),
    ])),
    warnings: Object.freeze([...draft.warnings]),
    hostVarLines: new Map(hosts.map((host) => [host.name, lines(host.vars)])),
    groupVarLines: new Map(groups.map((group) => [group.name, lines(group.vars)])),
  });
}

/** Fails on the first cycle of children found, naming it. */
function checkCycles(draft: InventoryDraft): void {
  const state = new Map<string, "open" | "done">();
  for (const start of draft.groups.keys()) {
    if (state.has(start)) continue;
    // Iterative depth-first search: a chain of thousands of groups must not
    // exhaust the stack.
    const path: { name: string; next: number }[] = [{ name: start, next: 0 }];
    state.set(start, "open");
    while (path.length > 0) {
      const top = path[path.length - 1];
      const children = draft.groups.get(top.name)!.children;
      if (top.next === children.length) {
        state.set(top.name, "done");
        path.pop();
        continue;
      }
      const child = children[top.next++];
      const seen = state.get(child);
      if (seen === "open") {
        const names = path.map((step) => step.name);
        const cycle = [...names.slice(names.indexOf(child)), child];
        draft.fail(
          draft.groups.get(top.name)!.childLines.get(child),
          `the groups' children form a cycle: ${cycle.join(" > ")}`,
        );
      }
      if (seen === undefined) {
        state.set(child, "open");
        path.push({ name: child, next: 0 });
      }
    }
  }
}

/** Each group's longest path from `all`, found in topological order. */
function groupDepths(draft: InventoryDraft): Map<string, number> {
  const depths = new Map<string, number>([["all", 0]]);
  const waiting = new Map<string, number>();
  for (const group of draft.groups.values()) waiting.set(group.name, group.parents.length);
  const ready = ["all"];
  while (ready.length > 0) {
    const name = ready.pop()!;
    const depth = depths.get(name)!;
    for (const child of draft.groups.get(name)!.children) {
      depths.set(child, Math.max(depths.get(child) ?? 0, depth + 1));
      const left = waiting.get(child)! - 1;
      waiting.set(child, left);
      if (left === 0) ready.push(child);
    }
  }
  return depths;
}
