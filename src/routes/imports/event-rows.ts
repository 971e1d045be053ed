import { z } from '@hono/zod-openapi';
import { ApiError } from '../../errors/api-error.ts';
import { jsonPointer } from '../../errors/handler.ts';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import type { CreateEventInput } from '../../services/events/write.ts';
import {
  assertConsistentTicketType,
  MAX_TICKET_TYPES_PER_EVENT,
  type CreateTicketTypeInput,
} from '../../services/events/ticket-types.ts';
import type { EventImportRow } from '../../services/imports/events.ts';
import type { ImportIssue } from '../../services/imports/report.ts';
import { EventCreateSchema } from '../events/schema.ts';
import { TicketTypeCreateSchema } from '../ticket-types/schema.ts';
import type { SourceRow } from '../../services/imports/rows.ts';

/** The longest `externalId`: the row's key in the import ledger. */
export const MAX_EXTERNAL_ID_LENGTH = 200;

export const ExternalId = z
  .string()
  .trim()
  .min(1)
  .max(MAX_EXTERNAL_ID_LENGTH)
  .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.');

/** The CSV columns of an event import: the event's, then one ticket type per line (`ticketType...`). */
export const EVENT_CSV_COLUMNS = [
  'externalId',
  'title',
  'timezone',
  'startsAt',
  'endsAt',
  'slug',
  'description',
  'visibility',
  'venueName',
  'venueAddress',
  'venueCity',
  'venueCountry',
  'onlineUrl',
  'categories',
  'coverImageUrl',
  'capacity',
  'publish',
  'ticketTypeName',
  'ticketTypeDescription',
  'ticketTypePrice',
  'ticketTypeCurrency',
  'ticketTypeQuantity',
  'ticketTypeSalesStartAt',
  'ticketTypeSalesEndAt',
  'ticketTypeMinPerOrder',
  'ticketTypeMaxPerOrder',
] as const;
export const EVENT_CSV_REQUIRED = ['externalId', 'title', 'timezone', 'startsAt', 'endsAt'] as const;

type EventColumn = (typeof EVENT_CSV_COLUMNS)[number];

const EVENT_COLUMNS: readonly EventColumn[] = EVENT_CSV_COLUMNS.filter((column) => !column.startsWith('ticketType'));
const INTEGER_COLUMNS = new Set<string>([
  'capacity',
  'ticketTypePrice',
  'ticketTypeQuantity',
  'ticketTypeMinPerOrder',
  'ticketTypeMaxPerOrder',
]);

/** What a JSON event row holds besides the fields of POST /api/v1/events. */
const ImportFieldsSchema = z
  .object({
    externalId: ExternalId,
    publish: z.boolean().optional(),
    ticketTypes: z.array(z.unknown()).max(MAX_TICKET_TYPES_PER_EVENT).optional(),
  })
  .loose();

// A cell a spreadsheet would run as a formula (the exports neutralize these: src/lib/csv.ts).
const FORMULA = /^(?:[=+\-@\t\r]|\s+[=+\-@])/;
const FREE_TEXT_FIELDS = new Set(['title', 'description', 'name', 'address', 'city']);

/** Free-text fields that start like a spreadsheet formula: stored as given, reported as a warning. */
export function formulaWarnings(value: unknown, where: (path: PropertyKey[]) => ImportIssue): ImportIssue[] {
  const found: ImportIssue[] = [];
  const visit = (node: unknown, path: PropertyKey[]) => {
    if (typeof node === 'string') {
      const key = path.at(-1);
      if (typeof key === 'string' && FREE_TEXT_FIELDS.has(key) && FORMULA.test(node)) found.push(where(path));
    } else if (Array.isArray(node)) node.forEach((item, index) => visit(item, [...path, index]));
    else if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) visit(item, [...path, key]);
    }
  };
  visit(value, []);
  return found;
}

export const FORMULA_WARNING =
  'Starts like a spreadsheet formula (=, +, -, @, tab or carriage return); stored as given, exports neutralize it.';

/** A CSV cell as the JSON field it stands for: integers and booleans converted when well-formed, else left as text. */
function cellValue(column: string, cell: string): unknown {
  if (INTEGER_COLUMNS.has(column) && /^-?\d{1,12}$/.test(cell)) return Number(cell);
  if (column === 'publish' && (cell === 'true' || cell === 'false')) return cell === 'true';
  if (column === 'categories') return cell.split(';').map((category) => category.trim());
  return cell;
}

