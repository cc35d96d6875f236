/**
 * The INI form of an Ansible inventory, read as Ansible's `ini` plugin reads
 * it. See `inventory.ts` for the rules.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import {
  expandHostPattern,
  type GroupDraft,
  type InventoryDraft,
  type InventoryValue,
} from "./inventory_draft.ts";

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

/**
 * Reads an INI inventory into `draft`: `[group]`, `[group:children]` and
 * `[group:vars]` sections, host lines before any section being ungrouped.
 *
 * @throws {InventoryError} at the line at fault.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InventoryDraft } from "./inventory_draft.ts";
 * import { parseIniInventory } from "./inventory_ini.ts";
 *
 * const draft = new InventoryDraft("hosts.ini");
 * parseIniInventory("[web]\nweb1 rexec_port=7023 note='a b'\n[web:vars]\nrexec_tls=true\n", draft);
 * const web1 = draft.hosts.get("web1")!;
 * assert.equal(web1.vars.get("rexec_port")!.value, 7023);
 * assert.equal(web1.vars.get("note")!.value, "a b");
 * assert.equal(draft.groups.get("web")!.vars.get("rexec_tls")!.value, true);
 * ```
 */
export function parseIniInventory(text: string, draft: InventoryDraft): void {
  let group = draft.groups.get("ungrouped")!;
  let kind = "hosts";
  // A group is defined by [name] or [name:children]; [name:vars] and a child
  // reference may come first, but the definition must come somewhere.
  const defined = new Set(["all", "ungrouped"]);
  const references = new Map<string, { line: number; problem: string }>();
  const lines = text.split(/\r\n|[\n\r]/);
  for (let index = 0; index < lines.length; index++) {
    const number = index + 1;
    const line = lines[index].trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = SECTION.exec(line);
    if (section) {
      const [, name, modifier = "hosts"] = section;
      if (modifier !== "hosts" && modifier !== "children" && modifier !== "vars") {
        draft.fail(
          number,
          `section [${name}:${modifier}] has an unknown type ${JSON.stringify(modifier)}: ` +
            `use [${name}], [${name}:children] or [${name}:vars]`,
        );
      }
      group = draft.group(name, number);
      kind = modifier;
      if (kind === "vars") {
        if (!defined.has(name) && !references.has(name)) {
          references.set(name, {
            line: number,
            problem: `[${name}:vars] is for the group ${name}, which no [${name}] section defines`,
          });
        }
      } else {
        defined.add(name);
      }
      continue;
    }
    if (line.startsWith("[") && line.replace(/\s*#.*$/, "").endsWith("]")) {
      draft.fail(
        number,
        `malformed section ${JSON.stringify(line)}: write [GROUP], [GROUP:children] or ` +
          `[GROUP:vars], with no spaces in the group name`,
      );
    }
    if (kind === "hosts") {
      parseHostLine(line, number, group, draft);
    } else if (kind === "vars") {
      const [key, value] = parseVarsLine(line, number, group.name, draft);
      draft.setGroupVar(group, key, value, number);
    } else {
      const child = GROUP_NAME.exec(line)?.[1];
      if (child === undefined) {
        draft.fail(
          number,
          `expected a group name in [${group.name}:children], got ${JSON.stringify(line)}`,
        );
      }
      draft.addChild(group, child, number);
      if (!defined.has(child) && !references.has(child)) {
        references.set(child, {
          line: number,
          problem:
            `[${group.name}:children] names the group ${child}, which no [${child}] section defines`,
        });
      }
    }
  }
  const undefinedGroups = [...references].filter(([name]) => !defined.has(name));
  if (undefinedGroups.length > 0) {
    const [, first] = undefinedGroups.reduce((a, b) => (b[1].line < a[1].line ? b : a));
    draft.fail(first.line, first.problem);
  }
}

function parseHostLine(
  line: string,
  number: number,
  group: GroupDraft,
  draft: InventoryDraft,
): void {
  const tokens = splitShellWords(line, number, draft);
  if (tokens.length === 0) return;
  const [pattern, ...assignments] = tokens;
  const vars: [string, InventoryValue][] = [];
  for (const assignment of assignments) {
    const equals = assignment.indexOf("=");
    if (equals <= 0) {
      draft.fail(
        number,
        `expected KEY=VALUE after the host ${JSON.stringify(pattern)}, got ${
          JSON.stringify(assignment)
        }`,
      );
    }
    vars.push([assignment.slice(0, equals), parseIniValue(assignment.slice(equals + 1))]);
  }
  const { names, port } = expandHostPattern(pattern, { source: draft.source, line: number });
  for (const name of names) {
    const host = draft.addHost(group, name, number);
    if (port !== undefined) host.vars.set("ansible_port", { value: port, line: number });
    for (const [key, value] of vars) host.vars.set(key, { value, line: number });
  }
}

function parseVarsLine(
  line: string,
  number: number,
  group: string,
  draft: InventoryDraft,
): [string, InventoryValue] {
  const equals = line.indexOf("=");
  if (equals === -1) {
    draft.fail(number, `expected KEY=VALUE in [${group}:vars], got ${JSON.stringify(line)}`);
  }
  const key = line.slice(0, equals).trim();
  if (key === "" || /\s/.test(key)) {
    draft.fail(number, `invalid variable name ${JSON.stringify(key)} in [${group}:vars]`);
  }
  return [key, parseIniValue(withoutComment(line.slice(equals + 1)).trim())];
}

/** Cuts a `#` comment that follows a space, outside quotes. */
function withoutComment(text: string): string {
  let quote: string | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (quote !== undefined) {
      if (char === "\\") index++;
      else if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === "#" && index > 0 && /\s/.test(text[index - 1])) {
      return text.slice(0, index);
    }
  }
  return text;
}

