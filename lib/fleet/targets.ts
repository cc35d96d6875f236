/**
 * Turning the hosts a user names — `rexec run TARGETS`, a comma-separated
 * list, and the lines of a `--hosts-file` — into the servers to connect to.
 * Pure: {@link resolveTargets} reads only its arguments (an inventory
 * already read); {@link readHostsFile} is the one function that opens a file.
 *
 * A target is, in this order:
 *
 * 1. A name of the inventory: a host alias (one target), a group (its
 *    hosts, children included) or `all` (every host). Such a target is named
 *    by the host's alias; its address and settings come from its variables:
 *    `rexec_host`, else `ansible_host`, else the alias itself; `rexec_port`
 *    (default 7022; `ansible_port` is Ansible's SSH port and is not used);
 *    `rexec_tls` (true or false; Ansible's spellings of booleans, such as
 *    `yes`, are taken too); `rexec_ca` (a certificate file to trust, which
 *    turns TLS on unless `rexec_tls` is false); `rexec_token_file`.
 * 2. A host: `HOST[:PORT]`, `[IPV6]:PORT`, a bare IPv6 address, with
 *    `tls://` in front for TLS. It is named as written. When HOST is a host
 *    alias of the inventory (`web1:7023`, `tls://web1`), that host is meant,
 *    with the port or TLS given overriding its variables: a name never
 *    silently means both an alias and a DNS name. Any other HOST is left
 *    for the connector to resolve.
 *
 * The list that comes out is in the order the targets were named, groups
 * expanded in inventory order, each name once.
 *
 * Of this module, lib/mod.ts exports only {@link Target}, which `runMany` takes.
 *
 * @module
 */

import { DEFAULT_PORT, parseHostPort } from "../transport/address.ts";
import { UsageError } from "../errors.ts";
import type { Inventory } from "./inventory.ts";
import { InventoryError, type InventoryValue } from "./inventory_draft.ts";
import { readBoundedText } from "./text_file.ts";

/**
 * A target as the user wrote it, and where: on the command line, or on a
 * line of a hosts file (for error messages); see {@link parseHostsFile}.
 */
export interface TargetSpec {
  /** The target as written: a host, or a name of the inventory. */
  readonly text: string;
  /** The file it comes from; absent for the command line. */
  readonly source?: string;
  /** Its line in that file, counted from 1. */
  readonly line?: number;
}

/**
 * A server to connect to, and how; see {@link resolveTargets}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Target } from "./targets.ts";
 *
 * const web1: Target = { name: "web1", hostname: "10.0.0.5", port: 7022, tls: { caFile: "ca.pem" } };
 * assert.equal(web1.tls?.caFile, "ca.pem");
 * ```
 */
export interface Target {
  /** The target as the user named it: a host alias, or the host as written. Unique in a list. */
  readonly name: string;
  /** Host name or IP address to connect to, without brackets. */
  readonly hostname: string;
  /** TCP port, 1 to 65535. */
  readonly port: number;
  /** TLS, when on; `caFile` is a certificate to trust instead of the system roots. */
  readonly tls?: { readonly caFile?: string };
  /** The token file to authenticate with, when one is set for this target. */
  readonly tokenFile?: string;
}

/**
 * A host written on the command line, as {@link parseHostTarget} reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type HostTarget, parseHostTarget } from "./targets.ts";
 *
 * const host: HostTarget = parseHostTarget("tls://build-box");
 * assert.deepEqual(host, { hostname: "build-box", port: 7022, tls: true });
 * ```
 */
export interface HostTarget {
  /** Host name or IP address, without brackets. */
  readonly hostname: string;
  /** The port written, or the default. */
  readonly port: number;
  /** Whether it was written with `tls://`. */
  readonly tls: boolean;
  /** Whether a port was written. */
  readonly explicitPort?: boolean;
}

/** Who a command runs as, for those who expect to choose it as with ssh. */
const RUNS_AS = "commands run as the user the server runs as (or as its --user)";

