import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import { decodeUtf8 } from '../../lib/text.ts';
import { csvRowsOf } from '../../services/formats/client.ts';
import { importProblem, tooManyRows, type SourceRow } from '../../services/imports/rows.ts';

/** The most data rows (CSV lines after the header, or JSON array items) a dry run reads. */
// Measured in the tests (2 shared cores): 100,000 CSV rows took 90 s of Worker time (csv-parse, the zod schemas per
// row), 10,000 took 8 s; a request must stay well within the Workers CPU limit, so 10,000.
export const MAX_DRY_RUN_ROWS = 10_000;

export type ImportFormat = 'csv' | 'json';

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
    throw importProblem(`Not valid UTF-8: byte offset ${String(byteOffset)} (line ${String(line)}).`);
  }
  return decoded.text;
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
    throw importProblem(`Must be an object with one member "${key}".`);
  }
  const keys = Object.keys(body);
  const unknown = keys.find((name) => name !== key);
  if (unknown !== undefined)
    throw importProblem('Unknown member.', `/body/${unknown.replaceAll('~', '~0').replaceAll('/', '~1')}`);
  const rows = (body as Record<string, unknown>)[key];
  if (!Array.isArray(rows)) throw importProblem('Must be an array.', `/body/${key}`);
  if (rows.length > maxRows) throw tooManyRows(maxRows);
  if (rows.length === 0) throw importProblem('The import has no rows.', `/body/${key}`);
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
      ? await csvRowsOf(c.var, { text, columns: shape.columns, required: shape.required, maxRows: MAX_DRY_RUN_ROWS })
      : jsonRows(text, shape.key, MAX_DRY_RUN_ROWS);
  return { format, rows };
}
