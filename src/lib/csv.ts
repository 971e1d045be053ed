/**
 * CSV as the exports write it (RFC 4180: comma-separated, CRLF line ends, cells quoted when they hold a comma, a quote
 * or a line break, quotes doubled), with spreadsheet formula injection neutralized (OWASP "CSV injection"). Writing
 * is these few lines, so no library: the API never parses CSV here.
 */

/**
 * The longest a cell of `length` characters becomes in the CSV: quoted (2), every quote doubled (at most `length`
 * more), and a leading apostrophe when it starts like a formula, whose first character is then not a quote, so at
 * most `length - 1` doubled quotes: 2 × length + 2 either way.
 */
export function maxCsvCell(length: number): number {
  return 2 * length + 2;
}

// A cell a spreadsheet would run as a formula: =, +, -, @ first (also after leading blanks), or a tab or carriage
// return first (OWASP CSV injection).
const FORMULA = /^(?:[=+\-@\t\r]|\s+[=+\-@])/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled. A cell that a
 * spreadsheet would evaluate gets a leading apostrophe and quotes, so it shows as text.
 */
export function csvCell(value: string | null): string {
  if (value === null) return '';
  if (FORMULA.test(value)) return `"'${value.replaceAll('"', '""')}"`;
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One CSV line (CRLF included) of the cells. */
export function csvRow(cells: readonly (string | null)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
