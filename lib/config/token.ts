/**
 * Finding the shared token: `REXEC_TOKEN`, then a token file named on the
 * command line, then the default file in the user's config directory, which
 * the server creates on its first start.
 *
 * @module
 */

import { randomBase64url } from "../util/base64url.ts";
import { writeFileExclusive } from "../util/files.ts";
import { joinPath, parentDir } from "../util/paths.ts";
import { TokenError } from "../errors.ts";

/**
 * The environment variable that holds a token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveToken, TOKEN_ENV } from "./token.ts";
 *
 * const env = new Map([[TOKEN_ENV, "a-token-from-the-environment"]]);
 * const { token, source } = await resolveToken({ env });
 * assert.equal(token, "a-token-from-the-environment");
 * assert.equal(source, "REXEC_TOKEN");
 * ```
 */
export const TOKEN_ENV = "REXEC_TOKEN";

/**
 * Shortest token a server accepts: a guessable token would make auth moot.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenError } from "../errors.ts";
 * import { generateToken, MIN_TOKEN_LENGTH, resolveToken, TOKEN_ENV } from "./token.ts";
 *
 * const short = "x".repeat(MIN_TOKEN_LENGTH - 1);
 * await assert.rejects(
 *   resolveToken({ env: new Map([[TOKEN_ENV, short]]) }),
 *   (error) => error instanceof TokenError && /needs at least 16/.test(error.message),
 * );
 * assert.ok(generateToken().length >= MIN_TOKEN_LENGTH);
 * ```
 */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Read access to environment variables; `Deno.env` fits, and so does a `Map`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultTokenPath, type Environment } from "./token.ts";
 *
 * // A Map stands in for Deno.env, so nothing of the real environment is read.
 * const env: Environment = new Map([["XDG_CONFIG_HOME", "/etc/xdg"]]);
 * assert.equal(defaultTokenPath(env), "/etc/xdg/rexec/token");
 * ```
 */
export interface Environment {
  /** The variable's value, or undefined when it is not set. */
  get(name: string): string | undefined;
}

/**
 * Where a token came from, for messages and logs. Never log the token itself.
 *
 * @example A token file others can read
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveToken } from "./token.ts";
 *
 * const tokenFile = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(tokenFile, "a-token-kept-in-a-file\n");
 *   await Deno.chmod(tokenFile, 0o644);
 *   const resolved = await resolveToken({ tokenFile, env: new Map() });
 *   assert.equal(resolved.token, "a-token-kept-in-a-file");
 *   assert.equal(resolved.source, tokenFile);
 *   assert.equal(resolved.created, false);
 *   assert.equal(resolved.warnings.length, 1);
 *   assert.match(resolved.warnings[0], /can be read by other users \(mode 0644\); run: chmod 600/);
 * } finally {
 *   await Deno.remove(tokenFile);
 * }
 * ```
 */
export interface ResolvedToken {
  /** The token text. Keep it out of logs. */
  readonly token: string;
  /** `REXEC_TOKEN` or the path of the file it was read from. */
  readonly source: string;
  /** Whether the file was created just now. */
  readonly created: boolean;
  /** Problems worth telling the user, such as a file others can read. */
  readonly warnings: readonly string[];
}

/**
 * Options for {@link resolveToken}.
 *
 * @example A server's first start makes the token, its next ones read it
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveToken, type ResolveTokenOptions } from "./token.ts";
 *
 * const configHome = await Deno.makeTempDir();
 * try {
 *   const serverSide: ResolveTokenOptions = {
 *     env: new Map([["XDG_CONFIG_HOME", configHome]]),
 *     createIfMissing: true,
 *   };
 *   const first = await resolveToken(serverSide);
 *   assert.equal(first.created, true);
 *   assert.equal(first.source, `${configHome}/rexec/token`);
 *   assert.equal((await Deno.stat(first.source)).mode! & 0o777, 0o600);
 *   const again = await resolveToken(serverSide);
 *   assert.equal(again.created, false);
 *   assert.equal(again.token, first.token);
 * } finally {
 *   await Deno.remove(configHome, { recursive: true });
 * }
 * ```
 */
