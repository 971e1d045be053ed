import { bigint, date, foreignKey, index, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { organizations } from './organizations.ts';

/**
 * Usage per organization, day (UTC) and metric (`api_calls`, `bookings`, `emails`, `webhook_deliveries`). The hot
 * path counts in Redis; the scheduled handler adds the counts here (an upsert that adds, so a flush is additive).
 */
export const usageDaily = pgTable(
  'usage_daily',
  {
    organizationId: uuid().notNull(),
    day: date({ mode: 'string' }).notNull(),
    metric: text().notNull(),
    count: bigint({ mode: 'number' }).notNull().default(0),
  },
  (table) => [
    primaryKey({ columns: [table.organizationId, table.day, table.metric] }),
    // Serves the platform metrics' emails of a day across organizations: WHERE day = $1 AND metric = 'emails'.
    // BRIN: rows are created on their day, so day follows the table's physical order.
    index('usage_daily_day_brin').using('brin', table.day),
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
  ],
);
