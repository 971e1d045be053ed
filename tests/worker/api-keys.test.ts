import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import { apiKeys, auditLogs } from '../../src/db/schema/index.ts';
import type { z } from '@hono/zod-openapi';
import type { ApiKeyListSchema, ApiKeySchema, NewApiKeySchema } from '../../src/routes/api-keys/schema.ts';
import { apiKeyRecordKey } from '../../src/services/auth/api-key-credentials.ts';
import { MAX_ACTIVE_API_KEYS } from '../../src/services/auth/api-keys.ts';
import type { Permission } from '../../src/services/auth/permissions.ts';
import { hashToken, issueAccessToken } from '../../src/services/auth/tokens.ts';
import { createEvent } from '../support/catalogue.ts';
import {
  bearer,
  createTenant,
  database,
  newRequestId,
  problem,
  roundTrips,
  type TestMember,
  type TestTenant,
} from '../support/harness.ts';
import { randomIp } from '../support/auth.ts';
import { awayFromWindowEdge, bindings, parseRateLimitHeader, redis } from '../support/plans.ts';
import { call, createCustomRole, memberWithToken } from '../support/users.ts';

type NewApiKey = z.infer<typeof NewApiKeySchema>;
type ApiKeyView = z.infer<typeof ApiKeySchema>;
type ApiKeyList = z.infer<typeof ApiKeyListSchema>;

const KEY_SHAPE = /^evk_(live|test)_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/;

async function createKey(
  tenant: TestTenant,
  credential: string,
  body: { name?: string; environment?: 'live' | 'test'; permissions: Permission[]; expiresAt?: string },
): Promise<Response> {
  return call(tenant, 'POST', '/api/v1/api-keys', { token: credential, body: { name: 'Integration', ...body } });
}

async function newKey(
  tenant: TestTenant,
  credential: string,
  body: { environment?: 'live' | 'test'; permissions: Permission[]; expiresAt?: string },
): Promise<NewApiKey> {
  const response = await createKey(tenant, credential, body);
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json();
}

/** An owner with a fresh session and a live key of theirs with `permissions`. */
async function ownerWithKey(tenant: TestTenant, permissions: Permission[], environment: 'live' | 'test' = 'live') {
  const { member, token } = await memberWithToken(tenant, 'owner');
  const created = await newKey(tenant, token, { permissions, environment });
  return { member, token, created, key: created.key };
}

/** A session token whose sign-in is an hour old (step-up refuses it). */
async function staleToken(tenant: TestTenant, member: TestMember, permissions: Permission[]): Promise<string> {
  const { token } = await issueAccessToken(bindings().JWT_SIGNING_KEYS, bindings().ROOT_DOMAIN, {
    userId: member.userId,
    tenant: tenant.organization.id,
    sessionId: crypto.randomUUID(),
    role: member.role,
    permissions,
    emailVerified: true,
    authTime: Math.floor(Date.now() / 1000) - 3600,
  });
  return token;
}

async function keyRow(id: string) {
  const [row] = await database().select().from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}

