import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { and, eq, isNull } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { events, outbox } from '../../src/db/schema/index.ts';
import worker from '../../src/index.ts';
import { createLogger } from '../../src/lib/logger.ts';
import type { PublicEventDetailResponse, PublicEventListResponse } from '../../src/routes/public/schema.ts';
import { AVAILABILITY_STALENESS_MS, forgetCatalogueVersions } from '../../src/services/catalogue/edge-cache.ts';
import { PUBLIC_READ_LIMIT } from '../../src/services/catalogue/limits.ts';
import { dispatchOutbox } from '../../src/services/outbox/dispatch.ts';
import { randomIp } from '../support/auth.ts';
import { book } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic, traced, untilCached } from '../support/catalogue.ts';
import { withCronLock } from '../support/cron.ts';
import { appDatabase, createTenant, database, newRequestId, roundTrips, type TestTenant } from '../support/harness.ts';
import { awayFromWindowEdge, redis, usageCount } from '../support/plans.ts';
import { call, memberWithToken } from '../support/users.ts';

/**
 * Waits until the after-response dispatch has stamped every outbox row of the tenant (it announces the catalogue
 * changes before it stamps), as the outbox tests wait for it.
 */
async function dispatched(tenant: TestTenant): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const waiting = await database()
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), isNull(outbox.dispatchedAt)));
    if (waiting.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the outbox rows were never dispatched');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('edge cache of the public catalogue', () => {
  it('answers a repeated read with no database round trip and still one Redis round trip, counted and limited', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant, { title: 'Cached Gala' });
    await createTicketType(event);
    const ip = randomIp();
    const detail = `/api/v1/public/events/${event.slug}`;

    // The RateLimit counts below must not straddle two windows.
    await awayFromWindowEdge(10_000);
    // Warms the tenant resolution and the rate limiter's script in this isolate.
    await getPublic(tenant, `${detail}?accessCode=WARM-UP`, { ip });
    const first = await traced(tenant, detail, { ip });
    expect(first.trips).toEqual({ database: 1, redis: 1 });
    const hit = await untilCached(tenant, detail, ip);
    expect(hit.trips).toEqual({ database: 0, redis: 1 });
    expect(hit.body).toBe(first.body);
    expect(hit.response.headers.get('content-type')).toBe('application/json');
    expect(hit.response.headers.get('cache-control')).toBe('public, max-age=30');
    expect(hit.response.headers.get('etag')).toBe(first.response.headers.get('etag'));
    // The token is still taken on a hit: the bucket went down once per read.
    const remaining = (response: Response) => Number(/;r=(\d+);/.exec(response.headers.get('ratelimit') ?? '')?.[1]);
    expect(remaining(hit.response)).toBeLessThan(remaining(first.response));
    expect(remaining(hit.response)).toBeLessThan(PUBLIC_READ_LIMIT.limit - 1);

    // A cold isolate (no version seen) finds the entry through the version this location stored last.
    let cold = hit;
    for (let attempt = 0; attempt === 0 || (attempt < 40 && cold.trips.database !== 0); attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25));
      forgetCatalogueVersions();
      cold = await traced(tenant, detail, { ip });
    }
    expect(cold.trips).toEqual({ database: 0, redis: 1 });
    expect(cold.body).toBe(first.body);

    // api_calls counts a hit like any read.
    const counted = await usageCount(tenant.organization.id, 'api_calls');
    const again = await traced(tenant, detail, { ip });
    expect(again.trips).toEqual({ database: 0, redis: 1 });
    expect(remaining(again.response)).toBe(remaining(cold.response) - 1);
    expect(await usageCount(tenant.organization.id, 'api_calls')).toBe(counted + 1);

    // The list: its own entries, per normalized parameters (the default limit written out is the same entry).
    await traced(tenant, '/api/v1/public/events', { ip });
    const listHit = await untilCached(tenant, '/api/v1/public/events', ip);
    expect((JSON.parse(listHit.body) as PublicEventListResponse).data.map(({ id }) => id)).toEqual([event.id]);
    const explicit = await traced(tenant, '/api/v1/public/events?limit=20', { ip });
    expect(explicit.trips).toEqual({ database: 0, redis: 1 });
    expect(explicit.body).toBe(listHit.body);
    const filtered = await traced(tenant, '/api/v1/public/events?q=nothing-matches', { ip });
    expect(filtered.trips).toEqual({ database: 1, redis: 1 });
    expect((JSON.parse(filtered.body) as PublicEventListResponse).data).toEqual([]);
  });

  it('keeps ETag/304, and computes CORS per request on a hit (never replayed from the cache)', async () => {
    const allowed = 'https://shop.example.com';
    const tenant = await createTenant({ settings: { allowedOrigins: [allowed] } });
    const event = await createEvent(tenant);
    const ip = randomIp();
    const detail = `/api/v1/public/events/${event.slug}`;
    await traced(tenant, detail, { ip, headers: { origin: allowed } });
    const hit = await untilCached(tenant, detail, ip);
    expect(hit.response.headers.get('access-control-allow-origin')).toBeNull();

    const fromShop = await traced(tenant, detail, { ip, headers: { origin: allowed } });
    expect(fromShop.trips.database).toBe(0);
    expect(fromShop.response.headers.get('access-control-allow-origin')).toBe(allowed);
    const fromElsewhere = await traced(tenant, detail, { ip, headers: { origin: 'https://evil.example' } });
    expect(fromElsewhere.trips.database).toBe(0);
    expect(fromElsewhere.response.headers.get('access-control-allow-origin')).toBeNull();

    const tag = hit.response.headers.get('etag') ?? '';
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    const notModified = await traced(tenant, detail, { ip, headers: { 'if-none-match': tag } });
    expect(notModified.response.status).toBe(304);
    expect(notModified.trips).toEqual({ database: 0, redis: 1 });
    expect(notModified.response.headers.get('ratelimit')).toBeTruthy();
  });

  it('shows an event or ticket type change on the next read after the dispatch, then caches it again', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const event = await createEvent(tenant, { title: 'Before' });
    const ticketType = await createTicketType(event, { price: 1500 });
    const ip = randomIp();
    const detail = `/api/v1/public/events/${event.slug}`;
    const list = '/api/v1/public/events';
    for (const path of [detail, list]) {
      await traced(tenant, path, { ip });
      await untilCached(tenant, path, ip);
    }

    const updated = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { title: 'After' } });
    expect(updated.status).toBe(200);
    await dispatched(tenant);
    const changed = await traced(tenant, detail, { ip });
    expect(changed.trips).toEqual({ database: 1, redis: 1 });
    expect((JSON.parse(changed.body) as PublicEventDetailResponse).title).toBe('After');
    const listed = await traced(tenant, list, { ip });
    expect((JSON.parse(listed.body) as PublicEventListResponse).data[0]?.title).toBe('After');
    expect((await untilCached(tenant, detail, ip)).body).toBe(changed.body);

    const repriced = await call(tenant, 'PUT', `/api/v1/ticket-types/${ticketType.id}`, {
      token,
      body: { price: 900 },
    });
    expect(repriced.status).toBe(200);
    await dispatched(tenant);
    const cheaper = await traced(tenant, list, { ip });
    expect((JSON.parse(cheaper.body) as PublicEventListResponse).data[0]?.priceFrom).toEqual({
      price: 900,
      currency: 'EUR',
    });
    const detailCheaper = await traced(tenant, detail, { ip });
    expect((JSON.parse(detailCheaper.body) as PublicEventDetailResponse).ticketTypes[0]?.price).toBe(900);

    // A row no request dispatched (the scheduled sweep's case): the same dispatch announces it. Under the cron lock,
    // so no other file's cron run dispatches the row (and announces it) before this test looks.
    await withCronLock(async () => {
      await untilCached(tenant, detail, ip);
      await database().update(events).set({ title: 'Swept' }).where(eq(events.id, event.id));
      await database()
        .insert(outbox)
        .values({
          organizationId: tenant.organization.id,
          type: 'event.updated',
          payload: { type: 'event.updated', timestamp: new Date().toISOString(), data: { id: event.id } },
        });
      expect(JSON.parse((await traced(tenant, detail, { ip })).body)).toMatchObject({ title: 'After' });
      const queues = env as unknown as { WEBHOOK_QUEUE: Queue; EMAIL_QUEUE: Queue };
      await dispatchOutbox(appDatabase(), queues, createLogger(), {
        organizationId: tenant.organization.id,
        redis: redis(),
      });
      expect(JSON.parse((await traced(tenant, detail, { ip })).body)).toMatchObject({ title: 'Swept' });
    });
  });

  it('shows a sold seat within a second: coalesced while the entry is younger, read again after', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { price: 0, quantity: 10 });
    const ip = randomIp();
    const detail = `/api/v1/public/events/${event.slug}`;
    const remaining = (body: string) => (JSON.parse(body) as PublicEventDetailResponse).ticketTypes[0]?.remaining;

    // The Worker runs in this isolate: a fixed clock makes "younger than a second" exact.
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start);
    await traced(tenant, detail, { ip });
    const before = await untilCached(tenant, detail, ip);
    expect(remaining(before.body)).toBe(10);

    await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    await dispatched(tenant);
    // A change of seats leaves the entry reachable (no purge per booking) while it is under a second old...
    const coalesced = await traced(tenant, detail, { ip });
    expect(coalesced.trips).toEqual({ database: 0, redis: 1 });
    expect(remaining(coalesced.body)).toBe(10);

    // ...and not a moment longer: the next read goes to the database and shows the sale.
    vi.setSystemTime(start + AVAILABILITY_STALENESS_MS + 1);
    const sold = await traced(tenant, detail, { ip });
    expect(sold.trips).toEqual({ database: 1, redis: 1 });
    expect(remaining(sold.body)).toBe(9);
    // That answer was read after the sale: it is cached for good (until the next change).
    vi.setSystemTime(start + 10 * AVAILABILITY_STALENESS_MS);
    const after = await untilCached(tenant, detail, ip);
    expect(remaining(after.body)).toBe(9);
  });

  it('fails open without Redis: an entry under a second old still answers, an older one is read again', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const ip = randomIp();
    const detail = `/api/v1/public/events/${event.slug}`;
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start);
    await traced(tenant, detail, { ip });
    await untilCached(tenant, detail, ip);

    const withoutRedis = async () => {
      const id = newRequestId();
      const ctx = createExecutionContext();
      const response = await worker.fetch(
        new Request(tenant.url(detail), { headers: { 'cf-connecting-ip': ip, 'x-request-id': id } }),
        { ...(env as unknown as Record<string, unknown>), UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit')).toBeNull();
      return { body: await response.text(), database: (await roundTrips(id)).database };
    };
    const young = await withoutRedis();
    expect(young.database).toBe(0);
    expect(JSON.parse(young.body)).toMatchObject({ id: event.id });
    vi.setSystemTime(start + AVAILABILITY_STALENESS_MS + 1);
    expect((await withoutRedis()).database).toBe(1);
    // Nothing was stored meanwhile: still the database.
    expect((await withoutRedis()).database).toBe(1);
  });

  it('does not keep an answer past the instant it changes by itself (a sales window opening)', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const start = Date.now();
    await createTicketType(event, { salesStartAt: new Date(start + 5_000) });
    const ip = randomIp();
    const detail = `/api/v1/public/events/${event.slug}`;
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start);
    await traced(tenant, detail, { ip });
    const closed = await untilCached(tenant, detail, ip);
    expect((JSON.parse(closed.body) as PublicEventDetailResponse).ticketTypes[0]?.onSale).toBe(false);

    vi.setSystemTime(start + 5_001);
    const opening = await traced(tenant, detail, { ip });
    expect(opening.trips.database).toBe(1);
  });
});
