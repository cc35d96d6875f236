/**
 * The examples in lib/'s doc comments, checked the way Deno's standard
 * library checks its own: `deno test --doc` runs them, but a false
 * `console.assert` only prints, so an example that checks nothing, or checks
 * with console.assert, passes whatever the code does. This test reads every
 * fenced example out of lib/'s JSDoc and fails, naming the file and line,
 * when one could not fail.
 *
 * @module
 */

import assert from "node:assert/strict";

const LIB = new URL("../lib/", import.meta.url);

/** Fence languages `deno test --doc` type-checks and runs; others (`text`, `sh`) it skips. */
const RUN_LANGUAGES = new Set([
  "js",
  "javascript",
  "mjs",
  "cjs",
  "jsx",
  "ts",
  "typescript",
  "mts",
  "cts",
  "tsx",
]);

/**
 * How an ignored example gives its reason: in a `//` comment line inside it,
 * or in the doc comment's line just above its fence.
 */
const REASON = /^(?:\/\/\s*)?Not run as a test: \S.{8,}/;

/** One fenced code block in a doc comment. */
interface Example {
  /** Path relative to the repository, as a reader would open it. */
  readonly file: string;
  /** 1-based line of the opening fence, as `deno test --doc` names the example. */
  readonly line: number;
  /** The fence's language, such as `ts`. */
  readonly language: string;
  /** The words after the language, such as `ignore`. */
  readonly attributes: readonly string[];
  /** The code, its comment prefixes (` * `) removed. */
  readonly code: string;
  /** The doc comment's text line just above the fence, empty when none. */
  readonly lineAbove: string;
}

/**
 * The fenced blocks of every JSDoc comment (`/** … *\/`) in `source`.
 * Line numbers are those of the file.
 */
