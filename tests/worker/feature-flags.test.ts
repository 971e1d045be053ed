import { and, eq, isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, featureFlags, organizations } from '../../src/db/schema/index.ts';
import type { FeatureFlagListResponse, FeatureFlagResponse } from '../../src/routes/feature-flags/schema.ts';
import type { PlanSummaryResponse } from '../../src/routes/organization-features/schema.ts';
import { evaluateFlag, inRollout, rolloutBucket, type FlagDefinition } from '../../src/services/flags/evaluate.ts';
import { FEATURE_NAMES, PLANS } from '../../src/services/plans/catalogue.ts';
import { bearer, createTenant, database, newRequestId, problem, request, roundTrips } from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM, platformToken } from '../support/organizations.ts';
import { call, memberWithToken } from '../support/users.ts';

const BASE = `${PLATFORM}/api/v1/platform/feature-flags`;

function platform(path: string, token: string | undefined, init: { method?: string; body?: unknown } = {}) {
  return request(`${BASE}${path}`, {
    method: init.method ?? 'GET',
    headers: token === undefined ? { 'content-type': 'application/json' } : bearer(token),
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

/** A key no other test uses. */
function flagKey(): string {
  return `test_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

async function createFlag(token: string, body: Record<string, unknown>): Promise<FeatureFlagResponse> {
  const response = await platform('', token, { method: 'POST', body });
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json();
}

async function flagAudits(key: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(isNull(auditLogs.organizationId), eq(auditLogs.targetType, 'feature_flag'), eq(auditLogs.targetId, key)))
    .orderBy(auditLogs.id);
}

async function featuresOf(tenant: Awaited<ReturnType<typeof createTenant>>, token: string) {
  const response = await call(tenant, 'GET', '/api/v1/organization/features', { token });
  expect(response.status).toBe(200);
  return response.json<PlanSummaryResponse>();
}

const definition = (overrides: Partial<FlagDefinition> = {}): FlagDefinition => ({
  key: 'new_checkout',
  description: 'The new checkout.',
  defaultValue: false,
  planValues: {},
  rolloutPercentage: null,
  ...overrides,
});

/** Synthetic organization ids: the same on every run. */
const syntheticIds = Array.from(
  { length: 4000 },
  (_, index) => `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`,
);

describe('flag evaluation (pure)', () => {
  it('puts an organization in the same bucket every time, and different flags in different buckets', () => {
    const id = syntheticIds[7] ?? '';
    expect(rolloutBucket('new_checkout', id)).toBe(rolloutBucket('new_checkout', id));
    expect(rolloutBucket('new_checkout', id.toUpperCase())).toBe(rolloutBucket('new_checkout', id));
    const buckets = syntheticIds.map((orgId) => rolloutBucket('new_checkout', orgId));
    expect(buckets.every((bucket) => Number.isInteger(bucket) && bucket >= 0 && bucket < 100)).toBe(true);
    const other = syntheticIds.map((orgId) => rolloutBucket('dark_mode', orgId));
    expect(buckets.filter((bucket, index) => bucket === other[index]).length).toBeLessThan(syntheticIds.length / 20);
  });

  it('is monotonic: every organization in at 30% is in at 60% and at 100%, none is in at 0%', () => {
    for (const key of ['new_checkout', 'dark_mode', 'webhooks']) {
      const at = (percentage: number) => syntheticIds.filter((id) => inRollout(key, id, percentage));
      const at30 = at(30);
      const at60 = new Set(at(60));
      expect(at30.filter((id) => !at60.has(id))).toEqual([]);
      expect(at(0)).toEqual([]);
      expect(at(100)).toHaveLength(syntheticIds.length);
      // Spread evenly: 30% and 60% of 4,000 ids within a few points.
      expect(at30.length / syntheticIds.length).toBeGreaterThan(0.26);
      expect(at30.length / syntheticIds.length).toBeLessThan(0.34);
      expect(at60.size / syntheticIds.length).toBeGreaterThan(0.56);
      expect(at60.size / syntheticIds.length).toBeLessThan(0.64);
      let previous = new Set<string>();
      for (let percentage = 0; percentage <= 100; percentage += 5) {
        const current = new Set(at(percentage));
        expect([...previous].filter((id) => !current.has(id))).toEqual([]);
        previous = current;
      }
    }
  });

  it('evaluates override, then rollout, then the plan value, then the default', () => {
    const inside = syntheticIds.find((id) => inRollout('new_checkout', id, 50)) ?? '';
    const outside = syntheticIds.find((id) => !inRollout('new_checkout', id, 50)) ?? '';
    const flag = definition({ defaultValue: true, planValues: { pro: false }, rolloutPercentage: 50 });
    const org = (id: string, plan: 'starter' | 'pro', override?: boolean) => ({ id, plan, override });
    expect(evaluateFlag(flag, org(outside, 'pro', true))).toEqual({ value: true, source: 'override' });
    expect(evaluateFlag(flag, org(inside, 'pro', false))).toEqual({ value: false, source: 'override' });
    expect(evaluateFlag(flag, org(inside, 'pro'))).toEqual({ value: true, source: 'rollout' });
    expect(evaluateFlag(flag, org(outside, 'starter'))).toEqual({ value: false, source: 'rollout' });
    const noRollout = { ...flag, rolloutPercentage: null };
    expect(evaluateFlag(noRollout, org(inside, 'pro'))).toEqual({ value: false, source: 'plan' });
    expect(evaluateFlag(noRollout, org(inside, 'starter'))).toEqual({ value: true, source: 'default' });
  });
});

describe('the feature flag registry (platform administrators)', () => {
  it('defines, reads, lists, changes and deletes a flag, each change in the platform audit log', async () => {
    const admin = await createPlatformAdmin();
    const key = flagKey();
    const response = await platform('', admin.token, {
      method: 'POST',
      body: { key, description: '  The new checkout.  ', planValues: { pro: true }, rolloutPercentage: 10 },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`${BASE}/${key}`);
    const created = await response.json<FeatureFlagResponse>();
    expect(created).toMatchObject({
      key,
      description: 'The new checkout.',
      defaultValue: false,
      planValues: { pro: true },
      rolloutPercentage: 10,
      builtIn: false,
    });

    expect(await (await platform(`/${key}`, admin.token)).json()).toEqual(created);
    const list = await (await platform('', admin.token)).json<FeatureFlagListResponse>();
    const keys = list.items.map((item) => item.key);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toContain(key);
    for (const feature of FEATURE_NAMES) {
      expect(list.items.find((item) => item.key === feature)).toMatchObject({ builtIn: true, defaultValue: false });
    }
    // The built-in flags carry the plan catalogue's values (the migration's seed).
    expect(list.items.find((item) => item.key === 'sso')?.planValues).toEqual({
      starter: PLANS.starter.features.sso,
      pro: PLANS.pro.features.sso,
      enterprise: PLANS.enterprise.features.sso,
    });

    const patched = await platform(`/${key}`, admin.token, {
      method: 'PATCH',
      body: { rolloutPercentage: null, defaultValue: true },
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({
      key,
      rolloutPercentage: null,
      defaultValue: true,
      planValues: { pro: true },
    });

    const deleted = await platform(`/${key}`, admin.token, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect((await platform(`/${key}`, admin.token)).status).toBe(404);
    expect((await platform(`/${key}`, admin.token, { method: 'DELETE' })).status).toBe(404);
    expect((await platform(`/${key}`, admin.token, { method: 'PATCH', body: { defaultValue: true } })).status).toBe(
      404,
    );

    const audits = await flagAudits(key);
    expect(audits.map((row) => [row.action, row.actorType, row.actorUserId])).toEqual([
      ['platform.feature_flag_created', 'platform_admin', admin.userId],
      ['platform.feature_flag_updated', 'platform_admin', admin.userId],
      ['platform.feature_flag_deleted', 'platform_admin', admin.userId],
    ]);
    expect(audits[1]?.metadata).toEqual({ changes: { rolloutPercentage: null, defaultValue: true } });
  });

  it('answers 409 for a key in use and for deleting a built-in plan feature, and changes nothing', async () => {
    const admin = await createPlatformAdmin();
    const key = flagKey();
    await createFlag(admin.token, { key, description: 'First.' });
    const again = await platform('', admin.token, { method: 'POST', body: { key, description: 'Second.' } });
    expect(again.status).toBe(409);
    expect((await problem(again)).code).toBe('conflict');
    expect((await database().select().from(featureFlags).where(eq(featureFlags.key, key)))[0]?.description).toBe(
      'First.',
    );
    for (const feature of FEATURE_NAMES) {
      const refused = await platform(`/${feature}`, admin.token, { method: 'DELETE' });
      expect(refused.status).toBe(409);
      expect((await problem(refused)).code).toBe('conflict');
      expect(await database().select().from(featureFlags).where(eq(featureFlags.key, feature))).toHaveLength(1);
    }
    expect(await flagAudits('sso')).toEqual([]);
  });

  it.each([
    ['an upper-case key', { key: 'NewCheckout', description: 'x' }],
    ['a key too short', { key: 'ab', description: 'x' }],
    ['a key with a dash', { key: 'new-checkout', description: 'x' }],
    ['a key ending in _', { key: 'new_checkout_', description: 'x' }],
    ['a missing description', { key: 'valid_key' }],
    ['a blank description', { key: 'valid_key', description: '   ' }],
    ['a rollout above 100', { key: 'valid_key', description: 'x', rolloutPercentage: 101 }],
    ['a negative rollout', { key: 'valid_key', description: 'x', rolloutPercentage: -1 }],
    ['a fractional rollout', { key: 'valid_key', description: 'x', rolloutPercentage: 12.5 }],
    ['an unknown plan', { key: 'valid_key', description: 'x', planValues: { gold: true } }],
    ['a plan value that is not a boolean', { key: 'valid_key', description: 'x', planValues: { pro: 'yes' } }],
    ['a string default', { key: 'valid_key', description: 'x', defaultValue: 'on' }],
    ['an unknown field', { key: 'valid_key', description: 'x', builtIn: true }],
  ])('answers 400 to a create with %s', async (_label, body) => {
    const admin = await createPlatformAdmin();
    const response = await platform('', admin.token, { method: 'POST', body });
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
    expect(await database().select().from(featureFlags).where(eq(featureFlags.key, 'valid_key'))).toEqual([]);
  });

  it('answers 400 to an empty change, an unknown field or a malformed key', async () => {
    const admin = await createPlatformAdmin();
    const key = flagKey();
    await createFlag(admin.token, { key, description: 'x' });
    expect((await platform(`/${key}`, admin.token, { method: 'PATCH', body: {} })).status).toBe(400);
    expect((await platform(`/${key}`, admin.token, { method: 'PATCH', body: { key: 'other_key' } })).status).toBe(400);
    expect((await platform('/Not-A-Key', admin.token)).status).toBe(400);
  });

  it('is refused to everyone but platform administrators, and does not exist on organization hosts', async () => {
    const tenant = await createTenant();
    const { token: owner } = await memberWithToken(tenant, 'owner');
    const admin = await createPlatformAdmin();
    const support = await platformToken(admin.userId, 'support');
    const key = flagKey();
    const body = { key, description: 'x' };
    expect((await platform('', undefined)).status).toBe(401);
    expect((await platform('', owner)).status).toBe(401);
    expect((await platform('', support)).status).toBe(403);
    expect((await platform('', support, { method: 'POST', body })).status).toBe(403);
    expect((await platform('/sso', support, { method: 'PATCH', body: { defaultValue: true } })).status).toBe(403);
    expect((await platform('/sso', support, { method: 'DELETE' })).status).toBe(403);
    const onTenant = await call(tenant, 'POST', '/api/v1/platform/feature-flags', { token: owner, body });
    expect(onTenant.status).toBe(404);
    expect((await call(tenant, 'GET', '/api/v1/platform/feature-flags/sso', { token: owner })).status).toBe(404);
    expect(await database().select().from(featureFlags).where(eq(featureFlags.key, key))).toEqual([]);
  });
});

describe('flags evaluated for an organization', () => {
  it('lists every flag with its value and source, following each change at once', async () => {
    const admin = await createPlatformAdmin();
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    const key = flagKey();
    await createFlag(admin.token, { key, description: 'Dark mode.' });
    const valueOf = async () => (await featuresOf(tenant, token)).flags.find((flag) => flag.key === key);

    const body = await featuresOf(tenant, token);
    // The existing fields are unchanged; the plan features are listed as flags too.
    expect(body).toMatchObject({ plan: 'pro', features: PLANS.pro.features, quotas: PLANS.pro.quotas, overrides: {} });
    expect(body.flags.find((flag) => flag.key === 'sso')).toEqual({
      key: 'sso',
      description: 'Single sign-on for staff',
      value: false,
      source: 'plan',
    });
    expect(body.flags.find((flag) => flag.key === key)).toEqual({
      key,
      description: 'Dark mode.',
      value: false,
      source: 'default',
    });

    await platform(`/${key}`, admin.token, { method: 'PATCH', body: { planValues: { pro: true } } });
    expect(await valueOf()).toMatchObject({ value: true, source: 'plan' });
    await platform(`/${key}`, admin.token, { method: 'PATCH', body: { rolloutPercentage: 0 } });
    expect(await valueOf()).toMatchObject({ value: false, source: 'rollout' });
    await platform(`/${key}`, admin.token, { method: 'PATCH', body: { rolloutPercentage: 100 } });
    expect(await valueOf()).toMatchObject({ value: true, source: 'rollout' });
    const bucket = rolloutBucket(key, tenant.organization.id);
    await platform(`/${key}`, admin.token, { method: 'PATCH', body: { rolloutPercentage: bucket } });
    expect(await valueOf()).toMatchObject({ value: false, source: 'rollout' });
    await platform(`/${key}`, admin.token, { method: 'PATCH', body: { rolloutPercentage: bucket + 1 } });
    expect(await valueOf()).toMatchObject({ value: true, source: 'rollout' });

    // The organization's override, through the plan overrides, beats the rollout.
    const overridden = await request(`${PLATFORM}/api/v1/organizations/${tenant.organization.id}/plan-overrides`, {
      method: 'PUT',
      headers: bearer(admin.token),
      body: JSON.stringify({ features: { [key]: false } }),
    });
    expect(overridden.status).toBe(200);
    expect((await overridden.json<{ overrides: unknown }>()).overrides).toEqual({ features: { [key]: false } });
    expect(await valueOf()).toMatchObject({ value: false, source: 'override' });

    // Deleting the flag removes it from the list and the organization's overrides.
    expect((await platform(`/${key}`, admin.token, { method: 'DELETE' })).status).toBe(204);
    expect(await valueOf()).toBeUndefined();
    const [row] = await database()
      .select({ planOverrides: organizations.planOverrides })
      .from(organizations)
      .where(eq(organizations.id, tenant.organization.id));
    expect(row?.planOverrides).toEqual({ features: {} });
  });

  it('refuses a plan override of a flag that is not defined, and keeps the built-in feature overrides working', async () => {
    const admin = await createPlatformAdmin();
    const tenant = await createTenant();
    const put = (body: unknown) =>
      request(`${PLATFORM}/api/v1/organizations/${tenant.organization.id}/plan-overrides`, {
        method: 'PUT',
        headers: bearer(admin.token),
        body: JSON.stringify(body),
      });
    const unknown = flagKey();
    const refused = await put({ features: { [unknown]: true } });
    expect(refused.status).toBe(400);
    const details = await problem(refused);
    expect(details.code).toBe('validation_failed');
    expect(details.errors).toEqual([{ pointer: `/features/${unknown}`, message: 'No such feature flag.' }]);

    const { token } = await memberWithToken(tenant, 'owner');
    const roleBody = { key: 'door', name: 'Door', permissions: ['events:read'] };
    const refusedRole = await call(tenant, 'POST', '/api/v1/roles', { token, body: roleBody });
    expect(refusedRole.status).toBe(403);
    expect(await problem(refusedRole)).toMatchObject({
      code: 'feature_unavailable',
      plan: 'starter',
      feature: 'custom_roles',
    });
    expect((await put({ features: { custom_roles: true } })).status).toBe(200);
    expect((await featuresOf(tenant, token)).flags.find((flag) => flag.key === 'custom_roles')).toMatchObject({
      value: true,
      source: 'override',
    });
    expect((await call(tenant, 'POST', '/api/v1/roles', { token, body: roleBody })).status).toBe(201);
  });

  it('checks a feature on a warm isolate with no extra round trip; after a flag change, one lookup reads them again', async () => {
    const admin = await createPlatformAdmin();
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    // GET /api/v1/webhooks checks the `webhooks` feature.
    const list = async () => {
      const id = newRequestId();
      const response = await call(tenant, 'GET', '/api/v1/webhooks', { token, headers: { 'x-request-id': id } });
      expect(response.status).toBe(200);
      return roundTrips(id);
    };
    await list();
    expect(await list()).toEqual({ database: 1, redis: 1 });

    // A flag change makes this isolate read the definitions again: within the tenant lookup's one statement.
    const key = flagKey();
    await createFlag(admin.token, { key, description: 'x' });
    expect(await list()).toEqual({ database: 2, redis: 1 });
    expect(await list()).toEqual({ database: 1, redis: 1 });
  });
});