export interface ResolveTokenOptions {
  /** A token file given explicitly (`--token-file`). */
  tokenFile?: string;
  /** Environment to read; defaults to `Deno.env`. */
  env?: Environment;
  /** Create the default token file when it does not exist (the server does). */
  createIfMissing?: boolean;
}

/**
 * The default token file: `$XDG_CONFIG_HOME/rexec/token`, else
 * `$HOME/.config/rexec/token` (`%APPDATA%\rexec\token` on Windows).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultTokenPath } from "./token.ts";
 *
 * const home = new Map([["HOME", "/home/ada"]]);
 * assert.equal(defaultTokenPath(home), "/home/ada/.config/rexec/token");
 * const xdg = new Map([...home, ["XDG_CONFIG_HOME", "/etc/xdg"]]);
 * assert.equal(defaultTokenPath(xdg), "/etc/xdg/rexec/token");
 * ```
 */
export function defaultTokenPath(env: Environment = Deno.env): string {
  return joinPath(defaultConfigDir(env), "token");
}

/**
 * rexec's configuration directory: `$XDG_CONFIG_HOME/rexec`, by default
 * `~/.config/rexec`. It holds the token and the TLS certificate and key.
 *
 * @throws {TokenError} when neither XDG_CONFIG_HOME, HOME nor APPDATA is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenError } from "../errors.ts";
 * import { defaultConfigDir } from "./token.ts";
 *
 * assert.equal(defaultConfigDir(new Map([["HOME", "/home/ada"]])), "/home/ada/.config/rexec");
 * assert.throws(() => defaultConfigDir(new Map()), TokenError);
 * ```
 */
export function defaultConfigDir(env: Environment = Deno.env): string {
  const configHome = env.get("XDG_CONFIG_HOME") ||
    (env.get("HOME") ? joinPath(env.get("HOME")!, ".config") : env.get("APPDATA"));
  if (!configHome) {
    throw new TokenError(
      "cannot find a config directory: set HOME or XDG_CONFIG_HOME (or REXEC_TOKEN for the token)",
    );
  }
  return joinPath(configHome, "rexec");
}

/** Random bytes in a token rexec makes. */
const TOKEN_BYTES = 32;

/**
 * A new random token: 32 bytes from the system CSPRNG as base64url text, so
 * it can be pasted into `REXEC_TOKEN` anywhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateToken } from "./token.ts";
 *
 * const token = generateToken();
 * assert.match(token, /^[A-Za-z0-9_-]{43}$/);
 * assert.notEqual(generateToken(), token);
 * ```
 */
export function generateToken(): string {
  return randomBase64url(TOKEN_BYTES);
}

/**
 * Finds the token: `REXEC_TOKEN`, then `tokenFile`, then the default file,
 * created with mode 0600 when `createIfMissing` is set.
 *
 * @throws {TokenError} when no token can be found or read, or it is shorter
 * than {@link MIN_TOKEN_LENGTH}, saying where it looked and what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenError } from "../errors.ts";
 * import { resolveToken } from "./token.ts";
 *
 * // REXEC_TOKEN comes first, even before a token file named explicitly.
 * const env = new Map([["REXEC_TOKEN", "a-token-from-the-environment"]]);
 * const { token, source } = await resolveToken({ env, tokenFile: "/rexec/no/such/file" });
 * assert.equal(token, "a-token-from-the-environment");
 * assert.equal(source, "REXEC_TOKEN");
 * await assert.rejects(
 *   resolveToken({ env: new Map(), tokenFile: "/rexec/no/such/file" }),
 *   (error) =>
 *     error instanceof TokenError &&
 *     error.message.startsWith("cannot read token file /rexec/no/such/file:"),
 * );
 * ```
 */
