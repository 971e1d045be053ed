/**
 * The report of an import (issue #16 part 3), the same for a dry run and an apply: per row where it is in the file,
 * what happens to it, and the totals.
 */

/** A problem (or warning) of one row: a CSV column on a line, or a JSON pointer into the body. */
export interface ImportIssue {
  /** CSV: the 1-based line; JSON: null. */
  line: number | null;
  /** CSV: the column name; JSON: the JSON pointer of the field in the body (`/events/3/startsAt`). */
  field: string;
  message: string;
}

export type ImportOutcome = 'create' | 'skip_existing' | 'error';

export interface ImportReportRow {
  row: number;
  lines: number[];
  pointer: string | null;
  externalId: string | null;
  outcome: ImportOutcome;
  /** The created entity (apply) or the one created by an earlier import (skip_existing); null otherwise. */
  entityId: string | null;
  errors: ImportIssue[];
  warnings: ImportIssue[];
}

export interface ImportReport {
  kind: 'events';
  format: 'csv' | 'json';
  dryRun: boolean;
  totals: { rows: number; create: number; skipExisting: number; error: number; ticketTypes: number; publish: number };
  /** Every row when the file has at most MAX_REPORT_ROWS; beyond, only rows with errors or warnings, up to that. */
  rows: ImportReportRow[];
  truncated: boolean;
}

/** The most rows a report lists. */
export const MAX_REPORT_ROWS = 1000;

/** The rows a report lists: all of them, or (a large file) those with errors or warnings first, within the bound. */
export function reportRows(rows: readonly ImportReportRow[]): { rows: ImportReportRow[]; truncated: boolean } {
  if (rows.length <= MAX_REPORT_ROWS) return { rows: [...rows], truncated: false };
  const notable = rows.filter((row) => row.errors.length > 0 || row.warnings.length > 0);
  return { rows: notable.slice(0, MAX_REPORT_ROWS), truncated: true };
}
