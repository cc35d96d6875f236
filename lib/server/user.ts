/**
 * Looks up the local accounts a root server may run commands as, from
 * `/etc/passwd`. Pure of sockets and processes.
 *
 * Only `/etc/passwd` is read: accounts that exist solely in a directory
 * service (LDAP, SSSD, systemd-homed) are not found.
 *
 * @module
 */

import { RexecError } from "../errors.ts";

/** A local account, as `/etc/passwd` describes it. */
export interface UserAccount {
  /** Login name. */
  readonly name: string;
  /** User id. */
  readonly uid: number;
  /** Primary group id. */
  readonly gid: number;
  /** Home directory. */
  readonly home: string;
  /** Login shell. */
  readonly shell: string;
}

/** Where to look accounts up; for tests. */
export interface LookupUserOptions {
  /** The passwd file to read; `/etc/passwd` by default. */
  readonly passwdFile?: string;
}

/** The file accounts are read from unless told otherwise. */
const PASSWD_FILE = "/etc/passwd";

/** The shell of an account whose passwd entry names none, as for login and sshd. */
const DEFAULT_SHELL = "/bin/sh";

/** Largest id a POSIX system hands out: uid_t is 32 bits and -1 is reserved. */
const MAX_ID = 0xffff_fffe;

/**
 * The account list could not be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lookupUser, UserLookupError } from "./user.ts";
 *
 * await assert.rejects(
 *   lookupUser("root", { passwdFile: "/rexec/no/such/passwd" }),
 *   (error) =>
 *     error instanceof UserLookupError &&
 *     error.message.startsWith('cannot read /rexec/no/such/passwd to look up user "root": '),
 * );
 * ```
 */
export class UserLookupError extends RexecError {}

/**
 * No account has the name, or the uid, asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lookupUser, UnknownUserError, UserLookupError } from "./user.ts";
 *
 * await assert.rejects(
 *   lookupUser("rexec-no-such-user"),
 *   (error) =>
 *     error instanceof UnknownUserError && error instanceof UserLookupError &&
 *     error.user === "rexec-no-such-user" &&
 *     error.message === 'no user named "rexec-no-such-user" on this system (not in /etc/passwd)',
 * );
 * ```
 */
export class UnknownUserError extends UserLookupError {
  /** The name or uid asked for, as given. */
  readonly user: string;

  /** Creates the error for `user`, which was not in `passwdFile`. */
  constructor(user: string, passwdFile: string = PASSWD_FILE) {
    super(
      isNumeric(user)
        ? `no user with uid ${user} on this system (not in ${passwdFile})`
        : `no user named ${JSON.stringify(user)} on this system (not in ${passwdFile})`,
    );
    this.user = user;
  }
}

/**
 * Finds an account by login name, or by uid when `name` is all digits,
 * reading `/etc/passwd`. The first matching line wins, as with `getpwnam`;
 * malformed lines and NIS `+`/`-` lines are skipped.
 *
 * Needs `--allow-read` for the passwd file.
 *
 * @throws {UnknownUserError} when no account matches.
 * @throws {UserLookupError} when the passwd file cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lookupUser } from "./user.ts";
 *
 * const root = await lookupUser("root");
 * assert.equal(root.uid, 0);
 * assert.equal(root.gid, 0);
 * assert.deepEqual(await lookupUser("0"), root); // all digits: a uid
 * ```
 */
export async function lookupUser(
  name: string,
  options: LookupUserOptions = {},
): Promise<UserAccount> {
  const passwdFile = options.passwdFile ?? PASSWD_FILE;
  let text: string;
  try {
    text = await Deno.readTextFile(passwdFile);
  } catch (error) {
    throw new UserLookupError(
      `cannot read ${passwdFile} to look up user ${JSON.stringify(name)}: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  const byUid = isNumeric(name) ? Number(name) : undefined;
  for (const line of text.split("\n")) {
    const account = parsePasswdLine(line);
    if (account === undefined) continue;
    if (byUid !== undefined ? account.uid === byUid : account.name === name) return account;
  }
  throw new UnknownUserError(name, passwdFile);
}

/**
 * The account this process runs as: the `/etc/passwd` entry of its uid.
 *
 * Needs `--allow-sys=uid` and `--allow-read` for the passwd file.
 *
 * @throws {UnknownUserError} when no account has this process's uid (a
 * container started with an arbitrary uid).
 * @throws {UserLookupError} when the passwd file cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentUser } from "./user.ts";
 *
 * assert.equal((await currentUser()).uid, Deno.uid());
 * ```
 */
export function currentUser(options: LookupUserOptions = {}): Promise<UserAccount> {
  return lookupUser(String(Deno.uid()), options);
}

/**
 * The variables that tell a command whose account it runs in, as `login`
 * and sshd set them: `HOME`, `USER`, `LOGNAME` and `SHELL` (`/bin/sh` when
 * the account names no shell).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { accountEnv } from "./user.ts";
 *
 * const env = accountEnv({ name: "nobody", uid: 65534, gid: 65534, home: "/nonexistent", shell: "" });
 * assert.deepEqual(env, { HOME: "/nonexistent", USER: "nobody", LOGNAME: "nobody", SHELL: "/bin/sh" });
 * ```
 */
export function accountEnv(account: UserAccount): Record<string, string> {
  return {
    HOME: account.home,
    USER: account.name,
    LOGNAME: account.name,
    SHELL: account.shell === "" ? DEFAULT_SHELL : account.shell,
  };
}

/**
 * Whether this process runs as root, the only case in which it may run
 * commands as another user.
 *
 * Needs `--allow-sys=uid` (Deno guards `Deno.uid()` with it).
 *
 * @throws {Deno.errors.NotCapable} without that permission.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentUser, isRoot } from "./user.ts";
 *
 * assert.equal(isRoot(), (await currentUser()).uid === 0);
 * ```
 */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

function isNumeric(text: string): boolean {
  return /^[0-9]+$/.test(text);
}

/** One `name:password:uid:gid:gecos:home:shell` line, or undefined when it is not one. */
function parsePasswdLine(line: string): UserAccount | undefined {
  const fields = line.replace(/\r$/, "").split(":");
  if (fields.length !== 7) return undefined;
  const [name, , uidText, gidText, , home, shell] = fields;
  if (name === "" || name.startsWith("+") || name.startsWith("-") || name.startsWith("#")) {
    return undefined;
  }
  if (!isNumeric(uidText) || !isNumeric(gidText)) return undefined;
  const uid = Number(uidText);
  const gid = Number(gidText);
  if (uid > MAX_ID || gid > MAX_ID) return undefined;
  return { name, uid, gid, home, shell };
}
