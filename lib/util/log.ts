/**
 * Structured log records and a plain-text formatter for stderr. Records
 * carry fields, not preformatted strings, so that the audit trail and tests
 * can read them; no record ever carries the token.
 *
 * @module
 */

import { writeStderr } from "./stderr.ts";

/**
 * How much a record matters.
 *
 * @example
 * ```ts
 * import type { LogLevel } from "./log.ts";
 *
 * const level: LogLevel = "warn";
 * console.assert(level === "warn");
 * ```
 */
export type LogLevel = "info" | "warn" | "error";

/**
 * Values a log field may hold.
 *
 * @example
 * ```ts
 * import type { LogValue } from "./log.ts";
 *
 * const argv: LogValue = ["make", "-j4"];
 * console.assert(Array.isArray(argv));
 * ```
 */
export type LogValue = string | number | boolean | null | readonly string[];

/**
 * One log event.
 *
 * @example
 * ```ts
 * import type { LogRecord } from "./log.ts";
 *
 * const record: LogRecord = {
 *   level: "info",
 *   message: "exit",
 *   fields: { session: 3, code: 0, duration_ms: 12 },
 * };
 * console.assert(record.fields?.code === 0);
 * ```
 */
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
 * @example Collecting the records a server writes
 * ```ts
 * import type { Logger, LogRecord } from "./log.ts";
 *
 * const records: LogRecord[] = [];
 * const logger: Logger = (record) => records.push(record);
 * logger({ level: "info", message: "listening" });
 * console.assert(records.length === 1);
 * ```
 */
export type Logger = (record: LogRecord) => void;

/**
 * A logger that drops everything; the default for the library.
 *
 * @example
 * ```ts
 * import { silentLogger } from "./log.ts";
 *
 * silentLogger({ level: "info", message: "ignored" });
 * ```
 */
export const silentLogger: Logger = (): void => {};

/**
 * Formats a record as one line: ISO time, level, message, then `key=value`
 * pairs. Strings with spaces, quotes or control characters are JSON-quoted
 * so that one record is always exactly one line.
 *
 * @example
 * ```ts
 * import { formatRecord } from "./log.ts";
 *
 * const line = formatRecord(
 *   { level: "info", message: "exec", fields: { session: 1, argv: ["echo", "hi there"] } },
 *   new Date(0),
 * );
 * console.assert(line === '1970-01-01T00:00:00.000Z INFO exec session=1 argv=["echo","hi there"]');
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
 * import { createTextLogger } from "./log.ts";
 *
 * const lines: string[] = [];
 * const log = createTextLogger({ writeLine: (line) => lines.push(line) });
 * log({ level: "warn", message: "token file is world-readable" });
 * console.assert(lines[0].includes("WARN token file is world-readable"));
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
