import { sql } from 'drizzle-orm';
import {
  boolean,
  foreignKey,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';

/**
 * A webhook endpoint of an organization (Standard Webhooks 1.0). The signing secret (`whsec_...`) is stored
 * encrypted (src/lib/crypto.ts) and shown once; after a rotation the previous secret keeps signing too (both
 * signatures are sent) until `previousSecretExpiresAt`.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    url: text().notNull(),
    description: text().notNull().default(''),
    // Event types delivered; empty = every type.
    eventTypes: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    enabled: boolean().notNull().default(true),
    secret: text().notNull(),
    previousSecret: text(),
    previousSecretExpiresAt: timestamp({ withTimezone: true }),
    // Why the platform disabled it (410 Gone, failing for days); null when enabled or disabled by the tenant.
    disabledReason: text(),
    // The first failure of the current run of failures; null after a success.
    failingSince: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    unique('webhook_endpoints_organization_id_id_key').on(table.organizationId, table.id),
    // Serves the list and the fan-out: WHERE organization_id = $1 (AND enabled).
    index('webhook_endpoints_organization_id_idx').on(table.organizationId, table.createdAt),
  ],
);

export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;

export const webhookDeliveryStatus = pgEnum('webhook_delivery_status', ['pending', 'succeeded', 'failed']);

/**
 * One event for one endpoint. `eventId` (the outbox id) is the Standard Webhooks `webhook-id`, the same on every
 * attempt, so receivers can deduplicate. `status` is `failed` once retries are exhausted or the endpoint is disabled.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    endpointId: uuid().notNull(),
    eventId: uuid().notNull(),
    eventType: text().notNull(),
    status: webhookDeliveryStatus().notNull().default('pending'),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }),
    lastStatusCode: integer(),
    ...timestamps,
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.endpointId],
      foreignColumns: [webhookEndpoints.organizationId, webhookEndpoints.id],
    }).onDelete('cascade'),
    unique('webhook_deliveries_endpoint_id_event_id_key').on(table.endpointId, table.eventId),
    unique('webhook_deliveries_organization_id_id_key').on(table.organizationId, table.id),
    // Serves the delivery log of an endpoint, newest first.
    index('webhook_deliveries_organization_id_endpoint_id_created_at_idx').on(
      table.organizationId,
      table.endpointId,
      table.createdAt,
      table.id,
    ),
    // Serves the platform metrics' deliveries that ended in a day across organizations (updated_at is when the
    // delivery reached its final status): WHERE status IN ('succeeded', 'failed') AND updated_at >= $1 AND
    // updated_at < $2.
    index('webhook_deliveries_finished_updated_at_idx')
      .on(table.updatedAt)
      .where(sql`${table.status} in ('succeeded', 'failed')`),
  ],
);

export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;

/** Every attempt of a delivery: what the receiver answered (body truncated to 1 KiB) and how long it took. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    deliveryId: uuid().notNull(),
    attempt: integer().notNull(),
    statusCode: integer(),
    durationMs: integer().notNull(),
    responseBody: text(),
    error: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.deliveryId],
      foreignColumns: [webhookDeliveries.organizationId, webhookDeliveries.id],
    }).onDelete('cascade'),
    index('webhook_attempts_organization_id_delivery_id_idx').on(table.organizationId, table.deliveryId, table.attempt),
  ],
);
