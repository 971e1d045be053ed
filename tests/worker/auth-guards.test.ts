import { Hono, type MiddlewareHandler } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../src/env.ts';
import { onError } from '../../src/errors/handler.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { takeToken } from '../../src/lib/rate-limit.ts';
import { createRedis, REDIS_TIMEOUT_MS } from '../../src/lib/redis.ts';
import { newHook } from '../support/webhooks.ts';
import {
  principalOf,
  requireAuth,
  requireRecentAuth,
  STEP_UP_MAX_AGE_SECONDS,
  requirePermission,
  requirePlatformAdmin,
  requireVerifiedEmail,
} from '../../src/middleware/auth.ts';
import type { Permission } from '../../src/services/auth/permissions.ts';
import { addressKey } from '../../src/lib/client.ts';
import { clientBucket } from '../../src/services/auth/limits.ts';
import { isBuiltInRole } from '../../src/services/auth/permissions.ts';
import { revokeUserTokens } from '../../src/services/auth/revocation.ts';
import { PLATFORM_TENANT, type Principal } from '../../src/services/auth/tokens.ts';
import type { Tenant } from '../../src/services/tenants/types.ts';
import { bindings, randomIp } from '../support/auth.ts';
import { problem } from '../support/harness.ts';

function principal(overrides: Partial<Omit<Principal, 'permissions'>> & { permissions?: Permission[] } = {}) {
  const { permissions = [], ...rest } = overrides;
  const value: Principal = {
    userId: crypto.randomUUID(),
    tenant: crypto.randomUUID(),
    sessionId: crypto.randomUUID(),
    role: 'member',
    emailVerified: true,
    issuedAtMs: Date.now(),
    authTime: Math.floor(Date.now() / 1000),
    amr: ['pwd'],
    credential: 'session',
    ...rest,
    permissions: new Set(permissions),
  };
  return value;
}

const ORGANIZATION_HOST: Tenant = {
  id: crypto.randomUUID(),
  slug: 'guards',
  name: 'Guards',
  plan: 'pro',
  status: 'active',
  settings: {},
};

/**
 * A bare app with one guarded route and the real error handler; the principal is set as authenticate() would, the
 * tenant as tenant() would (an organization host unless `tenant` is null: the platform host).
 */
async function guarded(
  guard: MiddlewareHandler<AppEnv>,
  caller: Principal | null,
  tenant: Tenant | null = ORGANIZATION_HOST,
): Promise<Response> {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('requestId', 'test-guards-request');
    c.set('tenant', tenant);
    c.set('principal', caller);
    await next();
  });
  app.get('/guarded', guard, (c) => c.text('ok'));
  app.onError(onError);
  return app.request('/guarded');
}

/** An Upstash client whose every call fails (a closed port). */
function unreachableRedis() {
  return createRedis({ ...bindings(), UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' });
}

describe('route guards', () => {
  it('principalOf refuses with 401 when a service runs without a verified caller (a route that forgot its guard)', () => {
    expect(() => principalOf({ var: { principal: null } })).toThrow(
      expect.objectContaining({ code: 'unauthorized', status: 401 }),
    );
    const caller = principal();
    expect(principalOf({ var: { principal: caller } })).toBe(caller);
  });

  it('requireAuth refuses anonymous callers with 401 and lets a principal through', async () => {
    const anonymous = await guarded(requireAuth(), null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((await guarded(requireAuth(), principal())).status).toBe(200);
  });

  it('requirePermission answers 401 anonymously, 403 naming what is missing, and passes with every permission', async () => {
    expect((await guarded(requirePermission('users:manage'), null)).status).toBe(401);
    const missing = await guarded(
      requirePermission('users:manage', 'roles:manage'),
      principal({ permissions: ['users:manage'] }),
    );
    expect(missing.status).toBe(403);
    const body = await problem(missing);
    expect(body).toMatchObject({ code: 'forbidden', detail: 'This needs the roles:manage permission.' });
    const allowed = await guarded(
      requirePermission('users:manage', 'roles:manage'),
      principal({ permissions: ['users:manage', 'roles:manage', 'events:read'] }),
    );
    expect(allowed.status).toBe(200);
  });

  it('requireVerifiedEmail refuses an unverified caller with a 403 that says what to do', async () => {
    expect((await guarded(requireVerifiedEmail(), null)).status).toBe(401);
    const unverified = await guarded(requireVerifiedEmail(), principal({ emailVerified: false }));
    expect(unverified.status).toBe(403);
    const body = await problem(unverified);
    expect(body.code).toBe('email_not_verified');
    expect(body.detail).toContain('/api/v1/auth/resend-verification');
    expect((await guarded(requireVerifiedEmail(), principal({ emailVerified: true }))).status).toBe(200);
  });

  it('organization guards answer 404 on the platform host before looking at the caller', async () => {
    const admin = principal({ tenant: PLATFORM_TENANT, role: 'platform_admin', permissions: ['users:manage'] });
    for (const guard of [requirePermission('users:manage'), requireVerifiedEmail()]) {
      for (const caller of [null, admin]) {
        const response = await guarded(guard, caller, null);
        expect(response.status).toBe(404);
        expect(await problem(response)).toMatchObject({ code: 'not_found', detail: 'No such resource.' });
      }
    }
  });

  it('requireRecentAuth passes a recent sign-in and an API key, and refuses a stale session with the RFC 9470 challenge', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await guarded(requireRecentAuth(), principal({ authTime: now - 60 }))).status).toBe(200);
    expect(
      (await guarded(requireRecentAuth(), principal({ authTime: now - 3600, credential: 'api_key' }))).status,
    ).toBe(200);
    const stale = await guarded(requireRecentAuth(), principal({ authTime: now - STEP_UP_MAX_AGE_SECONDS - 5 }));
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toMatch(
      /^Bearer error="insufficient_user_authentication", .*max_age=600$/,
    );
    const body = await problem(stale);
    expect(body.code).toBe('reauthentication_required');
    expect(body.detail).toContain('/api/v1/auth/reauthenticate');
    expect((await guarded(requireRecentAuth(), null)).status).toBe(401);
  });

  it('requirePlatformAdmin answers 404 on an organization host, even to a platform administrator', async () => {
    for (const caller of [null, principal({ tenant: PLATFORM_TENANT, role: 'platform_admin' })]) {
      const response = await guarded(requirePlatformAdmin(), caller);
      expect(response.status).toBe(404);
      expect((await problem(response)).code).toBe('not_found');
    }
  });

  it('requirePlatformAdmin admits only platform administrators of the platform tenant', async () => {
    expect((await guarded(requirePlatformAdmin(), null, null)).status).toBe(401);
    const tenantAdmin = await guarded(requirePlatformAdmin(), principal({ role: 'platform_admin' }), null);
    expect(tenantAdmin.status).toBe(403);
    expect((await problem(tenantAdmin)).detail).toBe('Platform administrators only.');
    const platformMember = await guarded(
      requirePlatformAdmin(),
      principal({ tenant: PLATFORM_TENANT, role: 'owner' }),
      null,
    );
    expect(platformMember.status).toBe(403);
    const admin = await guarded(
      requirePlatformAdmin(),
      principal({ tenant: PLATFORM_TENANT, role: 'platform_admin' }),
      null,
    );
    expect(admin.status).toBe(200);
  });
});

