import { z } from '@hono/zod-openapi';
import { jsonPointer } from '../../errors/handler.ts';
import type { AttendeeImportRow } from '../../services/imports/attendees.ts';
import type { ImportIssue } from '../../services/imports/report.ts';
import { EmailSchema, NameSchema } from '../fields.ts';
import { ExternalId, FORMULA_WARNING, formulaWarnings } from './event-rows.ts';
import type { SourceRow } from '../../services/imports/rows.ts';

/** The most tickets one imported booking holds (a checkout's own bound is per ticket type; this is per booking). */
export const MAX_IMPORT_TICKETS = 50;

/** The CSV columns of an attendee import: one line per ticket; lines with the same externalId are one booking. */
export const ATTENDEE_CSV_COLUMNS = [
  'externalId',
  'buyerName',
  'buyerEmail',
  'ticketType',
  'attendeeName',
  'attendeeEmail',
] as const;
export const ATTENDEE_CSV_REQUIRED = ['externalId', 'buyerName', 'buyerEmail', 'ticketType'] as const;

/** A ticket type of the event, by its id or its exact name. */
const TicketTypeRef = z.string().trim().min(1).max(200);

const TicketSchema = z
  .object({ ticketType: TicketTypeRef, name: NameSchema.optional(), email: EmailSchema.optional() })
  .strict();

/** One booking of a JSON attendee import (and what a CSV booking's lines are read into). */
export const AttendeeImportRowSchema = z
  .object({
    externalId: ExternalId,
    buyer: z.object({ name: NameSchema, email: EmailSchema }).strict(),
    tickets: z.array(TicketSchema).min(1).max(MAX_IMPORT_TICKETS),
  })
  .strict();

interface Located {
  row: number;
  lines: number[];
  pointer: string | null;
  value: unknown;
  /** CSV: the line of each ticket, by position. */
  ticketLines: number[];
  errors: ImportIssue[];
}

const CSV_TICKET_FIELDS = { ticketType: 'ticketType', name: 'attendeeName', email: 'attendeeEmail' } as const;

/** Groups CSV lines by externalId: the first line gives the buyer, every line is one ticket. */
function groupCsv(rows: readonly SourceRow[]): Located[] {
  const byId = new Map<string, Located>();
  const located: Located[] = [];
  for (const source of rows) {
    const cells = source.value as Record<string, string>;
    const line = source.line ?? 0;
    const externalId = cells.externalId?.trim() ?? '';
    const ticket: Record<string, string> = {};
    for (const [field, column] of Object.entries(CSV_TICKET_FIELDS)) {
      const cell = cells[column];
      if (cell !== undefined) ticket[field] = cell;
    }
    const existing = externalId === '' ? undefined : byId.get(externalId);
    if (existing === undefined) {
      const buyer: Record<string, string> = {};
      if (cells.buyerName !== undefined) buyer.name = cells.buyerName;
      if (cells.buyerEmail !== undefined) buyer.email = cells.buyerEmail;
      const entry: Located = {
        row: located.length + 1,
        lines: [line],
        pointer: null,
        value: { externalId: cells.externalId, buyer, tickets: [ticket] },
        ticketLines: [line],
        errors: [],
      };
      located.push(entry);
      if (externalId !== '') byId.set(externalId, entry);
      continue;
    }
    existing.lines.push(line);
    existing.ticketLines.push(line);
    // A further ticket of the booking: its buyer cells, when given, must repeat the first line's.
    const buyer = (existing.value as { buyer: Record<string, string> }).buyer;
    for (const [field, column] of [
      ['name', 'buyerName'],
      ['email', 'buyerEmail'],
    ] as const) {
      const cell = cells[column];
      if (cell !== undefined && cell !== buyer[field]) {
        existing.errors.push({ line, field: column, message: `Differs from line ${String(existing.lines[0])}.` });
      }
    }
    (existing.value as { tickets: unknown[] }).tickets.push(ticket);
  }
  return located;
}

/** The CSV column of a field path of a booking (`['tickets', 2, 'email']` -> `attendeeEmail`). */
function csvColumn(path: readonly PropertyKey[]): string {
  const [first, second, third] = path.map(String);
  if (first === 'buyer') return second === 'email' ? 'buyerEmail' : 'buyerName';
  if (first === 'tickets' && third !== undefined && third in CSV_TICKET_FIELDS) {
    return CSV_TICKET_FIELDS[third as keyof typeof CSV_TICKET_FIELDS];
  }
  if (first === 'tickets') return 'ticketType';
  return 'externalId';
}

/**
 * The bookings of an attendee import file, each validated on its own (a bad row is a per-row issue: a CSV line and
 * column, or a JSON pointer into the body). An `externalId` given twice (JSON) is an error of the second row; in CSV,
 * lines of one id are one booking, a ticket each.
 */
export function attendeeImportRows(format: 'csv' | 'json', rows: readonly SourceRow[]): AttendeeImportRow[] {
  const located: Located[] =
    format === 'csv'
      ? groupCsv(rows)
      : rows.map((source, index) => ({
          row: index + 1,
          lines: [],
          pointer: source.pointer,
          value: source.value,
          ticketLines: [],
          errors: [],
        }));
  const seen = new Map<string, number>();
  return located.map((entry) => {
    const errors = [...entry.errors];
    const firstLine = entry.lines[0] ?? null;
    const lineOf = (path: readonly PropertyKey[]): number | null =>
      path[0] === 'tickets' && typeof path[1] === 'number' ? (entry.ticketLines[path[1]] ?? firstLine) : firstLine;
    const issueAt = (path: readonly PropertyKey[], message: string): ImportIssue =>
      format === 'json'
        ? { line: null, field: `${entry.pointer ?? ''}${jsonPointer(path)}`, message }
        : { line: lineOf(path), field: csvColumn(path), message };
    const parsed = AttendeeImportRowSchema.safeParse(entry.value);
    const rawId = (entry.value as { externalId?: unknown } | null)?.externalId;
    if (!parsed.success) {
      for (const issue of parsed.error.issues) errors.push(issueAt(issue.path, issue.message));
      return {
        row: entry.row,
        lines: entry.lines,
        pointer: entry.pointer,
        externalId: typeof rawId === 'string' ? rawId.trim() : null,
        booking: null,
        ticketFields: [],
        errors,
        warnings: [],
      };
    }
    const earlier = seen.get(parsed.data.externalId);
    if (earlier !== undefined) {
      errors.push(issueAt(['externalId'], `The externalId of row ${String(earlier)} again.`));
    } else seen.set(parsed.data.externalId, entry.row);
    const warnings = formulaWarnings(parsed.data, (path) => issueAt(path, FORMULA_WARNING));
    return {
      row: entry.row,
      lines: entry.lines,
      pointer: entry.pointer,
      externalId: parsed.data.externalId,
      booking: errors.length === 0 ? { buyer: parsed.data.buyer, tickets: parsed.data.tickets } : null,
      ticketFields: parsed.data.tickets.map((_, index) => {
        const { line, field } = issueAt(['tickets', index, 'ticketType'], '');
        return { line, field };
      }),
      errors,
      warnings,
    };
  });
}
