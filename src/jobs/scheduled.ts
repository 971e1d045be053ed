import { createDatabase } from '../db/client.ts';
import { readBindings } from '../middleware/bindings.ts';
import { createLogger } from '../lib/logger.ts';
import { createRedis } from '../lib/redis.ts';
import { sweepExpiredHolds } from '../services/bookings/expire.ts';
import { sweepPendingRefunds } from '../services/bookings/refund-sweep.ts';
import { sweepOutbox } from '../services/outbox/dispatch.ts';
import { flushUsage } from '../services/plans/usage.ts';
import { rollupPlatformMetricsIfDue } from '../services/platform/metrics.ts';
import { extendSeries } from '../services/series/index.ts';

/**
 * The scheduled handler (a cron trigger every minute in wrangler.toml): the periodic sweeps, one after the other:
 * the hold sweep, then the pending-refund sweep (Stripe refunds Stripe never answered, asked again), then the outbox
 * sweep (every organization's undispatched events, including the `booking.expired` and `booking.refunded` events the
 * sweeps before it just wrote, and any a Worker committed but never dispatched), then the usage flush (Redis
 * counters into usage_daily, src/services/plans/usage.ts), the series extension and the platform metrics' rollup
 * (src/services/platform/metrics.ts). Each logs its own outcome; a
 * failed sweep does not stop the next one, and the first failure is rethrown so the Workers runtime records the
 * invocation as failed.
 */
export async function runScheduled(controller: ScheduledController, env: Record<string, unknown>): Promise<void> {
  const bindings = readBindings(env);
  const logger = createLogger(
    { cron: controller.cron, scheduledTime: controller.scheduledTime },
    bindings.LOG_LEVEL ?? 'info',
  );
  const db = createDatabase(bindings, `scheduled-${String(controller.scheduledTime)}`);
  const sweeps: [string, () => Promise<unknown>][] = [
    ['holds', () => sweepExpiredHolds(db, logger)],
    ['refunds', () => sweepPendingRefunds(db, bindings, logger)],
    ['outbox', () => sweepOutbox(db, bindings, logger, createRedis(bindings), bindings.EVENT_LIVE)],
    ['usage', () => flushUsage(db, createRedis(bindings), logger)],
    // Recurring event series: dates up to each series' horizon (issue #18 part 5).
    ['series', () => extendSeries(db, logger)],
    // The platform dashboard's daily rows, after the usage flush it reads emails from (issue #16 part 1): recomputed
    // when today's are older than ROLLUP_INTERVAL_MINUTES, so most runs cost one small read.
    ['metrics', () => rollupPlatformMetricsIfDue(db, logger)],
  ];
  const failures: unknown[] = [];
  for (const [sweep, run] of sweeps) {
    try {
      await run();
    } catch (error) {
      logger.error('scheduled sweep failed', { sweep, error });
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}