/**
 * Reads one host as written on the command line: `HOST[:PORT]`,
 * `[IPV6]:PORT`, a bare IPv6 address, with an optional `tls://` in front.
 * The single-host `rexec run` reads its HOST the same way.
 *
 * @throws {UsageError} for a user name (`user@host`: there is no login to
 * choose), another scheme than `tls://`, a malformed address, port 0, or a
 * host name with characters no host name has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHostTarget } from "./targets.ts";
 *
 * assert.deepEqual(parseHostTarget("web1"), { hostname: "web1", port: 7022, tls: false });
 * assert.deepEqual(parseHostTarget("[::1]:9000"), {
 *   hostname: "::1",
 *   port: 9000,
 *   tls: false,
 *   explicitPort: true,
 * });
 * assert.throws(() => parseHostTarget("root@web1"), /no login name/);
 * ```
 */
export function parseHostTarget(text: string, defaultPort: number = DEFAULT_PORT): HostTarget {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (scheme && scheme[1].toLowerCase() !== "tls") {
    throw new UsageError(
      `unknown scheme ${scheme[1]}:// in ${JSON.stringify(text)}: write HOST[:PORT], ` +
        `or tls://HOST[:PORT] for TLS`,
    );
  }
  const address = scheme ? text.slice(scheme[0].length) : text;
  const at = address.lastIndexOf("@");
  if (at !== -1) {
    const hostAlone = text.slice(0, text.length - address.length) + address.slice(at + 1);
    throw new UsageError(
      `${JSON.stringify(text)} names a user, but there is no login name to give; ${RUNS_AS}: ` +
        `write ${JSON.stringify(hostAlone)}`,
    );
  }
  // -1 marks "no port written": parseHostPort accepts only 0 to 65535.
  const { hostname, port } = parseHostPort(address, -1);
  if (port === 0) throw new UsageError(`cannot connect to port 0 in ${JSON.stringify(text)}`);
  if (!hostname.includes(":") && !HOST_NAME.test(hostname)) {
    throw new UsageError(
      `invalid host name ${JSON.stringify(hostname)} in ${JSON.stringify(text)}: ` +
        `a host name has letters, digits, '-', '_' and '.'`,
    );
  }
  return port === -1
    ? { hostname, port: defaultPort, tls: scheme !== null }
    : { hostname, port, tls: scheme !== null, explicitPort: true };
}

/** Labels of letters (any script), digits, `-` and `_`, not starting with `-`, between dots. */
const HOST_NAME = /^[\p{L}\p{N}_][\p{L}\p{N}\p{M}_-]*(\.[\p{L}\p{N}_][\p{L}\p{N}\p{M}_-]*)*\.?$/u;

/**
 * Splits the comma-separated TARGETS of the command line.
 *
 * @throws {UsageError} for an empty element (`a,,b`, a trailing comma).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitTargetList } from "./targets.ts";
 *
 * assert.deepEqual(splitTargetList("web,db1:7023,[::1]:7022"), [
 *   { text: "web" },
 *   { text: "db1:7023" },
 *   { text: "[::1]:7022" },
 * ]);
 * ```
 */
export function splitTargetList(text: string): TargetSpec[] {
  return text.split(",").map((part) => {
    const target = part.trim();
    if (target === "") {
      throw new UsageError(
        `empty target in ${JSON.stringify(text)}: separate targets by one comma`,
      );
    }
    return { text: target };
  });
}

/**
 * Reads the text of a hosts file: one target a line; blank lines and `#`
 * comments (a whole line, or after a blank) are ignored.
 *
 * @throws {UsageError} at `source:line` for a line that holds more than one
 * target.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHostsFile } from "./targets.ts";
 *
 * const specs = parseHostsFile("# fleet\nweb1\n\n  db1:7023   # primary\n", { source: "hosts.txt" });
 * assert.deepEqual(specs, [
 *   { text: "web1", source: "hosts.txt", line: 2 },
 *   { text: "db1:7023", source: "hosts.txt", line: 4 },
 * ]);
 * ```
 */
