/**
 * Where `rexec run` looks for an inventory when no `-i` is given.
 *
 * @internal Not part of the public API, which is what lib/mod.ts exports.
 *
 * @module
 */

import { TokenError } from "../errors.ts";
import { joinPath } from "../util/paths.ts";
import { defaultConfigDir, type Environment } from "./token.ts";

/**
 * The default inventory, `$XDG_CONFIG_HOME/rexec/inventory` (else
 * `~/.config/rexec/inventory`), or undefined when no config directory can
 * be named (no HOME): then there is no default inventory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultInventoryPath } from "./inventory_path.ts";
 *
 * assert.equal(
 *   defaultInventoryPath(new Map([["XDG_CONFIG_HOME", "/etc/xdg"]])),
 *   "/etc/xdg/rexec/inventory",
 * );
 * assert.equal(defaultInventoryPath(new Map()), undefined);
 * ```
 */
export function defaultInventoryPath(env: Environment = Deno.env): string | undefined {
  let dir: string;
  try {
    dir = defaultConfigDir(env);
  } catch (error) {
    if (error instanceof TokenError) return undefined;
    throw error;
  }
  return joinPath(dir, "inventory");
}

/**
 * The default inventory when that file exists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findDefaultInventory } from "./inventory_path.ts";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const env = new Map([["XDG_CONFIG_HOME", dir]]);
 *   assert.equal(await findDefaultInventory(env), undefined);
 *   await Deno.mkdir(`${dir}/rexec`);
 *   await Deno.writeTextFile(`${dir}/rexec/inventory`, "web1\n");
 *   assert.equal(await findDefaultInventory(env), `${dir}/rexec/inventory`);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function findDefaultInventory(
  env: Environment = Deno.env,
): Promise<string | undefined> {
  const path = defaultInventoryPath(env);
  if (path === undefined) return undefined;
  try {
    await Deno.stat(path);
    return path;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
