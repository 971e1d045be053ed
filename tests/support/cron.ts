import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index.ts';
import { createRedis } from '../../src/lib/redis.ts';
import { readBindings } from '../../src/middleware/bindings.ts';

/**
 * The scheduled handler sweeps every organization (lapsed holds, undispatched outbox rows, usage counters), so a
 * cron run in one test file can act on rows another file is in the middle of checking. Test files run in parallel:
 * every cron run in the suite, and every test that must not be disturbed by one, holds this lock (a Redis key shared
 * by all files of the run). Re-entrant within a file (tests of one file run one after the other).
 */
const LOCK_KEY = 'test:cron-lock';
const LOCK_TTL_MS = 60_000;
let depth = 0;
let token: string | null = null;

const redis = () => createRedis(readBindings(env as unknown as Record<string, unknown>));

export async function acquireCronLock(): Promise<void> {
  depth += 1;
  if (depth > 1) return;
  const mine = crypto.randomUUID();
  const deadline = Date.now() + 2 * LOCK_TTL_MS;
  while ((await redis().set(LOCK_KEY, mine, { nx: true, px: LOCK_TTL_MS })) === null) {
    if (Date.now() > deadline) throw new Error('the cron lock stayed taken for two minutes');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  token = mine;
}

export async function releaseCronLock(): Promise<void> {
  depth -= 1;
  if (depth > 0 || token === null) return;
  const mine = token;
  token = null;
  await redis().eval(
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
    [LOCK_KEY],
    [mine],
  );
}

export async function withCronLock<T>(fn: () => Promise<T>): Promise<T> {
  await acquireCronLock();
  try {
    return await fn();
  } finally {
    await releaseCronLock();
  }
}

/** Runs the Worker's scheduled handler as a cron trigger would (under the cron lock); resolves when it finished. */
export function runCron(cronEnv: Record<string, unknown> = env as unknown as Record<string, unknown>): Promise<void> {
  return withCronLock(async () => {
    const controller = createScheduledController({ scheduledTime: new Date(), cron: '* * * * *' });
    const ctx = createExecutionContext();
    await worker.scheduled(controller, cronEnv, ctx);
    await waitOnExecutionContext(ctx);
  });
}