async function poll<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('POST /api/v1/api-keys', () => {
  it('creates a key shown once, stores only its hash, and audits the creation', async () => {
    const tenant = await createTenant();
    const { member, token } = await memberWithToken(tenant, 'owner');
    const response = await createKey(tenant, token, {
      name: 'CRM sync',
      permissions: ['events:read', 'bookings:read', 'events:read'],
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body: NewApiKey = await response.json();
    expect(response.headers.get('location')).toBe(tenant.url(`/api/v1/api-keys/${body.id}`));
    expect(body.key).toMatch(KEY_SHAPE);
    expect(body.key.startsWith(`${body.prefix}_`)).toBe(true);
    expect(body.prefix).toBe(`evk_live_${body.id.replaceAll('-', '')}`);
    expect(body).toMatchObject({
      name: 'CRM sync',
      environment: 'live',
      permissions: ['events:read', 'bookings:read'],
      status: 'active',
      createdBy: member.userId,
      lastFour: body.key.slice(-4),
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
    });

    const row = await keyRow(body.id);
    expect(row?.keyHash).toBe(await hashToken(body.key));
    expect(JSON.stringify(row)).not.toContain(body.key.slice(-43));

    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'api_key.created')));
    expect(audit).toMatchObject({ actorType: 'user', actorUserId: member.userId, targetId: body.id });
    expect(JSON.stringify(audit?.metadata)).not.toContain(body.key);

    // Never shown again: the list and the key itself carry neither the key nor its hash.
    const listed = await call(tenant, 'GET', '/api/v1/api-keys', { token });
    const text = await listed.text();
    expect(text).not.toContain(body.key.slice(-43));
    expect(text).not.toMatch(/hash/i);
    const one = await call(tenant, 'GET', `/api/v1/api-keys/${body.id}`, { token });
    const shown: ApiKeyView = await one.json();
    expect(shown).not.toHaveProperty('key');
    expect(shown.lastFour).toBe(body.key.slice(-4));
  });

  it('refuses members without api_keys:write (403) and keys with permissions the creator does not hold (403)', async () => {
    const tenant = await createTenant();
    const { token: staff } = await memberWithToken(tenant, 'staff');
    const refused = await createKey(tenant, staff, { permissions: ['events:read'] });
    expect(refused.status).toBe(403);
    expect((await problem(refused)).detail).toContain('api_keys:write');

    await createCustomRole(tenant, 'integrator', ['api_keys:write', 'events:read']);
    const { token: integrator } = await memberWithToken(tenant, 'integrator');
    const stronger = await createKey(tenant, integrator, { permissions: ['events:read', 'events:write'] });
    expect(stronger.status).toBe(403);
    expect((await problem(stronger)).detail).toContain('events:write');
    expect(await newKey(tenant, integrator, { permissions: ['events:read'] })).toMatchObject({
      permissions: ['events:read'],
    });
  });

  it('refuses a key that creates a key with more permissions than it has (403), and allows a subset', async () => {
    const tenant = await createTenant();
    const { key } = await ownerWithKey(tenant, ['api_keys:write', 'events:read']);
    const stronger = await createKey(tenant, key, { permissions: ['events:read', 'bookings:write'] });
    expect(stronger.status).toBe(403);
    expect((await problem(stronger)).detail).toContain('bookings:write');
    const weaker = await newKey(tenant, key, { permissions: ['events:read'] });
    expect(weaker.permissions).toEqual(['events:read']);
    expect(
      (await database().select().from(apiKeys).where(eq(apiKeys.organizationId, tenant.organization.id))).length,
    ).toBe(2);

    // Audited as the key that acted.
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.targetId, weaker.id), eq(auditLogs.action, 'api_key.created')));
    expect(audit?.actorType).toBe('api_key');
  });

  it('lets a test key create only test keys, and a key with an expiry only keys that expire by then', async () => {
    const tenant = await createTenant();
    const { key: testKey } = await ownerWithKey(tenant, ['api_keys:write', 'events:read'], 'test');
    const live = await createKey(tenant, testKey, { permissions: ['events:read'], environment: 'live' });
    expect(live.status).toBe(403);
    expect((await problem(live)).code).toBe('live_key_required');
    expect((await newKey(tenant, testKey, { permissions: ['events:read'], environment: 'test' })).environment).toBe(
      'test',
    );

    const { token } = await memberWithToken(tenant, 'owner');
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const expiring = await newKey(tenant, token, { permissions: ['api_keys:write', 'events:read'], expiresAt: soon });
    const forever = await createKey(tenant, expiring.key, { permissions: ['events:read'] });
    expect(forever.status).toBe(400);
    expect((await problem(forever)).errors?.[0]?.pointer).toBe('/body/expiresAt');
    const later = await createKey(tenant, expiring.key, {
      permissions: ['events:read'],
      expiresAt: new Date(Date.now() + 7_200_000).toISOString(),
    });
    expect(later.status).toBe(400);
    const within = await newKey(tenant, expiring.key, {
      permissions: ['events:read'],
      expiresAt: new Date(Date.now() + 1_800_000).toISOString(),
    });
    expect(within.expiresAt).not.toBeNull();
  });

  it('answers 400 for bad input, an expiry in the past, unknown fields and unknown permissions', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const bodies: unknown[] = [
      { name: 'x', permissions: [] },
      { name: '', permissions: ['events:read'] },
      { name: 'x', permissions: ['events:delete'] },
      { name: 'x', permissions: ['events:read'], environment: 'staging' },
      { name: 'x', permissions: ['events:read'], expiresAt: 'tomorrow' },
      { name: 'x', permissions: ['events:read'], expiresAt: new Date(Date.now() - 1000).toISOString() },
      { name: 'x', permissions: ['events:read'], organizationId: tenant.organization.id },
      { name: 'bad\u0000name', permissions: ['events:read'] },
    ];
    for (const body of bodies) {
      const response = await call(tenant, 'POST', '/api/v1/api-keys', { token, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect(await database().select().from(apiKeys).where(eq(apiKeys.organizationId, tenant.organization.id))).toEqual(
      [],
    );
  });

  it('needs a recent sign-in (step-up), which an API key passes', async () => {
    const tenant = await createTenant();
    const { member, key } = await ownerWithKey(tenant, ['api_keys:write', 'events:read']);
    const stale = await staleToken(tenant, member, ['api_keys:write', 'api_keys:read', 'events:read']);
    const refused = await createKey(tenant, stale, { permissions: ['events:read'] });
    expect(refused.status).toBe(401);
    expect((await problem(refused)).code).toBe('reauthentication_required');
    const created = await newKey(tenant, key, { permissions: ['events:read'] });
    const revoke = await call(tenant, 'DELETE', `/api/v1/api-keys/${created.id}`, { token: stale });
    expect(revoke.status).toBe(401);
    expect((await call(tenant, 'DELETE', `/api/v1/api-keys/${created.id}`, { token: key })).status).toBe(204);
  });

  it(`refuses a key beyond ${MAX_ACTIVE_API_KEYS} active ones with 409 (revoked and expired ones do not count)`, async () => {
    const tenant = await createTenant();
    const { member, token } = await memberWithToken(tenant, 'owner');
    const row = (overrides: Partial<typeof apiKeys.$inferInsert> = {}) => ({
      id: crypto.randomUUID(),
      organizationId: tenant.organization.id,
      name: 'filler',
      environment: 'live' as const,
      permissions: ['events:read'],
      keyHash: '0'.repeat(64),
      lastFour: 'abcd',
      createdBy: member.userId,
      ...overrides,
    });
    await database()
      .insert(apiKeys)
      .values([
        ...Array.from({ length: MAX_ACTIVE_API_KEYS - 1 }, () => row()),
        row({ revokedAt: new Date() }),
        row({ expiresAt: new Date(Date.now() - 1000) }),
      ]);
    await newKey(tenant, token, { permissions: ['events:read'] });
    const refused = await createKey(tenant, token, { permissions: ['events:read'] });
    expect(refused.status).toBe(409);
    expect((await problem(refused)).code).toBe('conflict');
    const count = await database().select().from(apiKeys).where(eq(apiKeys.organizationId, tenant.organization.id));
    expect(count).toHaveLength(MAX_ACTIVE_API_KEYS + 2);
  });
});

