/**
 * The YAML form of an Ansible inventory, read as Ansible's `yaml` plugin
 * reads it. See `inventory.ts` for the rules.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Scalar,
  type YAMLMap,
} from "npm:yaml@^2.9.1";
import {
  expandHostPattern,
  type GroupDraft,
  type InventoryDraft,
  type InventoryValue,
} from "./inventory_draft.ts";

/** Bounds the work aliases can multiply a small file into. */
const MAX_ALIAS_NODES = 1_000_000;
const MAX_NESTING = 64;

type YamlNode = unknown;

class YamlReader {
  readonly #doc: Document;
  readonly #lines: LineCounter;
  readonly #draft: InventoryDraft;
  #aliasNodes = 0;

  constructor(doc: Document, lines: LineCounter, draft: InventoryDraft) {
    this.#doc = doc;
    this.#lines = lines;
    this.#draft = draft;
  }

  lineOf(node: YamlNode): number {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range === undefined ? 1 : this.#lines.linePos(range[0]).line;
  }

  fail(node: YamlNode, problem: string): never {
    return this.#draft.fail(this.lineOf(node), problem);
  }

  /** The node an alias stands for; any other node itself. */
  deref(node: YamlNode, depth = 0): YamlNode {
    if (!isAlias(node)) return node;
    const target = node.resolve(this.#doc);
    if (target === undefined) this.fail(node, `unknown alias *${node.source}`);
    // Aliases can multiply a small file into a huge tree: bound the nodes
    // they bring in (counted roughly, by their source length).
    const size = target.range ? target.range[2] - target.range[0] + 1 : 1;
    this.#aliasNodes += size;
    if (this.#aliasNodes > MAX_ALIAS_NODES) this.fail(node, "aliases expand to too much data");
    if (depth > MAX_NESTING) this.fail(node, "aliases nested too deeply");
    return this.deref(target, depth + 1);
  }

  /** The text of a mapping key: as written when plain, so that `yes:` names a host `yes`. */
  keyText(key: YamlNode): string {
    const node = this.deref(key);
    if (!isScalar(node) || node.value === null || node.value === undefined) {
      this.fail(key, "a key here must be a name");
    }
    const scalar = node as Scalar;
    if (scalar.type === "PLAIN" && scalar.source !== undefined) return scalar.source;
    return String(scalar.value);
  }

  /** The entries of a mapping, `<<` merges included (explicit keys win). */
  entries(map: YAMLMap, depth = 0): [YamlNode, YamlNode][] {
    if (depth > MAX_NESTING) this.fail(map, "merges nested too deeply");
    const explicit = new Map<string, number>();
    for (const pair of map.items) {
      if (this.#isMerge(pair.key)) continue;
      const key = this.keyText(pair.key);
      const first = explicit.get(key);
      if (first !== undefined) this.fail(pair.key, `duplicate key ${key} (also on line ${first})`);
      explicit.set(key, this.lineOf(pair.key));
    }
    const entries: [YamlNode, YamlNode][] = [];
    for (const pair of map.items) {
      if (!this.#isMerge(pair.key)) {
        entries.push([pair.key, pair.value]);
        continue;
      }
      const value = this.deref(pair.value);
      const sources = isSeq(value) ? value.items.map((item) => this.deref(item)) : [value];
      for (const source of sources) {
        if (!isMap(source)) this.fail(pair.key, "a << merge takes a mapping or a list of them");
        for (const entry of this.entries(source, depth + 1)) {
          if (!explicit.has(this.keyText(entry[0]))) entries.push(entry);
        }
      }
    }
    return entries;
  }

  #isMerge(key: YamlNode): boolean {
    return isScalar(key) && typeof key.value === "symbol";
  }

  /** A variable's value, as plain data. */
  value(node: YamlNode, depth = 0): InventoryValue {
    if (depth > MAX_NESTING) this.fail(node, "a value is nested too deeply");
    const target = this.deref(node);
    if (target === null || target === undefined) return null;
    if (isScalar(target)) {
      const value = target.value;
      if (
        value === null || typeof value === "string" || typeof value === "number" ||
        typeof value === "boolean"
      ) {
        return value;
      }
      // Timestamps, binary and the like: the text as written.
      return target.source ?? String(value);
    }
    if (isSeq(target)) {
      return target.items.map((item) =>
        isPair(item)
          ? { [this.keyText(item.key)]: this.value(item.value, depth + 1) }
          : this.value(item, depth + 1)
      );
    }
    if (isMap(target)) {
      return Object.fromEntries(
        this.entries(target).map((
          [key, value],
        ) => [this.keyText(key), this.value(value, depth + 1)]),
      );
    }
    this.fail(node, "unsupported YAML value");
  }

  /** Reads the definition of group `name`, named at `keyNode`, nested `depth` deep. */
  group(name: string, keyNode: YamlNode, definition: YamlNode, depth: number): void {
    const draft = this.#draft;
    const line = this.lineOf(keyNode);
    const group = draft.group(name, line);
    if (depth > MAX_NESTING) this.fail(keyNode, "groups nested too deeply");
    const body = this.deref(definition);
    if (body === null || body === undefined || (isScalar(body) && body.value === null)) return;
    if (!isMap(body)) {
      this.fail(
        keyNode,
        `the group ${name} must be a mapping of hosts, children and vars (or empty), got ${
          kindOf(body)
        }`,
      );
    }
    for (const [key, raw] of this.entries(body)) {
      const section = this.keyText(key);
      if (section !== "hosts" && section !== "children" && section !== "vars") {
        draft.warn(
          this.lineOf(key),
          `skipping the key ${section} of the group ${name}: only hosts, children and vars are valid`,
        );
        continue;
      }
      const value = this.deref(raw);
      if (value === null || value === undefined || (isScalar(value) && value.value === null)) {
        continue;
      }
      // As Ansible: a single name may stand for a mapping with one key.
      const items: [YamlNode, YamlNode][] = isScalar(value)
        ? [[value, null]]
        : isMap(value)
        ? this.entries(value)
        : this.fail(
          key,
          `${section} of the group ${name} must be a mapping, got ${kindOf(value)}` +
            (section === "hosts" ? ": end each host name with a colon (web1:)" : ""),
        );
      for (const [itemKey, itemValue] of items) {
        const itemLine = this.lineOf(itemKey);
        if (section === "vars") {
          draft.setGroupVar(group, this.keyText(itemKey), this.value(itemValue), itemLine);
        } else if (section === "children") {
          const child = this.keyText(itemKey);
          this.group(child, itemKey, itemValue, depth + 1);
          draft.addChild(group, child, itemLine);
        } else {
          this.hosts(group, itemKey, itemValue);
        }
      }
    }
  }

  hosts(group: GroupDraft, key: YamlNode, definition: YamlNode): void {
    const line = this.lineOf(key);
    const pattern = this.keyText(key);
    const body = this.deref(definition);
    let vars: [string, InventoryValue][] = [];
    if (isMap(body)) {
      vars = this.entries(body).map(([name, value]) => [this.keyText(name), this.value(value)]);
    } else if (!(body === null || body === undefined || (isScalar(body) && body.value === null))) {
      this.fail(key, `the variables of the host ${pattern} must be a mapping, got ${kindOf(body)}`);
    }
    const { names, port } = expandHostPattern(pattern, { source: this.#draft.source, line });
    for (const name of names) {
      const host = this.#draft.addHost(group, name, line);
      if (port !== undefined) host.vars.set("ansible_port", { value: port, line });
      for (const [variable, value] of vars) host.vars.set(variable, { value, line });
    }
  }
}

function kindOf(node: YamlNode): string {
  if (isSeq(node)) return "a list";
  if (isMap(node)) return "a mapping";
  if (isScalar(node)) return `the value ${JSON.stringify(String(node.value))}`;
  return "something else";
}

/**
 * Reads a YAML inventory into `draft`: a mapping of groups (usually only
 * `all`), each with `hosts`, `children` and `vars`. Parsed as YAML 1.1, as
 * Ansible does (`yes` is true). The yaml package reads the environment
 * variables `LOG_TOKENS` and `LOG_STREAM` as it parses.
 *
 * @throws {InventoryError} at the line at fault: invalid YAML, a group or
 * host definition of the wrong shape, an inventory plugin's configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InventoryDraft } from "./inventory_draft.ts";
 * import { parseYamlInventory } from "./inventory_yaml.ts";
 *
 * const draft = new InventoryDraft("hosts.yml");
 * parseYamlInventory("all:\n  children:\n    web:\n      hosts:\n        web1: { rexec_port: 7023 }\n", draft);
 * assert.equal(draft.hosts.get("web1")!.vars.get("rexec_port")!.value, 7023);
 * assert.deepEqual(draft.groups.get("all")!.children, ["web"]);
 * ```
 */
export function parseYamlInventory(text: string, draft: InventoryDraft): void {
  const lines = new LineCounter();
  let doc: Document;
  try {
    // Duplicate keys are found while reading, by their text as written (see
    // keyText) and with both lines.
    doc = parseDocument(text, {
      version: "1.1",
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: false,
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      draft.fail(
        undefined,
        `reading a YAML inventory needs the environment variables LOG_TOKENS and LOG_STREAM, ` +
          `which the yaml parser checks: run deno with --ignore-env=LOG_TOKENS,LOG_STREAM`,
        { cause: error },
      );
    }
    throw error;
  }
  const [error] = doc.errors;
  if (error !== undefined) {
    draft.fail(lines.linePos(error.pos[0]).line, `invalid YAML: ${error.message}`, {
      cause: error,
    });
  }
  const reader: YamlReader = new YamlReader(doc, lines, draft);
  const top = reader.deref(doc.contents);
  if (top === null || top === undefined || (isScalar(top) && top.value === null)) return;
  if (!isMap(top)) {
    reader.fail(top, `a YAML inventory is a mapping of groups (all: ...), not ${kindOf(top)}`);
  }
  const entries = reader.entries(top);
  for (const [key] of entries) {
    if (reader.keyText(key) === "plugin") {
      reader.fail(
        key,
        "this is the configuration of an Ansible inventory plugin, which rexec cannot run: " +
          "write the inventory out with ansible-inventory -i FILE --list --yaml",
      );
    }
  }
  for (const [key, value] of entries) reader.group(reader.keyText(key), key, value, 0);
}
