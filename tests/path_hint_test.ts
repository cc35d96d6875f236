import assert from "node:assert/strict";
import { installBinDir, pathHint } from "../tools/path_hint.ts";

const HOME = "/home/ann";
const BIN = "/home/ann/.deno/bin";

Deno.test("installBinDir(): the bin directory is DENO_INSTALL_ROOT/bin, else ~/.deno/bin", () => {
  assert.equal(installBinDir({ home: HOME, windows: false }), BIN);
  assert.equal(
    installBinDir({ installRoot: "/opt/deno", home: HOME, windows: false }),
    "/opt/deno/bin",
  );
  assert.equal(
    installBinDir({ home: "C:\\Users\\ann", windows: true }),
    "C:\\Users\\ann\\.deno\\bin",
  );
});

Deno.test("pathHint() off PATH: the export line, written with $HOME, and the startup file of the user's shell", () => {
  const hint = (shell: string | undefined) =>
    pathHint({ env: { home: HOME, path: "/usr/bin:/bin", shell, windows: false }, binDir: BIN });
  assert.deepEqual(hint("/bin/bash"), [
    `installed ${BIN}/rexec; ${BIN} is not on your PATH. Add it to this shell with`,
    `  export PATH="$HOME/.deno/bin:$PATH"`,
    "and put that line in ~/.bashrc for the shells you open later.",
  ]);
  assert.equal(
    hint("/usr/bin/zsh")[2],
    "and put that line in ~/.zshrc for the shells you open later.",
  );
  assert.equal(
    hint(undefined)[2],
    "and put that line in your shell's startup file (~/.profile) for the shells you open later.",
  );
  assert.deepEqual(hint("/usr/bin/fish"), [
    `installed ${BIN}/rexec; ${BIN} is not on your PATH. Add it, for good, with`,
    "  fish_add_path ~/.deno/bin",
  ]);
});

Deno.test("pathHint() off PATH outside the home directory: the path as it is", () => {
  const lines = pathHint({
    env: { installRoot: "/opt/deno", home: HOME, path: "/usr/bin", windows: false },
    binDir: "/opt/deno/bin",
  });
  assert.equal(lines[1], `  export PATH="/opt/deno/bin:$PATH"`);
});

Deno.test("pathHint() on PATH: nothing to add, unless another rexec comes first", () => {
  const env = { home: HOME, path: `/usr/bin:${BIN}/:/bin`, windows: false };
  assert.deepEqual(pathHint({ env, binDir: BIN, resolved: `${BIN}/rexec` }), [
    `installed ${BIN}/rexec; try \`rexec --help\`.`,
  ]);
  assert.deepEqual(pathHint({ env, binDir: BIN, resolved: "/usr/bin/rexec" }), [
    `installed ${BIN}/rexec, but \`rexec\` runs /usr/bin/rexec, which comes first on your PATH:`,
    `remove that one, or put ${BIN} before it.`,
  ]);
});

Deno.test("pathHint() on Windows: PATH is split on semicolons and compared without case", () => {
  const binDir = "C:\\Users\\ann\\.deno\\bin";
  const lines = pathHint({
    env: { home: "C:\\Users\\ann", path: "C:\\Windows;c:\\users\\ann\\.deno\\bin", windows: true },
    binDir,
    resolved: `${binDir}\\rexec.cmd`,
  });
  assert.deepEqual(lines, [`installed ${binDir}\\rexec.cmd; try \`rexec --help\`.`]);
  assert.match(
    pathHint({ env: { path: "C:\\Windows", windows: true }, binDir })[0],
    /is not on your PATH\.$/,
  );
});
