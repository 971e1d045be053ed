import { and, eq, sql } from 'drizzle-orm';
import {
  attendees,
  bookingItems,
  bookings,
  capacityPools,
  capacityPoolTicketTypes,
  events,
  payments,
  ticketTypes,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { generateOpaqueToken, hashToken } from '../auth/tokens.ts';
import { newTicketCode } from '../bookings/shared.ts';
import { takeSeats, type Seats } from '../bookings/inventory.ts';
import { abortLabel, actorOf, violatedConstraint } from '../events/shared.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertEachSql } from '../outbox/record.ts';
import { bookingData } from '../outbox/views.ts';
import { insertImportKeys, knownImportKeys } from './keys.ts';
import { reportRows, type ImportIssue, type ImportReportRow } from './report.ts';

/** The most bookings one apply creates (one batch, one transaction, within Neon's request limits). */
export const MAX_APPLY_BOOKINGS = 1000;
/** The most tickets one apply creates. */
export const MAX_APPLY_TICKETS = 5000;
const MAX_APPLY_ERRORS = 100;
const IMPORT_KIND = 'comp_booking';
const LEDGER_CONSTRAINT = 'import_keys_organization_id_kind_external_id_pk';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ImportedTicket {
  /** A ticket type of the event: its id, or its exact name. */
  ticketType: string;
  name?: string | undefined;
  email?: string | undefined;
}

/** One booking of an attendee import file, validated by the route layer (src/routes/imports/attendee-rows.ts). */
export interface AttendeeImportRow {
  row: number;
  /** CSV: the lines of the booking, one per ticket; JSON: empty. */
  lines: number[];
  pointer: string | null;
  externalId: string | null;
  /** Null when the row has errors. */
  booking: { buyer: { name: string; email: string }; tickets: ImportedTicket[] } | null;
  /** Where each ticket's `ticketType` is in the file (for the errors found against the event). */
  ticketFields: { line: number | null; field: string }[];
  errors: ImportIssue[];
  warnings: ImportIssue[];
}

export interface AttendeeImportReport {
  kind: 'attendees';
  format: 'csv' | 'json';
  dryRun: boolean;
  eventId: string;
  totals: { rows: number; create: number; skipExisting: number; error: number; tickets: number };
  rows: ImportReportRow[];
  truncated: boolean;
}

interface TicketTypeRow {
  id: string;
  name: string;
  currency: string;
  free: number;
}

interface Planned {
  report: ImportReportRow;
  source: AttendeeImportRow;
  /** The ticket type id of each ticket, by position. */
  ticketTypeIds: string[];
  currency: string;
}

function issuePointer(issue: ImportIssue): string {
  return issue.line === null ? `/body${issue.field}` : `/body/line/${String(issue.line)}/${issue.field}`;
}

function eventNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No event with this id.' });
}

function seatsTaken(): ApiError {
  return new ApiError('conflict', {
    detail:
      'Seats of this event were taken (or another import created an externalId of this file) while it was ' +
      'imported; nothing was written. Run the dry run again and re-apply.',
  });
}

/**
 * Imports complimentary bookings into one event (issue #16 part 3, the attendees half): each row is a booking of
 * one to 50 tickets for a buyer, free (`provider: free`, total 0, confirmed at once), every ticket in the buyer's name
 * unless the row names its attendee. One read round trip finds the event, its ticket types (by id or exact name),
 * their capacity pools, the seats left at each level and which `externalId`s an earlier import created
 * (`skip_existing`); then every row is reported, the seats counted in file order so a row that would oversell the
 * ticket type, a pool or the event is an error. A dry run stops there. An apply refuses the whole file on any row
 * error (422, naming up to 100), beyond MAX_APPLY_BOOKINGS bookings or MAX_APPLY_TICKETS tickets (413), and writes
 * everything else in one batch, one transaction: the ledger rows, bookings, items, tickets, payments (free,
 * succeeded, 0), one `import.attendees` audit row, the `booking.created` events (and `booking.confirmed`, which
 * emails each buyer their tickets, only with `notify`), and last the seats, taken as sold under the event row's lock
 * by the checkout's own statements, so capacity holds against concurrent checkouts (409, nothing written, when
 * they took the seats meanwhile). There are no plan quotas on bookings.
 */
