import { CsvError, parse } from 'csv-parse/sync';
import { ApiError } from '../../errors/api-error.ts';
import { importProblem, tooManyRows, type SourceRow } from './rows.ts';

// The CSV reader of the imports, run in the formats Worker (src/workers/formats.ts): csv-parse stays out of the API
// Worker's bundle.

/** The longest CSV record (all cells of one line), in characters. */
const MAX_CSV_RECORD = 64 * 1024;

export interface CsvRowsInput {
  text: string;
  /** The columns the file may name (each once). */
  columns: readonly string[];
  /** The columns it must name. */
  required: readonly string[];
  /** The most data rows read; one more is a 413. */
  maxRows: number;
}

/**
 * The data rows of a CSV file (csv-parse, RFC 4180: a header row naming the columns, commas, double quotes, CRLF or
 * LF line ends). Every column must be one of `columns`, named once, and every `required` column present; a line
 * with a different number of cells, an unclosed quote or a record over 64 KiB answers 400 naming its line. Empty
 * lines are skipped; an empty cell means "not given".
 */
export function csvRows({ text, columns, required, maxRows }: CsvRowsInput): SourceRow[] {
  const known = new Set(columns);
  let parsed: unknown;
  try {
    // With `info`, each record comes as { record, info } (csv-parse's types do not follow the option).
    parsed = parse(text, {
      columns: (header: string[]) => {
        const seen = new Set<string>();
        for (const name of header) {
          if (!known.has(name)) throw importProblem(`Unknown column "${name}" (line 1).`);
          if (seen.has(name)) throw importProblem(`Column "${name}" is named twice (line 1).`);
          seen.add(name);
        }
        const missing = required.find((name) => !seen.has(name));
        if (missing !== undefined) throw importProblem(`The required column "${missing}" is missing (line 1).`);
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
      throw importProblem(
        `Malformed CSV${line}: ${error.code.replace(/^CSV_/, '').toLowerCase().replaceAll('_', ' ')}.`,
      );
    }
    throw error;
  }
  const records = parsed as { record: Record<string, string>; info: { lines: number } }[];
  if (records.length > maxRows) throw tooManyRows(maxRows);
  if (records.length === 0) throw importProblem('The file has no data rows.');
  return records.map(({ record, info }) => ({
    // `info.lines` is the line the record ends on; a record spans several only with line breaks in quoted cells.
    line: info.lines,
    pointer: null,
    value: Object.fromEntries(Object.entries(record).filter(([, cell]) => cell !== '')),
  }));
}