describe('rate limiter and revocation edges', () => {
  it('lets a request through when Redis is down and the rule fails open', async () => {
    const outcome = await takeToken(
      unreachableRedis(),
      createLogger({ test: 'fail-open' }),
      { name: 'test-fail-open', limit: 1, window: '10 s' },
      randomIp(),
      { failClosed: false },
    );
    expect(outcome).toBeNull();
  });

  it('gives up on a Redis that does not answer after its deadline, and a fail-open rule lets the request through', async () => {
    // A server that accepts the call and answers only after 6 s: the client's deadline ends the wait.
    const hung = await newHook({ delayMs: 6_000 });
    const errors: unknown[] = [];
    const logger = {
      ...createLogger({ test: 'hung' }),
      // A failure that repeats at every request while it lasts (Logger.repeating).
      repeating: (level: string, _message: string, fields?: Record<string, unknown>) => {
        expect(level).toBe('error');
        errors.push(fields?.error);
      },
    };
    const outcome = await takeToken(
      createRedis({ ...bindings(), UPSTASH_REDIS_REST_URL: hung.url }),
      logger,
      { name: 'test-hung', limit: 1, window: '10 s' },
      randomIp(),
      { failClosed: false },
    );
    expect(outcome).toBeNull();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).name).toMatch(/TimeoutError|AbortError/);
    expect(REDIS_TIMEOUT_MS).toBeLessThan(5_000);
  });

  it('reports the remaining budget and the reset of a bucket', async () => {
    const redis = createRedis(bindings());
    const rule = { name: 'test-budget', limit: 3, window: '1 m' } as const;
    const outcome = await takeToken(redis, createLogger(), rule, randomIp(), { failClosed: true, now: Date.now() });
    expect(outcome).toMatchObject({ rule, remaining: 2 });
    expect(outcome?.resetSeconds).toBeGreaterThan(0);
    expect(outcome?.resetSeconds).toBeLessThanOrEqual(60);
  });

  it('revokes nothing, and calls nothing, for an empty list of users', async () => {
    await expect(revokeUserTokens(unreachableRedis(), crypto.randomUUID(), [])).resolves.toBeUndefined();
  });

  it('keys client buckets on the address key of CF-Connecting-IP, else on the host, never on anything else', () => {
    const client = { ip: null, addressKey: null, userAgent: 'test', requestId: 'test-buckets' };
    const tenant = { id: crypto.randomUUID() };
    const ip = '2001:db8::1';
    expect(clientBucket({ client: { ...client, ip, addressKey: addressKey(ip) }, tenant: null })).toBe('2001:db8::/64');
    expect(clientBucket({ client: { ...client, ip: 'not an address', addressKey: null }, tenant: null })).toBe(
      'no-ip:platform',
    );
    expect(clientBucket({ client, tenant: null })).toBe('no-ip:platform');
    expect(
      clientBucket({
        client,
        tenant: { ...tenant, slug: 'x', name: 'X', plan: 'pro', status: 'active', settings: {} },
      }),
    ).toBe(`no-ip:${tenant.id}`);
  });

  it('knows the built-in role keys', () => {
    expect(isBuiltInRole('owner')).toBe(true);
    expect(isBuiltInRole('member')).toBe(true);
    expect(isBuiltInRole('door-volunteers')).toBe(false);
    expect(isBuiltInRole('constructor')).toBe(false);
  });
});
