import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import worker from '../../src/index.ts';
import { ApiError } from '../../src/errors/api-error.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { rateLimitHeaders, refuseIfKnownClosed, takeToken, type LimitRule } from '../../src/lib/rate-limit.ts';
import { PLATFORM_PRINCIPAL_LIMIT } from '../../src/middleware/plan-limits.ts';
import { RedisBatch } from '../../src/lib/redis-batch.ts';
import { createRedis } from '../../src/lib/redis.ts';
import { ALL_PERMISSIONS } from '../../src/services/auth/permissions.ts';
import { revokeUserTokens } from '../../src/services/auth/revocation.ts';
import { issueAccessToken } from '../../src/services/auth/tokens.ts';
import { createEvent } from '../support/catalogue.ts';
import { holdFaultStack, setFault } from '../support/fault.ts';
import {
  bearer,
  createTenant,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';
import { awayFromWindowEdge, bindings, parseRateLimitHeader, redis, usageCount } from '../support/plans.ts';
import { call, memberWithToken } from '../support/users.ts';
import { randomIp } from '../support/auth.ts';

const PATH = '/api/v1/roles/permissions';

async function tenantWithLimits(rateLimits: {
  organizationPerMinute?: number;
  customersPerMinute?: number;
  principalPerMinute?: number;
}) {
  const tenant = await createTenant({ planOverrides: { rateLimits } });
  const { member, token } = await memberWithToken(tenant, 'owner');
  return { tenant, member, token };
}

function get(tenant: TestTenant, token: string, headers: Record<string, string> = {}) {
  return call(tenant, 'GET', PATH, { token, headers });
}

function policy(response: Response, name: string) {
  return parseRateLimitHeader(response.headers.get('ratelimit-policy')).find((item) => item.name === name);
}

function state(response: Response, name: string) {
  return parseRateLimitHeader(response.headers.get('ratelimit')).find((item) => item.name === name);
}

describe("the plan's rate limits on authenticated requests", () => {
  it('answers request N+1 with 429, Retry-After and parseable RateLimit headers (organizationPerMinute = N)', async () => {
    const { tenant, token } = await tenantWithLimits({ organizationPerMinute: 3 });
    const { token: colleague } = await memberWithToken(tenant, 'staff');
    await awayFromWindowEdge();

    for (const remaining of [2, 1, 0]) {
      const response = await get(tenant, token);
      expect(response.status).toBe(200);
      expect(policy(response, 'api-organization')?.params).toEqual({ q: 3, w: 60 });
      expect(policy(response, 'api-principal')?.params).toEqual({ q: 60, w: 60 });
      expect(state(response, 'api-organization')?.params.r).toBe(remaining);
      expect(state(response, 'api-organization')?.params.t).toBeLessThanOrEqual(60);
    }

    const refused = await get(tenant, token);
    expect(refused.status).toBe(429);
    const body = await problem(refused);
    expect(body.code).toBe('rate_limited');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(parseRateLimitHeader(refused.headers.get('ratelimit-policy'))).toEqual([
      { name: 'api-organization', params: { q: 3, w: 60 } },
    ]);
    const [limited] = parseRateLimitHeader(refused.headers.get('ratelimit'));
    expect(limited?.name).toBe('api-organization');
    expect(limited?.params.r).toBe(0);
    expect(limited?.params.t).toBeGreaterThanOrEqual(retryAfter - 1);

    // The whole organization is over its limit, whoever calls; another organization is not.
    expect((await get(tenant, colleague)).status).toBe(429);
    const other = await createTenant();
    const { token: outsider } = await memberWithToken(other, 'owner');
    expect((await get(other, outsider)).status).toBe(200);
  });

  it('gives customers (callers without permissions) their own budget, so their flood never locks staff out', async () => {
    const { tenant, token } = await tenantWithLimits({ organizationPerMinute: 5, customersPerMinute: 4 });
    const [first, second] = await Promise.all([memberWithToken(tenant, 'member'), memberWithToken(tenant, 'member')]);
    const me = (caller: string) => call(tenant, 'GET', '/api/v1/auth/me', { token: caller });
    await awayFromWindowEdge();

    for (const [index, remaining] of [3, 2, 1, 0].entries()) {
      const response = await me((index % 2 === 0 ? first : second).token);
      expect(response.status).toBe(200);
      expect(policy(response, 'api-customers')?.params).toEqual({ q: 4, w: 60 });
      expect(policy(response, 'api-organization')).toBeUndefined();
      expect(state(response, 'api-customers')?.params.r).toBe(remaining);
    }
    const refused = await me(first.token);
    expect(refused.status).toBe(429);
    expect(parseRateLimitHeader(refused.headers.get('ratelimit-policy'))).toEqual([
      { name: 'api-customers', params: { q: 4, w: 60 } },
    ]);
    expect((await me(second.token)).status).toBe(429);

    // Staff still have their whole budget.
    const owner = await get(tenant, token);
    expect(owner.status).toBe(200);
    expect(policy(owner, 'api-customers')).toBeUndefined();
    expect(state(owner, 'api-organization')?.params.r).toBe(4);
    expect(state(owner, 'api-principal')).toBeDefined();
  });

  it('refuses a closed bucket again from the isolate, with no Redis or database round trip', async () => {
    const { tenant, token } = await tenantWithLimits({ organizationPerMinute: 1 });
    await awayFromWindowEdge();
    expect((await get(tenant, token)).status).toBe(200);
    expect((await get(tenant, token)).status).toBe(429);
    const id = newRequestId();
    const again = await get(tenant, token, { 'x-request-id': id });
    expect(again.status).toBe(429);
    expect(again.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(parseRateLimitHeader(again.headers.get('ratelimit'))[0]?.params.r).toBe(0);
    expect(await roundTrips(id)).toEqual({ database: 0, redis: 0 });
  });

  it('limits each caller on its own (principalPerMinute) and names that policy when refusing', async () => {
    const { tenant, token } = await tenantWithLimits({ principalPerMinute: 2 });
    const { token: colleague } = await memberWithToken(tenant, 'admin');
    await awayFromWindowEdge();
    expect((await get(tenant, token)).status).toBe(200);
    const second = await get(tenant, token);
    expect(state(second, 'api-principal')?.params.r).toBe(0);
    expect(state(second, 'api-organization')?.params.r).toBe(98);
    const refused = await get(tenant, token);
    expect(refused.status).toBe(429);
    expect(parseRateLimitHeader(refused.headers.get('ratelimit-policy'))).toEqual([
      { name: 'api-principal', params: { q: 2, w: 60 } },
    ]);
    expect((await get(tenant, colleague)).status).toBe(200);
  });

  it('takes both limits, the revocation check and the usage count in ONE Redis round trip', async () => {
    const { tenant, token } = await tenantWithLimits({});
    await get(tenant, token);
    const before = await usageCount(tenant.organization.id, 'api_calls');
    const id = newRequestId();
    const response = await get(tenant, token, { 'x-request-id': id });
    expect(response.status).toBe(200);
    expect(state(response, 'api-organization')).toBeDefined();
    expect(state(response, 'api-principal')).toBeDefined();
    expect(await roundTrips(id)).toEqual({ database: 0, redis: 1 });
    expect(await usageCount(tenant.organization.id, 'api_calls')).toBe(before + 1);

    // A route that reads the database: one round trip each, whatever the limits add.
    const listed = newRequestId();
    expect((await call(tenant, 'GET', '/api/v1/events', { token, headers: { 'x-request-id': listed } })).status).toBe(
      200,
    );
    expect(await roundTrips(listed)).toEqual({ database: 1, redis: 1 });
  });

  it('puts the RateLimit headers on error answers of authenticated routes too', async () => {
    const { tenant, token } = await tenantWithLimits({ organizationPerMinute: 50 });
    const missing = await call(tenant, 'GET', `/api/v1/events/${crypto.randomUUID()}`, { token });
    expect(missing.status).toBe(404);
    expect(policy(missing, 'api-organization')?.params.q).toBe(50);
    const { token: staff } = await memberWithToken(tenant, 'staff');
    const forbidden = await call(tenant, 'GET', '/api/v1/users', { token: staff });
    expect(forbidden.status).toBe(403);
    expect(state(forbidden, 'api-principal')).toBeDefined();
  });

  it('applies the administrator’s own limit on the platform host (no plan there) in the revocation round trip', async () => {
    const admin = await createPlatformAdmin();
    const list = (headers: Record<string, string> = {}) =>
      request(`${PLATFORM}/api/v1/organizations`, { headers: bearer(admin.token, headers) });
    expect((await list()).status).toBe(200);
    const id = newRequestId();
    const response = await list({ 'x-request-id': id });
    expect(response.status).toBe(200);
    expect(response.headers.get('ratelimit-policy')).toBe(
      `"${PLATFORM_PRINCIPAL_LIMIT.name}";q=${PLATFORM_PRINCIPAL_LIMIT.limit};w=60`,
    );
    expect(parseRateLimitHeader(response.headers.get('ratelimit'))[0]?.name).toBe(PLATFORM_PRINCIPAL_LIMIT.name);
    expect((await roundTrips(id)).redis).toBe(1);
    await revokeUserTokens(redis(), 'platform', [admin.userId], Date.now() + 1000);
    expect((await list()).status).toBe(401);
  });

  it('lets requests through when only the limiter fails (fail open), while the session check still fails closed', async () => {
    const { tenant, member, token } = await tenantWithLimits({ organizationPerMinute: 1 });
    await awayFromWindowEdge();
    // The organization's bucket of this window holds a list: the limiter script fails with WRONGTYPE.
    const bucket = Math.floor(Date.now() / 60_000);
    const key = `ratelimit:api-organization:${tenant.organization.id}:${bucket}`;
    await redis().lpush(key, 'not a counter');
    await redis().expire(key, 120);

    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await get(tenant, token);
      expect(response.status).toBe(200);
      // Only the caller's limit answered; the organization's is not claimed.
      expect(parseRateLimitHeader(response.headers.get('ratelimit')).map((item) => item.name)).toEqual([
        'api-principal',
      ]);
    }
    await revokeUserTokens(redis(), tenant.organization.id, [member.userId], Date.now() + 1000);
    const ended = await get(tenant, token);
    expect(ended.status).toBe(401);
    expect((await problem(ended)).detail).toBe('The session has ended.');
  });
});

const faultVars = inject('faultWorkerVars');

async function callFaultStack(url: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(url, init),
    { ...(env as unknown as Record<string, unknown>), ...faultVars },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

function setRedis(state: 'down' | 'up'): Promise<void> {
  return setFault('redis', state);
}

describe.skipIf(faultVars === null)('while Redis is down (the fault stack)', () => {
  holdFaultStack();

  it('serves the public pages without limits (fail open) and refuses authenticated requests with 503', async () => {
    const tenant = await createTenant();
    await createEvent(tenant);
    const { member } = await memberWithToken(tenant, 'owner');
    // The fault stack signs with keys of its own.
    const { token } = await issueAccessToken(faultVars?.JWT_SIGNING_KEYS ?? '', bindings().ROOT_DOMAIN, {
      userId: member.userId,
      tenant: tenant.organization.id,
      sessionId: crypto.randomUUID(),
      role: 'owner',
      permissions: ALL_PERMISSIONS,
      emailVerified: true,
    });
    const ip = randomIp();
    const publicUrl = tenant.url('/api/v1/public/events');
    expect((await callFaultStack(publicUrl, { headers: { 'cf-connecting-ip': ip } })).status).toBe(200);

    await setRedis('down');
    const served = await callFaultStack(publicUrl, { headers: { 'cf-connecting-ip': ip } });
    expect(served.status).toBe(200);
    expect(served.headers.get('ratelimit')).toBeNull();
    expect((await served.json<{ data: unknown[] }>()).data).toHaveLength(1);

    const refused = await callFaultStack(tenant.url(PATH), { headers: bearer(token) });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect((await problem(refused)).detail).toBe('Sessions cannot be checked right now.');

    await setRedis('up');
    const back = await callFaultStack(tenant.url(PATH), { headers: bearer(token) });
    expect(back.status).toBe(200);
    expect(back.headers.get('ratelimit')).toContain('"api-organization"');
  });
});

describe('the limiter building blocks', () => {
  const rule: LimitRule = { name: 'plans-test', limit: 1, window: '1 m' };

  it('refuses a bucket the isolate saw closed until its window resets, and forgets it afterwards', async () => {
    const identifier = crypto.randomUUID();
    const real = createRedis(bindings());
    await awayFromWindowEdge();
    expect(await takeToken(real, createLogger(), rule, identifier, { failClosed: true })).toMatchObject({
      remaining: 0,
    });
    await expect(takeToken(real, createLogger(), rule, identifier, { failClosed: true })).rejects.toBeInstanceOf(
      ApiError,
    );
    expect(() => refuseIfKnownClosed(rule, identifier)).toThrow(ApiError);
    // The window of the block ends within a minute: later the isolate asks Redis again.
    expect(() => refuseIfKnownClosed(rule, identifier, Date.now() + 61_000)).not.toThrow();
  });

  it('lists several policies in one RateLimit header each, in order', () => {
    const other: LimitRule = { name: 'b', limit: 10, window: '1 h' };
    expect(
      rateLimitHeaders({ rule, remaining: 0, resetSeconds: 12 }, { rule: other, remaining: 7, resetSeconds: 3000 }),
    ).toEqual({
      'ratelimit-policy': '"plans-test";q=1;w=60, "b";q=10;w=3600',
      ratelimit: '"plans-test";r=0;t=12, "b";r=7;t=3000',
    });
  });

  it('sends queued commands in one pipeline, rejects only a failing command, and runs late commands alone', async () => {
    const real = createRedis(bindings());
    const key = `plans-test:${crypto.randomUUID()}`;
    await real.set(`${key}:list`, 'a string');
    const batch = new RedisBatch(real);
    const first = batch.command<number>((pipeline) => pipeline.incrby(key, 5));
    const failing = batch.command<number>((pipeline) => pipeline.lpush(`${key}:list`, 'x'));
    const read = batch.mget<[number | null]>(key);
    expect(batch.size).toBe(3);
    batch.send();
    batch.send();
    expect(await first).toBe(5);
    await expect(failing).rejects.toThrow(/WRONGTYPE/);
    expect(await read).toEqual([5]);
    expect(await batch.command<number>((pipeline) => pipeline.incrby(key, 1))).toBe(6);
    await real.del(key, `${key}:list`);

    const empty = new RedisBatch(real);
    empty.send();
    expect(empty.size).toBe(0);

    const down = new RedisBatch(createRedis({ ...bindings(), UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' }));
    const lost = down.command((pipeline) => pipeline.get(key));
    down.send();
    await expect(lost).rejects.toThrow();
  });
});
