/**
 * The layering of lib/, as docs/ARCHITECTURE.md states it, checked on every
 * import line of every module (examples in doc comments aside).
 *
 * @module
 */

import assert from "node:assert/strict";

const LIB = new URL("../lib/", import.meta.url);

/**
 * What each layer may import, besides itself. A layer is a folder of lib/;
 * `errors` and `version` are the two files at lib/'s top that every layer
 * may use. `errors` takes its codes from the protocol's leaf modules only
 * (see ERRORS_MAY_IMPORT).
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  errors: ["protocol"],
  version: [],
  util: ["errors"],
  protocol: ["errors", "util"],
  config: ["errors", "util"],
  transport: ["errors", "util", "protocol"],
  tls: ["errors", "util", "transport"],
  client: ["errors", "version", "util", "protocol", "transport", "tls", "config"],
  server: ["errors", "version", "util", "protocol", "transport", "tls", "config"],
  fleet: ["errors", "version", "util", "protocol", "transport", "tls", "config", "client"],
  cli: [
    "errors",
    "version",
    "util",
    "protocol",
    "transport",
    "tls",
    "config",
    "client",
    "server",
    "fleet",
  ],
  mod: [
    "errors",
    "version",
    "util",
    "protocol",
    "transport",
    "tls",
    "config",
    "client",
    "server",
    "fleet",
  ],
};

/** The modules the command-line parser may import: constants, never code that runs. */
const PARSER_MAY_IMPORT = new Set([
  "errors.ts",
  "util/",
  "protocol/",
  "transport/address.ts",
  "client/defaults.ts",
  "server/defaults.ts",
]);

/** Leaf modules of constants, which import nothing at all. */
const LEAVES = [
  "client/defaults.ts",
  "server/defaults.ts",
  "protocol/error_code.ts",
  "protocol/exit_status.ts",
  "version.ts",
];

/** The modules errors.ts may import: the codes its errors carry, leaves that import nothing. */
const ERRORS_MAY_IMPORT = ["protocol/error_code.ts", "protocol/exit_status.ts"];

interface Import {
  /** The importing module, relative to lib/. */
  readonly from: string;
  /** The imported module, relative to lib/, or a specifier outside it as written. */
  readonly to: string;
  readonly line: number;
}

async function* modules(dir: URL, prefix = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) yield* modules(new URL(`${entry.name}/`, dir), `${path}/`);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Static and dynamic imports and re-exports, outside comments. */
function importsOf(module: string, source: string): Import[] {
  const found: Import[] = [];
  const pattern = /\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g;
  source.split("\n").forEach((text, index) => {
    if (/^\s*(\*|\/\/|\/\*)/.test(text)) return;
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1];
      const to = specifier.startsWith(".")
        ? new URL(specifier, new URL(module, LIB)).href.slice(LIB.href.length)
        : specifier;
      found.push({ from: module, to, line: index + 1 });
    }
  });
  // Multi-line import lists end in a line `} from "...";`, which the pattern sees.
  return found;
}

function layerOf(module: string): string {
  if (!module.includes("/")) return module.replace(/\.ts$/, "");
  return module.slice(0, module.indexOf("/"));
}

const allImports: Import[] = [];
for await (const module of modules(LIB)) {
  allImports.push(...importsOf(module, await Deno.readTextFile(new URL(module, LIB))));
}

function violations(rule: (use: Import) => string | undefined): string[] {
  return allImports.flatMap((use) => {
    const why = rule(use);
    return why ? [`lib/${use.from}:${use.line} imports ${use.to}: ${why}`] : [];
  });
}

Deno.test("architecture: the checker sees the imports of every layer", () => {
  const layers = new Set(allImports.map((use) => layerOf(use.from)));
  for (const layer of ["protocol", "transport", "tls", "client", "server", "util", "cli"]) {
    assert.ok(layers.has(layer), `no imports found in lib/${layer}/`);
  }
});

Deno.test("architecture: each layer imports only the layers below it", () => {
  const found = violations((use) => {
    if (!use.to.endsWith(".ts") || use.to.startsWith("npm:") || use.to.startsWith("node:")) {
      return undefined;
    }
    const from = layerOf(use.from);
    const to = layerOf(use.to);
    if (from === to) return undefined;
    const allowed = MAY_IMPORT[from];
    assert.ok(allowed, `lib/${use.from} is in no known layer; add it to MAY_IMPORT`);
    return allowed.includes(to) ? undefined : `${from} may import only ${allowed.join(", ")}`;
  });
  assert.deepEqual(found, []);
});

Deno.test("architecture: client and server never import each other", () => {
  const found = violations((use) => {
    const pair = [layerOf(use.from), layerOf(use.to)].join(" -> ");
    return pair === "client -> server" || pair === "server -> client" ? pair : undefined;
  });
  assert.deepEqual(found, []);
});