export async function importAttendees({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventId: string; format: 'csv' | 'json'; dryRun: boolean; notify: boolean; rows: AttendeeImportRow[] };
}): Promise<AttendeeImportReport> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const eventId = input.eventId.toLowerCase();
  const externalIds = input.rows.flatMap((row) => (row.booking === null ? [] : [row.externalId ?? '']));

  const [eventRows, typeRows, poolRows, known] = await scoped(db, { organizationId }, [
    db
      .select({ id: events.id, status: events.status, free: sql<number | null>`(capacity - sold - held)::int` })
      .from(events)
      .where(and(eq(events.organizationId, organizationId), eq(events.id, eventId))),
    db
      .select({
        id: ticketTypes.id,
        name: ticketTypes.name,
        currency: ticketTypes.currency,
        free: sql<number>`(quantity - sold - held)::int`,
      })
      .from(ticketTypes)
      .where(and(eq(ticketTypes.organizationId, organizationId), eq(ticketTypes.eventId, eventId))),
    db
      .select({
        poolId: capacityPools.id,
        ticketTypeId: capacityPoolTicketTypes.ticketTypeId,
        free: sql<number>`(${capacityPools.capacity} - ${capacityPools.sold} - ${capacityPools.held})::int`,
      })
      .from(capacityPoolTicketTypes)
      .innerJoin(
        capacityPools,
        and(
          eq(capacityPools.organizationId, capacityPoolTicketTypes.organizationId),
          eq(capacityPools.id, capacityPoolTicketTypes.poolId),
        ),
      )
      .where(
        and(eq(capacityPoolTicketTypes.organizationId, organizationId), eq(capacityPoolTicketTypes.eventId, eventId)),
      ),
    knownImportKeys(db, organizationId, IMPORT_KIND, externalIds),
  ]);
  const event = eventRows[0];
  if (event === undefined) throw eventNotFound();
  if (event.status === 'cancelled' || event.status === 'completed') {
    throw new ApiError('conflict', { detail: `The event is ${event.status}: it takes no more bookings.` });
  }

  const byId = new Map<string, TicketTypeRow>(typeRows.map((row) => [row.id, row]));
  const byName = new Map<string, TicketTypeRow[]>();
  for (const row of typeRows) byName.set(row.name, [...(byName.get(row.name) ?? []), row]);
  const poolsOf = new Map<string, string[]>();
  const poolFree = new Map<string, number>();
  for (const row of poolRows) {
    poolsOf.set(row.ticketTypeId, [...(poolsOf.get(row.ticketTypeId) ?? []), row.poolId]);
    poolFree.set(row.poolId, row.free);
  }
  const typeFree = new Map(typeRows.map((row) => [row.id, row.free]));
  let eventFree = event.free;
  const existing = new Map(known.map((row) => [row.externalId, row.entityId]));

  const resolveType = (reference: string): TicketTypeRow | string => {
    const found = UUID.test(reference) ? byId.get(reference.toLowerCase()) : undefined;
    if (found !== undefined) return found;
    const named = byName.get(reference) ?? [];
    if (named.length === 1 && named[0] !== undefined) return named[0];
    if (named.length > 1) return 'Two or more ticket types of the event have this name; give its id.';
    return 'No ticket type of this event has this id or name.';
  };

  const planned: Planned[] = [];
  const rows = input.rows.map((row): ImportReportRow => {
    const base = { row: row.row, lines: row.lines, pointer: row.pointer, externalId: row.externalId };
    const fail = (errors: ImportIssue[]): ImportReportRow => ({
      ...base,
      outcome: 'error',
      entityId: null,
      errors,
      warnings: row.warnings,
    });
    if (row.booking === null) return fail(row.errors);
    const previous = existing.get(row.externalId ?? '');
    if (previous !== undefined) {
      return { ...base, outcome: 'skip_existing', entityId: previous, errors: [], warnings: row.warnings };
    }
    const errors: ImportIssue[] = [];
    const types: TicketTypeRow[] = [];
    row.booking.tickets.forEach((ticket, index) => {
      const resolved = resolveType(ticket.ticketType);
      const where = row.ticketFields[index] ?? { line: row.lines[0] ?? null, field: 'ticketType' };
      if (typeof resolved === 'string') errors.push({ ...where, message: resolved });
      else types.push(resolved);
    });
    if (errors.length > 0) return fail(errors);
    const currency = types[0]?.currency ?? '';
    const where = row.ticketFields[0] ?? { line: row.lines[0] ?? null, field: 'ticketType' };
    if (types.some((type) => type.currency !== currency)) {
      return fail([{ ...where, message: 'The tickets of one booking must share a currency.' }]);
    }
    // The seats, counted in file order against what is left at each level.
    const wanted = new Map<string, number>();
    for (const type of types) wanted.set(type.id, (wanted.get(type.id) ?? 0) + 1);
    const poolWanted = new Map<string, number>();
    for (const [typeId, quantity] of wanted) {
      for (const pool of poolsOf.get(typeId) ?? []) poolWanted.set(pool, (poolWanted.get(pool) ?? 0) + quantity);
    }
    for (const [typeId, quantity] of wanted) {
      const free = typeFree.get(typeId) ?? 0;
      if (quantity > free) {
        const type = byId.get(typeId);
        errors.push({ ...where, message: `Not enough tickets left of "${type?.name ?? typeId}": ${String(free)}.` });
      }
    }
    for (const [pool, quantity] of poolWanted) {
      if (quantity > (poolFree.get(pool) ?? 0)) {
        errors.push({ ...where, message: 'Not enough seats left in a capacity pool of these tickets.' });
      }
    }
    if (eventFree !== null && types.length > eventFree) {
      errors.push({ ...where, message: `Not enough seats left at the event: ${String(eventFree)}.` });
    }
    if (errors.length > 0) return fail(errors);
    for (const [typeId, quantity] of wanted) typeFree.set(typeId, (typeFree.get(typeId) ?? 0) - quantity);
    for (const [pool, quantity] of poolWanted) poolFree.set(pool, (poolFree.get(pool) ?? 0) - quantity);
    if (eventFree !== null) eventFree -= types.length;
    const report: ImportReportRow = { ...base, outcome: 'create', entityId: null, errors: [], warnings: row.warnings };
    planned.push({ report, source: row, ticketTypeIds: types.map((type) => type.id), currency });
    return report;
  });

  const tickets = planned.reduce((sum, entry) => sum + entry.ticketTypeIds.length, 0);
  const errorRows = rows.filter((row) => row.outcome === 'error');
  const report = (dryRun: boolean): AttendeeImportReport => ({
    kind: 'attendees',
    format: input.format,
    dryRun,
    eventId,
    totals: {
      rows: rows.length,
      create: planned.length,
      skipExisting: rows.filter((row) => row.outcome === 'skip_existing').length,
      error: errorRows.length,
      tickets,
    },
    ...reportRows(rows),
  });
  if (input.dryRun) return report(true);

  if (errorRows.length > 0) {
    throw new ApiError('unprocessable', {
      detail:
        `${String(errorRows.length)} of ${String(rows.length)} rows have errors; nothing was written. A dry run ` +
        'reports every row.',
      errors: errorRows
        .flatMap((row) => row.errors)
        .slice(0, MAX_APPLY_ERRORS)
        .map((issue) => ({ pointer: issuePointer(issue), message: issue.message })),
    });
  }
  if (planned.length > MAX_APPLY_BOOKINGS || tickets > MAX_APPLY_TICKETS) {
    throw new ApiError('payload_too_large', {
      detail:
        `One apply creates at most ${String(MAX_APPLY_BOOKINGS)} bookings and ${String(MAX_APPLY_TICKETS)} tickets; ` +
        `this file would create ${String(planned.length)} and ${String(tickets)}. Split it (rows already imported ` +
        'are skipped when a file is applied again).',
      extensions: { maxBookings: MAX_APPLY_BOOKINGS, maxTickets: MAX_APPLY_TICKETS },
    });
  }
  if (planned.length === 0) return report(false);

  const bookingRows = await Promise.all(
    planned.map(async (entry) => {
      const id = crypto.randomUUID();
      entry.report.entityId = id;
      const { buyer } = entry.source.booking as NonNullable<AttendeeImportRow['booking']>;
      return {
        id,
        organizationId,
        eventId,
        status: 'confirmed' as const,
        buyerName: buyer.name,
        buyerEmail: buyer.email,
        total: 0,
        currency: entry.currency,
        provider: 'free' as const,
        // The buyer's own link comes with the confirmation email (`notify`) or a resend; this token is never shown.
        tokenHash: await hashToken(generateOpaqueToken('bk')),
        confirmedAt: sql`now()`,
      };
    }),
  );
  const itemRows = planned.flatMap((entry) => {
    const counts = new Map<string, number>();
    for (const typeId of entry.ticketTypeIds) counts.set(typeId, (counts.get(typeId) ?? 0) + 1);
    return [...counts].map(([ticketTypeId, quantity]) => ({
      organizationId,
      bookingId: entry.report.entityId as string,
      ticketTypeId,
      quantity,
      unitPrice: 0,
    }));
  });
  const attendeeRows = planned.flatMap((entry) => {
    const { buyer, tickets: given } = entry.source.booking as NonNullable<AttendeeImportRow['booking']>;
    return given.map((ticket, position) => ({
      organizationId,
      bookingId: entry.report.entityId as string,
      ticketTypeId: entry.ticketTypeIds[position] as string,
      position,
      name: ticket.name ?? buyer.name,
      email: ticket.email ?? buyer.email,
      ticketCode: newTicketCode(),
    }));
  });
  const seats: Seats[] = [...new Set(attendeeRows.map((row) => row.ticketTypeId))].sort().map((ticketTypeId) => ({
    ticketTypeId,
    quantity: attendeeRows.filter((row) => row.ticketTypeId === ticketTypeId).length,
  }));
  const ids = sql`(select value::uuid as id from jsonb_array_elements_text(${JSON.stringify(
    bookingRows.map((row) => row.id),
  )}::jsonb)) r`;
  const types = input.notify ? (['booking.created', 'booking.confirmed'] as const) : (['booking.created'] as const);

  try {
    await scoped(db, { organizationId }, [
      insertImportKeys(db, organizationId, IMPORT_KIND, planned),
      db.insert(bookings).values(bookingRows),
      db.insert(bookingItems).values(itemRows),
      db.insert(attendees).values(attendeeRows),
      db.insert(payments).values(
        bookingRows.map((row) => ({
          organizationId,
          bookingId: row.id,
          provider: 'free' as const,
          status: 'succeeded' as const,
          amount: 0,
          currency: row.currency,
        })),
      ),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: actorOf(ctx),
        action: 'import.attendees',
        target: { type: 'event', id: eventId },
        metadata: {
          format: input.format,
          rows: rows.length,
          created: planned.length,
          skippedExisting: rows.length - planned.length,
          tickets,
          notify: input.notify,
        },
      }),
      ...types.map((type) =>
        db.execute(outboxInsertEachSql({ organizationId, type, data: bookingData(organizationId, sql`r.id`) }, ids)),
      ),
      // The seats, last, as sold: the checkout's statements, under the event row's lock until the commit.
      ...takeSeats(db, organizationId, sql`${eventId}::uuid`, seats, sql`true`),
    ]);
  } catch (error) {
    if (abortLabel(error) !== null || violatedConstraint(error) === LEDGER_CONSTRAINT) throw seatsTaken();
    throw error;
  }
  notifyOutbox(ctx, organizationId);
  return report(false);
}
