import { sql } from 'drizzle-orm';
import {
  check,
  foreignKey,
  index,
  boolean,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { discountCodes } from './discounts.ts';
import { events, ticketTypes } from './events.ts';
import type { Answers } from './questions.ts';
import { organizations } from './organizations.ts';
import { users } from './users.ts';

/**
 * A shared capacity across ticket types of one event (pretix's quota): a sale must fit every pool its ticket types
 * belong to. Like ticket types and events, a pool counts `sold` (confirmed) and `held` (pending) seats, and
 * sold + held <= capacity always holds (checked by the conditional UPDATE that takes seats and by a CHECK).
 */
export const capacityPools = pgTable(
  'capacity_pools',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    eventId: uuid().notNull(),
    name: text().notNull(),
    capacity: integer().notNull(),
    sold: integer().notNull().default(0),
    held: integer().notNull().default(0),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.eventId],
      foreignColumns: [events.organizationId, events.id],
    }).onDelete('cascade'),
    unique('capacity_pools_organization_id_id_key').on(table.organizationId, table.id),
    unique('capacity_pools_organization_id_event_id_id_key').on(table.organizationId, table.eventId, table.id),
    // Serves the pools of an event: WHERE organization_id = $1 AND event_id = $2.
    index('capacity_pools_organization_id_event_id_idx').on(table.organizationId, table.eventId),
    check(
      'capacity_pools_counts',
      sql`${table.sold} >= 0 and ${table.held} >= 0 and ${table.sold} + ${table.held} <= ${table.capacity}`,
    ),
  ],
);

/** Membership of a ticket type in a pool; both belong to the same event (composite foreign keys). */
export const capacityPoolTicketTypes = pgTable(
  'capacity_pool_ticket_types',
  {
    organizationId: uuid().notNull(),
    eventId: uuid().notNull(),
    poolId: uuid().notNull(),
    ticketTypeId: uuid().notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.poolId, table.ticketTypeId] }),
    foreignKey({
      columns: [table.organizationId, table.eventId, table.poolId],
      foreignColumns: [capacityPools.organizationId, capacityPools.eventId, capacityPools.id],
    }).onDelete('cascade'),
    foreignKey({
      columns: [table.organizationId, table.eventId, table.ticketTypeId],
      foreignColumns: [ticketTypes.organizationId, ticketTypes.eventId, ticketTypes.id],
    }).onDelete('cascade'),
    // Serves "the pools of these ticket types" at checkout: WHERE ticket_type_id = ANY($1).
    index('capacity_pool_ticket_types_ticket_type_id_idx').on(table.organizationId, table.ticketTypeId),
  ],
);

export const bookingStatus = pgEnum('booking_status', ['pending', 'confirmed', 'cancelled', 'refunded', 'expired']);
export const paymentProvider = pgEnum('payment_provider', ['free', 'manual', 'stripe']);

/**
 * An order. `pending` holds its seats until `expiresAt` (the scheduled sweep expires it and releases them);
 * `confirmed` has sold them. The buyer reaches it through an unguessable token, of which only the SHA-256 is stored.
 */
