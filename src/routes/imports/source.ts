import { CsvError, parse } from 'csv-parse/sync';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import { decodeUtf8 } from '../../lib/text.ts';

/** The most data rows (CSV lines after the header, or JSON array items) a dry run reads. */
// Measured in the tests (2 shared cores): 100,000 CSV rows took 90 s of Worker time (csv-parse, the zod schemas per
// row), 10,000 took 8 s; a request must stay well within the Workers CPU limit, so 10,000.
export const MAX_DRY_RUN_ROWS = 10_000;
/** The longest CSV record (all cells of one line), in characters. */
const MAX_CSV_RECORD = 64 * 1024;

export type ImportFormat = 'csv' | 'json';

/** One data row of the file as read: its cells (CSV, by column name) or its JSON value, and where it is. */
export interface SourceRow {
  /** 1-based line of the row in a CSV file; null for JSON. */
  line: number | null;
  /** The row's JSON pointer in a JSON body (`/events/3`); null for CSV. */
  pointer: string | null;
  value: unknown;
}

function problem(message: string, pointer = '/body'): ApiError {
  return new ApiError('validation_failed', {
    detail: 'The import file cannot be read.',
    errors: [{ pointer, message }],
  });
}

function tooManyRows(limit: number): ApiError {
  return new ApiError('payload_too_large', {
    detail: `An import file holds at most ${String(limit)} rows; split it.`,
    extensions: { limit },
  });
}

/**
 * The media type of the request body: `text/csv` or `application/json` (parameters ignored; a `charset` other than
 * UTF-8 answers 415, since imports are read as UTF-8 only).
 */
export function importFormat(c: Context<AppEnv>): ImportFormat {
  const header = c.req.header('content-type') ?? '';
  const [mediaType = '', ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  const charset = parameters.find((parameter) => parameter.startsWith('charset='))?.slice('charset='.length);
  if (charset !== undefined && charset.replaceAll('"', '') !== 'utf-8') {
    throw new ApiError('unsupported_media_type', { detail: 'Imports are UTF-8 only.' });
  }
  if (mediaType === 'text/csv') return 'csv';
  if (mediaType === 'application/json') return 'json';
  throw new ApiError('unsupported_media_type', { detail: 'Send the import as text/csv or application/json.' });
}

/**
 * The body as UTF-8 text (a byte order mark dropped). JSON bodies were already checked and decoded by
 * `wellFormedInput`; for CSV, bytes that are not UTF-8 answer 400 naming the byte offset and line.
 */
export async function importText(c: Context<AppEnv>): Promise<string> {
  const decoded = decodeUtf8(new Uint8Array(await c.req.arrayBuffer()));
  if ('fault' in decoded) {
    const { byteOffset, line } = decoded.fault;
    throw problem(`Not valid UTF-8: byte offset ${String(byteOffset)} (line ${String(line)}).`);
  }
  return decoded.text;
}

/**
 * The data rows of a CSV file (csv-parse, RFC 4180: a header row naming the columns, commas, double quotes, CRLF or
 * LF line ends). Every column must be one of `columns`, named once, and every `required` column present; a line
 * with a different number of cells, an unclosed quote or a record over 64 KiB answers 400 naming its line. Empty
 * lines are skipped; an empty cell means "not given".
 */
export function csvRows(
  text: string,
  columns: readonly string[],
  required: readonly string[],
  maxRows: number,
): SourceRow[] {
  const known = new Set(columns);
  let parsed: unknown;
  try {
    // With `info`, each record comes as { record, info } (csv-parse's types do not follow the option).
    parsed = parse(text, {
      columns: (header: string[]) => {
        const seen = new Set<string>();
        for (const name of header) {
          if (!known.has(name)) throw problem(`Unknown column "${name}" (line 1).`);
          if (seen.has(name)) throw problem(`Column "${name}" is named twice (line 1).`);
          seen.add(name);
        }
        const missing = required.find((name) => !seen.has(name));
        if (missing !== undefined) throw problem(`The required column "${missing}" is missing (line 1).`);
        return header;
      },
      info: true,
      skip_empty_lines: true,
      max_record_size: MAX_CSV_RECORD,
      to: maxRows + 1,
    });
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof CsvError) {
      const line = typeof error.lines === 'number' ? ` (line ${String(error.lines)})` : '';
      throw problem(`Malformed CSV${line}: ${error.code.replace(/^CSV_/, '').toLowerCase().replaceAll('_', ' ')}.`);
    }
    throw error;
  }
  const records = parsed as { record: Record<string, string>; info: { lines: number } }[];
  if (records.length > maxRows) throw tooManyRows(maxRows);
  if (records.length === 0) throw problem('The file has no data rows.');
  return records.map(({ record, info }) => ({
    // `info.lines` is the line the record ends on; a record spans several only with line breaks in quoted cells.
    line: info.lines,
    pointer: null,
    value: Object.fromEntries(Object.entries(record).filter(([, cell]) => cell !== '')),
  }));
}

/** The rows of a JSON body `{ "<key>": [ ... ] }`, each with its pointer (`/<key>/<index>`). */
export function jsonRows(text: string, key: string, maxRows: number): SourceRow[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', { detail: 'The request body is not valid JSON.' });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw problem(`Must be an object with one member "${key}".`);
  }
  const keys = Object.keys(body);
  const unknown = keys.find((name) => name !== key);
  if (unknown !== undefined)
    throw problem('Unknown member.', `/body/${unknown.replaceAll('~', '~0').replaceAll('/', '~1')}`);
  const rows = (body as Record<string, unknown>)[key];
  if (!Array.isArray(rows)) throw problem('Must be an array.', `/body/${key}`);
  if (rows.length > maxRows) throw tooManyRows(maxRows);
  if (rows.length === 0) throw problem('The import has no rows.', `/body/${key}`);
  return rows.map((value: unknown, index) => ({ line: null, pointer: `/${key}/${String(index)}`, value }));
}

/** The largest file an apply takes (a dry run takes up to the body limit). */
export const MAX_APPLY_BYTES = 2 * 1024 * 1024;

/**
 * The request's import file as rows, for both import routes: the format from Content-Type, the UTF-8 text, 413 for
 * an apply over MAX_APPLY_BYTES, then the CSV lines (with these columns) or the JSON array under `key`, at most
 * MAX_DRY_RUN_ROWS.
 */
export async function importSource(
  c: Context<AppEnv>,
  dryRun: boolean,
  shape: { columns: readonly string[]; required: readonly string[]; key: string },
): Promise<{ format: ImportFormat; rows: SourceRow[] }> {
  const format = importFormat(c);
  const text = await importText(c);
  if (!dryRun && new TextEncoder().encode(text).length > MAX_APPLY_BYTES) {
    throw new ApiError('payload_too_large', {
      detail: `An apply takes at most ${String(MAX_APPLY_BYTES)} bytes; split the file (a dry run takes more).`,
      extensions: { limit: MAX_APPLY_BYTES },
    });
  }
  const rows =
    format === 'csv'
      ? csvRows(text, shape.columns, shape.required, MAX_DRY_RUN_ROWS)
      : jsonRows(text, shape.key, MAX_DRY_RUN_ROWS);
  return { format, rows };
}
