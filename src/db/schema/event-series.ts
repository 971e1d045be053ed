import { sql } from 'drizzle-orm';
import { check, foreignKey, index, integer, jsonb, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import type { Venue } from './events.ts';
import { organizations } from './organizations.ts';

/** A ticket type of a series' template: copied onto every date when the date is materialized. */
export interface SeriesTicketType {
  name: string;
  price: number;
  currency: string;
  quantity: number;
  maxPerOrder: number;
}

/**
 * Recurring events (issue #18 part 5): a series is a template plus an RFC 5545 RRULE. Its dates are ordinary event
 * rows (events.series_id, events.occurrence_start) materialized up to a horizon, so checkout, check-in, calendars
 * and the attendee list work per date unchanged (src/services/series).
 */
export const eventSeries = pgTable(
  'event_series',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    title: text().notNull(),
    description: text().notNull().default(''),
    timezone: text().notNull(),
    // The RRULE's parts (FREQ=WEEKLY;BYDAY=TU), without DTSTART: `startLocal` is the DTSTART, a wall time in `timezone`.
    rrule: text().notNull(),
    startLocal: text().notNull(),
    durationMinutes: integer().notNull(),
    venue: jsonb().$type<Venue>(),
    capacity: integer(),
    ticketTypes: jsonb().$type<SeriesTicketType[]>().notNull(),
    // Dates are materialized as `draft` or `published` (published dates count against the publishedEvents quota).
    publish: text().notNull().default('draft'),
    // Dates up to now + horizonDays exist; the cron extends the horizon as time passes.
    horizonDays: integer().notNull(),
    materializedUntil: timestamp({ withTimezone: true }),
    // A series stops materializing when deleted (its future dates without bookings are cancelled or deleted).
    endedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    unique('event_series_organization_id_id_key').on(table.organizationId, table.id),
    index('event_series_materialized_until_idx').on(table.materializedUntil),
    // Serves the staff list, newest first: WHERE organization_id = $1 ORDER BY created_at DESC, id DESC.
    index('event_series_organization_id_created_at_idx').on(table.organizationId, table.createdAt, table.id),
    check('event_series_duration', sql`${table.durationMinutes} between 1 and 10080`),
    check('event_series_horizon', sql`${table.horizonDays} between 1 and 366`),
    check('event_series_publish', sql`${table.publish} in ('draft', 'published')`),
  ],
);

export type EventSeries = typeof eventSeries.$inferSelect;
