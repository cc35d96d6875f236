import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

/** The modules of lib/fleet (what they may import is checked by architecture_test.ts). */
const PURE = [
  "inventory.ts",
  "inventory_draft.ts",
  "inventory_ini.ts",
  "inventory_yaml.ts",
  "line_splitter.ts",
  "hostlist.ts",
  "run_many.ts",
  "stdin_fanout.ts",
  "targets.ts",
  "text_file.ts",
];

interface ModuleInfo {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** Every module `root` loads before it runs: static imports, followed. */
async function staticGraph(root: string): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(root, ROOT).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, `deno info ${root} failed`);
  const info: { roots: string[]; modules: ModuleInfo[] } = JSON.parse(
    new TextDecoder().decode(output.stdout),
  );
  const modules = new Map(info.modules.map((module) => [module.specifier, module]));
  const seen = new Set<string>();
  const queue = [...info.roots];
  while (queue.length > 0) {
    const specifier = queue.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code && !dependency.isDynamic) queue.push(dependency.code.specifier);
    }
  }
  return seen;
}

Deno.test("lib/fleet/ loads the yaml package only for a YAML inventory, not when a fleet module is imported", async () => {
  for (const name of PURE.filter((name) => name !== "inventory_yaml.ts")) {
    const graph = await staticGraph(`lib/fleet/${name}`);
    assert.ok(graph.size > 0);
    const yaml = [...graph].filter((specifier) => /yaml@|inventory_yaml\.ts$/.test(specifier));
    assert.deepEqual(yaml, [], `${name} loads ${yaml.join(", ")} at start-up`);
  }
  const direct = await staticGraph("lib/fleet/inventory_yaml.ts");
  assert.ok(
    [...direct].some((specifier) => specifier.includes("yaml@")),
    "the check sees npm:yaml",
  );
});
