import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { eventSeries } from './event-series.ts';
import { organizations } from './organizations.ts';

export const eventStatus = pgEnum('event_status', ['draft', 'published', 'cancelled', 'completed']);
export const eventVisibility = pgEnum('event_visibility', ['public', 'unlisted', 'private']);
/**
 * What a buyer may do to cancel their own booking (POST /api/v1/public/bookings/{id}/cancel): `none` (not offered,
 * the default), `full_refund` (cancel and get back what was paid: automatically through Stripe), `no_refund` (cancel
 * to free the seats; no money back).
 */
export const buyerCancellationPolicy = pgEnum('buyer_cancellation_policy', ['none', 'full_refund', 'no_refund']);

export interface Venue {
  name: string;
  address?: string;
  city?: string;
  country?: string;
  latitude?: number;
  longitude?: number;
}

/** The longest transfer cutoff an organizer may set: 30 days before the event starts. */
export const MAX_TRANSFER_CUTOFF_MINUTES = 30 * 24 * 60;

/** An event. Times are stored in UTC and presented with the event's IANA timezone. */
export const events = pgTable(
  'events',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    slug: text().notNull(),
    title: text().notNull(),
    description: text().notNull().default(''),
    status: eventStatus().notNull().default('draft'),
    visibility: eventVisibility().notNull().default('public'),
    timezone: text().notNull(),
    startsAt: timestamp({ withTimezone: true }).notNull(),
    endsAt: timestamp({ withTimezone: true }).notNull(),
    venue: jsonb().$type<Venue>(),
    // Revealed only to ticket holders (the buyer's booking view), never on public event pages.
    onlineUrl: text(),
    categories: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    coverImageUrl: text(),
    // Total seats across all ticket types (enforced at checkout); null = only the ticket types' quantities limit sales.
    capacity: integer(),
    // Seats of all ticket types sold (confirmed) and held (pending); sold + held <= capacity when capacity is set.
    sold: integer().notNull().default(0),
    held: integer().notNull().default(0),
    // Ticket transfer (POST /api/v1/public/bookings/{id}/attendees/{attendeeId}/transfer): allowed by default, as
    // pretix and Tito do, until `transferCutoffMinutes` before the start (0: until the event starts).
    transfersAllowed: boolean().notNull().default(true),
    transferCutoffMinutes: integer().notNull().default(0),
    // Recurring events (issue #18 part 5): a date of a series, its rule's occurrence (UTC) and whether it was edited
    // on its own ("this date"), which makes the series' "all future dates" edits skip it.
    seriesId: uuid(),
    occurrenceStart: timestamp({ withTimezone: true }),
    seriesDetached: boolean().notNull().default(false),
    publishedAt: timestamp({ withTimezone: true }),
    cancelledAt: timestamp({ withTimezone: true }),
    // Buyer self-service: cancellation by the buyer until `buyerCancellationCutoffMinutes` before the start.
    buyerCancellation: buyerCancellationPolicy().notNull().default('none'),
    buyerCancellationCutoffMinutes: integer().notNull().default(0),
    // Attendee names editable by the buyer until this many minutes before the start; null = not editable.
    attendeeEditCutoffMinutes: integer(),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    check(
      'events_self_service_cutoffs',
      sql`${table.buyerCancellationCutoffMinutes} between 0 and 525600 and (${table.attendeeEditCutoffMinutes} is null or ${table.attendeeEditCutoffMinutes} between 0 and 525600)`,
    ),
    // Serves the public detail page: WHERE organization_id = $1 AND slug = $2.
    unique('events_organization_id_slug_key').on(table.organizationId, table.slug),
    // Target of composite foreign keys from ticket types and bookings.
    unique('events_organization_id_id_key').on(table.organizationId, table.id),
    // Serves the public list (published, public, upcoming first): WHERE organization_id = $1 AND status = 'published'
    // AND visibility = 'public' AND starts_at >= $2 ORDER BY starts_at, id.
    index('events_organization_id_status_visibility_starts_at_idx').on(
      table.organizationId,
      table.status,
      table.visibility,
      table.startsAt,
      table.id,
    ),
    // Serves the staff list ordered by start: WHERE organization_id = $1 ORDER BY starts_at, id.
    index('events_organization_id_starts_at_idx').on(table.organizationId, table.startsAt, table.id),
    // Serves the staff list with sort=createdAt / -createdAt: WHERE organization_id = $1 ORDER BY created_at, id.
    index('events_organization_id_created_at_idx').on(table.organizationId, table.createdAt, table.id),
    // Serves the platform metrics' events published in a day across organizations: WHERE published_at >= $1 AND
    // published_at < $2.
    index('events_published_at_idx')
      .on(table.publishedAt)
      .where(sql`${table.publishedAt} is not null`),
    foreignKey({
      columns: [table.organizationId, table.seriesId],
      foreignColumns: [eventSeries.organizationId, eventSeries.id],
    }),
    // One event per occurrence of a series: materializing twice inserts nothing twice.
    unique('events_organization_id_series_id_occurrence_start_key').on(
      table.organizationId,
      table.seriesId,
      table.occurrenceStart,
    ),
    check('events_ends_after_starts', sql`${table.endsAt} > ${table.startsAt}`),
    check('events_slug_format', sql`${table.slug} ~ '^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$'`),
    check(
      'events_transfer_cutoff_minutes',
      sql`${table.transferCutoffMinutes} between 0 and ${sql.raw(String(MAX_TRANSFER_CUTOFF_MINUTES))}`,
    ),
    check('events_capacity_positive', sql`${table.capacity} is null or ${table.capacity} >= 0`),
    check(
      'events_counts',
      sql`${table.sold} >= 0 and ${table.held} >= 0 and (${table.capacity} is null or ${table.sold} + ${table.held} <= ${table.capacity})`,
    ),
  ],
);

