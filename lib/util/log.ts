/**
 * Structured log records and a plain-text formatter for stderr. Records
 * carry fields, not preformatted strings, so that the audit trail and tests
 * can read them; no record ever carries the token.
 *
 * @module
 */

import { writeStderr } from "./stderr.ts";

/** How much a record matters. */
export type LogLevel = "info" | "warn" | "error";

/** Values a log field may hold. */
export type LogValue = string | number | boolean | null | readonly string[];

/** One log event. */
export interface LogRecord {
  /** How much it matters. */
  readonly level: LogLevel;
  /** What happened, in a few words. */
  readonly message: string;
  /** Details, such as `session`, `peer`, `argv`, `code`. */
  readonly fields?: Readonly<Record<string, LogValue | undefined>>;
}

/**
 * Receives log records.
 *
 * @example Keeping only what needs a look, as text lines
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTextLogger, type Logger } from "./log.ts";
 *
 * const lines: string[] = [];
 * const text = createTextLogger({ writeLine: (line) => lines.push(line) });
 * const logger: Logger = (record) => {
 *   if (record.level !== "info") text(record);
 * };
 * logger({ level: "info", message: "listening", fields: { port: 7022 } });
 * logger({ level: "warn", message: "token file is world-readable" });
 * assert.equal(lines.length, 1);
 * assert.match(lines[0], / WARN token file is world-readable$/);
 * ```
 */
export type Logger = (record: LogRecord) => void;

/** A logger that drops everything; the default for the library. */
export const silentLogger: Logger = (): void => {};

/**
 * Formats a record as one line: ISO time, level, message, then `key=value`
 * pairs. Strings with spaces, quotes or control characters are JSON-quoted
 * so that one record is always exactly one line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRecord } from "./log.ts";
 *
 * const line = formatRecord(
 *   { level: "info", message: "exec", fields: { session: 1, argv: ["echo", "hi there"] } },
 *   new Date(0),
 * );
 * assert.equal(line, '1970-01-01T00:00:00.000Z INFO exec session=1 argv=["echo","hi there"]');
 * assert.equal(
 *   formatRecord({ level: "warn", message: "odd", fields: { note: "two\nlines" } }, new Date(0)),
 *   '1970-01-01T00:00:00.000Z WARN odd note="two\\nlines"',
 * );
 * ```
 */
export function formatRecord(record: LogRecord, time: Date = new Date()): string {
  const parts = [time.toISOString(), record.level.toUpperCase(), record.message];
  for (const [key, value] of Object.entries(record.fields ?? {})) {
    if (value === undefined) continue;
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(" ");
}

function formatValue(value: LogValue): string {
  const text = Array.isArray(value) ? undefined : String(value);
  if (text !== undefined && /^[^\s"=\p{Cc}]+$/u.test(text)) return text;
  // JSON escapes only what is below U+0020; the other characters that some
  // readers take as line breaks are escaped too, so a record stays one line.
  return JSON.stringify(text ?? value).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A logger that writes each record as one line to a stream, stderr by
 * default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTextLogger } from "./log.ts";
 *
 * const lines: string[] = [];
 * const log = createTextLogger({ writeLine: (line) => lines.push(line) });
 * log({ level: "warn", message: "token file is world-readable", fields: { mode: "644" } });
 * assert.match(lines[0], /^\S+Z WARN token file is world-readable mode=644$/);
 * ```
 */
export function createTextLogger(
  options: { writeLine?: (line: string) => void } = {},
): Logger {
  const encoder = new TextEncoder();
  const writeLine = options.writeLine ??
    ((line: string) => writeStderr(encoder.encode(`${line}\n`)));
  return (record) => writeLine(formatRecord(record));
}
