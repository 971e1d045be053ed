import { and, desc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, organizations } from '../../src/db/schema/index.ts';
import type { PlanSummaryResponse } from '../../src/routes/organization-features/schema.ts';
import { PLANS } from '../../src/services/plans/catalogue.ts';
import { bearer, createTenant, database, newRequestId, problem, request, roundTrips } from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM, platformToken } from '../support/organizations.ts';
import { call, memberWithToken } from '../support/users.ts';

function putOverrides(token: string, id: string, body: unknown, host = PLATFORM): Promise<Response> {
  return request(`${host}/api/v1/organizations/${id}/plan-overrides`, {
    method: 'PUT',
    headers: bearer(token),
    body: JSON.stringify(body),
  });
}

async function overridesOf(id: string) {
  const [row] = await database()
    .select({ planOverrides: organizations.planOverrides, updatedAt: organizations.updatedAt })
    .from(organizations)
    .where(eq(organizations.id, id));
  return row?.planOverrides;
}

async function overrideAudits(id: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, id), eq(auditLogs.action, 'organization.plan_overrides_updated')))
    .orderBy(desc(auditLogs.id));
}

describe('GET /api/v1/organization/features', () => {
  it.each(['starter', 'pro', 'enterprise'] as const)(
    'answers the %s plan as the catalogue defines it',
    async (plan) => {
      const tenant = await createTenant({ plan });
      const { token } = await memberWithToken(tenant, 'staff');
      const response = await call(tenant, 'GET', '/api/v1/organization/features', { token });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        plan,
        ...PLANS[plan],
        overrides: {},
        flags: expect.any(Array) as unknown,
      });
    },
  );

  it('merges the overrides key by key and shows them; starter has 100/1,000/10,000 per minute by plan', async () => {
    expect([PLANS.starter, PLANS.pro, PLANS.enterprise].map((plan) => plan.rateLimits.organizationPerMinute)).toEqual([
      100, 1_000, 10_000,
    ]);
    const overrides = {
      rateLimits: { principalPerMinute: 90 },
      quotas: { publishedEvents: 12 },
      features: { exports: true, webhooks: false },
    };
    const tenant = await createTenant({ planOverrides: overrides });
    const { token } = await memberWithToken(tenant, 'owner');
    const body: PlanSummaryResponse = await (
      await call(tenant, 'GET', '/api/v1/organization/features', { token })
    ).json();
    expect(body).toEqual({
      plan: 'starter',
      features: { webhooks: false, custom_domains: false, sso: false, custom_roles: false, exports: true },
      quotas: { publishedEvents: 12, members: 5, webhookEndpoints: 0 },
      rateLimits: { organizationPerMinute: 100, customersPerMinute: 100, principalPerMinute: 90 },
      storageBytes: 10 * 1024 * 1024,
      overrides,
      // The feature flags evaluated for the organization (tests/worker/feature-flags.test.ts).
      flags: expect.any(Array) as unknown,
    });
  });

  it('ignores malformed stored overrides instead of enforcing them', async () => {
    const tenant = await createTenant({
      planOverrides: {
        rateLimits: { organizationPerMinute: -5 },
        quotas: { members: 2.5 },
        features: { sso: 'yes' },
      } as unknown as Record<string, never>,
    });
    const { token } = await memberWithToken(tenant, 'owner');
    const body: PlanSummaryResponse = await (
      await call(tenant, 'GET', '/api/v1/organization/features', { token })
    ).json();
    expect(body).toEqual({ plan: 'starter', ...PLANS.starter, overrides: {}, flags: expect.any(Array) as unknown });
  });

  it('needs organization:read, exists only on organization hosts, and costs one round trip of each kind', async () => {
    const tenant = await createTenant();
    const { token: member } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'GET', '/api/v1/organization/features')).status).toBe(401);
    expect((await call(tenant, 'GET', '/api/v1/organization/features', { token: member })).status).toBe(403);
    const admin = await createPlatformAdmin();
    expect((await request(`${PLATFORM}/api/v1/organization/features`, { headers: bearer(admin.token) })).status).toBe(
      404,
    );
    const { token } = await memberWithToken(tenant, 'owner');
    await call(tenant, 'GET', '/api/v1/organization/features', { token });
    const id = newRequestId();
    expect(
      (await call(tenant, 'GET', '/api/v1/organization/features', { token, headers: { 'x-request-id': id } })).status,
    ).toBe(200);
    expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });
  });
});

