import { sql } from 'drizzle-orm';
import { foreignKey, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { organizations } from './organizations.ts';

/**
 * The transactional outbox: a domain change inserts its event here in the same batch as the change, so an event
 * exists exactly when the change committed. The dispatcher (after the response, and the scheduled sweep as the
 * safety net) publishes undispatched rows to the queues and stamps `dispatchedAt`. `payload` is the full, versioned
 * event as webhooks deliver it: `{ type, timestamp, data }`.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    type: text().notNull(),
    payload: jsonb().$type<{ type: string; timestamp: string; data: Record<string, unknown> }>().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    dispatchedAt: timestamp({ withTimezone: true }),
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    // Serves the dispatcher and the sweep: WHERE dispatched_at IS NULL ORDER BY created_at.
    index('outbox_undispatched_idx')
      .on(table.createdAt)
      .where(sql`${table.dispatchedAt} is null`),
    // Serves a tenant's own dispatch after a request: WHERE organization_id = $1 AND dispatched_at IS NULL.
    index('outbox_organization_id_undispatched_idx')
      .on(table.organizationId, table.createdAt)
      .where(sql`${table.dispatchedAt} is null`),
  ],
);

export type OutboxRow = typeof outbox.$inferSelect;
