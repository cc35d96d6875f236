import assert from "node:assert/strict";
import { VERSION } from "../lib/version.ts";

const ROOT = new URL("..", import.meta.url);

interface DenoJson {
  name?: string;
  license?: string;
  version?: string;
  exports?: Record<string, string>;
  publish?: { include?: string[]; exclude?: string[] };
  imports?: Record<string, string>;
}

const config: DenoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT)));

/** Every TypeScript file under `dir` (a path relative to the checkout). */
async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sources(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** The module specifiers a file imports, statically or dynamically with a literal. */
function importSpecifiers(source: string): string[] {
  const pattern =
    /(?:^|\n)\s*(?:import|export)\b[^"';]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;
  return [...source.matchAll(pattern)].map((match) => match[1] ?? match[2] ?? match[3]);
}

Deno.test("deno.json names the package for JSR, at the version the code announces", () => {
  assert.match(config.name ?? "", /^@[a-z0-9-]+\/[a-z0-9-]+$/);
  assert.equal(config.version, VERSION);
});

Deno.test("deno.json exports the library and the command, and publishes what they need", async () => {
  assert.deepEqual(config.exports, { ".": "./lib/mod.ts", "./cli": "./main.ts" });
  const include = config.publish?.include ?? [];
  const published = (path: string) =>
    include.some((entry) => entry.endsWith("/") ? path.startsWith(entry) : path === entry);
  for (const path of ["lib/mod.ts", "main.ts", "README.md"]) {
    assert.ok(published(path), `${path} is not published`);
  }
  for await (const path of sources("lib")) assert.ok(published(path), `${path} is not published`);
  for (const dir of ["tests/", "bench/", "tools/", ".ci/", ".github/"]) {
    assert.ok(!include.some((entry) => entry.startsWith(dir)), `${dir} is published`);
  }
});

Deno.test("lib/ imports only files, node: built-ins and full npm: specifiers the lock knows", async () => {
  const files = ["main.ts"];
  for await (const path of sources("lib")) files.push(path);
  const mapped = new Set(Object.values(config.imports ?? {}));
  let npmImports = 0;
  for (const file of files) {
    const source = await Deno.readTextFile(new URL(file, ROOT));
    for (const specifier of importSpecifiers(source)) {
      if (/^\.\.?\//.test(specifier) || specifier.startsWith("node:")) continue;
      // A bare name resolves only through this checkout's import map, which
      // neither `deno install`'s wrapper nor another project has.
      assert.match(specifier, /^npm:(@[^/]+\/)?[^@/]+@[^/]+$/, `${file} imports ${specifier}`);
      assert.ok(mapped.has(specifier), `${file}: ${specifier} is not in deno.json's imports`);
      assert.ok(specifier in lock.specifiers, `${file}: ${specifier} is not in deno.lock`);
      npmImports++;
    }
  }
  assert.ok(npmImports > 0, "no npm: import found: is the pattern still right?");
});

Deno.test("deno.json names the license that LICENSE holds, and publishes it", async () => {
  const license = await Deno.readTextFile(new URL("LICENSE", ROOT));
  assert.equal(config.license, "MIT");
  assert.match(license, /^MIT License/);
  assert.ok(config.publish?.include?.includes("LICENSE"));
});
