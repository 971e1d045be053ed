import type { Redis } from '@upstash/redis/cloudflare';
import { and, eq, gte, inArray, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { bookings, organizations, usageDaily } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { DAY_MS, dayRange, daysBetween, dayStart, utcDay } from '../../lib/days.ts';
import type { Logger } from '../../lib/logger.ts';
import { RedisBatch } from '../../lib/redis-batch.ts';
import { createRedis } from '../../lib/redis.ts';

/**
 * Usage per organization and UTC day, counted cheaply on the hot path and kept in `usage_daily`:
 *   api_calls           authenticated requests on the organization's host, and public page requests
 *   bookings            bookings created (counted from the booking rows themselves, exact)
 *   emails              emails sent for the organization (counted by the email consumer)
 *   webhook_deliveries  webhook delivery attempts (counted by the webhook consumer)
 *
 * The counted metrics live in Redis first: `usage:<day>:<organization>:<metric>` counters (INCRBY + EXPIRE) and the
 * set `usage:pending` naming the counters that have something to flush. Request paths queue these commands into the
 * round trip they already make (the rate limiter's), so counting costs no round trip of its own. The scheduled
 * handler moves the counters into `usage_daily` every minute (flushUsage).
 */
export const USAGE_METRICS = ['api_calls', 'bookings', 'emails', 'webhook_deliveries'] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];
/** The metrics counted in Redis (bookings are counted from their rows). */
export type CountedMetric = Exclude<UsageMetric, 'bookings'>;
export const COUNTED_METRICS: readonly CountedMetric[] = ['api_calls', 'emails', 'webhook_deliveries'];

const PENDING_KEY = 'usage:pending';
/** Counters outlive a few missed flushes; a counter older than this is lost (and logged as nothing). */
export const USAGE_KEY_TTL_SECONDS = 8 * 24 * 60 * 60;
const KEY = /^usage:(\d{4}-\d{2}-\d{2}):([0-9a-f-]{36}):([a-z_]+)$/;
const FLUSH_CHUNK = 500;

export { utcDay };

export function usageKey(organizationId: string, metric: CountedMetric, day: string): string {
  return `usage:${day}:${organizationId}:${metric}`;
}

/**
 * Queues the counting of `by` units into a batch the caller sends anyway (no round trip of its own). Counting is
 * best effort: a failure is logged and never fails the request.
 */
export function queueUsage(
  batch: RedisBatch,
  logger: Logger,
  organizationId: string,
  metric: CountedMetric,
  options: { by?: number; now?: number } = {},
  settled?: () => void,
): void {
  const key = usageKey(organizationId, metric, utcDay(options.now));
  const commands = [
    batch.command((pipeline) => pipeline.incrby(key, options.by ?? 1)),
    batch.command((pipeline) => pipeline.expire(key, USAGE_KEY_TTL_SECONDS)),
    batch.command((pipeline) => pipeline.sadd(PENDING_KEY, key)),
  ];
  Promise.all(commands)
    .catch((error: unknown) => {
      logger.repeating('warn', 'usage not counted', { metric, organizationId, error });
    })
    .finally(settled);
}

/**
 * Counts usage for an organization now, in one Redis round trip: for queue consumers and background work (emails,
 * webhook deliveries). Never throws. Inside a request with a round-trip budget use `countUsageLater`.
 *
 * @example
 * await countUsage({ redis: createRedis(bindings), logger }, organizationId, 'emails');
 */
export async function countUsage(
  deps: { redis: Redis; logger: Logger },
  organizationId: string,
  metric: CountedMetric,
  options: { by?: number; now?: number } = {},
): Promise<void> {
  const batch = new RedisBatch(deps.redis);
  const done = new Promise<void>((resolve) => {
    queueUsage(batch, deps.logger, organizationId, metric, options, resolve);
  });
  batch.send();
  await done;
}

/**
 * Counts usage after the response (`waitUntil`), with a Redis client that is not on the request's round-trip trace:
 * for request paths whose budget has no room (one Redis round trip on the public checkout).
 */
export function countUsageLater(
  ctx: { bindings: Bindings; logger: Logger; waitUntil(promise: Promise<unknown>): void },
  organizationId: string,
  metric: CountedMetric,
  options: { by?: number } = {},
): void {
  ctx.waitUntil(countUsage({ redis: createRedis(ctx.bindings), logger: ctx.logger }, organizationId, metric, options));
}

export interface FlushResult {
  /** Counters moved into usage_daily. */
  counters: number;
  /** Units moved. */
  units: number;
}

