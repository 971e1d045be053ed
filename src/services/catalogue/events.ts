import { and, asc, eq, sql } from 'drizzle-orm';
import { events, ticketTypes, type Venue } from '../../db/schema/index.ts';

/** An event as the public sees it: never the online URL, nor internal timestamps. */
export interface PublicEvent {
  id: string;
  slug: string;
  title: string;
  description: string;
  startsAt: string;
  endsAt: string;
  timezone: string;
  venue: Venue | null;
  capacity: number | null;
  categories: string[];
  coverImageUrl: string | null;
  visibility: 'public' | 'unlisted';
  /** The recurring series this event is a date of (issue #18 part 5), or null for a one-off event. */
  seriesId: string | null;
  /** The lowest price among the ticket types shown without an access code; null when there is none. */
  priceFrom: { price: number; currency: string } | null;
}

/** The lowest-priced ticket type shown without an access code (ties: the first in the event's order). */
function cheapestVisible(column: typeof ticketTypes.price | typeof ticketTypes.currency) {
  return sql`(select ${column} from ${ticketTypes} where ${and(
    eq(ticketTypes.organizationId, events.organizationId),
    eq(ticketTypes.eventId, events.id),
    eq(ticketTypes.hidden, false),
  )} order by ${asc(ticketTypes.price)}, ${asc(ticketTypes.sortOrder)}, ${asc(ticketTypes.id)} limit 1)`;
}

/** The only event columns a public query selects: onlineUrl and the internal timestamps are never read. */
export const publicEventColumns = {
  id: events.id,
  slug: events.slug,
  title: events.title,
  description: events.description,
  status: events.status,
  startsAt: events.startsAt,
  endsAt: events.endsAt,
  timezone: events.timezone,
  venue: events.venue,
  capacity: events.capacity,
  categories: events.categories,
  coverImageUrl: events.coverImageUrl,
  visibility: events.visibility,
  seriesId: events.seriesId,
  minPrice: cheapestVisible(ticketTypes.price).mapWith(Number),
  minPriceCurrency: cheapestVisible(ticketTypes.currency).mapWith(String),
};

export interface PublicEventRow {
  id: string;
  slug: string;
  title: string;
  description: string;
  startsAt: Date;
  endsAt: Date;
  timezone: string;
  venue: Venue | null;
  capacity: number | null;
  categories: string[];
  coverImageUrl: string | null;
  visibility: 'public' | 'unlisted' | 'private';
  seriesId: string | null;
  minPrice: number | null;
  minPriceCurrency: string | null;
}

export function toPublicEvent(row: PublicEventRow): PublicEvent {
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    description: row.description,
    startsAt: row.startsAt.toISOString(),
    endsAt: row.endsAt.toISOString(),
    timezone: row.timezone,
    venue: row.venue,
    capacity: row.capacity,
    categories: row.categories,
    coverImageUrl: row.coverImageUrl,
    // Private events never reach this mapping: every public query filters them out.
    visibility: row.visibility === 'unlisted' ? 'unlisted' : 'public',
    seriesId: row.seriesId,
    priceFrom:
      row.minPrice === null || row.minPriceCurrency === null
        ? null
        : { price: row.minPrice, currency: row.minPriceCurrency },
  };
}