describe('an API key as Authorization: Bearer', () => {
  it('works on a route a token may use, within its own permissions only', async () => {
    const tenant = await createTenant();
    await createEvent(tenant, { status: 'draft' });
    const { key, token } = await ownerWithKey(tenant, ['events:read']);
    expect((await call(tenant, 'GET', '/api/v1/auth/me', { token })).status).toBe(200);
    const list = await call(tenant, 'GET', '/api/v1/events', { token: key });
    expect(list.status).toBe(200);
    expect((await list.json<{ data: unknown[] }>()).data).toHaveLength(1);
    const write = await call(tenant, 'POST', '/api/v1/events', { token: key, body: {} });
    expect(write.status).toBe(403);
    expect((await problem(write)).detail).toContain('events:write');
    // Not a person: a key never holds an owner's role powers, and cannot call a person's own endpoints.
    for (const [method, path] of [
      ['GET', '/api/v1/auth/me'],
      ['POST', '/api/v1/auth/logout'],
      ['POST', '/api/v1/auth/resend-verification'],
      ['GET', '/api/v1/auth/sessions'],
      ['POST', '/api/v1/auth/change-password'],
      ['GET', '/api/v1/auth/mfa'],
      ['POST', '/api/v1/auth/mfa/totp'],
      ['POST', '/api/v1/auth/mfa/recovery-codes'],
      ['POST', '/api/v1/auth/reauthenticate'],
      ['GET', '/api/v1/auth/passkeys'],
      ['POST', '/api/v1/auth/passkeys/registration-options'],
      ['POST', '/api/v1/auth/reauthenticate/passkey-options'],
    ] as const) {
      const response = await call(tenant, method, path, { token: key, body: method === 'POST' ? {} : undefined });
      expect(response.status, path).toBe(403);
      expect((await problem(response)).code).toBe('forbidden');
    }
  });

  it('keeps the budget: one database and one Redis round trip on a GET and on a write', async () => {
    const tenant = await createTenant();
    const { key } = await ownerWithKey(tenant, ['events:read', 'events:write', 'api_keys:write']);
    const read = newRequestId();
    const list = await call(tenant, 'GET', '/api/v1/events', { token: key, headers: { 'x-request-id': read } });
    expect(list.status).toBe(200);
    expect(await roundTrips(read)).toEqual({ database: 1, redis: 1 });
    // The key's first use records its last use after the response: its own round trip, traced apart.
    await poll(async () => {
      const later = await roundTrips(`${read}.after-response`);
      return later.database === 1 ? later : undefined;
    }, 'the last-use write');

    // A write without after-response work (an event's creation also dispatches its outbox row after the response,
    // under the request's trace, for tokens and keys alike).
    const [row] = await database().select().from(apiKeys).where(eq(apiKeys.organizationId, tenant.organization.id));
    const write = newRequestId();
    const renamed = await call(tenant, 'PUT', `/api/v1/api-keys/${row?.id ?? ''}`, {
      token: key,
      headers: { 'x-request-id': write },
      body: { name: 'Renamed by itself' },
    });
    expect(renamed.status).toBe(200);
    expect(await roundTrips(write)).toEqual({ database: 1, redis: 1 });

    const created = await call(tenant, 'POST', '/api/v1/events', {
      token: key,
      body: {
        title: 'Key Conf',
        startsAt: new Date(Date.now() + 86_400_000).toISOString(),
        endsAt: new Date(Date.now() + 90_000_000).toISOString(),
        timezone: 'Europe/Lisbon',
      },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    // Audited as the key (actor type api_key, with the key's id), on behalf of its creator.
    const { id } = await created.json<{ id: string }>();
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.targetId, id), eq(auditLogs.action, 'event.created')));
    expect(audit).toMatchObject({ actorType: 'api_key', actorApiKeyId: row?.id, actorUserId: row?.createdBy });
    const listed = await call(tenant, 'GET', '/api/v1/audit-logs?action=event.created', {
      token: (await memberWithToken(tenant, 'owner')).token,
    });
    const entries = await listed.json<{ data: { actor: unknown }[] }>();
    expect(entries.data[0]?.actor).toEqual({ type: 'api_key', userId: row?.createdBy, apiKeyId: row?.id });
  });

  it('refills a lost Redis record from the database: one more database round trip, then the budget again', async () => {
    const tenant = await createTenant();
    const { key, created } = await ownerWithKey(tenant, ['events:read']);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: key })).status).toBe(200);
    await redis().del(apiKeyRecordKey(created.id));

    const miss = newRequestId();
    const response = await call(tenant, 'GET', '/api/v1/events', { token: key, headers: { 'x-request-id': miss } });
    expect(response.status).toBe(200);
    expect((await roundTrips(miss)).database).toBe(2);
    await poll(async () => ((await redis().get(apiKeyRecordKey(created.id))) === null ? undefined : true), 'refill');

    const hit = newRequestId();
    expect((await call(tenant, 'GET', '/api/v1/events', { token: key, headers: { 'x-request-id': hit } })).status).toBe(
      200,
    );
    expect(await roundTrips(hit)).toEqual({ database: 1, redis: 1 });
  });

  it('answers 401 for a key of another organization, like a token of another tenant', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { key } = await ownerWithKey(other, ['events:read']);
    const response = await call(tenant, 'GET', '/api/v1/events', { token: key });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('invalid_token');
    // Also when Redis lost its record (the database lookup is scoped to this host's organization).
    const { created } = await ownerWithKey(other, ['events:read']);
    await redis().del(apiKeyRecordKey(created.id));
    expect((await call(tenant, 'GET', '/api/v1/events', { token: created.key })).status).toBe(401);
    expect((await call(other, 'GET', '/api/v1/events', { token: created.key })).status).toBe(200);
  });

  it('answers 401 for a key revoked a second ago, and keeps it revoked when its record is lost', async () => {
    const tenant = await createTenant();
    const { token, key, created } = await ownerWithKey(tenant, ['events:read']);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: key })).status).toBe(200);
    const revoked = await call(tenant, 'DELETE', `/api/v1/api-keys/${created.id}`, { token });
    expect(revoked.status).toBe(204);
    const refused = await call(tenant, 'GET', '/api/v1/events', { token: key });
    expect(refused.status).toBe(401);
    expect((await problem(refused)).detail).toBe('The API key is invalid or has been revoked.');

    await redis().del(apiKeyRecordKey(created.id));
    expect((await call(tenant, 'GET', '/api/v1/events', { token: key })).status).toBe(401);
    await poll(async () => ((await redis().get(apiKeyRecordKey(created.id))) === null ? undefined : true), 'tombstone');
    expect(await redis().get(apiKeyRecordKey(created.id))).toEqual({ revoked: true });

    const view: ApiKeyView = await (await call(tenant, 'GET', `/api/v1/api-keys/${created.id}`, { token })).json();
    expect(view.status).toBe('revoked');
    expect(view.revokedAt).not.toBeNull();
    // Revoking again is idempotent (it writes the tombstone again): 204.
    expect((await call(tenant, 'DELETE', `/api/v1/api-keys/${created.id}`, { token })).status).toBe(204);
    const audits = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.targetId, created.id), eq(auditLogs.action, 'api_key.revoked')));
    expect(audits.length).toBeGreaterThanOrEqual(1);
  });

  it('answers 401 once a key has expired', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const created = await newKey(tenant, token, {
      permissions: ['events:read'],
      expiresAt: new Date(Date.now() + 1500).toISOString(),
    });
    expect((await call(tenant, 'GET', '/api/v1/events', { token: created.key })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const expired = await call(tenant, 'GET', '/api/v1/events', { token: created.key });
    expect(expired.status).toBe(401);
    expect((await problem(expired)).detail).toBe('The API key has expired.');
    const view: ApiKeyView = await (await call(tenant, 'GET', `/api/v1/api-keys/${created.id}`, { token })).json();
    expect(view.status).toBe('expired');
  });

  it('refuses made-up and altered keys with 401 before any round trip, and keys on the platform host', async () => {
    const tenant = await createTenant();
    const { key } = await ownerWithKey(tenant, ['events:read']);
    const last = key.at(-1) === 'A' ? 'B' : 'A';
    const forged = [
      `${key.slice(0, -1)}${last}`,
      key.replace('evk_live_', 'evk_test_'),
      `evk_live_${crypto.randomUUID().replaceAll('-', '')}_${'A'.repeat(43)}`,
      'evk_live_short',
      `${key}x`,
    ];
    for (const candidate of forged) {
      const id = newRequestId();
      const response = await call(tenant, 'GET', '/api/v1/events', {
        token: candidate,
        headers: { 'x-request-id': id },
      });
      expect(response.status, candidate).toBe(401);
      expect(await roundTrips(id)).toEqual({ database: 0, redis: 0 });
    }
    const platform = await worker.fetch(
      new Request(`http://${bindings().ROOT_DOMAIN}/api/v1/organizations`, { headers: bearer(key) }),
      env,
      createExecutionContext(),
    );
    expect(platform.status).toBe(401);
  });

  it('answers 503 when Redis cannot be reached (fail closed)', async () => {
    const tenant = await createTenant();
    const { key } = await ownerWithKey(tenant, ['events:read']);
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(tenant.url('/api/v1/events'), { headers: bearer(key) }),
      { ...(env as unknown as Record<string, unknown>), UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
  });

  it('records the last use (time and address) after the response', async () => {
    const tenant = await createTenant();
    const { token, key, created } = await ownerWithKey(tenant, ['events:read']);
    const ip = randomIp();
    const before = Date.now();
    expect(
      (await call(tenant, 'GET', '/api/v1/events', { token: key, headers: { 'cf-connecting-ip': ip } })).status,
    ).toBe(200);
    const row = await poll(async () => {
      const current = await keyRow(created.id);
      return current?.lastUsedAt ? current : undefined;
    }, 'last use');
    expect(row.lastUsedIp).toBe(ip);
    expect(row.lastUsedAt?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    const view: ApiKeyView = await (await call(tenant, 'GET', `/api/v1/api-keys/${created.id}`, { token })).json();
    expect(view.lastUsedIp).toBe(ip);
    expect(view.lastUsedAt).not.toBeNull();
  });

  it('has its own rate-limit bucket, apart from its creator', async () => {
    const tenant = await createTenant({ planOverrides: { rateLimits: { principalPerMinute: 3 } } });
    const { token, key } = await ownerWithKey(tenant, ['events:read']);
    await awayFromWindowEdge();
    for (let index = 0; index < 3; index += 1) {
      const response = await call(tenant, 'GET', '/api/v1/events', { token: key });
      expect(response.status).toBe(200);
      expect(parseRateLimitHeader(response.headers.get('ratelimit-policy')).map((item) => item.name)).toEqual([
        'api-key',
      ]);
    }
    const limited = await call(tenant, 'GET', '/api/v1/events', { token: key });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).not.toBeNull();
    // The creator's own sessions are another caller.
    expect((await call(tenant, 'GET', '/api/v1/events', { token })).status).toBe(200);
  });
});