function extractExamples(file: string, source: string): Example[] {
  const examples: Example[] = [];
  const lines = source.split("\n");
  let inDoc = false;
  let open: { line: number; language: string; attributes: string[]; lineAbove: string } | null =
    null;
  let body: string[] = [];
  let previous = "";
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index];
    if (!inDoc) {
      if (!/^\s*\/\*\*/.test(raw)) continue;
      inDoc = true;
      previous = "";
    }
    const closes = raw.includes("*/");
    const text = raw.replace(/^\s*(?:\/\*\*|\*(?!\/))? ?/, "").replace(/\s*\*\/\s*$/, "");
    const fence = /^```(.*)$/.exec(text.trimEnd());
    if (fence && !open) {
      const [language = "", ...attributes] = fence[1].trim().split(/\s+/);
      open = { line: index + 1, language, attributes, lineAbove: previous };
      body = [];
    } else if (fence && open && fence[1].trim() === "") {
      examples.push({ file, ...open, code: body.join("\n") });
      open = null;
    } else if (open) {
      body.push(text);
    }
    if (!open && !fence && !/^@\w+/.test(text.trim())) previous = text.trim();
    if (closes) {
      // An unclosed fence ends with its comment, as it does for deno doc.
      if (open) examples.push({ file, ...open, code: body.join("\n") });
      open = null;
      inDoc = false;
    }
  }
  return examples;
}

/** Whether `deno test --doc` runs the example: a script language and no `ignore`. */
function runs(example: Example): boolean {
  return RUN_LANGUAGES.has(example.language) && !example.attributes.includes("ignore");
}

/** The code without its `//` comments, so that a commented-out assert does not count. */
function withoutLineComments(code: string): string {
  return code.replace(/(^|[^:"'`\w])\/\/.*$/gm, "$1");
}

/** What is wrong with one example, empty when nothing. */
function problems(example: Example): string[] {
  if (!RUN_LANGUAGES.has(example.language)) return [];
  const found: string[] = [];
  const code = withoutLineComments(example.code);
  if (/\bconsole\.assert\b/.test(code)) {
    found.push(
      "uses console.assert, which only prints when false; " +
        'use `import assert from "node:assert/strict"`',
    );
  }
  if (/from\s+["']node:assert["']/.test(code)) {
    found.push('imports "node:assert", whose equal is loose; import "node:assert/strict"');
  }
  if (runs(example)) {
    const asserts = /(?<![.\w])assert(?:\.\w+)?\s*\(/.test(code) &&
      /from\s+["']node:assert\/strict["']/.test(code);
    if (!asserts && !/\bthrow\b/.test(code)) {
      found.push(
        "runs but checks nothing: assert its result with node:assert/strict, " +
          "or throw when it is wrong",
      );
    }
  } else if (
    !REASON.test(example.lineAbove) &&
    !example.code.split("\n").some((line) => REASON.test(line.trim()))
  ) {
    found.push(
      "is ignored without a reason: say why in a line " +
        '"// Not run as a test: …" inside it, or "Not run as a test: …" just above it',
    );
  }
  return found;
}

async function* typeScriptFiles(dir: URL): AsyncGenerator<URL> {
  const entries = await Array.fromAsync(Deno.readDir(dir));
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.isDirectory) yield* typeScriptFiles(new URL(`${entry.name}/`, dir));
    else if (entry.isFile && entry.name.endsWith(".ts")) yield new URL(entry.name, dir);
  }
}

/** Every example in lib/, read once for all the tests below. */
async function libExamples(): Promise<Example[]> {
  const root = new URL("../", import.meta.url).pathname;
  const examples: Example[] = [];
  for await (const url of typeScriptFiles(LIB)) {
    examples.push(
      ...extractExamples(url.pathname.slice(root.length), await Deno.readTextFile(url)),
    );
  }
  return examples;
}

/** The failures of `examples`, one line each, `file:line: problem`. */
function report(examples: readonly Example[], select: (problem: string) => boolean): string[] {
  return examples.flatMap((example) =>
    problems(example).filter(select).map((problem) =>
      `${example.file}:${example.line}: example ${problem}`
    )
  );
}

const examples = await libExamples();

Deno.test("JSDoc examples in lib/ are all found by the checker", () => {
  // A checker that finds nothing passes whatever lib/ holds: count what it reads.
  const scripts = examples.filter((example) => RUN_LANGUAGES.has(example.language));
  assert.ok(scripts.length > 100, `only ${scripts.length} examples found in lib/`);
  assert.ok(
    scripts.some((example) => example.file === "lib/mod.ts" && runs(example)),
    "lib/mod.ts's module example is not found, or not run",
  );
});

Deno.test("JSDoc examples in lib/ assert with node:assert/strict, never console.assert", () => {
  const failures = report(examples, (problem) => /console\.assert|"node:assert"/.test(problem));
  assert.deepEqual(failures, [], `\n${failures.join("\n")}\n`);
});

Deno.test("JSDoc examples in lib/ that run assert on what they do, or throw", () => {
  const failures = report(examples, (problem) => problem.startsWith("runs but checks nothing"));
  assert.deepEqual(failures, [], `\n${failures.join("\n")}\n`);
});

Deno.test("JSDoc examples in lib/ that are ignored say why they cannot run", () => {
  const failures = report(examples, (problem) => problem.startsWith("is ignored"));
  assert.deepEqual(failures, [], `\n${failures.join("\n")}\n`);
});

Deno.test("JSDoc examples in lib/: the checker reports each kind of example that cannot fail", () => {
  const source = [
    "/**",
    " * Adds.",
    " *",
    " * @example Printing only",
    " * ```ts",
    " * console.assert(add(1, 2) === 3); // prints when false, passes anyway",
    " * ```",
    " *",
    " * @example Checking nothing",
    " * ```ts",
    " * add(1, 2); // assert.equal(add(1, 2), 3) in a comment is no check",
    " * ```",
    " *",
    " * @example Ignored, no reason",
    " * ```ts ignore",
    " * add(1, 2);",
    " * ```",
    " *",
    " * @example Checked",
    " * ```ts",
    ' * import assert from "node:assert/strict";',
    " * assert.equal(add(1, 2), 3);",
    " * ```",
    " *",
    " * Not run as a test: it needs a terminal to type into.",
    " * ```ts ignore",
    " * add(1, 2);",
    " * ```",
    " *",
    " * ```text",
    " * 1 + 2 = 3",
    " * ```",
    " */",
    "export function add(a: number, b: number): number {",
    "  return a + b;",
    "}",
  ].join("\n");
  const found = extractExamples("add.ts", source);
  assert.deepEqual(found.map((example) => [example.line, example.language, example.attributes]), [
    [5, "ts", []],
    [10, "ts", []],
    [15, "ts", ["ignore"]],
    [20, "ts", []],
    [26, "ts", ["ignore"]],
    [30, "text", []],
  ]);
  assert.equal(
    found[3].code,
    'import assert from "node:assert/strict";\nassert.equal(add(1, 2), 3);',
  );
  assert.deepEqual(report(found, () => true), [
    "add.ts:5: example uses console.assert, which only prints when false; " +
    'use `import assert from "node:assert/strict"`',
    "add.ts:5: example runs but checks nothing: assert its result with node:assert/strict, " +
    "or throw when it is wrong",
    "add.ts:10: example runs but checks nothing: assert its result with node:assert/strict, " +
    "or throw when it is wrong",
    "add.ts:15: example is ignored without a reason: say why in a line " +
    '"// Not run as a test: …" inside it, or "Not run as a test: …" just above it',
  ]);
});