interface FlushRow {
  organization_id: string;
  day: string;
  metric: string;
  count: number;
}

/**
 * Moves the Redis counters into `usage_daily` (the scheduled handler, every minute). For each batch of pending
 * counters: SREM them from the pending set, then GETDEL each (atomic read-and-reset per counter; an increment that
 * lands between the two re-adds its counter to the set for the next flush), then one additive upsert. If the
 * database refuses, the units go back into Redis. Counters of organizations this database does not know (deleted
 * ones) are left to expire with their key. Then the day's and yesterday's `bookings` rows are recounted for every
 * organization with usage in that time (an absolute, idempotent upsert).
 */
export async function flushUsage(db: Database, redis: Redis, logger: Logger, now = Date.now()): Promise<FlushResult> {
  const pending = (await redis.smembers(PENDING_KEY)).map((key) => ({ key, match: KEY.exec(key) }));
  const organizationIds = [...new Set(pending.flatMap(({ match }) => (match?.[2] ? [match[2]] : [])))];
  const [known] =
    organizationIds.length === 0
      ? [[] as { id: string }[]]
      : await scoped(db, { platform: true }, [
          db.select({ id: organizations.id }).from(organizations).where(inArray(organizations.id, organizationIds)),
        ]);
  const knownIds = new Set(known.map(({ id }) => id));
  const oldestLive = utcDay(now - USAGE_KEY_TTL_SECONDS * 1000);
  // Malformed members, and counters of unknown organizations whose key has expired by now, leave the set.
  const dropped = pending
    .filter(({ match }) => !match || (!knownIds.has(match[2] ?? '') && (match[1] ?? '') < oldestLive))
    .map(({ key }) => key);
  if (dropped.length > 0) await redis.srem(PENDING_KEY, ...dropped);
  const flushable = pending.filter(({ match }) => match && knownIds.has(match[2] ?? '')).map(({ key }) => key);

  let counters = 0;
  let units = 0;
  for (let start = 0; start < flushable.length; start += FLUSH_CHUNK) {
    const keys = flushable.slice(start, start + FLUSH_CHUNK);
    const pipeline = redis.pipeline();
    pipeline.srem(PENDING_KEY, ...keys);
    for (const key of keys) pipeline.getdel(key);
    const [, ...values] = await pipeline.exec<[number, ...(number | string | null)[]]>();
    const rows: FlushRow[] = [];
    keys.forEach((key, index) => {
      const [, day, organizationId, metric] = KEY.exec(key) as unknown as [string, string, string, string];
      const count = Number(values[index] ?? 0);
      if (Number.isSafeInteger(count) && count > 0) rows.push({ organization_id: organizationId, day, metric, count });
    });
    if (rows.length === 0) continue;
    try {
      await scoped(db, { platform: true }, [
        db.execute(sql`
          insert into ${usageDaily} (organization_id, day, metric, count)
          select r.organization_id, r.day, r.metric, r.count
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
            as r(organization_id uuid, day date, metric text, count bigint)
          where exists (select 1 from ${organizations} o where o.id = r.organization_id)
          on conflict (organization_id, day, metric)
          do update set count = ${usageDaily}.count + excluded.count`),
      ]);
    } catch (error) {
      logger.error('usage flush failed; the counts go back to Redis', { error, counters: rows.length });
      const restore = redis.pipeline();
      for (const row of rows) {
        const key = `usage:${row.day}:${row.organization_id}:${row.metric}`;
        restore.incrby(key, row.count);
        restore.expire(key, USAGE_KEY_TTL_SECONDS);
        restore.sadd(PENDING_KEY, key);
      }
      await restore.exec();
      throw error;
    }
    counters += rows.length;
    units += rows.reduce((sum, row) => sum + row.count, 0);
  }

  const yesterday = utcDay(now - 24 * 60 * 60 * 1000);
  await scoped(db, { platform: true }, [
    db.execute(sql`
      insert into ${usageDaily} (organization_id, day, metric, count)
      select b.organization_id, (b.created_at at time zone 'UTC')::date, 'bookings', count(*)
      from ${bookings} b
      where b.created_at >= ${`${yesterday}T00:00:00Z`}::timestamptz
        and b.organization_id in (
          select distinct u.organization_id from ${usageDaily} u where u.day >= ${yesterday}::date and u.metric = 'api_calls'
        )
      group by 1, 2
      on conflict (organization_id, day, metric)
      do update set count = excluded.count where ${usageDaily}.count <> excluded.count`),
  ]);
  if (counters > 0) logger.info('usage flushed', { counters, units });
  return { counters, units };
}

