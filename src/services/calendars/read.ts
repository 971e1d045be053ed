import { and, asc, count, eq, gte, inArray, isNotNull, or, sql } from 'drizzle-orm';
import { attendees, bookings, events, ticketTypes, type Venue } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { hashToken } from '../auth/tokens.ts';
import { bookingNotFound } from '../bookings/shared.ts';
import { calendarText, clip, sequenceOf, venueGeo, venueLocation, type CalendarEntry } from './entries.ts';

/** The most events the organization's feed lists: the next ones by start, those not ended yet. */
export const FEED_MAX_EVENTS = 500;
/** An event's description in the feed is cut to this many characters (the single event's file has it whole). */
export const FEED_DESCRIPTION_MAX = 1_000;
/** How often a subscribed feed asks again (REFRESH-INTERVAL, X-PUBLISHED-TTL). */
export const FEED_REFRESH_SECONDS = 3_600;

// As the public event detail (src/services/catalogue/get.ts): published events, and cancelled and completed ones
// by their link, public or unlisted.
const SHOWN_STATUSES = ['published', 'cancelled', 'completed'] as const;
const SHOWN_VISIBILITIES = ['public', 'unlisted'] as const;

const eventColumns = {
  id: events.id,
  title: events.title,
  description: events.description,
  status: events.status,
  timezone: events.timezone,
  startsAt: events.startsAt,
  endsAt: events.endsAt,
  venue: events.venue,
  categories: events.categories,
  createdAt: events.createdAt,
  updatedAt: events.updatedAt,
};

interface EventRow {
  id: string;
  title: string;
  description: string;
  status: (typeof events.status.enumValues)[number];
  timezone: string;
  startsAt: Date;
  endsAt: Date;
  venue: Venue | null;
  categories: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** The UID of an event's entry: its id, made globally unique with the platform's domain (the same on every host). */
function eventUid(ctx: ServiceContext, eventId: string): string {
  return `${eventId}@${ctx.bindings.ROOT_DOMAIN}`;
}

function publicEntry(ctx: ServiceContext, row: EventRow, descriptionMax: number): CalendarEntry {
  return {
    uid: eventUid(ctx, row.id),
    sequence: sequenceOf(row.createdAt, row.updatedAt),
    modifiedAt: row.updatedAt.toISOString(),
    startsAt: row.startsAt.toISOString(),
    endsAt: row.endsAt.toISOString(),
    summary: row.title,
    description: clip(row.description, descriptionMax),
    location: venueLocation(row.venue),
    geo: venueGeo(row.venue),
    // The event's join link is for ticket holders only (the booking's file); a public page URL is the
    // organization's own app, which Eventra does not know.
    url: null,
    status: row.status === 'cancelled' ? 'cancelled' : 'confirmed',
    categories: row.categories,
  };
}

/** A public event's file: the entry and the zone to present it in. */
export interface EventCalendar {
  timezone: string;
  entry: CalendarEntry;
}

/**
 * The calendar entry of a public event by slug: the same events as the public detail (published, cancelled or
 * completed; public or unlisted), others 404. One database round trip.
 */
export async function getEventCalendar({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { slug: string };
}): Promise<EventCalendar> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select(eventColumns)
      .from(events)
      .where(
        and(
          eq(events.organizationId, tenant.id),
          eq(events.slug, input.slug),
          inArray(events.status, [...SHOWN_STATUSES]),
          inArray(events.visibility, [...SHOWN_VISIBILITIES]),
        ),
      )
      .limit(1),
  ]);
  const row = rows[0];
  if (row === undefined) throw new ApiError('not_found', { detail: 'No event with this slug.' });
  return { timezone: row.timezone, entry: publicEntry(ctx, row, Number.POSITIVE_INFINITY) };
}

/**
 * The organization's public feed: its public events that have not ended yet, soonest first, at most
 * FEED_MAX_EVENTS: published ones, and cancelled ones that had been published (subscribers who saw them learn of
 * the cancellation). Descriptions cut to FEED_DESCRIPTION_MAX characters. One database round trip.
 */
export async function getOrganizationCalendar({ ctx }: { ctx: ServiceContext }): Promise<CalendarEntry[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select(eventColumns)
      .from(events)
      .where(
        and(
          eq(events.organizationId, tenant.id),
          eq(events.visibility, 'public'),
          or(eq(events.status, 'published'), and(eq(events.status, 'cancelled'), isNotNull(events.publishedAt))),
          gte(events.endsAt, sql`now()`),
        ),
      )
      .orderBy(asc(events.startsAt), asc(events.id))
      .limit(FEED_MAX_EVENTS),
  ]);
  return rows.map((row) => publicEntry(ctx, row, FEED_DESCRIPTION_MAX));
}

