import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { attendees, bookings, events, ticketTypes } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';

/**
 * What the live streams show of an event, read from the database: the seats left per public ticket type and the
 * check-in counts. The same reads serve a stream's first message (the route, at connect time) and every later one
 * (the event's Durable Object after the outbox dispatch said seats or check-ins changed). Each snapshot carries the
 * database clock of its read (`at`, ms), so a stream never shows an older snapshot after a newer one.
 */

/** Seats left per ticket type a buyer sees without an access code (hidden ones never leave the organization). */
export interface AvailabilitySnapshot {
  eventId: string;
  at: number;
  ticketTypes: { id: string; remaining: number; onSale: boolean }[];
}

/** Tickets of confirmed bookings of the event, and how many of them have been checked in. */
export interface CheckInSnapshot {
  eventId: string;
  at: number;
  checkedIn: number;
  total: number;
}

export interface LiveSnapshots {
  availability?: AvailabilitySnapshot;
  checkIns?: CheckInSnapshot;
}

const readAt = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`.mapWith(Number);

/** A ticket type's seats left and whether it sells now (as the public event shows them). */
const availabilityColumns = {
  id: ticketTypes.id,
  at: readAt,
  remaining: sql<number>`greatest(0, ${ticketTypes.quantity} - ${ticketTypes.sold} - ${ticketTypes.held})`.mapWith(
    Number,
  ),
  inWindow:
    sql<boolean>`(${ticketTypes.salesStartAt} is null or ${ticketTypes.salesStartAt} <= now()) and (${ticketTypes.salesEndAt} is null or ${ticketTypes.salesEndAt} > now())`.mapWith(
      Boolean,
    ),
};

function availabilityQuery(db: Database, organizationId: string, eventId: string) {
  return db
    .select(availabilityColumns)
    .from(ticketTypes)
    .where(
      and(
        eq(ticketTypes.organizationId, organizationId),
        eq(ticketTypes.eventId, eventId),
        eq(ticketTypes.hidden, false),
      ),
    )
    .orderBy(asc(ticketTypes.sortOrder), asc(ticketTypes.id));
}

function checkInQuery(db: Database, organizationId: string, eventId: string) {
  return db
    .select({
      at: readAt,
      total: sql<number>`count(*)`.mapWith(Number),
      checkedIn: sql<number>`count(${attendees.checkedInAt})`.mapWith(Number),
    })
    .from(attendees)
    .innerJoin(
      bookings,
      and(eq(bookings.organizationId, attendees.organizationId), eq(bookings.id, attendees.bookingId)),
    )
    .where(
      and(
        eq(bookings.organizationId, organizationId),
        eq(bookings.eventId, eventId),
        eq(bookings.status, 'confirmed'),
        eq(attendees.organizationId, organizationId),
        eq(attendees.status, 'valid'),
      ),
    );
}

type AvailabilityRow = Awaited<ReturnType<typeof availabilityQuery>>[number];

function toAvailability(eventId: string, rows: AvailabilityRow[], at: number): AvailabilitySnapshot {
  return {
    eventId,
    at: rows[0]?.at ?? at,
    ticketTypes: rows.map((row) => ({
      id: row.id,
      remaining: row.remaining,
      onSale: row.inWindow && row.remaining > 0,
    })),
  };
}

function toCheckIns(
  eventId: string,
  row: { at: number; total: number; checkedIn: number } | undefined,
): CheckInSnapshot {
  return { eventId, at: row?.at ?? Date.now(), checkedIn: row?.checkedIn ?? 0, total: row?.total ?? 0 };
}

/**
 * The snapshots the Durable Object pushes after a change: one database round trip (one scoped batch) for both.
 * Nothing is read for a kind nobody watches.
 */
export async function readLiveSnapshots(
  db: Database,
  organizationId: string,
  eventId: string,
  wanted: { availability: boolean; checkIns: boolean },
): Promise<LiveSnapshots> {
  const scope = { organizationId };
  if (wanted.availability && wanted.checkIns) {
    const [types, counts] = await scoped(db, scope, [
      availabilityQuery(db, organizationId, eventId),
      checkInQuery(db, organizationId, eventId),
    ]);
    const checkIns = toCheckIns(eventId, counts[0]);
    return { availability: toAvailability(eventId, types, checkIns.at), checkIns };
  }
  if (wanted.availability) {
    const [types] = await scoped(db, scope, [availabilityQuery(db, organizationId, eventId)]);
    return { availability: toAvailability(eventId, types, Date.now()) };
  }
  if (wanted.checkIns) {
    const [counts] = await scoped(db, scope, [checkInQuery(db, organizationId, eventId)]);
    return { checkIns: toCheckIns(eventId, counts[0]) };
  }
  return {};
}

const noEvent = () => new ApiError('not_found', { detail: 'No event with this id.' });

/**
 * A public stream's start: the published, public or unlisted event with this slug and its seats left. One database
 * round trip. 404 for an unknown slug, a draft, a private, cancelled or completed event (nothing is on sale).
 */
export async function openPublicAvailability(
  db: Database,
  organizationId: string,
  slug: string,
): Promise<AvailabilitySnapshot> {
  const eventMatch = and(
    eq(events.organizationId, organizationId),
    eq(events.slug, slug),
    eq(events.status, 'published'),
    inArray(events.visibility, ['public', 'unlisted']),
  );
  const [eventRows, types] = await scoped(db, { organizationId }, [
    db.select({ id: events.id, at: readAt }).from(events).where(eventMatch).limit(1),
    db
      .select(availabilityColumns)
      .from(ticketTypes)
      .innerJoin(events, and(eq(events.organizationId, ticketTypes.organizationId), eq(events.id, ticketTypes.eventId)))
      .where(and(eq(ticketTypes.organizationId, organizationId), eventMatch, eq(ticketTypes.hidden, false)))
      .orderBy(asc(ticketTypes.sortOrder), asc(ticketTypes.id)),
  ]);
  const event = eventRows[0];
  if (event === undefined) throw new ApiError('not_found', { detail: 'No event with this slug.' });
  return toAvailability(event.id, types, event.at);
}

function eventQuery(db: Database, organizationId: string, eventId: string) {
  return db
    .select({ id: events.id })
    .from(events)
    .where(and(eq(events.organizationId, organizationId), eq(events.id, eventId)))
    .limit(1);
}

/** The bookings feed's start: 404 unless the organization has this event (any status). One database round trip. */
export async function requireEvent(db: Database, organizationId: string, eventId: string): Promise<void> {
  const [eventRows] = await scoped(db, { organizationId }, [eventQuery(db, organizationId, eventId)]);
  if (eventRows.length === 0) throw noEvent();
}

/**
 * The check-in stream's start: the organization's event (any status) and its counts, in one database round trip.
 * 404 for an unknown id or another organization's event.
 */
export async function openCheckIns(db: Database, organizationId: string, eventId: string): Promise<CheckInSnapshot> {
  const [eventRows, counts] = await scoped(db, { organizationId }, [
    eventQuery(db, organizationId, eventId),
    checkInQuery(db, organizationId, eventId),
  ]);
  if (eventRows.length === 0) throw noEvent();
  return toCheckIns(eventId, counts[0]);
}
