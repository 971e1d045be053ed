import { and, asc, gte, lte, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.ts';
import { organizationPlan, organizationStatus, platformDailyMetrics } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { DAY_MS, dayRange, daysBetween, dayStart, utcDay } from '../../lib/days.ts';
import type { Logger } from '../../lib/logger.ts';
import { DEAD_LETTER_QUEUES, type DeadLetterQueue } from './dead-letters.ts';

/**
 * The platform administrators' dashboard metrics (issue #16 part 1). The scheduled handler rolls the tenant tables up
 * into `platform_daily_metrics` (one row per UTC day, metric and dimension), and the dashboard reads those rows: one
 * database round trip whose size depends on the days asked for, not on the number of organizations.
 *
 * Two kinds of metric:
 * - flows, counted from the rows of the day (sign-ups, active users, events published, bookings, refunds, webhook
 *   deliveries, emails): recomputed for today and yesterday (a transaction that began before midnight commits after
 *   it), and computable for any past day (backfill) as far as the rows are kept;
 * - snapshots of "now" (organizations by plan and by status, the outbox backlog): written only for today, so a day's
 *   snapshot is the last one taken that day; a past day has none unless a rollup ran on it.
 *
 * Queues: the messages that reached the dead-letter queue, per day and queue (`dead_letters`, the rows its consumer
 * records), those not yet resolved (`dead_letters_open`, a snapshot), the webhook deliveries that gave up
 * (`failed`: retries exhausted or the endpoint disabled) and the outbox rows not yet dispatched (`outbox_backlog`).
 */

/** How stale today's rows may get before the scheduled handler (every minute) recomputes them. */
export const ROLLUP_INTERVAL_MINUTES = 10;
/** The longest range one request may read. */
export const MAX_METRICS_DAYS = 366;

const FLOW_METRICS = [
  'organizations_created',
  'users_created',
  'active_users',
  'events_published',
  'bookings_confirmed',
  'gross_volume',
  'refunds',
  'refunded_amount',
  'webhook_deliveries_succeeded',
  'webhook_deliveries_failed',
  'emails_sent',
  'dead_letters',
] as const;
const SNAPSHOT_METRICS = [
  'organizations_by_plan',
  'organizations_by_status',
  'outbox_backlog',
  'dead_letters_open',
] as const;
type Metric = (typeof FLOW_METRICS)[number] | (typeof SNAPSHOT_METRICS)[number];

const metricList = (metrics: readonly Metric[]) =>
  sql.join(
    metrics.map((metric) => sql`${metric}::text`),
    sql`, `,
  );

/** The flow metrics of the UTC day `[start, end)`, as (metric, dimension, value) rows. */
function flowRows(day: string, start: string, end: string): SQL {
  const inDay = (column: string) =>
    sql`${sql.raw(column)} >= ${start}::timestamptz and ${sql.raw(column)} < ${end}::timestamptz`;
  const scalar = (metric: Metric, query: SQL) => sql`select ${metric}::text, ''::text, (${query})::bigint`;
  const byCurrency = (metric: Metric, aggregate: string, from: string, where: SQL) =>
    sql`select ${metric}::text, currency, ${sql.raw(aggregate)}::bigint from ${sql.raw(from)} where ${where} group by currency`;
  const confirmed = inDay('confirmed_at');
  const refunded = sql`status = 'succeeded' and ${inDay('updated_at')}`;
  return sql.join(
    [
      scalar('organizations_created', sql`select count(*) from organizations where ${inDay('created_at')}`),
      scalar('users_created', sql`select count(*) from users where ${inDay('created_at')}`),
      // A sign-in or a refresh in an organization adds a refresh token; a platform administrator's sign-in stores no
      // session, only its audit row.
      scalar(
        'active_users',
        sql`select count(*) from (
          select user_id from refresh_tokens where ${inDay('created_at')}
          union
          select actor_user_id from audit_logs
           where organization_id is null and action = 'auth.login' and actor_user_id is not null
             and ${inDay('created_at')}) active`,
      ),
      scalar('events_published', sql`select count(*) from events where ${inDay('published_at')}`),
      byCurrency('bookings_confirmed', 'count(*)', 'bookings', confirmed),
      byCurrency('gross_volume', 'sum(total)', 'bookings', confirmed),
      byCurrency('refunds', 'count(*)', 'refunds', refunded),
      byCurrency('refunded_amount', 'sum(amount)', 'refunds', refunded),
      scalar(
        'webhook_deliveries_succeeded',
        sql`select count(*) from webhook_deliveries where status = 'succeeded' and ${inDay('updated_at')}`,
      ),
      scalar(
        'webhook_deliveries_failed',
        sql`select count(*) from webhook_deliveries where status = 'failed' and ${inDay('updated_at')}`,
      ),
      scalar(
        'emails_sent',
        sql`select coalesce(sum(count), 0) from usage_daily where day = ${day}::date and metric = 'emails'`,
      ),
      sql`select 'dead_letters'::text, queue, count(*)::bigint from dead_letters where ${inDay('dead_at')} group by queue`,
    ],
    sql` union all `,
  );
}

/**
 * The metrics counted from tenant tables, which live on the database that serves each organization: on a dedicated
 * database they are counted there too (`dedicatedMetricsSql`) and added to the control database's. The others
 * (organizations, users, emails from the usage flush) are counted on the control database only: a dedicated database
 * holds copies of those rows. `active_users` is summed per database: a person active in organizations on two
 * databases the same day counts twice.
 */
const TENANT_METRICS: readonly Metric[] = [
  'active_users',
  'events_published',
  'bookings_confirmed',
  'gross_volume',
  'refunds',
  'refunded_amount',
  'webhook_deliveries_succeeded',
  'webhook_deliveries_failed',
  'outbox_backlog',
];

/** One (metric, dimension, value) row counted on a dedicated database, to add to the control database's. */
export interface MetricRow {
  metric: string;
  dimension: string;
  value: number;
}

const MetricRows = z.array(
  z.object({ metric: z.string(), dimension: z.string(), value: z.coerce.number().int().nonnegative() }),
);

/** The tenant-table metrics of one day as counted on a dedicated database (a read; the rollup adds them up). */
export function dedicatedMetricsSql(day: string, withSnapshot: boolean): SQL {
  const start = new Date(dayStart(day)).toISOString();
  const end = new Date(dayStart(day) + DAY_MS).toISOString();
  const outbox = sql`select 'outbox_backlog'::text, ''::text,
    (select count(*) from outbox where dispatched_at is null)::bigint`;
  const rows = withSnapshot ? sql`${flowRows(day, start, end)} union all ${outbox}` : flowRows(day, start, end);
  return sql`select metric, dimension, value::text as value from (${rows}) counted (metric, dimension, value)
    where metric in (${metricList(TENANT_METRICS)})`;
}

/** The snapshot metrics, as of now. */
function snapshotRows(): SQL {
  return sql`
    select 'organizations_by_plan'::text, p.value::text,
           (select count(*) from organizations o where o.plan = p.value)::bigint
      from unnest(enum_range(null::organization_plan)) as p(value)
    union all
    select 'organizations_by_status'::text, s.value::text,
           (select count(*) from organizations o where o.status = s.value)::bigint
      from unnest(enum_range(null::organization_status)) as s(value)
    union all
    select 'outbox_backlog'::text, ''::text, (select count(*) from outbox where dispatched_at is null)::bigint
    union all
    select 'dead_letters_open'::text, ''::text, (select count(*) from dead_letters where resolved_at is null)::bigint`;
}

/**
 * The statement that recomputes one day: every metric is upserted (the value replaced, `computed_at` set), and the
 * day's rows of these metrics that the recount no longer yields (a currency with nothing left) are deleted, so
 * running it twice leaves the same rows. Run it under the platform scope. Exported for the backfill script
 * (drizzle/backfill-metrics.ts), which runs it in Node over node-postgres.
 */
export function rollupSql(day: string, withSnapshot: boolean, dedicated: readonly MetricRow[] = []): SQL {
  const start = new Date(dayStart(day)).toISOString();
  const end = new Date(dayStart(day) + DAY_MS).toISOString();
  const metrics: Metric[] = withSnapshot ? [...FLOW_METRICS, ...SNAPSHOT_METRICS] : [...FLOW_METRICS];
  const rows = withSnapshot ? sql`${flowRows(day, start, end)} union all ${snapshotRows()}` : flowRows(day, start, end);
  return sql`
    with counted (metric, dimension, value) as (${rows}),
    added (metric, dimension, value) as (
      select metric, dimension, value::bigint
        from jsonb_to_recordset(${JSON.stringify(dedicated)}::jsonb) as d(metric text, dimension text, value text)
    ),
    fresh (metric, dimension, value) as (
      select metric, dimension, sum(value)::bigint from (select * from counted union all select * from added) every_database
       group by metric, dimension
    ),
    written as (
      insert into platform_daily_metrics (day, metric, dimension, value, computed_at)
      select ${day}::date, metric, dimension, value, now() from fresh
      on conflict (day, metric, dimension)
      do update set value = excluded.value, computed_at = excluded.computed_at
      returning 1
    ),
    removed as (
      delete from platform_daily_metrics p
       where p.day = ${day}::date and p.metric in (${metricList(metrics)})
         and not exists (select 1 from fresh f where f.metric = p.metric and f.dimension = p.dimension)
      returning 1
    )
    select (select count(*) from written)::int as written, (select count(*) from removed)::int as removed`;
}

/**
 * Recomputes the rows of the given UTC days in one batch (one round trip, one transaction): the flow metrics of each
 * day, and the snapshot metrics for `today` only (a past day's snapshot cannot be recounted), with the tenant-table
 * metrics counted on each of `dedicatedDatabases` added (one read each, side by side, before). Idempotent. For the
 * scheduled handler (`rollupPlatformMetricsIfDue`) and a backfill of past days.
 */
export async function rollupPlatformMetrics(
  db: Database,
  days: readonly [string, ...string[]],
  now = Date.now(),
  dedicatedDatabases: readonly Database[] = [],
): Promise<{ days: number; rows: number }> {
  const today = utcDay(now);
  // The tenant tables of the organizations on dedicated databases: one read per database, side by side.
  const dedicated = await Promise.all(
    dedicatedDatabases.map(async (other) => {
      const [first, ...rest] = days.map((day) => other.execute(dedicatedMetricsSql(day, day === today)));
      if (first === undefined) return [];
      const results = await scoped(other, { platform: true }, [first, ...rest]);
      return results.map((result) => MetricRows.parse(result.rows));
    }),
  );
  const addedOn = (index: number): MetricRow[] => dedicated.flatMap((perDay) => perDay[index] ?? []);
  const statement = (day: string, index: number) => db.execute(rollupSql(day, day === today, addedOn(index)));
  const results = await scoped(db, { platform: true }, [
    statement(days[0], 0),
    ...days.slice(1).map((day, index) => statement(day, index + 1)),
  ]);
  const rows = results.reduce((sum, result) => sum + Number(result.rows[0]?.written ?? 0), 0);
  return { days: days.length, rows };
}

/**
 * The scheduled handler's rollup (every minute): when today's rows are missing or older than
 * ROLLUP_INTERVAL_MINUTES, recomputes yesterday's and today's (`rollupPlatformMetrics`), adding what the tenant
 * tables of `dedicatedDatabases` count. One round trip when nothing is due, two otherwise (plus one per dedicated
 * database, side by side); overlapping runs write the same rows.
 */
export async function rollupPlatformMetricsIfDue(
  db: Database,
  logger: Logger,
  now = Date.now(),
  dedicatedDatabases: readonly Database[] = [],
): Promise<boolean> {
  const today = utcDay(now);
  const [check] = await scoped(db, { platform: true }, [
    db.execute(sql`select coalesce(max(computed_at) < now() - make_interval(mins => ${ROLLUP_INTERVAL_MINUTES}), true)
      as due from platform_daily_metrics where day = ${today}::date`),
  ]);
  if (check.rows[0]?.due !== true) return false;
  const started = Date.now();
  const result = await rollupPlatformMetrics(db, [utcDay(now - DAY_MS), today], now, dedicatedDatabases);
  logger.info('platform metrics rolled up', { ...result, ms: Date.now() - started });
  return true;
}

const PLANS = organizationPlan.enumValues;
const STATUSES = organizationStatus.enumValues;
type Plan = (typeof PLANS)[number];
type Status = (typeof STATUSES)[number];

/** Money or a count per currency (amounts in minor units). */
export interface CurrencyFigures {
  currency: string;
  count: number;
  amount: number;
}

export interface OrganizationsSnapshot {
  byPlan: Record<Plan, number>;
  byStatus: Record<Status, number>;
}

export interface PlatformMetricsDay {
  day: string;
  computedAt: string | null;
  signups: { organizations: number; users: number };
  activeUsers: number;
  eventsPublished: number;
  bookings: CurrencyFigures[];
  refunds: CurrencyFigures[];
  webhookDeliveries: { succeeded: number; failed: number };
  emailsSent: number;
  /** Messages that reached the dead-letter queue that day, per queue they failed on. */
  deadLetters: Record<DeadLetterQueue, number>;
  organizations: OrganizationsSnapshot | null;
  outboxBacklog: number | null;
  deadLettersOpen: number | null;
}

export interface PlatformMetrics {
  from: string;
  to: string;
  days: PlatformMetricsDay[];
  totals: {
    signups: { organizations: number; users: number };
    eventsPublished: number;
    bookings: CurrencyFigures[];
    refunds: CurrencyFigures[];
    webhookDeliveries: { succeeded: number; failed: number; successRate: number | null };
    emailsSent: number;
    deadLetters: Record<DeadLetterQueue, number>;
  };
  latest: {
    day: string;
    organizations: OrganizationsSnapshot | null;
    outboxBacklog: number | null;
    deadLettersOpen: number | null;
  } | null;
}

const Row = z.object({
  day: z.string(),
  metric: z.string(),
  dimension: z.string(),
  value: z.coerce.number(),
  computedAt: z.union([z.string(), z.date()]).transform((value) => new Date(value).toISOString()),
});
type Row = z.infer<typeof Row>;

function emptyDay(day: string): PlatformMetricsDay {
  return {
    day,
    computedAt: null,
    signups: { organizations: 0, users: 0 },
    activeUsers: 0,
    eventsPublished: 0,
    bookings: [],
    refunds: [],
    webhookDeliveries: { succeeded: 0, failed: 0 },
    emailsSent: 0,
    deadLetters: noDeadLetters(),
    organizations: null,
    outboxBacklog: null,
    deadLettersOpen: null,
  };
}

function noDeadLetters(): Record<DeadLetterQueue, number> {
  return Object.fromEntries(DEAD_LETTER_QUEUES.map((queue) => [queue, 0])) as Record<DeadLetterQueue, number>;
}

function isDeadLetterQueue(value: string): value is DeadLetterQueue {
  return (DEAD_LETTER_QUEUES as readonly string[]).includes(value);
}

function figuresOf(list: CurrencyFigures[], currency: string): CurrencyFigures {
  let entry = list.find((figures) => figures.currency === currency);
  if (entry === undefined) {
    entry = { currency, count: 0, amount: 0 };
    list.push(entry);
  }
  return entry;
}

function snapshotOf(entry: PlatformMetricsDay): OrganizationsSnapshot {
  entry.organizations ??= {
    byPlan: Object.fromEntries(PLANS.map((plan) => [plan, 0])) as Record<Plan, number>,
    byStatus: Object.fromEntries(STATUSES.map((status) => [status, 0])) as Record<Status, number>,
  };
  return entry.organizations;
}

function isPlan(value: string): value is Plan {
  return (PLANS as readonly string[]).includes(value);
}

function isStatus(value: string): value is Status {
  return (STATUSES as readonly string[]).includes(value);
}

/** Puts one stored row into its day. Rows of metrics this version does not know are ignored. */
function apply(entry: PlatformMetricsDay, row: Row): void {
  if (entry.computedAt === null || row.computedAt > entry.computedAt) entry.computedAt = row.computedAt;
  const { value, dimension } = row;
  switch (row.metric as Metric) {
    case 'organizations_created':
      entry.signups.organizations = value;
      break;
    case 'users_created':
      entry.signups.users = value;
      break;
    case 'active_users':
      entry.activeUsers = value;
      break;
    case 'events_published':
      entry.eventsPublished = value;
      break;
    case 'bookings_confirmed':
      figuresOf(entry.bookings, dimension).count = value;
      break;
    case 'gross_volume':
      figuresOf(entry.bookings, dimension).amount = value;
      break;
    case 'refunds':
      figuresOf(entry.refunds, dimension).count = value;
      break;
    case 'refunded_amount':
      figuresOf(entry.refunds, dimension).amount = value;
      break;
    case 'webhook_deliveries_succeeded':
      entry.webhookDeliveries.succeeded = value;
      break;
    case 'webhook_deliveries_failed':
      entry.webhookDeliveries.failed = value;
      break;
    case 'emails_sent':
      entry.emailsSent = value;
      break;
    case 'organizations_by_plan':
      if (isPlan(dimension)) snapshotOf(entry).byPlan[dimension] = value;
      break;
    case 'organizations_by_status':
      if (isStatus(dimension)) snapshotOf(entry).byStatus[dimension] = value;
      break;
    case 'outbox_backlog':
      entry.outboxBacklog = value;
      break;
    case 'dead_letters':
      if (isDeadLetterQueue(dimension)) entry.deadLetters[dimension] = value;
      break;
    case 'dead_letters_open':
      entry.deadLettersOpen = value;
      break;
  }
}

function addFigures(into: CurrencyFigures[], from: CurrencyFigures[]): void {
  for (const figures of from) {
    const entry = figuresOf(into, figures.currency);
    entry.count += figures.count;
    entry.amount += figures.amount;
  }
}

const byCurrency = (a: CurrencyFigures, b: CurrencyFigures) => a.currency.localeCompare(b.currency);

/**
 * The dashboard: every UTC day of `from`..`to` (default the last 30 days up to today, at most MAX_METRICS_DAYS; 400
 * beyond and when `from` is after `to`) from the rolled-up rows, with totals over the range and the latest snapshot.
 * A day the rollup has not reached reads as zeros with `computedAt: null`. One database round trip.
 */
export async function platformMetrics({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { from?: string | undefined; to?: string | undefined };
}): Promise<PlatformMetrics> {
  const { from, to } = dayRange(input, MAX_METRICS_DAYS);
  const db = ctx.services.db;
  const [stored] = await scoped(db, { platform: true }, [
    db
      .select({
        day: sql<string>`${platformDailyMetrics.day}::text`,
        metric: platformDailyMetrics.metric,
        dimension: platformDailyMetrics.dimension,
        value: platformDailyMetrics.value,
        computedAt: platformDailyMetrics.computedAt,
      })
      .from(platformDailyMetrics)
      .where(and(gte(platformDailyMetrics.day, from), lte(platformDailyMetrics.day, to)))
      .orderBy(asc(platformDailyMetrics.day)),
  ]);
  const days = daysBetween(from, to).map(emptyDay);
  const byDay = new Map(days.map((entry) => [entry.day, entry]));
  for (const row of z.array(Row).parse(stored)) {
    const entry = byDay.get(row.day);
    if (entry) apply(entry, row);
  }

  const totals: PlatformMetrics['totals'] = {
    signups: { organizations: 0, users: 0 },
    eventsPublished: 0,
    bookings: [],
    refunds: [],
    webhookDeliveries: { succeeded: 0, failed: 0, successRate: null },
    emailsSent: 0,
    deadLetters: noDeadLetters(),
  };
  for (const entry of days) {
    entry.bookings.sort(byCurrency);
    entry.refunds.sort(byCurrency);
    totals.signups.organizations += entry.signups.organizations;
    totals.signups.users += entry.signups.users;
    totals.eventsPublished += entry.eventsPublished;
    addFigures(totals.bookings, entry.bookings);
    addFigures(totals.refunds, entry.refunds);
    totals.webhookDeliveries.succeeded += entry.webhookDeliveries.succeeded;
    totals.webhookDeliveries.failed += entry.webhookDeliveries.failed;
    totals.emailsSent += entry.emailsSent;
    for (const queue of DEAD_LETTER_QUEUES) totals.deadLetters[queue] += entry.deadLetters[queue];
  }
  totals.bookings.sort(byCurrency);
  totals.refunds.sort(byCurrency);
  const finished = totals.webhookDeliveries.succeeded + totals.webhookDeliveries.failed;
  if (finished > 0) totals.webhookDeliveries.successRate = totals.webhookDeliveries.succeeded / finished;
  const last = days.findLast(
    (entry) => entry.organizations !== null || entry.outboxBacklog !== null || entry.deadLettersOpen !== null,
  );
  return {
    from,
    to,
    days,
    totals,
    latest:
      last === undefined
        ? null
        : {
            day: last.day,
            organizations: last.organizations,
            outboxBacklog: last.outboxBacklog,
            deadLettersOpen: last.deadLettersOpen,
          },
  };
}