/**
 * Splits a host line as Python's `shlex.split(line, comments=True)` does:
 * words separated by blanks, quotes and backslashes escaping, an unquoted
 * `#` ending the line.
 */
function splitShellWords(line: string, number: number, draft: InventoryDraft): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
    if (char === " " || char === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else if (char === "#") {
      break;
    } else if (char === "\\") {
      if (index + 1 === line.length) draft.fail(number, "a backslash ends the line");
      word += line[++index];
      inWord = true;
    } else if (char === "'") {
      const close = line.indexOf("'", index + 1);
      if (close === -1) draft.fail(number, "a single quote is not closed");
      word += line.slice(index + 1, close);
      index = close;
      inWord = true;
    } else if (char === '"') {
      let closed = false;
      for (index++; index < line.length; index++) {
        const inner = line[index];
        if (inner === '"') {
          closed = true;
          break;
        }
        if (inner === "\\" && (line[index + 1] === '"' || line[index + 1] === "\\")) {
          word += line[++index];
        } else {
          word += inner;
        }
      }
      if (!closed) draft.fail(number, "a double quote is not closed");
      inWord = true;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

const PYTHON_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  t: "\t",
  r: "\r",
  "0": "\0",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
};

/**
 * Types an INI value as Ansible's `ast.literal_eval` would for the literals
 * inventories use: numbers, booleans, None and quoted strings.
 */
function parseIniValue(text: string): InventoryValue {
  if (text === "True" || text === "true") return true;
  if (text === "False" || text === "false") return false;
  if (text === "None") return null;
  if (/^[-+]?(0|[1-9](_?\d)*)$/.test(text)) {
    const value = Number(text.replaceAll("_", ""));
    return Number.isSafeInteger(value) ? value : text;
  }
  if (/^[-+]?0([xX](_?[0-9a-fA-F])+|[oO](_?[0-7])+|[bB](_?[01])+)$/.test(text)) {
    const negative = text.startsWith("-");
    const digits = text.replace(/^[-+]/, "").replaceAll("_", "");
    const value = Number(digits);
    return Number.isSafeInteger(value) ? (negative ? -value : value) : text;
  }
  if (
    /^[-+]?(\d(_?\d)*\.(\d(_?\d)*)?|\.\d(_?\d)*|\d(_?\d)*(?=[eE]))([eE][-+]?\d(_?\d)*)?$/.test(text)
  ) {
    return Number(text.replaceAll("_", ""));
  }
  const quoted = /^(['"])((?:(?!\1)[^\\\n]|\\.)*)\1$/s.exec(text);
  if (quoted) {
    return quoted[2].replace(
      /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/gs,
      (escape, code: string) =>
        code.length > 1
          ? String.fromCharCode(parseInt(code.slice(1), 16))
          : PYTHON_ESCAPES[code] ?? escape,
    );
  }
  return text;
}