describe('PUT /api/v1/organizations/{id}/plan-overrides (platform administrators)', () => {
  it('replaces the overrides, audits before and after, and applies them at once', async () => {
    const tenant = await createTenant({ planOverrides: { quotas: { members: 8 } } });
    const { token: owner } = await memberWithToken(tenant, 'owner');
    // The tenant is cached in this isolate with its old plan: custom roles are refused.
    const roleBody = { key: 'door', name: 'Door', permissions: ['events:read'] };
    expect((await call(tenant, 'POST', '/api/v1/roles', { token: owner, body: roleBody })).status).toBe(403);

    const admin = await createPlatformAdmin();
    const overrides = { rateLimits: { organizationPerMinute: 5000 }, features: { custom_roles: true } };
    const response = await putOverrides(admin.token, tenant.organization.id, overrides);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      organizationId: tenant.organization.id,
      plan: 'starter',
      features: { ...PLANS.starter.features, custom_roles: true },
      quotas: PLANS.starter.quotas,
      rateLimits: { organizationPerMinute: 5000, customersPerMinute: 100, principalPerMinute: 60 },
      storageBytes: PLANS.starter.storageBytes,
      overrides,
    });
    expect(await overridesOf(tenant.organization.id)).toEqual(overrides);
    const [audit] = await overrideAudits(tenant.organization.id);
    expect(audit).toMatchObject({
      actorType: 'platform_admin',
      actorUserId: admin.userId,
      targetType: 'organization',
      targetId: tenant.organization.id,
      metadata: { before: { quotas: { members: 8 } }, after: overrides },
    });

    // Enforced at once on this instance, and shown by the features endpoint.
    expect((await call(tenant, 'POST', '/api/v1/roles', { token: owner, body: roleBody })).status).toBe(201);
    const limited = await call(tenant, 'GET', '/api/v1/roles/permissions', { token: owner });
    expect(limited.headers.get('ratelimit-policy')).toContain('"api-organization";q=5000;w=60');

    // The same content again writes nothing; {} removes every override.
    expect((await putOverrides(admin.token, tenant.organization.id, overrides)).status).toBe(200);
    expect(await overrideAudits(tenant.organization.id)).toHaveLength(1);
    const cleared = await putOverrides(admin.token, tenant.organization.id, {});
    expect((await cleared.json<{ overrides: unknown }>()).overrides).toEqual({});
    expect(await overridesOf(tenant.organization.id)).toEqual({});
    expect(await overrideAudits(tenant.organization.id)).toHaveLength(2);
  });

  it('refuses tenant owners: the path does not exist on their host, and their token is no platform token', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const body = { features: { sso: true } };
    const onTenant = await putOverrides(token, tenant.organization.id, body, `http://${tenant.host}`);
    expect(onTenant.status).toBe(404);
    expect((await putOverrides(token, tenant.organization.id, body)).status).toBe(401);
    const { userId } = await createPlatformAdmin();
    const notAdmin = await putOverrides(await platformToken(userId, 'support'), tenant.organization.id, body);
    expect(notAdmin.status).toBe(403);
    expect(await overridesOf(tenant.organization.id)).toEqual({});
    expect(await overrideAudits(tenant.organization.id)).toEqual([]);
  });

  it.each([
    ['an unknown group', { plan: 'enterprise' }],
    ['an unknown feature', { features: { teleport: true } }],
    ['an unknown quota', { quotas: { events: 3 } }],
    ['a negative quota', { quotas: { members: -1 } }],
    ['a fractional quota', { quotas: { members: 1.5 } }],
    ['a zero rate limit', { rateLimits: { organizationPerMinute: 0 } }],
    ['a rate limit too large', { rateLimits: { principalPerMinute: 1_000_001 } }],
    ['a feature that is not a boolean', { features: { sso: 'yes' } }],
    ['a null quota', { quotas: { members: null } }],
  ])('answers 400 for %s and changes nothing', async (_label, body) => {
    const tenant = await createTenant();
    const admin = await createPlatformAdmin();
    const response = await putOverrides(admin.token, tenant.organization.id, body);
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
    expect(await overridesOf(tenant.organization.id)).toEqual({});
  });

  it('answers 404 for an unknown or malformed organization id', async () => {
    const admin = await createPlatformAdmin();
    expect((await putOverrides(admin.token, crypto.randomUUID(), {})).status).toBe(404);
    expect((await putOverrides(admin.token, 'not-a-uuid', {})).status).toBe(404);
  });
});
