import { and, eq, gte, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import {
  auditLogs,
  deadLetters,
  bookings,
  events,
  organizations,
  outbox,
  platformDailyMetrics,
  refreshTokens,
  users,
  webhookDeliveries,
} from '../../src/db/schema/index.ts';
import { scoped } from '../../src/db/tenant.ts';
import { DAY_MS, dayStart, utcDay } from '../../src/lib/days.ts';
import { createLogger } from '../../src/lib/logger.ts';
import type { PlatformMetricsResponse } from '../../src/routes/platform/metrics-schema.ts';
import {
  MAX_METRICS_DAYS,
  rollupPlatformMetrics,
  rollupPlatformMetricsIfDue,
} from '../../src/services/platform/metrics.ts';
import { randomIp } from '../support/auth.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { runCron, withCronLock } from '../support/cron.ts';
import {
  appDatabase,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM, platformToken, signup, signupBody } from '../support/organizations.ts';
import { receiverUrl } from '../support/webhooks.ts';
import { call, memberWithToken } from '../support/users.ts';

// Issue #16 part 1: the admin dashboard's metrics, rolled up daily by the scheduled handler.

// No other test books in this currency, so its figures are exactly this file's.
const CURRENCY = 'ISK';
const logger = createLogger({ test: 'platform-metrics' });

function metrics(query: string, token: string | null, headers: Record<string, string> = {}, host = PLATFORM) {
  return request(`${host}/api/v1/platform/metrics${query}`, {
    headers: {
      'cf-connecting-ip': randomIp(),
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
  });
}

/** Today's and yesterday's rows recomputed now, as the scheduled handler does when they are due. */
function rollup(days: [string, ...string[]] = [utcDay(Date.now() - DAY_MS), utcDay()]) {
  return withCronLock(() => rollupPlatformMetrics(appDatabase(), days));
}

/**
 * Today's flows recounted straight from the tables with the owner connection, written differently from the rollup
 * (query builder and set arithmetic in the test), as the expected values.
 */
async function recount(day = utcDay()) {
  const db = database();
  const start = new Date(dayStart(day));
  const end = new Date(dayStart(day) + DAY_MS);
  const within = (column: AnyPgColumn) => and(gte(column, start), lt(column, end));
  const [orgs, accounts, sessions, platformLogins, published, succeeded, failed] = await Promise.all([
    db.$count(organizations, within(organizations.createdAt)),
    db.$count(users, within(users.createdAt)),
    db.selectDistinct({ id: refreshTokens.userId }).from(refreshTokens).where(within(refreshTokens.createdAt)),
    db
      .selectDistinct({ id: auditLogs.actorUserId })
      .from(auditLogs)
      .where(
        and(
          isNull(auditLogs.organizationId),
          eq(auditLogs.action, 'auth.login'),
          isNotNull(auditLogs.actorUserId),
          within(auditLogs.createdAt),
        ),
      ),
    db.$count(events, within(events.publishedAt)),
    db.$count(webhookDeliveries, and(eq(webhookDeliveries.status, 'succeeded'), within(webhookDeliveries.updatedAt))),
    db.$count(webhookDeliveries, and(eq(webhookDeliveries.status, 'failed'), within(webhookDeliveries.updatedAt))),
  ]);
  const active = new Set([...sessions.map((row) => row.id), ...platformLogins.map((row) => row.id)]);
  return {
    signups: { organizations: orgs, users: accounts },
    activeUsers: active.size,
    eventsPublished: published,
    webhookDeliveries: { succeeded, failed },
  };
}

type Recount = Awaited<ReturnType<typeof recount>>;

/**
 * Rolls up and reads the dashboard while nothing else changed the figures: other test files write to the same
 * database, so the rollup is retried until the recount before it equals the one after it (then the rollup saw exactly
 * that state).
 */
async function settledRollup(token: string): Promise<{ expected: Recount; today: PlatformMetricsDay }> {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const before = await recount();
    await rollup();
    const response = await metrics(`?from=${utcDay()}&to=${utcDay()}`, token);
    expect(response.status).toBe(200);
    const body = await response.json<PlatformMetricsResponse>();
    const after = await recount();
    const today = body.days[0];
    if (today && JSON.stringify(before) === JSON.stringify(after)) return { expected: after, today };
  }
  throw new Error('the figures never held still for one rollup');
}

type PlatformMetricsDay = PlatformMetricsResponse['days'][number];

async function storedRows(day: string) {
  const rows = await database()
    .select({
      metric: platformDailyMetrics.metric,
      dimension: platformDailyMetrics.dimension,
      value: platformDailyMetrics.value,
    })
    .from(platformDailyMetrics)
    .where(eq(platformDailyMetrics.day, day))
    .orderBy(platformDailyMetrics.metric, platformDailyMetrics.dimension);
  return rows;
}

/** A pro organization (webhooks) with an organizer, manual payment, and a draft event selling `CURRENCY` tickets. */
async function shop(): Promise<{ tenant: TestTenant; token: string; eventId: string; slug: string; ticket: string }> {
  const tenant = await createTenant({ plan: 'pro' });
  await enableManualPayment(tenant);
  const { token } = await memberWithToken(tenant, 'admin');
  const event = await createEvent(tenant, { status: 'draft' });
  const ticket = await createTicketType(event, { price: 2500, currency: CURRENCY, quantity: 50 });
  return { tenant, token, eventId: event.id, slug: event.slug, ticket: ticket.id };
}

describe('GET /api/v1/platform/metrics', () => {
  it('counts the day exactly: sign-ups, active users, events, bookings, refunds, webhook deliveries', async () => {
    const admin = await createPlatformAdmin();
    const start = await recount();

    // A sign-up through the API: one organization and its owner's account.
    const created = await signup(signupBody());
    expect(created.status, await created.clone().text()).toBe(201);

    // An event published, two bookings confirmed, one refunded in part, all through the API.
    const { tenant, token, eventId, slug, ticket } = await shop();
    const published = await call(tenant, 'POST', `/api/v1/events/${eventId}/publish`, { token });
    expect(published.status).toBe(200);
    const first = await book(tenant, slug, { items: [{ ticketTypeId: ticket, quantity: 2 }] });
    const second = await book(tenant, slug, { items: [{ ticketTypeId: ticket, quantity: 1 }] });
    for (const booking of [first, second]) {
      const confirmed = await call(tenant, 'POST', `/api/v1/bookings/${booking.id}/confirm`, { token });
      expect(confirmed.status).toBe(200);
    }
    const refunded = await call(tenant, 'POST', `/api/v1/bookings/${first.id}/refund`, {
      token,
      body: { amount: 1000, reason: 'Partial goodwill refund' },
    });
    expect(refunded.status).toBe(201);

    // A webhook endpoint through the API; its deliveries' outcomes as the consumer records them.
    const endpoint = await call(tenant, 'POST', '/api/v1/webhooks', { token, body: { url: receiverUrl() } });
    expect(endpoint.status).toBe(201);
    const { id: endpointId } = await endpoint.json<{ id: string }>();
    await database()
      .insert(webhookDeliveries)
      .values(
        (['succeeded', 'succeeded', 'failed'] as const).map((status) => ({
          organizationId: tenant.organization.id,
          endpointId,
          eventId: crypto.randomUUID(),
          eventType: 'booking.confirmed',
          status,
          attempts: 1,
        })),
      );

    const { expected, today } = await settledRollup(admin.token);
    expect(today).toMatchObject(expected);
    expect(today.computedAt).not.toBeNull();
    // This file's own activity is in the figures.
    expect(expected.signups.organizations - start.signups.organizations).toBeGreaterThanOrEqual(2);
    expect(expected.signups.users - start.signups.users).toBeGreaterThanOrEqual(2);
    expect(expected.eventsPublished - start.eventsPublished).toBeGreaterThanOrEqual(1);
    expect(expected.webhookDeliveries.succeeded - start.webhookDeliveries.succeeded).toBeGreaterThanOrEqual(2);
    expect(expected.webhookDeliveries.failed - start.webhookDeliveries.failed).toBeGreaterThanOrEqual(1);
    // The currency only this file uses: exact.
    expect(today.bookings.find((row) => row.currency === CURRENCY)).toEqual({
      currency: CURRENCY,
      count: 2,
      amount: 3 * 2500,
    });
    expect(today.refunds.find((row) => row.currency === CURRENCY)).toEqual({
      currency: CURRENCY,
      count: 1,
      amount: 1000,
    });
    // Today's snapshot: every organization by plan and status, and the outbox backlog.
    expect(today.organizations?.byPlan.pro).toBeGreaterThanOrEqual(1);
    expect(today.outboxBacklog).not.toBeNull();
  });

  it('snapshots organizations by plan and status and the outbox backlog as the rollup found them', async () => {
    const admin = await createPlatformAdmin();
    await createTenant({ plan: 'enterprise', status: 'suspended' });
    const db = database();
    const now = async () => {
      const [groups, backlog, deadLettersOpen] = await Promise.all([
        db
          .select({ plan: organizations.plan, status: organizations.status, n: sql<number>`count(*)::int` })
          .from(organizations)
          .groupBy(organizations.plan, organizations.status)
          .orderBy(organizations.plan, organizations.status),
        db.$count(outbox, isNull(outbox.dispatchedAt)),
        db.$count(deadLetters, isNull(deadLetters.resolvedAt)),
      ]);
      const sum = (keep: (row: (typeof groups)[number]) => boolean) =>
        groups.filter(keep).reduce((total, row) => total + row.n, 0);
      return {
        day: utcDay(),
        organizations: {
          byPlan: {
            starter: sum((row) => row.plan === 'starter'),
            pro: sum((row) => row.plan === 'pro'),
            enterprise: sum((row) => row.plan === 'enterprise'),
          },
          byStatus: {
            active: sum((row) => row.status === 'active'),
            suspended: sum((row) => row.status === 'suspended'),
          },
        },
        outboxBacklog: backlog,
        deadLettersOpen,
      };
    };
    // JSON with its keys in order, so the API's key order does not matter to the comparison.
    const sorted = (value: unknown): string =>
      JSON.stringify(value, (_key, field: unknown) =>
        field && typeof field === 'object' && !Array.isArray(field)
          ? Object.fromEntries(Object.entries(field).sort(([a], [b]) => a.localeCompare(b)))
          : field,
      );
    // Other files add organizations and outbox rows: retried until nothing moved during the rollup.
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const before = await now();
      await rollup([utcDay()]);
      const after = await now();
      if (sorted(before) !== sorted(after)) continue;
      const response = await metrics(`?from=${utcDay()}&to=${utcDay()}`, admin.token);
      const body = await response.json<PlatformMetricsResponse>();
      // Another file's rollup (or the cron) may rewrite today's row between ours and the read: try again.
      if (sorted(body.latest) !== sorted(after)) continue;
      expect(body.latest).toEqual(after);
      expect(body.latest?.organizations?.byStatus.suspended).toBeGreaterThanOrEqual(1);
      expect(body.latest?.organizations?.byPlan.enterprise).toBeGreaterThanOrEqual(1);
      return;
    }
    throw new Error('the organizations and the outbox never held still for one rollup');
  });

  it('gives the same rows when run twice, and backfills a past day from its rows (flows only)', async () => {
    const { tenant, eventId } = await shop();
    // A booking confirmed and refunded ten days ago, as history a backfill finds.
    const past = utcDay(Date.now() - 10 * DAY_MS);
    const at = new Date(dayStart(past) + 12 * 3_600_000);
    const [booking] = await database()
      .insert(bookings)
      .values({
        organizationId: tenant.organization.id,
        eventId,
        status: 'confirmed',
        buyerName: 'Ada',
        buyerEmail: 'ada@example.com',
        total: 4200,
        currency: CURRENCY,
        provider: 'manual',
        tokenHash: crypto.randomUUID(),
        confirmedAt: at,
        createdAt: at,
      })
      .returning({ id: bookings.id });

    await rollup([past]);
    const once = await storedRows(past);
    await rollup([past]);
    expect(await storedRows(past)).toEqual(once);
    expect(once).toContainEqual({ metric: 'bookings_confirmed', dimension: CURRENCY, value: 1 });
    expect(once).toContainEqual({ metric: 'gross_volume', dimension: CURRENCY, value: 4200 });
    // A past day gets no snapshot: it cannot be recounted.
    expect(once.filter((row) => row.metric.startsWith('organizations_by') || row.metric === 'outbox_backlog')).toEqual(
      [],
    );

    // A row the recount no longer yields goes away (the booking deleted: no ISK that day).
    await database()
      .delete(bookings)
      .where(eq(bookings.id, booking?.id ?? ''));
    await rollup([past]);
    const rows = await storedRows(past);
    expect(rows.filter((row) => row.dimension === CURRENCY)).toEqual([]);
    expect(rows.map((row) => row.metric)).toContain('organizations_created');

    // Today's rows twice in a row are the same. Every other file adds organizations, accounts and outbox rows to
    // today while this runs, so the comparison keeps to the rows of a currency no other file uses: a booking
    // confirmed today in it, rolled up twice, gives the same rows both times.
    await database().insert(bookings).values({
      organizationId: tenant.organization.id,
      eventId,
      status: 'confirmed',
      buyerName: 'Ada',
      buyerEmail: 'ada@example.com',
      total: 1700,
      currency: CURRENCY,
      provider: 'manual',
      tokenHash: crypto.randomUUID(),
      confirmedAt: new Date(),
    });
    const ours = (rows: Awaited<ReturnType<typeof storedRows>>) => rows.filter((row) => row.dimension === CURRENCY);
    await rollup();
    const first = ours(await storedRows(utcDay()));
    await rollup();
    expect(ours(await storedRows(utcDay()))).toEqual(first);
    expect(first.find((row) => row.metric === 'gross_volume')?.value).toBeGreaterThanOrEqual(1700);
  });

  it('is rolled up by the scheduled handler, then not again until the rows are older than the interval', async () => {
    await runCron();
    const [row] = await database()
      .select({ at: sql<string>`max(${platformDailyMetrics.computedAt})::text` })
      .from(platformDailyMetrics)
      .where(eq(platformDailyMetrics.day, utcDay()));
    expect(row?.at).toBeTruthy();
    expect(Date.now() - new Date(row?.at ?? 0).getTime()).toBeLessThan(11 * 60_000);
    expect(await withCronLock(() => rollupPlatformMetricsIfDue(appDatabase(), logger))).toBe(false);
  });

  it('answers in one database round trip, days oldest first with zeros for days not rolled up', async () => {
    const admin = await createPlatformAdmin();
    await rollup();
    const requestId = newRequestId();
    const from = utcDay(Date.now() - (MAX_METRICS_DAYS - 1) * DAY_MS);
    const response = await metrics(`?from=${from}&to=${utcDay()}`, admin.token, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const body = await response.json<PlatformMetricsResponse>();
    expect(body.days).toHaveLength(MAX_METRICS_DAYS);
    expect(body.days[0]).toMatchObject({ computedAt: null, organizations: null, outboxBacklog: null, bookings: [] });
    expect(body.days.at(-1)?.day).toBe(utcDay());
    expect(body.days.at(-1)?.computedAt).not.toBeNull();

    // The default: the last 30 days up to today.
    const defaults = await (await metrics('', admin.token)).json<PlatformMetricsResponse>();
    expect(defaults.days).toHaveLength(30);
    expect(defaults.to).toBe(utcDay());
    expect(defaults.from).toBe(utcDay(Date.now() - 29 * DAY_MS));
    const finished = defaults.totals.webhookDeliveries.succeeded + defaults.totals.webhookDeliveries.failed;
    expect(defaults.totals.webhookDeliveries.successRate).toBe(
      finished === 0 ? null : defaults.totals.webhookDeliveries.succeeded / finished,
    );
  });

  it('refuses a bad range with 400: over 366 days, from after to, not a date, an unknown parameter', async () => {
    const admin = await createPlatformAdmin();
    const tooLong = await metrics(`?from=2025-01-01&to=2026-01-02`, admin.token);
    expect(tooLong.status).toBe(400);
    expect((await problem(tooLong)).errors?.[0]).toMatchObject({ pointer: '/query/from' });
    for (const query of ['?from=2026-05-02&to=2026-05-01', '?from=2026-02-30', '?to=yesterday', '?org=x']) {
      const response = await metrics(query, admin.token);
      expect(response.status, query).toBe(400);
      expect((await problem(response)).code, query).toBe('validation_failed');
    }
    expect((await metrics('?from=2025-01-01&to=2026-01-01', admin.token)).status).toBe(200);
  });

  it('is for platform administrators on the platform host only: 401, 403, and 404 on an organization host', async () => {
    expect((await metrics('', null)).status).toBe(401);
    const tenant = await createTenant();
    const { member, token } = await memberWithToken(tenant, 'owner');
    // A tenant's token is not valid on the platform host; a platform token without the role is refused.
    expect((await metrics('', token)).status).toBe(401);
    expect((await metrics('', await platformToken(member.userId, 'member'))).status).toBe(403);
    expect((await metrics('', null, {}, `http://${tenant.host}`)).status).toBe(404);
    expect((await metrics('', token, {}, `http://${tenant.host}`)).status).toBe(404);
  });

  it('keeps the rows out of every tenant scope (row-level security)', async () => {
    const tenant = await createTenant();
    await rollup([utcDay()]);
    const db = appDatabase();
    const [seen] = await scoped(db, { organizationId: tenant.organization.id }, [
      db.select({ n: sql<number>`count(*)::int` }).from(platformDailyMetrics),
    ]);
    expect(seen[0]?.n).toBe(0);
    await expect(
      scoped(db, { organizationId: tenant.organization.id }, [
        db.insert(platformDailyMetrics).values({ day: '2020-01-01', metric: 'forged', value: 1 }),
      ]),
    ).rejects.toThrow();
    expect(await database().$count(platformDailyMetrics, inArray(platformDailyMetrics.metric, ['forged']))).toBe(0);
  });
});
