import assert from "node:assert/strict";
import { CLI_PERMISSIONS } from "./helpers.ts";

const config = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
) as { tasks: Record<string, string> };

/** The permission flags of the task's first command, the one that runs or installs rexec. */
function permissionFlags(task: string): string[] {
  const [command] = task.split("&&");
  return command.split(/\s+/).filter((word) => /^(-A|--allow-|-[A-Z]=?)/.test(word)).sort();
}

Deno.test("deno task serve, rexec, compile and install grant the same narrow permissions, never -A", () => {
  const expected = [...CLI_PERMISSIONS].sort();
  for (const name of ["serve", "rexec", "compile", "install"]) {
    const flags = permissionFlags(config.tasks[name]);
    assert.deepEqual(flags, expected, `task ${name}`);
    assert.ok(!flags.includes("-A") && !flags.includes("--allow-all"), `task ${name}`);
  }
});

Deno.test("deno task check runs fmt, lint, type check and doc lint", () => {
  for (
    const step of ["deno fmt --check", "deno lint", "deno check", "deno doc --lint lib/mod.ts"]
  ) {
    assert.ok(config.tasks.check.includes(step), step);
  }
});
