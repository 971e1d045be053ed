import { createDatabase } from '../db/client.ts';
import { readBindings } from '../middleware/bindings.ts';
import { createLogger } from '../lib/logger.ts';
import { sweepExpiredHolds } from '../services/bookings/expire.ts';

/**
 * The scheduled handler (a cron trigger every minute in wrangler.toml): the periodic sweeps. Each logs its own
 * outcome; a failure is logged and rethrown so the Workers runtime records the invocation as failed.
 */
export async function runScheduled(controller: ScheduledController, env: Record<string, unknown>): Promise<void> {
  const bindings = readBindings(env);
  const logger = createLogger(
    { cron: controller.cron, scheduledTime: controller.scheduledTime },
    bindings.LOG_LEVEL ?? 'info',
  );
  try {
    await sweepExpiredHolds(createDatabase(bindings, `scheduled-${String(controller.scheduledTime)}`), logger);
  } catch (error) {
    logger.error('scheduled sweep failed', { error });
    throw error;
  }
}