export async function resolveToken(
  options: ResolveTokenOptions = {},
): Promise<ResolvedToken> {
  const env = options.env ?? Deno.env;
  const fromEnv = env.get(TOKEN_ENV)?.trim();
  if (fromEnv) {
    requireLength(
      fromEnv,
      `${TOKEN_ENV} is ${fromEnv.length} characters`,
      "set it to a longer secret, the same for the server and its clients, or unset it to use the token file",
    );
    return { token: fromEnv, source: TOKEN_ENV, created: false, warnings: [] };
  }
  if (options.tokenFile !== undefined) {
    const resolved = await readTokenFile(options.tokenFile);
    requireLength(
      resolved.token,
      `token file ${resolved.source} holds ${resolved.token.length} characters`,
      "put a longer secret in it, the same for the server and its clients",
    );
    return resolved;
  }
  const path = defaultTokenPath(env);
  const found = await resolveDefaultToken(path, options.createIfMissing ?? false);
  const dirWarning = await configDirWarning(parentDir(path));
  return dirWarning === undefined ? found : { ...found, warnings: [...found.warnings, dirWarning] };
}

/**
 * A warning when `dir`, rexec's configuration directory, can be written by
 * users other than its owner: they could replace the token (or the TLS
 * certificate and key) in it. Undefined when it cannot, or does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configDirWarning } from "./token.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.chmod(dir, 0o777);
 * assert.match((await configDirWarning(dir)) ?? "", /chmod 700/);
 * await Deno.chmod(dir, 0o700);
 * assert.equal(await configDirWarning(dir), undefined);
 * await Deno.remove(dir);
 * ```
 */
export async function configDirWarning(dir: string): Promise<string | undefined> {
  let mode: number | null;
  try {
    ({ mode } = await Deno.stat(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (mode === null || (mode & 0o022) === 0) return undefined;
  return `config directory ${dir} can be written by other users (mode ${showMode(mode)}): ` +
    `they could replace the token or certificate in it; run: chmod 700 ${dir}`;
}

async function resolveDefaultToken(path: string, create: boolean): Promise<ResolvedToken> {
  if (create) {
    const created = await createTokenFile(path);
    if (created) return created;
  }
  let resolved: ResolvedToken;
  try {
    resolved = await readTokenFile(path);
  } catch (error) {
    if (error instanceof TokenError && error.cause instanceof Deno.errors.NotFound) {
      throw new TokenError(
        `no token: set ${TOKEN_ENV}, pass --token-file, or copy the server's token file to ${path} (rexec serve creates it on first start)`,
        { cause: error },
      );
    }
    throw error;
  }
  requireLength(
    resolved.token,
    `token file ${path} holds ${resolved.token.length} characters`,
    "delete it, and rexec serve makes a random one on its next start (copy that to the clients), " +
      "or put a longer secret in it",
  );
  return resolved;
}

/** Refuses a token too short to be a secret, saying what to do about where it came from. */
function requireLength(token: string, what: string, advice: string): void {
  if (token.length >= MIN_TOKEN_LENGTH) return;
  throw new TokenError(`${what}; a token needs at least ${MIN_TOKEN_LENGTH}: ${advice}`);
}

async function readTokenFile(path: string): Promise<ResolvedToken> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new TokenError(
      `cannot read token file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const token = text.trim();
  if (token === "") throw new TokenError(`token file ${path} is empty`);
  const warnings: string[] = [];
  const { mode } = await Deno.stat(path);
  if (mode !== null && (mode & 0o077) !== 0) {
    const access = (mode & 0o044) !== 0
      ? (mode & 0o022) !== 0 ? "read and changed" : "read"
      : (mode & 0o022) !== 0
      ? "changed"
      : "reached";
    warnings.push(
      `token file ${path} can be ${access} by other users (mode ${showMode(mode)}); ` +
        `run: chmod 600 ${path}`,
    );
  }
  return { token, source: path, created: false, warnings };
}

function showMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** Creates the token file unless it exists; returns undefined when it did. */
async function createTokenFile(
  path: string,
): Promise<ResolvedToken | undefined> {
  const token = generateToken();
  try {
    await Deno.mkdir(parentDir(path), { recursive: true, mode: 0o700 });
    // Another server starting at the same moment may get there first; no
    // reader ever sees the file half written.
    if (!await writeFileExclusive(path, `${token}\n`, { mode: 0o600 })) return undefined;
  } catch (error) {
    throw new TokenError(
      `cannot create token file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return { token, source: path, created: true, warnings: [] };
}