/** The JSON event (without ticket types) a CSV line describes, and the column of each of its field paths. */
function csvEvent(cells: Record<string, string>): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  const venue: Record<string, unknown> = {};
  for (const column of EVENT_COLUMNS) {
    const cell = cells[column];
    if (cell === undefined) continue;
    if (column.startsWith('venue')) {
      venue[column.slice('venue'.length, 'venue'.length + 1).toLowerCase() + column.slice('venue'.length + 1)] = cell;
    } else event[column] = cellValue(column, cell);
  }
  if (Object.keys(venue).length > 0) event.venue = venue;
  return event;
}

function csvTicketType(cells: Record<string, string>): Record<string, unknown> | null {
  const ticketType: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(cells)) {
    if (!column.startsWith('ticketType')) continue;
    const field = column.slice('ticketType'.length);
    ticketType[field.charAt(0).toLowerCase() + field.slice(1)] = cellValue(column, cell);
  }
  return Object.keys(ticketType).length === 0 ? null : ticketType;
}

/** The CSV column of a field path of the event or a ticket type (`['venue', 'city']` -> `venueCity`). */
function csvColumn(path: readonly PropertyKey[], ticketType: boolean): string {
  const [first, second] = path.map(String);
  if (first === undefined) return ticketType ? 'ticketTypeName' : 'externalId';
  const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
  if (ticketType) return `ticketType${capital(first)}`;
  if (first === 'venue') return second === undefined ? 'venueName' : `venue${capital(second)}`;
  return first;
}

interface Located {
  row: number;
  lines: number[];
  pointer: string | null;
  externalId: string | null;
  eventValue: unknown;
  ticketTypes: { value: unknown; line: number | null; index: number }[];
  errors: ImportIssue[];
}

/** Groups CSV lines by `externalId`: the first line of an id gives the event, every line may add a ticket type. */
function groupCsv(rows: readonly SourceRow[]): Located[] {
  const byId = new Map<string, Located>();
  const located: Located[] = [];
  for (const source of rows) {
    const cells = source.value as Record<string, string>;
    const line = source.line ?? 0;
    const externalId = cells.externalId?.trim() ?? '';
    const existing = externalId === '' ? undefined : byId.get(externalId);
    const ticketType = csvTicketType(cells);
    if (existing === undefined) {
      const entry: Located = {
        row: located.length + 1,
        lines: [line],
        pointer: null,
        externalId: externalId === '' ? null : externalId,
        eventValue: { ...csvEvent(cells), externalId: cells.externalId },
        ticketTypes: ticketType === null ? [] : [{ value: ticketType, line, index: 0 }],
        errors: [],
      };
      located.push(entry);
      if (externalId !== '') byId.set(externalId, entry);
      continue;
    }
    existing.lines.push(line);
    // A further line of the event: its event cells, when given, must repeat the first line's.
    const first = csvEvent(cells);
    const original = existing.eventValue as Record<string, unknown>;
    for (const [field, value] of Object.entries(first)) {
      if (JSON.stringify(value) !== JSON.stringify(original[field])) {
        const message = `Differs from line ${String(existing.lines[0])}.`;
        existing.errors.push({ line, field: csvColumn([field], false), message });
      }
    }
    if (ticketType !== null) {
      existing.ticketTypes.push({ value: ticketType, line, index: existing.ticketTypes.length });
    }
  }
  return located;
}

function locateJson(rows: readonly SourceRow[]): Located[] {
  return rows.map((source, index) => {
    const value = source.value;
    const ticketTypes =
      value !== null && typeof value === 'object' && Array.isArray((value as { ticketTypes?: unknown }).ticketTypes)
        ? ((value as { ticketTypes: unknown[] }).ticketTypes.map((item, position) => ({
            value: item,
            line: null,
            index: position,
          })) as Located['ticketTypes'])
        : [];
    const externalId = (value as { externalId?: unknown } | null)?.externalId;
    return {
      row: index + 1,
      lines: [],
      pointer: source.pointer,
      externalId: typeof externalId === 'string' ? externalId.trim() : null,
      eventValue: value,
      ticketTypes,
      errors: [],
    };
  });
}

