import { createDatabase, databaseKeys, SHARED_DATABASE, type Database } from '../db/client.ts';
import { readBindings } from '../middleware/bindings.ts';
import { createLogger } from '../lib/logger.ts';
import { createRedis } from '../lib/redis.ts';
import { sweepDunning } from '../services/billing/dunning.ts';
import { sweepExpiredHolds } from '../services/bookings/expire.ts';
import { sweepPendingRefunds } from '../services/bookings/refund-sweep.ts';
import { sweepExports } from '../services/exports/sweep.ts';
import { purgeDueOrganizations } from '../services/organizations/deletion.ts';
import { sweepOutbox } from '../services/outbox/dispatch.ts';
import { flushUsage } from '../services/plans/usage.ts';
import { rollupPlatformMetricsIfDue } from '../services/platform/metrics.ts';
import { extendSeries } from '../services/series/index.ts';

/**
 * The scheduled handler (a cron trigger every minute in wrangler.toml): the periodic sweeps, one after the other:
 * the hold sweep, then the pending-refund sweep (Stripe refunds Stripe never answered, asked again), then the outbox
 * sweep (every organization's undispatched events, including the `booking.expired` and `booking.refunded` events the
 * sweeps before it just wrote, and any a Worker committed but never dispatched), then the usage flush (Redis
 * counters into usage_daily, src/services/plans/usage.ts), the series horizon, the export sweep, the dunning sweep
 * (plan billing), the purge of organizations whose scheduled deletion is due (src/services/organizations/deletion.ts),
 * then, on the control database after the usage flush, the platform metrics' rollup (src/services/platform/metrics.ts).
 * Each logs its own outcome; a
 * failed sweep does not stop the next one, and the first failure is rethrown so the Workers runtime records the
 * invocation as failed.
 */
export async function runScheduled(controller: ScheduledController, env: Record<string, unknown>): Promise<void> {
  const bindings = readBindings(env);
  const logger = createLogger(
    { cron: controller.cron, scheduledTime: controller.scheduledTime },
    bindings.LOG_LEVEL ?? 'info',
  );
  const trace = `scheduled-${String(controller.scheduledTime)}`;
  const control = createDatabase(bindings, trace);
  // The sweeps of tenant rows run on every database that serves organizations (the shared one and DATABASE_URLS').
  const tenantSweeps = (db: Database): [string, () => Promise<unknown>][] => [
    ['holds', () => sweepExpiredHolds(db, logger)],
    ['refunds', () => sweepPendingRefunds(db, bindings, logger)],
    ['outbox', () => sweepOutbox(db, bindings, logger, createRedis(bindings), bindings.EVENT_LIVE)],
    // Recurring event series: dates up to each series' horizon (issue #18 part 5).
    ['series', () => extendSeries(db, bindings, logger)],
    // Organization exports (issue #16 part 2): stalled jobs resumed or failed, expired ones deleted.
    ['exports', () => sweepExports(db, bindings, logger)],
    // Plan billing: organizations past the dunning schedule move to starter (issue #16 part 8).
    ['dunning', () => sweepDunning(db, bindings, logger)],
  ];
  const databaseOf = (key: string) => (key === SHARED_DATABASE ? control : createDatabase(bindings, trace, key));
  const runs: [string, string, () => Promise<unknown>][] = [];
  for (const key of databaseKeys(bindings)) {
    const db = databaseOf(key);
    for (const [sweep, run] of tenantSweeps(db)) runs.push([sweep, key, run]);
  }
  // Organizations whose scheduled deletion is due (issue #16 part 1), a few per run: the schedules and the directory
  // are on the control database, an organization's rows on the database its directory entry names.
  runs.push([
    'organization purge',
    SHARED_DATABASE,
    () =>
      purgeDueOrganizations({
        db: control,
        databaseOf,
        redis: createRedis(bindings),
        bucket: bindings.FILES,
        rootDomain: bindings.ROOT_DOMAIN,
        logger,
      }),
  ]);
  // Usage counters go to the control database (docs/OPERATIONS.md, "Sharding": a known gap for dedicated ones).
  runs.push(['usage', SHARED_DATABASE, () => flushUsage(control, createRedis(bindings), logger)]);
  // The platform dashboard's daily rows, after the usage flush it reads emails from (issue #16 part 1): recomputed
  // when today's are older than ROLLUP_INTERVAL_MINUTES, so most runs cost one small read.
  // The tenant tables of organizations on dedicated databases are counted there and added.
  const dedicated = databaseKeys(bindings)
    .filter((key) => key !== SHARED_DATABASE)
    .map(databaseOf);
  runs.push(['metrics', SHARED_DATABASE, () => rollupPlatformMetricsIfDue(control, logger, Date.now(), dedicated)]);
  const failures: unknown[] = [];
  for (const [sweep, database, run] of runs) {
    try {
      await run();
    } catch (error) {
      logger.error('scheduled sweep failed', { sweep, database, error });
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}
