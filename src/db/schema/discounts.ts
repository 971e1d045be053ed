import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  smallint,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { events } from './events.ts';

/**
 * A discount code of one event (issue #18 part 1). `code` is stored upper-cased (codes are case-insensitive).
 * `kind` percent takes `percent` % off the eligible items; fixed takes `amounts[currency]` minor units off the order
 * (capped at the eligible subtotal). `ticketTypeIds` empty means the whole order, otherwise only those ticket types
 * are eligible (and, with `unlocksHidden`, those of them that are hidden can be bought with the code instead of
 * their access code). A code's uses are counted, not stored: the pending and confirmed bookings that hold it
 * (src/services/discounts/pricing.ts, `activeUses`), so a cancelled, expired or fully refunded booking gives its use
 * back; the checkout counts them under the code row's lock, so concurrent buyers never pass `maxUses`.
 */
export const discountCodes = pgTable(
  'discount_codes',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    eventId: uuid().notNull(),
    code: text().notNull(),
    kind: text().$type<'percent' | 'fixed'>().notNull(),
    percent: smallint(),
    amounts: jsonb().$type<Record<string, number>>().notNull().default({}),
    ticketTypeIds: uuid()
      .array()
      .notNull()
      .default(sql`'{}'::uuid[]`),
    unlocksHidden: boolean().notNull().default(false),
    minQuantity: integer().notNull().default(1),
    startsAt: timestamp({ withTimezone: true }),
    endsAt: timestamp({ withTimezone: true }),
    maxUses: integer(),
    maxPerBuyer: integer(),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.eventId],
      foreignColumns: [events.organizationId, events.id],
    }).onDelete('cascade'),
    // One code per event (case-insensitive: stored upper-cased); serves the checkout's lookup by code.
    unique('discount_codes_organization_id_event_id_code_key').on(table.organizationId, table.eventId, table.code),
    unique('discount_codes_organization_id_id_key').on(table.organizationId, table.id),
    index('discount_codes_organization_id_created_at_idx').on(table.organizationId, table.createdAt),
    check('discount_codes_kind', sql`${table.kind} in ('percent', 'fixed')`),
    check(
      'discount_codes_percent',
      sql`(${table.kind} = 'percent') = (${table.percent} is not null) and coalesce(${table.percent} between 1 and 100, true)`,
    ),
    check('discount_codes_code', sql`${table.code} ~ '^[A-Z0-9_-]{3,40}$'`),
  ],
);

export type DiscountCode = typeof discountCodes.$inferSelect;