Deno.test("architecture: nothing outside cli/ imports cli/", () => {
  const found = violations((use) =>
    layerOf(use.from) !== "cli" && use.to.startsWith("cli/") ? "cli/ is the top" : undefined
  );
  assert.deepEqual(found, []);
});

Deno.test("architecture: the command-line parser loads no client or server code", () => {
  const found = violations((use) => {
    if (use.from !== "cli/args.ts" || !use.to.endsWith(".ts")) return undefined;
    const allowed = [...PARSER_MAY_IMPORT].some((entry) =>
      entry.endsWith("/") ? use.to.startsWith(entry) : use.to === entry
    );
    return allowed ? undefined : "the parser may import only constants";
  });
  assert.deepEqual(found, []);
});

Deno.test("architecture: the defaults modules, the code lists and version import nothing", () => {
  const found = violations((use) =>
    LEAVES.includes(use.from) ? "a leaf module imports nothing" : undefined
  );
  assert.deepEqual(found, []);
});

Deno.test("architecture: errors.ts imports only the protocol's lists of codes", () => {
  const found = violations((use) =>
    use.from === "errors.ts" && !ERRORS_MAY_IMPORT.includes(use.to)
      ? "errors.ts, which every layer imports, may import only leaf modules of codes"
      : undefined
  );
  assert.deepEqual(found, []);
});

/** The helpers of util/ that the codec may use: pure functions, no I/O. */
const PROTOCOL_MAY_IMPORT_FROM_UTIL = ["util/base64url.ts"];

Deno.test("architecture: protocol/ imports no npm code, and of util/ only its pure helpers", () => {
  const found = violations((use) => {
    if (layerOf(use.from) !== "protocol") return undefined;
    if (!use.to.endsWith(".ts")) return "the codec is pure";
    if (layerOf(use.to) === "util" && !PROTOCOL_MAY_IMPORT_FROM_UTIL.includes(use.to)) {
      return "the codec uses only util's pure helpers";
    }
    return undefined;
  });
  assert.deepEqual(found, []);
});

Deno.test("architecture: a module lib/mod.ts does not re-export says it is @internal", async () => {
  const mod = await Deno.readTextFile(new URL("mod.ts", LIB));
  const publicModules = new Set([...mod.matchAll(/from "\.\/([^"]+)"/g)].map((match) => match[1]));
  const unmarked: string[] = [];
  for await (const module of modules(LIB)) {
    if (module === "mod.ts" || publicModules.has(module)) continue;
    const source = await Deno.readTextFile(new URL(module, LIB));
    const moduleDoc = source.slice(0, source.indexOf("@module"));
    if (!moduleDoc.includes("@internal")) unmarked.push(`lib/${module}`);
  }
  assert.deepEqual(unmarked, [], "internal modules must say so in their module doc");
});

/**
 * The modules a module's code needs before it runs: its static imports and
 * re-exports that carry values (a type-only import is erased). Relative
 * specifiers only, resolved against lib/.
 */
function staticValueImports(module: string, source: string): string[] {
  const found: string[] = [];
  const statement = /^(?:import|export)\s+(type\s+)?([^;]*?)\s*from\s*"(\.[^"]+)";/gms;
  for (const [, typeOnly, names, specifier] of source.matchAll(statement)) {
    if (typeOnly) continue;
    const list = names.match(/^\{([\s\S]*)\}$/);
    const onlyTypes = list !== null &&
      list[1].split(",").map((name) => name.trim()).filter((name) => name !== "")
        .every((name) => name.startsWith("type "));
    if (onlyTypes) continue;
    found.push(new URL(specifier, new URL(module, LIB)).href.slice(LIB.href.length));
  }
  return found;
}

/** What a one-shot `rexec run HOST -- CMD` must not load before it runs. */
const NOT_ON_THE_RUN_PATH = [
  "client/transfer.ts",
  "protocol/transfer.ts",
  "fleet/",
  "server/server.ts",
  "tls/",
  "cli/fleet.ts",
  "cli/pty_session.ts",
];

Deno.test("architecture: a one-shot rexec run loads no file transfer, fleet, terminal or server code", async () => {
  const loaded = new Set<string>();
  const pending = ["cli/args.ts", "cli/run.ts"];
  while (pending.length > 0) {
    const module = pending.pop()!;
    if (loaded.has(module)) continue;
    loaded.add(module);
    pending.push(
      ...staticValueImports(module, await Deno.readTextFile(new URL(module, LIB))),
    );
  }
  assert.ok(loaded.has("client/client.ts"), "the walk follows static imports");
  const found = [...loaded].filter((module) =>
    NOT_ON_THE_RUN_PATH.some((entry) => module.startsWith(entry))
  );
  assert.deepEqual(found, [], "loaded on first use only, by import()");
});

Deno.test("architecture: Deno reads a module import() names only when the import runs", async () => {
  // Without it, Deno reads every module of every mode before main.ts starts
  // (about 75 where a one-shot run needs 30), which costs that run about a
  // sixth of its start-up.
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.ok(config.unstable?.includes("lazy-dynamic-imports"));
});