export function parseHostsFile(text: string, options: { readonly source: string }): TargetSpec[] {
  const specs: TargetSpec[] = [];
  text.replace(/^\uFEFF/, "").split(/\r\n|[\n\r]/).forEach((raw, index) => {
    const target = raw.replace(/(^|\s)#.*$/, "").trim();
    if (target === "") return;
    if (/[\s,]/.test(target)) {
      throw new UsageError(
        `${options.source}:${index + 1}: one target a line, got ${JSON.stringify(target)}`,
      );
    }
    specs.push({ text: target, source: options.source, line: index + 1 });
  });
  return specs;
}

/**
 * Largest hosts file {@link readHostsFile} reads, in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "../errors.ts";
 * import { MAX_HOSTS_FILE_BYTES, readHostsFile } from "./targets.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.truncate(path, MAX_HOSTS_FILE_BYTES + 1); // a sparse file, one byte too large
 *   await assert.rejects(
 *     readHostsFile(path),
 *     (error) => error instanceof UsageError && /larger than 16777216 bytes/.test(error.message),
 *   );
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export const MAX_HOSTS_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Reads a hosts file (`--hosts-file FILE`), as {@link parseHostsFile} does.
 *
 * @throws {UsageError} when the file cannot be read, is larger than
 * {@link MAX_HOSTS_FILE_BYTES} or not UTF-8, or has a bad line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readHostsFile } from "./targets.ts";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "web1\nweb2\n");
 *   const specs = await readHostsFile(path);
 *   assert.deepEqual(specs.map((spec) => spec.text), ["web1", "web2"]);
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export async function readHostsFile(
  path: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<TargetSpec[]> {
  let text: string;
  try {
    text = await readBoundedText(path, { maxBytes: MAX_HOSTS_FILE_BYTES, signal: options.signal });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new UsageError(
      `cannot read the hosts file ${path}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  return parseHostsFile(text, { source: path });
}

/**
 * Options of {@link resolveTargets}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInventory } from "./inventory.ts";
 * import { resolveTargets, type ResolveTargetsOptions, splitTargetList } from "./targets.ts";
 *
 * // --ca ca.pem --token-file token on the command line; db1 has a CA of its own.
 * const options: ResolveTargetsOptions = {
 *   inventory: await parseInventory("[db]\ndb1 rexec_ca=db-ca.pem\n"),
 *   inventoryDir: "/etc/rexec",
 *   defaults: { tls: { caFile: "ca.pem" }, tokenFile: "token" },
 * };
 * const [db1, web9] = resolveTargets(splitTargetList("db1,web9"), options);
 * assert.deepEqual(db1.tls, { caFile: "/etc/rexec/db-ca.pem" }); // its own, from the inventory
 * assert.deepEqual(web9.tls, { caFile: "ca.pem" });
 * assert.equal(web9.tokenFile, "token");
 * ```
 */
export interface ResolveTargetsOptions {
  /** The inventory whose names the targets may use. */
  readonly inventory?: Inventory;
  /**
   * Settings of the command line (`--tls`, `--ca`, `--token-file`) for
   * every target: a target's own (`tls://`, the inventory's `rexec_tls`,
   * `rexec_ca`, `rexec_token_file`) win over them.
   */
  readonly defaults?: {
    readonly tls?: { readonly caFile?: string };
    readonly tokenFile?: string;
  };
  /**
   * The directory relative `rexec_ca` and `rexec_token_file` paths of the
   * inventory are relative to: the inventory file's directory. When
   * absent, they are used as written.
   */
  readonly inventoryDir?: string;
  /** The home directory a leading `~/` in those paths stands for; when absent, `~/` stays as written. */
  readonly homeDir?: string;
}

/**
 * Turns the targets the user named into the servers to connect to, in
 * order, each name once. See the module documentation for the rules.
 *
 * @throws {UsageError} for no target at all, a malformed host, a group
 * with no hosts, or a port or `tls://` with a group; the message starts
 * with `FILE:LINE:` for a target from a hosts file.
 * @throws {InventoryError} for an inventory variable that makes no sense
 * (`rexec_port=http`), naming the inventory line that set it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInventory } from "./inventory.ts";
 * import { resolveTargets, splitTargetList } from "./targets.ts";
 *
 * const inventory = await parseInventory(`
 * [web]
 * web1 ansible_host=10.0.0.5
 * web2 ansible_host=10.0.0.6 rexec_port=7023
 * [web:vars]
 * rexec_ca=ca.pem
 * `);
 * const targets = resolveTargets(splitTargetList("web,tls://db9:7100,web1"), {
 *   inventory,
 *   inventoryDir: "/etc/rexec",
 * });
 * assert.deepEqual(targets, [
 *   { name: "web1", hostname: "10.0.0.5", port: 7022, tls: { caFile: "/etc/rexec/ca.pem" } },
 *   { name: "web2", hostname: "10.0.0.6", port: 7023, tls: { caFile: "/etc/rexec/ca.pem" } },
 *   { name: "tls://db9:7100", hostname: "db9", port: 7100, tls: {} },
 * ]);
 * ```
 */
export function resolveTargets(
  specs: readonly TargetSpec[],
  options: ResolveTargetsOptions = {},
): Target[] {
  if (specs.length === 0) throw new UsageError("no targets: name at least one host or group");
  const targets = new Map<string, Target>();
  const add = (target: Target) => {
    if (!targets.has(target.name)) targets.set(target.name, target);
  };
  for (const spec of specs) {
    const where = spec.source === undefined ? "" : `${spec.source}:${spec.line}: `;
    try {
      resolveOne(spec.text, options, add);
    } catch (error) {
      if (!(error instanceof UsageError) || where === "") throw error;
      throw new UsageError(`${where}${error.message}`, { cause: error });
    }
  }
  return [...targets.values()];
}

function resolveOne(
  text: string,
  options: ResolveTargetsOptions,
  add: (target: Target) => void,
): void {
  const { inventory } = options;
  const names = inventory?.resolve(text);
  if (names !== undefined) {
    if (names.length === 0) {
      throw new UsageError(
        `the group ${JSON.stringify(text)} of the inventory ${inventory!.source} has no hosts`,
      );
    }
    for (const name of names) add(inventoryTarget(inventory!, name, options, {}));
    return;
  }
  const host = parseHostTarget(text);
  if (inventory?.hosts.has(host.hostname)) {
    add(inventoryTarget(inventory, host.hostname, options, { name: text, host }));
    return;
  }
  if (inventory?.groups.has(host.hostname)) {
    throw new UsageError(
      `${
        JSON.stringify(text)
      }: ${host.hostname} is a group of the inventory ${inventory.source}, ` +
        `and a port or tls:// goes with one host: set rexec_port or rexec_tls in the inventory`,
    );
  }
  const { tls: defaultTls, tokenFile } = options.defaults ?? {};
  const tls = host.tls
    ? { ...(defaultTls?.caFile ? { caFile: defaultTls.caFile } : {}) }
    : defaultTls;
  add({
    name: text,
    hostname: host.hostname,
    port: host.port,
    ...(tls ? { tls } : {}),
    ...(tokenFile !== undefined ? { tokenFile } : {}),
  });
}

/** The target for inventory host `alias`, with what the user wrote overriding its variables. */
function inventoryTarget(
  inventory: Inventory,
  alias: string,
  options: ResolveTargetsOptions,
  written: { name?: string; host?: HostTarget },
): Target {
  const variable = (name: string) => {
    const origin = inventory.variable(alias, name);
    if (origin === undefined) return undefined;
    const fail = (expected: string, cause?: unknown): never => {
      throw new InventoryError(
        inventory.source,
        origin.line,
        `${name} of ${alias}${origin.group ? ` (set for the group ${origin.group})` : ""} ` +
          `must be ${expected}, got ${JSON.stringify(origin.value)}`,
        { cause },
      );
    };
    return { value: origin.value, fail };
  };
  const hostname = addressOf(variable("rexec_host") ?? variable("ansible_host")) ?? alias;
  if (written.host === undefined && !hostname.includes(":") && !HOST_NAME.test(hostname)) {
    throw new InventoryError(
      inventory.source,
      inventory.hosts.get(alias)!.line,
      `the host ${alias} needs ansible_host or rexec_host: its name is not a host name to connect to`,
    );
  }
  const port = written.host?.explicitPort ? written.host.port : portOf(variable("rexec_port"));
  const tlsSetting = written.host?.tls ? true : booleanOf(variable("rexec_tls"));
  const caFile = pathOf(variable("rexec_ca"), options);
  const tokenFile = pathOf(variable("rexec_token_file"), options) ?? options.defaults?.tokenFile;
  const defaultTls = options.defaults?.tls;
  const tls = tlsSetting === false
    ? undefined
    : caFile !== undefined
    ? { caFile }
    : tlsSetting === true
    ? { ...(defaultTls?.caFile ? { caFile: defaultTls.caFile } : {}) }
    : defaultTls;
  return {
    name: written.name ?? alias,
    hostname,
    port,
    ...(tls ? { tls } : {}),
    ...(tokenFile !== undefined ? { tokenFile } : {}),
  };
}

type Variable =
  | { value: InventoryValue; fail: (expected: string, cause?: unknown) => never }
  | undefined;

function addressOf(variable: Variable): string | undefined {
  if (variable === undefined) return undefined;
  const { value, fail } = variable;
  const expected = "an address without a port (set rexec_port for the port)";
  if (typeof value !== "string" || value.trim() === "") return fail(expected);
  let host: HostTarget;
  try {
    host = parseHostTarget(value.trim());
  } catch (error) {
    return fail(expected, error);
  }
  if (host.explicitPort || host.tls) return fail(expected);
  return host.hostname;
}

function portOf(variable: Variable): number {
  if (variable === undefined) return DEFAULT_PORT;
  const { value, fail } = variable;
  const port = typeof value === "string" && /^\s*\d{1,5}\s*$/.test(value) ? Number(value) : value;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return fail("a port number from 1 to 65535");
  }
  return port;
}

