import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import type { PublicEventListResponse } from '../../src/routes/public/schema.ts';
import { PUBLIC_READ_LIMIT } from '../../src/services/catalogue/limits.ts';
import { randomIp } from '../support/auth.ts';
import { createEvent, getPublic, publicJson } from '../support/catalogue.ts';
import { createTenant, problem } from '../support/harness.ts';
import { awayFromWindowEdge } from '../support/plans.ts';

const rule = PUBLIC_READ_LIMIT;

// A test may first wait out a window edge (up to 20 s) and then reads 300 times.
describe('public catalogue rate limit', { timeout: 90_000 }, () => {
  it('puts the RateLimit headers on successful reads', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const ip = randomIp();
    await awayFromWindowEdge(5_000);

    const first = await getPublic(tenant, '/api/v1/public/events', { ip });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe(`"${rule.name}";q=${rule.limit};w=60`);
    expect(first.headers.get('ratelimit')).toMatch(new RegExp(`^"${rule.name}";r=${rule.limit - 1};t=\\d+$`));
    const second = await getPublic(tenant, `/api/v1/public/events/${event.slug}`, { ip });
    expect(second.status).toBe(200);
    expect(second.headers.get('ratelimit')).toContain(`"${rule.name}";r=${rule.limit - 2};`);
  });

  it('answers 429 with Retry-After at request N+1 from one address, per organization, whatever X-Forwarded-For says', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const event = await createEvent(tenant);
    const ip = randomIp();
    await awayFromWindowEdge(20_000);

    // The list and the detail share the bucket; sent in parallel chunks to keep the test fast.
    const statuses: number[] = [];
    for (let sent = 0; sent < rule.limit; sent += 25) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(25, rule.limit - sent) }, (_, index) =>
          getPublic(tenant, index % 2 === 0 ? '/api/v1/public/events' : `/api/v1/public/events/${event.slug}`, {
            ip,
            headers: { 'x-forwarded-for': randomIp() },
          }),
        ),
      );
      statuses.push(...chunk.map((response) => response.status));
    }
    expect(statuses).toEqual(Array.from({ length: rule.limit }, () => 200));

    const limited = await getPublic(tenant, `/api/v1/public/events/${event.slug}`, {
      ip,
      headers: { 'x-forwarded-for': randomIp() },
    });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('ratelimit-policy')).toBe(`"${rule.name}";q=${rule.limit};w=60`);
    expect(limited.headers.get('ratelimit')).toContain(`"${rule.name}";r=0;`);
    expect((await problem(limited)).code).toBe('rate_limited');
    expect((await getPublic(tenant, '/api/v1/public/events', { ip })).status).toBe(429);
    // The limit and the read run together; over the limit, the 429 wins over what the read found.
    expect((await getPublic(tenant, '/api/v1/public/events/no-such-event', { ip })).status).toBe(429);

    // Another address, and the same address on another organization, keep their own buckets.
    expect((await getPublic(tenant, '/api/v1/public/events')).status).toBe(200);
    expect((await getPublic(other, '/api/v1/public/events', { ip })).status).toBe(200);
  });

  it('keeps serving reads when Redis is down (fails open), without RateLimit headers', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(tenant.url('/api/v1/public/events'), { headers: { 'cf-connecting-ip': randomIp() } }),
      { ...(env as unknown as Record<string, unknown>), UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.headers.get('ratelimit')).toBeNull();
    expect(response.headers.get('cache-control')).toBe('public, max-age=30');
    const page = await publicJson<PublicEventListResponse>(response);
    expect(page.data.map((item) => item.id)).toEqual([event.id]);
  });
});
