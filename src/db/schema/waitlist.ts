import { sql } from 'drizzle-orm';
import {
  check,
  foreignKey,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { bookings } from './bookings.ts';
import { events, ticketTypes } from './events.ts';

/** waiting: in the queue; offered: seats are held for it by a pending booking; claimed: that booking was confirmed;
 * expired: the offer lapsed (or its booking was cancelled) unclaimed; left: the person (or staff) removed it. */
export const waitlistStatus = pgEnum('waitlist_status', ['waiting', 'offered', 'claimed', 'expired', 'left']);

/**
 * The waitlist of a ticket type (issue #18 part 2): people who asked for `group_size` seats of a sold-out ticket type,
 * served first come first served (created_at, id). An offer is a pending booking (`booking_id`) that holds exactly
 * `group_size` seats until it expires; its booking token is the offer token (only its hash is stored, on the booking).
 */
export const waitlistEntries = pgTable(
  'waitlist_entries',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    eventId: uuid().notNull(),
    ticketTypeId: uuid().notNull(),
    name: text().notNull(),
    email: text().notNull(),
    groupSize: integer().notNull(),
    status: waitlistStatus().notNull().default('waiting'),
    bookingId: uuid().references(() => bookings.id, { onDelete: 'set null' }),
    offeredAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.eventId],
      foreignColumns: [events.organizationId, events.id],
    }).onDelete('cascade'),
    foreignKey({
      columns: [table.organizationId, table.ticketTypeId],
      foreignColumns: [ticketTypes.organizationId, ticketTypes.id],
    }).onDelete('cascade'),
    check('waitlist_entries_group_size_check', sql`${table.groupSize} between 1 and 50`),
    // One live entry per email and ticket type.
    uniqueIndex('waitlist_entries_live_email_idx')
      .on(table.organizationId, table.ticketTypeId, table.email)
      .where(sql`status in ('waiting', 'offered')`),
    index('waitlist_entries_queue_idx')
      .on(table.organizationId, table.ticketTypeId, table.createdAt, table.id)
      .where(sql`status = 'waiting'`),
    index('waitlist_entries_event_idx').on(table.organizationId, table.eventId, table.createdAt, table.id),
    uniqueIndex('waitlist_entries_booking_idx').on(table.bookingId),
  ],
);

export type WaitlistEntry = typeof waitlistEntries.$inferSelect;
