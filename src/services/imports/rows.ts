import { ApiError } from '../../errors/api-error.ts';

// The rows of an import file and its refusals, shared by the import routes (src/routes/imports/source.ts) and the
// CSV reader in the formats Worker (csv.ts).

/** One data row of the file as read: its cells (CSV, by column name) or its JSON value, and where it is. */
export interface SourceRow {
  /** 1-based line of the row in a CSV file; null for JSON. */
  line: number | null;
  /** The row's JSON pointer in a JSON body (`/events/3`); null for CSV. */
  pointer: string | null;
  value: unknown;
}

/** A 400 naming what in the import file cannot be read, at `pointer`. */
export function importProblem(message: string, pointer = '/body'): ApiError {
  return new ApiError('validation_failed', {
    detail: 'The import file cannot be read.',
    errors: [{ pointer, message }],
  });
}

/** A 413: the file holds more rows than `limit`. */
export function tooManyRows(limit: number): ApiError {
  return new ApiError('payload_too_large', {
    detail: `An import file holds at most ${String(limit)} rows; split it.`,
    extensions: { limit },
  });
}