describe('a key that outgrows its creator', () => {
  it('is revoked when the creator loses a permission it holds, and every key of a removed member', async () => {
    const tenant = await createTenant();
    const { token: owner } = await memberWithToken(tenant, 'owner');
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    const reader = await newKey(tenant, token, { permissions: ['events:read'] });
    const writer = await newKey(tenant, token, { permissions: ['events:read', 'users:manage'] });

    const demoted = await call(tenant, 'PUT', `/api/v1/users/${admin.userId}`, {
      token: owner,
      body: { role: 'staff' },
    });
    expect(demoted.status, await demoted.clone().text()).toBe(200);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: writer.key })).status).toBe(401);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: reader.key })).status).toBe(200);
    expect((await keyRow(writer.id))?.revokedAt).not.toBeNull();

    expect((await call(tenant, 'DELETE', `/api/v1/users/${admin.userId}`, { token: owner })).status).toBe(204);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: reader.key })).status).toBe(401);
    expect((await keyRow(reader.id))?.revokedAt).not.toBeNull();
  });
});

describe('test keys', () => {
  it('are refused with 403 live_key_required by live-only operations, which live keys reach', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const all: Permission[] = ['bookings:write', 'billing:manage', 'webhooks:manage', 'users:manage', 'events:read'];
    const { key: testKey } = await ownerWithKey(tenant, all, 'test');
    const { key: liveKey } = await ownerWithKey(tenant, all, 'live');
    const id = crypto.randomUUID();
    const operations: [string, string, unknown][] = [
      ['POST', `/api/v1/bookings/${id}/refund`, { amount: 100 }],
      ['POST', `/api/v1/bookings/${id}/confirm`, {}],
      ['POST', `/api/v1/bookings/${id}/cancel`, {}],
      ['PUT', '/api/v1/organization/payment-settings', { manualPaymentsEnabled: true }],
      ['POST', `/api/v1/webhooks/${id}/test`, {}],
      ['POST', `/api/v1/webhook-deliveries/${id}/redeliver`, {}],
      ['POST', '/api/v1/users', { email: `x-${id}@example.com`, role: 'staff' }],
    ];
    for (const [method, path, body] of operations) {
      const refused = await call(tenant, method, path, { token: testKey, body, headers: { 'idempotency-key': id } });
      expect(refused.status, path).toBe(403);
      expect((await problem(refused)).code, path).toBe('live_key_required');
      const live = await call(tenant, method, path, { token: liveKey, body, headers: { 'idempotency-key': id } });
      expect(live.status, path).not.toBe(401);
      if (live.status === 403) expect((await problem(live)).code, path).not.toBe('live_key_required');
    }
    // Reads and ordinary writes work with a test key.
    expect((await call(tenant, 'GET', '/api/v1/events', { token: testKey })).status).toBe(200);
  });
});

