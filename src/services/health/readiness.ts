import { sql } from 'drizzle-orm';
import type { Bindings } from '../../env.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Services } from '../../lib/services.ts';

export type Dependency = 'database' | 'redis' | 'queues';
export interface DependencyCheck {
  status: 'ok' | 'fail';
  latencyMs: number;
}
export type ReadinessReport = Record<Dependency, DependencyCheck>;

export const CHECK_TIMEOUT_MS = 3_000;

async function timed(check: () => Promise<void>, logger: Logger, dependency: Dependency): Promise<DependencyCheck> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return { status: 'ok', latencyMs: Date.now() - started };
  } catch (error) {
    logger.warn('readiness check failed', { dependency, error });
    return { status: 'fail', latencyMs: Date.now() - started };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Checks every dependency a request may need, in parallel: one database query, one Redis command, the queues. */
export async function checkReadiness({
  ctx,
}: {
  ctx: { services: Services; bindings: Bindings; logger: Logger };
}): Promise<ReadinessReport> {
  const [database, redis, queues] = await Promise.all([
    timed(
      async () => {
        await ctx.services.db.execute(sql`select 1`);
      },
      ctx.logger,
      'database',
    ),
    timed(
      async () => {
        const pong = await ctx.services.redis.ping();
        if (pong !== 'PONG') throw new Error(`unexpected PING reply ${pong}`);
      },
      ctx.logger,
      'redis',
    ),
    // A producer binding cannot be probed without sending; its presence and shape were validated at the entry.
    timed(
      () => {
        const { EMAIL_QUEUE, WEBHOOK_QUEUE, AUDIT_QUEUE } = ctx.bindings;
        if ([EMAIL_QUEUE, WEBHOOK_QUEUE, AUDIT_QUEUE].some((queue) => typeof queue.send !== 'function')) {
          return Promise.reject(new Error('queue producer binding missing'));
        }
        return Promise.resolve();
      },
      ctx.logger,
      'queues',
    ),
  ]);
  return { database, redis, queues };
}
