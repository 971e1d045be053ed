import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.ts';
import { usageDaily } from '../../src/db/schema/index.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createRedis } from '../../src/lib/redis.ts';
import type { UsageResponse } from '../../src/routes/organization-features/schema.ts';
import { countUsage, flushUsage, usageKey, utcDay } from '../../src/services/plans/usage.ts';
import { book } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import {
  appDatabase,
  createTenant,
  database,
  newRequestId,
  problem,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { bindings, redis, usageCount } from '../support/plans.ts';
import { call, memberWithToken } from '../support/users.ts';
import { runCron } from '../support/cron.ts';

const DAY = 86_400_000;
const logger = createLogger();

async function stored(tenant: TestTenant, metric: string, day = utcDay()): Promise<number | undefined> {
  const [row] = await database()
    .select({ count: usageDaily.count })
    .from(usageDaily)
    .where(
      and(
        eq(usageDaily.organizationId, tenant.organization.id),
        eq(usageDaily.day, day),
        eq(usageDaily.metric, metric),
      ),
    );
  return row?.count;
}

describe('usage counting', () => {
  it('counts authenticated and public requests per organization and day, inside their one Redis round trip', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    await createEvent(tenant);
    const { token } = await memberWithToken(tenant, 'owner');
    for (let index = 0; index < 3; index += 1) {
      expect((await call(tenant, 'GET', '/api/v1/roles/permissions', { token })).status).toBe(200);
    }
    const ip = '198.51.100.23';
    expect((await getPublic(tenant, '/api/v1/public/events', { ip })).status).toBe(200);
    const id = newRequestId();
    // Another query than the first read's: a repeated one may come from the edge cache, with no database trip.
    expect(
      (await getPublic(tenant, '/api/v1/public/events?limit=5', { ip, headers: { 'x-request-id': id } })).status,
    ).toBe(200);
    expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });

    expect(await usageCount(tenant.organization.id, 'api_calls')).toBe(5);
    expect(await usageCount(other.organization.id, 'api_calls')).toBe(0);
  });

  it('countUsage adds to a metric in one round trip and never throws, even without Redis', async () => {
    const tenant = await createTenant();
    await countUsage({ redis: redis(), logger }, tenant.organization.id, 'emails', { by: 3 });
    await countUsage({ redis: redis(), logger }, tenant.organization.id, 'emails');
    expect(await usageCount(tenant.organization.id, 'emails')).toBe(4);
    const down = createRedis({ ...bindings(), UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' });
    await expect(countUsage({ redis: down, logger }, tenant.organization.id, 'emails')).resolves.toBeUndefined();
    expect(await usageCount(tenant.organization.id, 'emails')).toBe(4);
  });
});

describe('the usage flush (scheduled handler)', () => {
  it('moves the counters into usage_daily additively and resets them in Redis', async () => {
    const tenant = await createTenant();
    const org = tenant.organization.id;
    await countUsage({ redis: redis(), logger }, org, 'api_calls', { by: 3 });
    await countUsage({ redis: redis(), logger }, org, 'webhook_deliveries', { by: 2 });
    await runCron();
    expect(await stored(tenant, 'api_calls')).toBe(3);
    expect(await stored(tenant, 'webhook_deliveries')).toBe(2);
    expect(await redis().get(usageKey(org, 'api_calls', utcDay()))).toBeNull();

    await countUsage({ redis: redis(), logger }, org, 'api_calls', { by: 4 });
    await runCron();
    await runCron();
    expect(await stored(tenant, 'api_calls')).toBe(7);
    expect(await usageCount(org, 'api_calls')).toBe(7);
  });

  it('keeps yesterday apart from today', async () => {
    const tenant = await createTenant();
    const yesterday = utcDay(Date.now() - DAY);
    await countUsage({ redis: redis(), logger }, tenant.organization.id, 'emails', { by: 5, now: Date.now() - DAY });
    await countUsage({ redis: redis(), logger }, tenant.organization.id, 'emails', { by: 1 });
    await flushUsage(appDatabase(), redis(), logger);
    expect(await stored(tenant, 'emails', yesterday)).toBe(5);
    expect(await stored(tenant, 'emails')).toBe(1);
  });

  it('leaves counters of organizations it does not know to expire, and drops expired ones from the pending set', async () => {
    const stranger = crypto.randomUUID();
    await countUsage({ redis: redis(), logger }, stranger, 'emails', { by: 2 });
    const ancient = utcDay(Date.now() - 30 * DAY);
    await redis().sadd('usage:pending', usageKey(stranger, 'emails', ancient), 'usage:garbage');
    await flushUsage(appDatabase(), redis(), logger);
    expect(await redis().get(usageKey(stranger, 'emails', utcDay()))).toBe(2);
    expect(await redis().sismember('usage:pending', usageKey(stranger, 'emails', utcDay()))).toBe(1);
    expect(await redis().sismember('usage:pending', usageKey(stranger, 'emails', ancient))).toBe(0);
    expect(await redis().sismember('usage:pending', 'usage:garbage')).toBe(0);
    await redis().srem('usage:pending', usageKey(stranger, 'emails', utcDay()));
    await redis().del(usageKey(stranger, 'emails', utcDay()));
  });

  it('recounts the bookings of the day from the booking rows', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { price: 0 });
    await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 2 }] });
    await flushUsage(appDatabase(), redis(), logger);
    expect(await stored(tenant, 'bookings')).toBe(2);
    await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    await flushUsage(appDatabase(), redis(), logger);
    expect(await stored(tenant, 'bookings')).toBe(3);
  });

  it('puts the counts back into Redis when the database refuses the flush', async () => {
    const tenant = await createTenant();
    await countUsage({ redis: redis(), logger }, tenant.organization.id, 'emails', { by: 6 });
    const real = appDatabase();
    let batches = 0;
    // The first batch finds the organizations; the second, the upsert of the counts, fails.
    const failing = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'batch') {
          return (queries: Parameters<Database['batch']>[0]) => {
            batches += 1;
            return batches === 2 ? Promise.reject(new Error('database refused')) : target.batch(queries);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await expect(flushUsage(failing, redis(), logger)).rejects.toThrow('database refused');
    expect(batches).toBe(2);
    expect(await usageCount(tenant.organization.id, 'emails')).toBe(6);
    await flushUsage(real, redis(), logger);
    expect(await stored(tenant, 'emails')).toBe(6);
  });
});