export interface UsageDay {
  day: string;
  api_calls: number;
  bookings: number;
  emails: number;
  webhook_deliveries: number;
}

/**
 * Usage of one organization for the UTC days `from`..`to` (inclusive, `YYYY-MM-DD`): `usage_daily` plus what Redis
 * has not flushed yet, and bookings counted from their rows. One database and one Redis round trip.
 */
export async function readUsage(
  deps: { db: Database; redis: Redis; logger: Logger },
  organizationId: string,
  range: { from: string; to: string },
  now = Date.now(),
): Promise<UsageDay[]> {
  const days = daysBetween(range.from, range.to);
  const byDay = new Map<string, UsageDay>(
    days.map((day) => [day, { day, api_calls: 0, bookings: 0, emails: 0, webhook_deliveries: 0 }]),
  );

  // Unflushed counters can only exist for the days their keys live.
  const oldestLive = utcDay(now - USAGE_KEY_TTL_SECONDS * 1000);
  const today = utcDay(now);
  const liveKeys = days
    .filter((day) => day >= oldestLive && day <= today)
    .flatMap((day) => COUNTED_METRICS.map((metric) => ({ day, metric, key: usageKey(organizationId, metric, day) })));

  const { db } = deps;
  const toEnd = new Date(dayStart(range.to) + DAY_MS);
  const [[rows, bookingRows], live] = await Promise.all([
    scoped(db, { organizationId }, [
      db
        .select({ day: usageDaily.day, metric: usageDaily.metric, count: usageDaily.count })
        .from(usageDaily)
        .where(
          and(
            eq(usageDaily.organizationId, organizationId),
            gte(usageDaily.day, range.from),
            lt(usageDaily.day, utcDay(toEnd)),
          ),
        ),
      db
        .select({
          day: sql<string>`to_char(${bookings.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`,
          count: sql<number>`count(*)::int`,
        })
        .from(bookings)
        .where(
          and(
            eq(bookings.organizationId, organizationId),
            gte(bookings.createdAt, new Date(`${range.from}T00:00:00Z`)),
            lt(bookings.createdAt, toEnd),
          ),
        )
        .groupBy(sql`1`),
    ]),
    liveKeys.length === 0
      ? Promise.resolve([] as (number | null)[])
      : deps.redis.mget<(number | null)[]>(...liveKeys.map(({ key }) => key)).catch((error: unknown) => {
          deps.logger.repeating('warn', 'live usage unavailable', { error });
          return liveKeys.map(() => null);
        }),
  ]);

  for (const row of rows) {
    const entry = byDay.get(row.day);
    if (entry && row.metric !== 'bookings' && isCounted(row.metric)) entry[row.metric] += row.count;
  }
  for (const row of bookingRows) {
    const entry = byDay.get(row.day);
    if (entry) entry.bookings = row.count;
  }
  liveKeys.forEach(({ day, metric }, index) => {
    const entry = byDay.get(day);
    const value = live[index] ?? 0;
    if (entry && Number.isSafeInteger(value) && value > 0) entry[metric] += value;
  });
  return days.map((day) => byDay.get(day) as UsageDay);
}

function isCounted(metric: string): metric is CountedMetric {
  return (COUNTED_METRICS as readonly string[]).includes(metric);
}

/** Usage over a range of days: each day's counts and the totals. */
export interface UsageReport {
  from: string;
  to: string;
  metrics: UsageMetric[];
  days: UsageDay[];
  totals: Record<UsageMetric, number>;
}

/**
 * The caller's organization's usage for the UTC days `from`..`to` (default: the 30 days up to today), at most
 * `maxDays` days (400 beyond, and when `from` is after `to`). One database and one Redis round trip (`readUsage`).
 * REST `GET /api/v1/organization/usage` and GraphQL `usage` answer it.
 */
export async function usageReport({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { from?: string | undefined; to?: string | undefined; maxDays: number };
}): Promise<UsageReport> {
  const tenant = requireTenant(ctx);
  const { from, to } = dayRange(input, input.maxDays);
  const days = await readUsage({ db: ctx.services.db, redis: ctx.services.redis, logger: ctx.logger }, tenant.id, {
    from,
    to,
  });
  const totals = { api_calls: 0, bookings: 0, emails: 0, webhook_deliveries: 0 };
  for (const day of days) for (const metric of USAGE_METRICS) totals[metric] += day[metric];
  return { from, to, metrics: [...USAGE_METRICS], days, totals };
}
