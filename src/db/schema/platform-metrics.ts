import { bigint, date, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The platform's daily metrics (issue #16 part 1, the admin dashboard), one row per UTC day, metric and dimension
 * (a plan, a status, a currency, or '' for none), rolled up from the tenant tables by the scheduled handler
 * (src/services/platform/metrics.ts) so the dashboard reads a few hundred rows, whatever the number of organizations.
 * Long rather than wide: the currencies are open-ended and a new metric needs no migration. Platform data, no
 * organization: row-level security lets only the platform scope see it (drizzle/sql/security.sql).
 */
export const platformDailyMetrics = pgTable(
  'platform_daily_metrics',
  {
    day: date({ mode: 'string' }).notNull(),
    metric: text().notNull(),
    dimension: text().notNull().default(''),
    value: bigint({ mode: 'number' }).notNull(),
    /** When the rollup last wrote the row: the freshness the scheduled handler checks before recomputing. */
    computedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  // The key serves the dashboard's read, WHERE day BETWEEN $1 AND $2, and the rollup's upsert of one day.
  (table) => [primaryKey({ columns: [table.day, table.metric, table.dimension] })],
);