/**
 * The events of an import file, each validated with the schemas of POST /api/v1/events and POST
 * /api/v1/events/{id}/ticket-types and the same rules between fields. Every problem is a per-row issue (a CSV line
 * and column, or a JSON pointer into the body); nothing here throws for a bad row. An `externalId` given twice (JSON)
 * is an error of the second row; in CSV, lines of one id are one event.
 */
export function eventImportRows(format: 'csv' | 'json', rows: readonly SourceRow[]): EventImportRow[] {
  const located = format === 'csv' ? groupCsv(rows) : locateJson(rows);
  const seen = new Map<string, number>();
  return located.map((entry) => {
    const errors = [...entry.errors];
    const warnings: ImportIssue[] = [];
    const json = format === 'json';
    const firstLine = entry.lines[0] ?? null;
    const fieldOf = (path: readonly PropertyKey[], ticketType: number | null): string =>
      json
        ? `${entry.pointer ?? ''}${jsonPointer(ticketType === null ? path : ['ticketTypes', ticketType, ...path])}`
        : csvColumn(path, ticketType !== null);

    const meta = ImportFieldsSchema.safeParse(entry.eventValue);
    let eventInput: CreateEventInput | null = null;
    let publish = false;
    if (!meta.success) {
      for (const issue of meta.error.issues) {
        errors.push({ line: firstLine, field: fieldOf(issue.path, null), message: issue.message });
      }
    } else {
      publish = meta.data.publish ?? false;
      const { externalId: _id, publish: _publish, ticketTypes: _types, ...fields } = meta.data;
      const parsed = EventCreateSchema.safeParse(fields);
      if (parsed.success) eventInput = parsed.data;
      else {
        for (const issue of parsed.error.issues) {
          errors.push({ line: firstLine, field: fieldOf(issue.path, null), message: issue.message });
        }
      }
      warnings.push(
        ...formulaWarnings(fields, (path) => ({
          line: firstLine,
          field: fieldOf(path, null),
          message: FORMULA_WARNING,
        })),
      );
      const earlier = seen.get(meta.data.externalId);
      if (earlier !== undefined) {
        errors.push({
          line: firstLine,
          field: fieldOf(['externalId'], null),
          message: `The externalId of row ${String(earlier)} again.`,
        });
      } else seen.set(meta.data.externalId, entry.row);
    }

    const ticketTypes: Omit<CreateTicketTypeInput, 'eventId'>[] = [];
    if (entry.ticketTypes.length > MAX_TICKET_TYPES_PER_EVENT) {
      errors.push({
        line: firstLine,
        field: fieldOf(['ticketTypes'], null),
        message: `An event has at most ${String(MAX_TICKET_TYPES_PER_EVENT)} ticket types.`,
      });
    }
    for (const item of entry.ticketTypes.slice(0, MAX_TICKET_TYPES_PER_EVENT)) {
      const parsed = TicketTypeCreateSchema.safeParse(item.value);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          errors.push({ line: item.line, field: fieldOf(issue.path, item.index), message: issue.message });
        }
        continue;
      }
      try {
        assertConsistentTicketType(parsed.data);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        for (const fieldError of error.errors ?? []) {
          const path = fieldError.pointer.replace(/^\/body\//, '').split('/');
          errors.push({ line: item.line, field: fieldOf(path, item.index), message: fieldError.message });
        }
        continue;
      }
      warnings.push(
        ...formulaWarnings(parsed.data, (path) => ({
          line: item.line,
          field: fieldOf(path, item.index),
          message: FORMULA_WARNING,
        })),
      );
      ticketTypes.push(parsed.data);
    }
    if (publish && entry.ticketTypes.length === 0) {
      errors.push({
        line: firstLine,
        field: fieldOf(['publish'], null),
        message: 'An event is published only with at least one ticket type.',
      });
    }
    if (publish && eventInput !== null && eventInput.startsAt.getTime() <= Date.now()) {
      errors.push({
        line: firstLine,
        field: fieldOf(['publish'], null),
        message: 'An event that has already started cannot be published; move startsAt into the future.',
      });
    }
    return {
      row: entry.row,
      lines: entry.lines,
      pointer: entry.pointer,
      externalId: meta.success ? meta.data.externalId : entry.externalId,
      publish,
      event: errors.length === 0 ? eventInput : null,
      ticketTypes,
      errors,
      warnings,
    };
  });
}