export const bookings = pgTable(
  'bookings',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    eventId: uuid().notNull(),
    status: bookingStatus().notNull(),
    buyerName: text().notNull(),
    buyerEmail: text().notNull(),
    // Integer minor units of `currency`, computed by the database from the ticket types' prices.
    total: integer().notNull(),
    currency: text().notNull(),
    refundedAmount: integer().notNull().default(0),
    provider: paymentProvider().notNull(),
    tokenHash: text().notNull(),
    answers: jsonb().$type<Answers>().notNull().default({}),
    expiresAt: timestamp({ withTimezone: true }),
    confirmedAt: timestamp({ withTimezone: true }),
    cancelledAt: timestamp({ withTimezone: true }),
    // The checkout's client address key (an IPv4 address or an IPv6 /64, see src/lib/client.ts), for the bounds on
    // unpaid holds; null for orders from no known address.
    clientKey: text(),
    // Discount codes (issue #18 part 1): the code applied (its id, null once the code is deleted, and its text as
    // applied) and the amount taken off; `total` is what the buyer pays, after the discount.
    discountCodeId: uuid().references(() => discountCodes.id, { onDelete: 'set null' }),
    discountCode: text(),
    discountAmount: integer().notNull().default(0),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.eventId],
      foreignColumns: [events.organizationId, events.id],
    }).onDelete('cascade'),
    // Serves the checkout's bound on unpaid holds per client: WHERE organization_id = $1 AND event_id = $2 AND
    // client_key = $3 AND status = 'pending'.
    index('bookings_pending_client_key_idx')
      .on(table.organizationId, table.eventId, table.clientKey)
      .where(sql`${table.status} = 'pending'`),
    // Serves the checkout's bound on unpaid holds per buyer: WHERE organization_id = $1 AND event_id = $2 AND
    // buyer_email = $3 AND status = 'pending'.
    index('bookings_pending_buyer_email_idx')
      .on(table.organizationId, table.eventId, table.buyerEmail)
      .where(sql`${table.status} = 'pending'`),
    unique('bookings_organization_id_id_key').on(table.organizationId, table.id),
    // Serves the staff list, newest first: WHERE organization_id = $1 ORDER BY created_at DESC, id DESC.
    index('bookings_organization_id_created_at_idx').on(table.organizationId, table.createdAt, table.id),
    // Serves the list filtered by event: WHERE organization_id = $1 AND event_id = $2 ORDER BY created_at DESC, id.
    index('bookings_organization_id_event_id_created_at_idx').on(
      table.organizationId,
      table.eventId,
      table.createdAt,
      table.id,
    ),
    // Serves the list filtered by buyer email.
    index('bookings_organization_id_buyer_email_idx').on(table.organizationId, table.buyerEmail),
    // Serves the uses of a discount code (activeUses): WHERE organization_id = $1 AND discount_code_id = $2 AND
    // status IN ('pending', 'confirmed'), and the checkout's per-buyer limit on it.
    index('bookings_discount_code_active_idx')
      .on(table.organizationId, table.discountCodeId, table.buyerEmail)
      .where(sql`${table.discountCodeId} is not null and ${table.status} in ('pending', 'confirmed')`),
    // Serves the hold sweep across tenants: WHERE status = 'pending' AND expires_at <= now().
    index('bookings_pending_expires_at_idx')
      .on(table.expiresAt)
      .where(sql`${table.status} = 'pending'`),
    // Serves the platform metrics' bookings confirmed in a day across organizations: WHERE confirmed_at >= $1 AND
    // confirmed_at < $2.
    index('bookings_confirmed_at_idx')
      .on(table.confirmedAt)
      .where(sql`${table.confirmedAt} is not null`),
    check('bookings_total', sql`${table.total} >= 0`),
    check('bookings_refunded', sql`${table.refundedAmount} >= 0 and ${table.refundedAmount} <= ${table.total}`),
    check('bookings_currency', sql`${table.currency} ~ '^[A-Z]{3}$'`),
  ],
);

export type Booking = typeof bookings.$inferSelect;

/** The ticket types and quantities of a booking, with the unit price charged (copied from the ticket type). */
export const bookingItems = pgTable(
  'booking_items',
  {
    organizationId: uuid().notNull(),
    bookingId: uuid().notNull(),
    ticketTypeId: uuid().notNull(),
    quantity: integer().notNull(),
    unitPrice: integer().notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.bookingId, table.ticketTypeId] }),
    foreignKey({
      columns: [table.organizationId, table.bookingId],
      foreignColumns: [bookings.organizationId, bookings.id],
    }).onDelete('cascade'),
    foreignKey({
      columns: [table.organizationId, table.ticketTypeId],
      foreignColumns: [ticketTypes.organizationId, ticketTypes.id],
    }).onDelete('no action'),
    check('booking_items_quantity', sql`${table.quantity} > 0`),
  ],
);

export const attendeeStatus = pgEnum('attendee_status', ['valid', 'cancelled']);

/** One ticket: a person with a unique code for check-in. */
export const attendees = pgTable(
  'attendees',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    bookingId: uuid().notNull(),
    ticketTypeId: uuid().notNull(),
    position: smallint().notNull(),
    name: text().notNull(),
    email: text().notNull(),
    ticketCode: text().notNull(),
    status: attendeeStatus().notNull().default('valid'),
    answers: jsonb().$type<Answers>().notNull().default({}),
    checkedInAt: timestamp({ withTimezone: true }),
    checkedInBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    // How often the ticket was transferred to another holder (bounded per ticket, see services/bookings/transfer.ts).
    transferCount: smallint().notNull().default(0),
    cancelledAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.bookingId],
      foreignColumns: [bookings.organizationId, bookings.id],
    }).onDelete('cascade'),
    foreignKey({
      columns: [table.organizationId, table.ticketTypeId],
      foreignColumns: [ticketTypes.organizationId, ticketTypes.id],
    }).onDelete('no action'),
    // Serves check-in: WHERE organization_id = $1 AND ticket_code = $2.
    uniqueIndex('attendees_organization_id_ticket_code_key').on(table.organizationId, table.ticketCode),
    // Serves the attendees of a booking, in order.
    index('attendees_organization_id_booking_id_idx').on(table.organizationId, table.bookingId, table.position),
  ],
);