/** The first instant after `now` at which the feed changes by itself: an event in it ending (it leaves the feed). */
export function organizationCalendarChangesAt(entries: readonly CalendarEntry[], now: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (const { endsAt } of entries) {
    const at = Date.parse(endsAt);
    if (at >= now && at < next) next = at;
  }
  return next;
}

const BOOKING_STATUS_TEXT: Record<(typeof bookings.status.enumValues)[number], string> = {
  pending: 'awaiting payment',
  confirmed: 'confirmed',
  cancelled: 'cancelled',
  refunded: 'refunded',
  expired: 'expired (not paid in time)',
};

/**
 * The buyer's calendar entry of a booking, reached with its secret token (compared as a SHA-256 in SQL, in every
 * query of the batch: a wrong token and an unknown id are the same 404). The entry has its own UID
 * (`booking-{id}@{ROOT_DOMAIN}`: the buyer's attendance, not the event itself), the valid tickets per ticket type
 * and the booking's reference in its description, never ticket codes or the token, and the event's join link while
 * the booking is confirmed (as the booking view). TENTATIVE while payment is pending; CANCELLED when the booking is
 * cancelled, refunded or expired, or the event cancelled. One database round trip.
 */
export async function getBookingCalendar({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; token: string };
}): Promise<EventCalendar> {
  const tenant = requireTenant(ctx);
  const organizationId = tenant.id;
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const tokenHash = await hashToken(input.token);
  const holder = sql`exists (select 1 from ${bookings} t where t.organization_id = ${organizationId}
    and t.id = ${id} and t.token_hash = ${tokenHash})`;

  const [bookingRows, ticketRows] = await scoped(db, { organizationId }, [
    db
      .select({
        id: bookings.id,
        status: bookings.status,
        createdAt: bookings.createdAt,
        updatedAt: bookings.updatedAt,
        event: { ...eventColumns, onlineUrl: events.onlineUrl },
      })
      .from(bookings)
      .innerJoin(events, and(eq(events.organizationId, bookings.organizationId), eq(events.id, bookings.eventId)))
      .where(and(eq(bookings.organizationId, organizationId), eq(bookings.id, id), eq(bookings.tokenHash, tokenHash)))
      .limit(1),
    db
      .select({ name: ticketTypes.name, sortOrder: ticketTypes.sortOrder, tickets: count() })
      .from(attendees)
      .innerJoin(
        ticketTypes,
        and(eq(ticketTypes.organizationId, attendees.organizationId), eq(ticketTypes.id, attendees.ticketTypeId)),
      )
      .where(
        and(
          eq(attendees.organizationId, organizationId),
          eq(attendees.bookingId, id),
          eq(attendees.status, 'valid'),
          holder,
        ),
      )
      .groupBy(ticketTypes.id, ticketTypes.name, ticketTypes.sortOrder)
      .orderBy(asc(ticketTypes.sortOrder), asc(ticketTypes.name)),
  ]);
  const booking = bookingRows[0];
  if (booking === undefined) throw bookingNotFound();
  const { event } = booking;
  const confirmed = booking.status === 'confirmed';
  const onlineUrl = confirmed ? event.onlineUrl : null;
  const ticketCount = ticketRows.reduce((sum, row) => sum + row.tickets, 0);
  const lines = [
    `Booking ${booking.id}: ${BOOKING_STATUS_TEXT[booking.status]}${event.status === 'cancelled' ? ' (the event is cancelled)' : ''}.`,
    ticketCount === 0
      ? 'No valid tickets.'
      : `${String(ticketCount)} ${ticketCount === 1 ? 'ticket' : 'tickets'}: ${ticketRows
          .map((row) => `${String(row.tickets)} × ${calendarText(row.name).replace(/\n/g, ' ')}`)
          .join(', ')}.`,
    ...(onlineUrl === null ? [] : [`Join online: ${onlineUrl}`]),
    ...(event.description.length > 0 ? ['', clip(event.description, FEED_DESCRIPTION_MAX)] : []),
  ];
  const modifiedAt = booking.updatedAt > event.updatedAt ? booking.updatedAt : event.updatedAt;
  const cancelled = event.status === 'cancelled' || !(confirmed || booking.status === 'pending');
  return {
    timezone: event.timezone,
    entry: {
      uid: `booking-${booking.id}@${ctx.bindings.ROOT_DOMAIN}`,
      sequence: sequenceOf(booking.createdAt, modifiedAt),
      modifiedAt: modifiedAt.toISOString(),
      startsAt: event.startsAt.toISOString(),
      endsAt: event.endsAt.toISOString(),
      summary: event.title,
      description: lines.join('\n'),
      location: venueLocation(event.venue),
      geo: venueGeo(event.venue),
      url: onlineUrl,
      status: cancelled ? 'cancelled' : confirmed ? 'confirmed' : 'tentative',
      categories: event.categories,
    },
  };
}
