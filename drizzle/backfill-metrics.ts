import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { daysBetween, utcDay } from '../src/lib/days.ts';
import { rollupSql } from '../src/services/platform/metrics.ts';

/**
 * Backfills the platform dashboard's daily rows (`platform_daily_metrics`) for past UTC days, the scheduled handler
 * keeping only today's and yesterday's:
 *
 *   npm run metrics:backfill -- --from 2026-01-01 --to 2026-11-30 [--url postgres://…]
 *
 * Each day is its own transaction under the platform scope, the same statement as the rollup: idempotent, so a rerun
 * or an overlap with the scheduled handler writes the same rows. Only the flow metrics (counted from the rows of the
 * day) can be recounted for a past day; the snapshots (organizations by plan and status, the outbox backlog) are
 * written for today only. `--url` defaults to DATABASE_URL.
 */
const { values } = parseArgs({
  options: {
    from: { type: 'string' },
    to: { type: 'string', default: utcDay() },
    url: { type: 'string', default: process.env.DATABASE_URL },
  },
});
const DAY = /^\d{4}-\d{2}-\d{2}$/;
if (values.from === undefined || !DAY.test(values.from) || !DAY.test(values.to) || values.url === undefined) {
  console.error('usage: npm run metrics:backfill -- --from YYYY-MM-DD [--to YYYY-MM-DD] [--url postgres://…]');
  process.exit(2);
}

const pool = new pg.Pool({ connectionString: values.url, max: 1 });
const db = drizzle({ client: pool, casing: 'snake_case' });
const today = utcDay();
let rows = 0;
const started = performance.now();
try {
  for (const day of daysBetween(values.from, values.to)) {
    const written = await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.platform', 'on', true)`);
      const result = await tx.execute<{ written: number }>(rollupSql(day, day === today));
      return result.rows[0]?.written ?? 0;
    });
    rows += written;
    console.log(`${day}: ${written} rows`);
  }
  console.log(`backfilled ${values.from}..${values.to}: ${rows} rows in ${Math.round(performance.now() - started)} ms`);
} finally {
  await pool.end();
}