describe('GET /api/v1/organization/usage', () => {
  it('lists every day of the range with stored, live and booking counts, and totals', async () => {
    const tenant = await createTenant();
    const org = tenant.organization.id;
    const { token } = await memberWithToken(tenant, 'staff');
    const threeDaysAgo = utcDay(Date.now() - 3 * DAY);
    await database()
      .insert(usageDaily)
      .values([
        { organizationId: org, day: threeDaysAgo, metric: 'api_calls', count: 10 },
        { organizationId: org, day: threeDaysAgo, metric: 'webhook_deliveries', count: 2 },
      ]);
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { price: 0 });
    await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    await countUsage({ redis: redis(), logger }, org, 'emails', { by: 3 });

    const from = utcDay(Date.now() - 4 * DAY);
    const to = utcDay();
    const response = await call(tenant, 'GET', `/api/v1/organization/usage?from=${from}&to=${to}`, { token });
    expect(response.status).toBe(200);
    const body: UsageResponse = await response.json();
    expect(body.from).toBe(from);
    expect(body.to).toBe(to);
    expect(body.metrics).toEqual(['api_calls', 'bookings', 'emails', 'webhook_deliveries']);
    expect(body.days.map((day) => day.day)).toEqual([4, 3, 2, 1, 0].map((ago) => utcDay(Date.now() - ago * DAY)));
    expect(body.days[1]).toEqual({ day: threeDaysAgo, api_calls: 10, bookings: 0, emails: 0, webhook_deliveries: 2 });
    const today = body.days[4];
    // Today: the checkout and this request itself were counted; the booking comes from its row.
    expect(today).toMatchObject({ day: to, bookings: 1, emails: 3, webhook_deliveries: 0 });
    expect(today?.api_calls).toBe(2);
    expect(body.totals).toEqual({ api_calls: 12, bookings: 1, emails: 3, webhook_deliveries: 2 });

    // The default range: the last 30 days up to today.
    const defaults: UsageResponse = await (await call(tenant, 'GET', '/api/v1/organization/usage', { token })).json();
    expect(defaults.days).toHaveLength(30);
    expect(defaults.to).toBe(to);
  });

  it.each([
    ['from after to', '?from=2026-05-02&to=2026-05-01'],
    ['more than 92 days', '?from=2026-01-01&to=2026-04-30'],
    ['an impossible date', '?from=2026-02-30'],
    ['a timestamp instead of a date', '?to=2026-05-01T00:00:00Z'],
    ['an unknown parameter', '?metric=emails'],
  ])('answers 400 for %s', async (_label, query) => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const response = await call(tenant, 'GET', `/api/v1/organization/usage${query}`, { token });
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
  });

  it('needs organization:read and shows only this organization', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    await countUsage({ redis: redis(), logger }, other.organization.id, 'emails', { by: 9 });
    const { token: member } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'GET', '/api/v1/organization/usage', { token: member })).status).toBe(403);
    const { token } = await memberWithToken(tenant, 'owner');
    const body: UsageResponse = await (await call(tenant, 'GET', '/api/v1/organization/usage', { token })).json();
    expect(body.totals.emails).toBe(0);
  });
});
