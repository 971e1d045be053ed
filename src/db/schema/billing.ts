import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizationPlan, organizations } from './organizations.ts';

/** Stripe's subscription statuses (API 2024-06-20), as the platform's Stripe Billing reports them. */
export const subscriptionStatus = pgEnum('subscription_status', [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'unpaid',
  'paused',
]);

/**
 * The organization's plan subscription on the PLATFORM's Stripe account (src/services/billing): the Stripe customer
 * and subscription, the subscription's state as last applied, and the dunning state after failed payments. One row
 * per organization, made at its first checkout. `organizations.plan` stays the plan that is enforced; this row says
 * why.
 */
export const organizationBilling = pgTable(
  'organization_billing',
  {
    organizationId: uuid().primaryKey(),
    // The unique constraint's index serves the webhook's lookup of an organization by its Stripe customer.
    stripeCustomerId: text().unique(),
    stripeSubscriptionId: text(),
    subscriptionStatus: subscriptionStatus(),
    /** The plan the subscription's price pays for (null without a subscription or for an unknown price). */
    subscriptionPlan: organizationPlan(),
    currentPeriodEnd: timestamp({ withTimezone: true }),
    cancelAtPeriodEnd: boolean().notNull().default(false),
    /**
     * When Stripe produced the subscription state stored here (the event's `created`, or the time it was read from
     * Stripe): an event older than this is out of order and changes nothing.
     */
    subscriptionStateAt: timestamp({ withTimezone: true }),
    /** The first failed payment of the current run of failures; null when the organization is not in dunning. */
    dunningStartedAt: timestamp({ withTimezone: true }),
    dunningFailures: integer().notNull().default(0),
    lastPaymentFailedAt: timestamp({ withTimezone: true }),
    /** When the dunning schedule downgraded the organization to starter; a paid invoice restores the plan. */
    dunningDowngradedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    check('organization_billing_dunning_failures', sql`${table.dunningFailures} >= 0`),
    // The dunning sweep: organizations in dunning not yet downgraded (few rows, a partial index).
    index('organization_billing_dunning_idx')
      .on(table.dunningStartedAt)
      .where(sql`${table.dunningStartedAt} is not null and ${table.dunningDowngradedAt} is null`),
  ],
);

/**
 * Platform Stripe events applied to an organization's billing, by id: a replayed event (Stripe retries, duplicates)
 * finds its id here and changes nothing. Written in the same batch as the event's effects.
 */
export const billingEvents = pgTable(
  'billing_events',
  {
    organizationId: uuid().notNull(),
    eventId: text().notNull(),
    type: text().notNull(),
    receivedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.organizationId, table.eventId] }),
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
  ],
);

export type OrganizationBilling = typeof organizationBilling.$inferSelect;
export type SubscriptionStatus = (typeof subscriptionStatus.enumValues)[number];
