/**
 * Structured JSON logs, one object per line, always carrying the request id. Workers Logs (observability) indexes
 * the fields. Values under keys that look like secrets are replaced before anything is written.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /**
   * A failure that repeats on every request while it lasts (Redis unreachable or past its deadline, say): written at
   * most once per `REPEAT_WINDOW_MS` per message and isolate. The next line written for that message carries
   * `suppressed`, how many were left out since the last one. Under an outage at load, one line per request per
   * dependency (with its stack) cost the isolate more CPU than the requests did (issue #13's rush profile).
   */
  repeating(level: 'warn' | 'error', message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** How often one repeating failure (Logger.repeating) is written per isolate. */
export const REPEAT_WINDOW_MS = 1_000;

/** Per isolate, per level and message of Logger.repeating: when the next line may be written, and the lines left out. */
const repeats = new Map<string, { until: number; suppressed: number }>();

const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|connection[-_]?string|database[-_]?url/i;
const MAX_DEPTH = 4;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return '[truncated]';
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Error) return describeError(value, depth);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(inner, depth + 1);
    }
    return out;
  }
  return value;
}

/** Drizzle puts query parameters into its error messages; parameters can be secrets, so they are cut off. */
function withoutParams(text: string): string {
  return text.replace(/\nparams:[^\n]*/g, '\nparams: [redacted]');
}

/** What an error's `code` looks like when it is written: an identifier (SQLSTATE, `ERR_JWT_EXPIRED`), nothing longer. */
const ERROR_CODE = /^[\w.:-]{1,64}$/;

/**
 * An error as log fields: its `code` too where it has a string one (SQLSTATE, jose's `ERR_JWT_EXPIRED`, a SAML
 * refusal): the bundles keep no function names (wrangler.toml `keep_names`), so a library error whose `name` is its
 * class's name is known by its code.
 */
function describeError(error: Error, depth: number): Record<string, unknown> {
  const code: unknown = (error as { code?: unknown }).code;
  return {
    name: error.name,
    ...(typeof code === 'string' && ERROR_CODE.test(code) ? { code } : {}),
    message: withoutParams(error.message),
    ...(error.stack === undefined ? {} : { stack: withoutParams(error.stack) }),
    ...(error.cause === undefined ? {} : { cause: redact(error.cause, depth + 1) }),
  };
}

const sinks: Record<LogLevel, (line: string) => void> = {
  debug: (line) => console.debug(line),
  info: (line) => console.log(line),
  warn: (line) => console.warn(line),
  error: (line) => console.error(line),
};

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** LOG_LEVEL as configured, or `info` when unset or unknown. */
export function logLevel(configured: unknown): LogLevel {
  return typeof configured === 'string' && Object.hasOwn(RANK, configured) ? (configured as LogLevel) : 'info';
}

export function createLogger(base: LogFields = {}, minimum: LogLevel = 'info'): Logger {
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (RANK[level] < RANK[minimum]) return;
    const entry = redact({ level, time: new Date().toISOString(), message, ...base, ...fields });
    sinks[level](JSON.stringify(entry));
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    repeating: (level, message, fields) => {
      if (RANK[level] < RANK[minimum]) return;
      const key = `${level} ${message}`;
      const now = Date.now();
      const last = repeats.get(key);
      if (last !== undefined && now < last.until) {
        last.suppressed += 1;
        return;
      }
      repeats.set(key, { until: now + REPEAT_WINDOW_MS, suppressed: 0 });
      write(level, message, last?.suppressed ? { ...fields, suppressed: last.suppressed } : fields);
    },
    child: (fields) => createLogger({ ...base, ...fields }, minimum),
  };
}
