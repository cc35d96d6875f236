/**
 * The audit trail: one JSON object per line for every connection,
 * authentication result, command start and command end. It records who ran
 * what, where and how it ended; never the token, stdin or output.
 *
 * @module
 */

import { writeStderr } from "./stderr.ts";

/** What an audit record is about. */
export type AuditEventName = "connect" | "auth" | "exec" | "exit" | "disconnect";

/** One audit record, without its time stamp. */
export interface AuditEvent {
  /** What happened. */
  readonly event: AuditEventName;
  /** Session sequence number on this server. */
  readonly session: number;
  /** Remote address as `host:port`. */
  readonly peer: string;
  /** Further fields: `result`, `argv`, `shell`, `cwd`, `code`, `signal`, `duration_ms`, ... */
  readonly [field: string]: unknown;
}

/** Receives audit records. */
export type AuditSink = (event: AuditEvent) => void;

/** Options for {@link openAuditLog}. */
export interface AuditLogOptions {
  /** Told when a record could not be written (a full disk, say); the server keeps serving. */
  readonly onError?: (error: Error) => void;
  /** The clock; replaceable in tests. */
  readonly now?: () => Date;
}

/** An open audit log; close it when the server has stopped. */
export interface AuditLog extends Disposable {
  /** Writes one record. */
  readonly write: AuditSink;
}

/**
 * Opens `path` for appending audit records (created with mode 0600), or
 * stderr when `path` is `-`.
 *
 * @example
 * ```ts
 * import { openAuditLog } from "./audit.ts";
 *
 * const path = await Deno.makeTempFile();
 * {
 *   using audit = openAuditLog(path);
 *   audit.write({ event: "connect", session: 1, peer: "127.0.0.1:50000" });
 * }
 * const record = JSON.parse(await Deno.readTextFile(path));
 * console.assert(record.event === "connect" && typeof record.time === "string");
 * await Deno.remove(path);
 * ```
 */
export function openAuditLog(path: string, options: AuditLogOptions = {}): AuditLog {
  const encoder = new TextEncoder();
  const now = options.now ?? (() => new Date());
  const file = path === "-"
    ? undefined
    : Deno.openSync(path, { append: true, create: true, mode: 0o600 });
  let failed = false;
  const writeBytes = (bytes: Uint8Array) => {
    if (!file) return writeStderr(bytes);
    let offset = 0;
    while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
  };
  return {
    write(event) {
      const line = JSON.stringify({ time: now().toISOString(), ...event });
      try {
        writeBytes(encoder.encode(`${line}\n`));
        failed = false;
      } catch (error) {
        // Reported once per run of failures, so a full disk does not flood the log.
        if (!failed) options.onError?.(error as Error);
        failed = true;
      }
    },
    [Symbol.dispose]() {
      file?.close();
    },
  };
}
