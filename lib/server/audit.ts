/**
 * The audit trail: one JSON object per line for every connection,
 * authentication result, command start and command end, and file operation
 * (`copy`: each file uploaded or downloaded, with its SHA-256). It records
 * who ran or copied what, where and how it ended; never the token, stdin,
 * output or file contents.
 *
 * @module
 */

import { RexecError } from "../errors.ts";
import { parentDir } from "../util/paths.ts";

/** What an audit record is about; `suppressed` summarises records left out by the rate limit. */
export type AuditEventName =
  | "connect"
  | "auth"
  | "exec"
  | "exit"
  | "copy"
  | "disconnect"
  | "suppressed";

/** One audit record, without its time stamp. */
export interface AuditEvent {
  /** What happened. */
  readonly event: AuditEventName;
  /** Session sequence number on this server; absent on a `suppressed` summary. */
  readonly session?: number;
  /** Remote address as `host:port`; the host alone on a `suppressed` summary. */
  readonly peer: string;
  /**
   * When it happened, ISO 8601, set only on a record written later than it
   * happened (a `connect` held back until its session authenticated); an
   * audit log stamps the others with the time it writes them.
   */
  readonly time?: string;
  /** Further fields: `result`, `argv`, `shell`, `cwd`, `code`, `signal`, `duration_ms`, ... */
  readonly [field: string]: unknown;
}

/**
 * Receives audit records. It throws when it cannot keep one (a full disk,
 * say): the server then refuses new commands, or runs them unaudited when
 * it was told to fail open.
 */
export type AuditSink = (event: AuditEvent) => void;

/**
 * The audit log cannot be opened or written. The message names the file and
 * what to do about it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuditLogError, openAuditLog } from "./audit.ts";
 *
 * assert.throws(() => openAuditLog("/nonexistent-dir/audit.jsonl"), AuditLogError);
 * ```
 */
export class AuditLogError extends RexecError {}

/** Options for {@link openAuditLog}. */
export interface AuditLogOptions {
  /** The clock; replaceable in tests. */
  readonly now?: () => Date;
}

/** An open audit log; close it when the server has stopped. */
export interface AuditLog extends Disposable {
  /** The file written, or `-` for stderr. */
  readonly path: string;
  /**
   * Writes one record as one line.
   *
   * @throws {AuditLogError} when the line could not be written whole.
   */
  readonly write: AuditSink;
  /**
   * Opens the file at {@link path} anew, creating it if it is gone, and
   * writes there from now on: after log rotation renamed the old one. Does
   * nothing for stderr.
   *
   * @throws {AuditLogError} when the file cannot be opened; the log then
   * keeps writing to the file it had.
   */
  reopen(): void;
}

/**
 * Opens `path` for appending audit records (created with mode 0600, its
 * directory never), or stderr when `path` is `-`.
 *
 * @throws {AuditLogError} when the file cannot be opened, saying why and
 * what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openAuditLog } from "./audit.ts";
 *
 * const path = await Deno.makeTempFile();
 * {
 *   using audit = openAuditLog(path);
 *   audit.write({ event: "connect", session: 1, peer: "127.0.0.1:50000" });
 * }
 * const record = JSON.parse(await Deno.readTextFile(path));
 * assert.equal(record.event, "connect");
 * assert.equal(typeof record.time, "string");
 * await Deno.remove(path);
 * ```
 *
 * @example Log rotation: rename the file, then reopen
 * ```ts
 * import assert from "node:assert/strict";
 * import { openAuditLog } from "./audit.ts";
 *
 * const dir = await Deno.makeTempDir();
 * using audit = openAuditLog(`${dir}/audit.jsonl`);
 * audit.write({ event: "connect", session: 1, peer: "127.0.0.1:50000" });
 * await Deno.rename(`${dir}/audit.jsonl`, `${dir}/audit.jsonl.1`);
 * audit.reopen();
 * audit.write({ event: "connect", session: 2, peer: "127.0.0.1:50001" });
 * assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/audit.jsonl`)).session, 2);
 * assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/audit.jsonl.1`)).session, 1);
 * ```
 */
export function openAuditLog(path: string, options: AuditLogOptions = {}): AuditLog {
  const encoder = new TextEncoder();
  const now = options.now ?? (() => new Date());
  const toStderr = path === "-";
  let file = toStderr ? undefined : openFile(path);
  // A write that failed half way left a partial line; the next record starts
  // on a line of its own, so that one bad line never swallows a good record.
  let torn = false;
  return {
    path,
    write(event) {
      const line = JSON.stringify({ time: now().toISOString(), ...event });
      const bytes = encoder.encode(`${torn ? "\n" : ""}${line}\n`);
      let offset = 0;
      try {
        while (offset < bytes.length) {
          offset += (file ?? Deno.stderr).writeSync(bytes.subarray(offset));
        }
        torn = false;
      } catch (error) {
        if (offset > 0) torn = true;
        throw new AuditLogError(
          `cannot write the audit log ${toStderr ? "(stderr)" : path}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    reopen() {
      if (toStderr) return;
      const reopened = openFile(path);
      file?.close();
      file = reopened;
      torn = false;
    },
    [Symbol.dispose]() {
      file?.close();
      file = undefined;
    },
  };
}

function openFile(path: string): Deno.FsFile {
  try {
    return Deno.openSync(path, { append: true, create: true, mode: 0o600 });
  } catch (error) {
    throw new AuditLogError(`cannot open the audit log ${path}: ${whyNotOpened(error, path)}`, {
      cause: error,
    });
  }
}

function whyNotOpened(error: unknown, path: string): string {
  const dir = parentDir(path);
  if (error instanceof Deno.errors.NotFound) {
    return `the directory ${dir} does not exist; create it (rexec does not), or give another path`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `permission denied; the user rexec serve runs as must be able to write the file, ` +
      `or create it in ${dir}`;
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return "it is a directory; give the path of a file in it";
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return "a part of the path that should be a directory is not one";
  }
  return (error as Error).message;
}