/** Ansible's spellings of a boolean. */
const TRUE = new Set(["true", "yes", "on", "y", "t", "1"]);
const FALSE = new Set(["false", "no", "off", "n", "f", "0"]);

function booleanOf(variable: Variable): boolean | undefined {
  if (variable === undefined) return undefined;
  const { value, fail } = variable;
  if (typeof value === "boolean") return value;
  const text = typeof value === "number" || typeof value === "string"
    ? String(value).trim().toLowerCase()
    : "";
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  return fail("true or false");
}

function pathOf(variable: Variable, options: ResolveTargetsOptions): string | undefined {
  if (variable === undefined) return undefined;
  const { value, fail } = variable;
  if (typeof value !== "string" || value.trim() === "") return fail("a file path");
  const path = value.trim();
  if (path.startsWith("~/") && options.homeDir !== undefined) {
    return joinPath(options.homeDir, path.slice(2));
  }
  if (options.inventoryDir === undefined || isAbsolute(path) || path.startsWith("~")) return path;
  return joinPath(options.inventoryDir, path);
}

function isAbsolute(path: string): boolean {
  return /^([\\/]|[A-Za-z]:[\\/])/.test(path);
}

function joinPath(dir: string, path: string): string {
  return /[\\/]$/.test(dir) ? `${dir}${path}` : `${dir}/${path}`;
}