describe('GET, PUT and DELETE /api/v1/api-keys', () => {
  it('lists newest first with cursor pagination and a status filter; 404 for another organization', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const first = await newKey(tenant, token, { permissions: ['events:read'] });
    const second = await newKey(tenant, token, { permissions: ['events:read'] });
    const third = await newKey(tenant, token, { permissions: ['events:read'] });
    expect((await call(tenant, 'DELETE', `/api/v1/api-keys/${second.id}`, { token })).status).toBe(204);

    const page: ApiKeyList = await (await call(tenant, 'GET', '/api/v1/api-keys?limit=2', { token })).json();
    expect(page.data.map((key) => key.id)).toEqual([third.id, second.id]);
    const next: ApiKeyList = await (
      await call(tenant, 'GET', `/api/v1/api-keys?limit=2&cursor=${page.nextCursor ?? ''}`, { token })
    ).json();
    expect(next.data.map((key) => key.id)).toEqual([first.id]);
    expect(next.nextCursor).toBeNull();
    const oldest: ApiKeyList = await (await call(tenant, 'GET', '/api/v1/api-keys?sort=createdAt', { token })).json();
    expect(oldest.data.map((key) => key.id)).toEqual([first.id, second.id, third.id]);

    const revoked: ApiKeyList = await (await call(tenant, 'GET', '/api/v1/api-keys?status=revoked', { token })).json();
    expect(revoked.data.map((key) => key.id)).toEqual([second.id]);
    const active: ApiKeyList = await (await call(tenant, 'GET', '/api/v1/api-keys?status=active', { token })).json();
    expect(active.data.map((key) => key.id)).toEqual([third.id, first.id]);
    await database()
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, first.id));
    const expired: ApiKeyList = await (await call(tenant, 'GET', '/api/v1/api-keys?status=expired', { token })).json();
    expect(expired.data.map((key) => key.id)).toEqual([first.id]);

    const other = await createTenant();
    const { token: stranger } = await memberWithToken(other, 'owner');
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { name: 'mine' }],
      ['DELETE', undefined],
    ] as const) {
      const response = await call(other, method, `/api/v1/api-keys/${third.id}`, { token: stranger, body });
      expect(response.status, method).toBe(404);
    }
    expect((await keyRow(third.id))?.revokedAt).toBeNull();
    expect((await keyRow(third.id))?.name).toBe('Integration');
  });

  it('needs api_keys:read to list and read', async () => {
    const tenant = await createTenant();
    const { token: organizer } = await memberWithToken(tenant, 'organizer');
    const response = await call(tenant, 'GET', '/api/v1/api-keys', { token: organizer });
    expect(response.status).toBe(403);
    expect((await problem(response)).detail).toContain('api_keys:read');
  });

  it('renames a key (audited) and answers 400 for anything else', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const created = await newKey(tenant, token, { permissions: ['events:read'] });
    const renamed = await call(tenant, 'PUT', `/api/v1/api-keys/${created.id}`, {
      token,
      body: { name: 'Renamed' },
    });
    expect(renamed.status).toBe(200);
    expect((await renamed.json<ApiKeyView>()).name).toBe('Renamed');
    const widen = await call(tenant, 'PUT', `/api/v1/api-keys/${created.id}`, {
      token,
      body: { name: 'x', permissions: ['events:write'] },
    });
    expect(widen.status).toBe(400);
    expect((await keyRow(created.id))?.permissions).toEqual(['events:read']);
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.targetId, created.id), eq(auditLogs.action, 'api_key.updated')));
    expect(audit?.metadata).toEqual({ name: 'Renamed' });
  });
});