export type Event = typeof events.$inferSelect;

/** Money is integer minor units of an ISO 4217 currency, end to end. */
export const ticketTypes = pgTable(
  'ticket_types',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    eventId: uuid().notNull(),
    name: text().notNull(),
    description: text().notNull().default(''),
    price: integer().notNull(),
    currency: text().notNull(),
    quantity: integer().notNull(),
    // Seats taken by confirmed bookings and held by pending ones; sold + held <= quantity always.
    sold: integer().notNull().default(0),
    held: integer().notNull().default(0),
    salesStartAt: timestamp({ withTimezone: true }),
    salesEndAt: timestamp({ withTimezone: true }),
    minPerOrder: integer().notNull().default(1),
    maxPerOrder: integer().notNull().default(10),
    // Hidden ticket types are listed and sold only with their access code.
    hidden: boolean().notNull().default(false),
    accessCode: text(),
    sortOrder: integer().notNull().default(0),
    // Invoices (issue #18 part 4): the tax rate in basis points (1900 = 19 %); prices are gross (tax included).
    taxRate: integer().notNull().default(0),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.eventId],
      foreignColumns: [events.organizationId, events.id],
    }).onDelete('cascade'),
    check('ticket_types_tax_rate', sql`${table.taxRate} between 0 and 10000`),
    // Serves the ticket types of an event: WHERE organization_id = $1 AND event_id = $2 ORDER BY sort_order.
    index('ticket_types_organization_id_event_id_idx').on(table.organizationId, table.eventId, table.sortOrder),
    unique('ticket_types_organization_id_id_key').on(table.organizationId, table.id),
    unique('ticket_types_organization_id_event_id_id_key').on(table.organizationId, table.eventId, table.id),
    check('ticket_types_price', sql`${table.price} >= 0`),
    check('ticket_types_currency', sql`${table.currency} ~ '^[A-Z]{3}$'`),
    check(
      'ticket_types_counts',
      sql`${table.sold} >= 0 and ${table.held} >= 0 and ${table.sold} + ${table.held} <= ${table.quantity}`,
    ),
    check('ticket_types_per_order', sql`${table.minPerOrder} >= 1 and ${table.maxPerOrder} >= ${table.minPerOrder}`),
    check(
      'ticket_types_sales_window',
      sql`${table.salesEndAt} is null or ${table.salesStartAt} is null or ${table.salesEndAt} > ${table.salesStartAt}`,
    ),
  ],
);

export type TicketType = typeof ticketTypes.$inferSelect;