export type Attendee = typeof attendees.$inferSelect;

export const paymentStatus = pgEnum('payment_status', ['pending', 'succeeded', 'failed', 'cancelled']);

/** One payment attempt of a booking. Amounts are integer minor units. */
export const payments = pgTable(
  'payments',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    bookingId: uuid().notNull(),
    provider: paymentProvider().notNull(),
    status: paymentStatus().notNull(),
    amount: integer().notNull(),
    currency: text().notNull(),
    refundedAmount: integer().notNull().default(0),
    // Stripe: the Checkout Session id, then the PaymentIntent id once paid.
    checkoutSessionId: text(),
    checkoutUrl: text(),
    checkoutExpiresAt: timestamp({ withTimezone: true }),
    paymentIntentId: text(),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.bookingId],
      foreignColumns: [bookings.organizationId, bookings.id],
    }).onDelete('cascade'),
    unique('payments_organization_id_id_key').on(table.organizationId, table.id),
    // One payment per booking (a booking is paid once; refunds are their own rows).
    uniqueIndex('payments_organization_id_booking_id_key').on(table.organizationId, table.bookingId),
    check('payments_amounts', sql`${table.amount} >= 0 and ${table.refundedAmount} between 0 and ${table.amount}`),
  ],
);

export type Payment = typeof payments.$inferSelect;

export const refundStatus = pgEnum('refund_status', ['pending', 'succeeded', 'failed']);

/** A full or partial refund; `attendeeIds` are the tickets it cancelled (their seats went back on sale). */
export const refunds = pgTable(
  'refunds',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    bookingId: uuid().notNull(),
    paymentId: uuid().notNull(),
    amount: integer().notNull(),
    currency: text().notNull(),
    status: refundStatus().notNull(),
    reason: text(),
    attendeeIds: uuid()
      .array()
      .notNull()
      .default(sql`'{}'::uuid[]`),
    providerRefundId: text(),
    createdBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.bookingId],
      foreignColumns: [bookings.organizationId, bookings.id],
    }).onDelete('cascade'),
    foreignKey({
      columns: [table.organizationId, table.paymentId],
      foreignColumns: [payments.organizationId, payments.id],
    }).onDelete('cascade'),
    index('refunds_organization_id_booking_id_idx').on(table.organizationId, table.bookingId),
    // The pending-refund sweep (across organizations): refunds Stripe never answered, by age.
    index('refunds_unanswered_created_at_idx')
      .on(table.createdAt)
      .where(sql`${table.status} = 'pending' and ${table.providerRefundId} is null`),
    // Serves the platform metrics' refunds that succeeded in a day across organizations (a succeeded refund is final:
    // its updated_at is when it succeeded): WHERE status = 'succeeded' AND updated_at >= $1 AND updated_at < $2.
    index('refunds_succeeded_updated_at_idx')
      .on(table.updatedAt)
      .where(sql`${table.status} = 'succeeded'`),
    check('refunds_amount', sql`${table.amount} > 0`),
  ],
);

export type Refund = typeof refunds.$inferSelect;

/** Payment provider webhook events already processed: a replayed event id changes nothing. */
export const paymentEvents = pgTable(
  'payment_events',
  {
    organizationId: uuid().notNull(),
    provider: paymentProvider().notNull(),
    eventId: text().notNull(),
    type: text().notNull(),
    receivedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.organizationId, table.provider, table.eventId] }),
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
  ],
);

/**
 * Payment settings of an organization. Provider secrets are stored encrypted (AES-GCM under DATA_ENCRYPTION_KEY),
 * never returned by the API, and never logged.
 */
export const paymentSettings = pgTable(
  'payment_settings',
  {
    organizationId: uuid().primaryKey(),
    // Manual (offline) payment is opt-in: an unpaid manual order holds seats for days.
    manualEnabled: boolean().notNull().default(false),
    manualInstructions: text().notNull().default(''),
    stripeSecretKey: text(),
    stripeWebhookSecret: text(),
    stripeAccountHint: text(),
    ...timestamps,
  },
  (table) => [foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade')],
);

/**
 * Idempotency-Key records: the first response to a creating POST, replayed for 24 hours to the same caller sending
 * the same key and body. `scope` is the caller (a user id, or `public` for anonymous checkout).
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    organizationId: uuid().notNull(),
    scope: text().notNull(),
    key: text().notNull(),
    requestHash: text().notNull(),
    status: smallint(),
    response: jsonb(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.organizationId, table.scope, table.key] }),
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    // Serves the cleanup sweep: WHERE expires_at <= now().
    index('idempotency_keys_expires_at_idx').on(table.expiresAt),
  ],
);
