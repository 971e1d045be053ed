import { desc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs } from '../../src/db/schema/index.ts';
import type { OrganizationListResponse, OrganizationResponse } from '../../src/routes/organizations/schema.ts';
import {
  addDomain,
  bearer,
  createMember,
  createTenant,
  database,
  problem,
  randomSlug,
  request,
  tokenFor,
} from '../support/harness.ts';
import { createPlatformAdmin, organizationRow, PLATFORM, platformToken } from '../support/organizations.ts';

function list(token: string, query: Record<string, string>): Promise<Response> {
  return request(`${PLATFORM}/api/v1/organizations?${new URLSearchParams(query).toString()}`, {
    headers: bearer(token),
  });
}

function put(token: string, id: string, body: unknown): Promise<Response> {
  return request(`${PLATFORM}/api/v1/organizations/${id}`, {
    method: 'PUT',
    headers: bearer(token),
    body: JSON.stringify(body),
  });
}

async function auditRows(organizationId: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(eq(auditLogs.organizationId, organizationId))
    .orderBy(desc(auditLogs.id));
}

/** Three organizations whose slugs share a random prefix, so a `q` filter sees only them. */
async function threeOrganizations() {
  const prefix = randomSlug('p');
  const [first, second, third] = await Promise.all([
    createTenant({ slug: `${prefix}-a`, name: `Alpha ${prefix}` }),
    createTenant({ slug: `${prefix}-b`, name: `Bravo ${prefix}`, plan: 'enterprise' }),
    createTenant({ slug: `${prefix}-c`, name: `Charlie ${prefix}`, status: 'suspended', plan: 'enterprise' }),
  ]);
  return { prefix, first, second, third };
}

describe('GET /api/v1/organizations (platform administrators)', () => {
  it('lists organizations by slug with cursor pagination', async () => {
    const { prefix, first, second, third } = await threeOrganizations();
    const { token } = await createPlatformAdmin();
    const page1 = await list(token, { q: prefix, limit: '2' });
    expect(page1.status).toBe(200);
    const body1 = await page1.json<OrganizationListResponse>();
    expect(body1.data.map((organization) => organization.id)).toEqual([first.organization.id, second.organization.id]);
    expect(body1.data[0]).toEqual({
      id: first.organization.id,
      slug: first.organization.slug,
      name: first.organization.name,
      plan: 'starter',
      status: 'active',
      branding: {},
      settings: {},
      createdAt: first.organization.createdAt.toISOString(),
      updatedAt: first.organization.updatedAt.toISOString(),
    });
    expect(body1.nextCursor).toEqual(expect.any(String));

    const page2 = await list(token, { q: prefix, limit: '2', cursor: body1.nextCursor ?? '' });
    const body2 = await page2.json<OrganizationListResponse>();
    expect(body2.data.map((organization) => organization.id)).toEqual([third.organization.id]);
    expect(body2.nextCursor).toBeNull();
  });

  it('filters by status, plan and a name prefix (case-insensitive)', async () => {
    const { prefix, second, third } = await threeOrganizations();
    const { token } = await createPlatformAdmin();
    const ids = async (query: Record<string, string>) =>
      (await (await list(token, query)).json<OrganizationListResponse>()).data.map((organization) => organization.id);
    expect(await ids({ q: prefix, status: 'suspended' })).toEqual([third.organization.id]);
    expect(await ids({ q: prefix, plan: 'enterprise' })).toEqual([second.organization.id, third.organization.id]);
    expect(await ids({ q: prefix, plan: 'enterprise', status: 'active' })).toEqual([second.organization.id]);
    expect(await ids({ q: `bravo ${prefix}` })).toEqual([second.organization.id]);
    expect(await ids({ q: `${prefix}%` })).toEqual([]);
    expect(await ids({ q: `${prefix.slice(0, 2)}_${prefix.slice(3)}` })).toEqual([]);
  });

  it.each([
    ['a limit of 0', { limit: '0' }, '/query/limit'],
    ['a limit of 101', { limit: '101' }, '/query/limit'],
    ['a limit that is not a number', { limit: 'ten' }, '/query/limit'],
    ['an unknown status', { status: 'deleted' }, '/query/status'],
    ['an unknown plan', { plan: 'free' }, '/query/plan'],
    ['a forged cursor', { cursor: 'bm90LWEtY3Vyc29y' }, '/query/cursor'],
    ['a cursor that is not base64', { cursor: '%%%' }, '/query/cursor'],
    ['an injection in the cursor', { cursor: btoa("s:a' or 1=1--") }, '/query/cursor'],
  ])('refuses %s with 400', async (_case, query, pointer) => {
    const { token } = await createPlatformAdmin();
    const response = await list(token, query);
    expect(response.status).toBe(400);
    const failure = await problem(response);
    expect(failure.errors?.map((error) => error.pointer)).toContain(pointer);
  });

  it('refuses anonymous callers with 401 and platform tokens without the administrator role with 403', async () => {
    const anonymous = await request(`${PLATFORM}/api/v1/organizations`);
    expect(anonymous.status).toBe(401);
    const { userId } = await createPlatformAdmin();
    const plain = await list(await platformToken(userId, 'support'), {});
    expect(plain.status).toBe(403);
    expect((await problem(plain)).detail).toBe('Platform administrators only.');
  });

  it("refuses an organization owner's token on the platform host with 401", async () => {
    const tenant = await createTenant();
    const token = await tokenFor(tenant, await createMember(tenant, 'owner'));
    const response = await list(token, {});
    expect(response.status).toBe(401);
    expect((await problem(response)).detail).toBe('The access token is not valid on this host.');
  });

  it('answers 404 on an organization host, even to its administrators', async () => {
    const tenant = await createTenant();
    const anonymous = await request(tenant.url('/api/v1/organizations'));
    expect(anonymous.status).toBe(404);
    const token = await tokenFor(tenant, await createMember(tenant, 'owner'));
    const owner = await request(tenant.url('/api/v1/organizations'), { headers: bearer(token) });
    expect(owner.status).toBe(404);
  });
});

describe('PUT /api/v1/organizations/{id} on the platform host', () => {
  it('suspends an organization: its host answers 404 right after, on this instance', async () => {
    const tenant = await createTenant();
    const customHost = `${randomSlug('tickets')}.example.com`;
    await addDomain(tenant.organization.id, customHost, true);
    // Warm the tenant cache so the suspension must evict it.
    expect((await request(tenant.url('/health/ready'))).status).toBe(200);
    expect((await request(`http://${customHost}/health/ready`)).status).toBe(200);

    const admin = await createPlatformAdmin();
    const response = await put(admin.token, tenant.organization.id, { status: 'suspended' });
    expect(response.status).toBe(200);
    expect((await response.json<OrganizationResponse>()).status).toBe('suspended');
    expect((await organizationRow(tenant.organization.id)).status).toBe('suspended');

    const offline = await request(tenant.url('/health/ready'));
    expect(offline.status).toBe(404);
    expect((await problem(offline)).detail).toBe('No organization is served at this host.');
    expect((await request(`http://${customHost}/health/ready`)).status).toBe(404);

    const [audit] = await auditRows(tenant.organization.id);
    expect(audit).toMatchObject({
      action: 'organization.updated',
      actorType: 'platform_admin',
      actorUserId: admin.userId,
      targetType: 'organization',
      targetId: tenant.organization.id,
      metadata: { changes: { status: { from: 'active', to: 'suspended' } } },
    });

    // Reactivation brings the host back at once.
    expect((await put(admin.token, tenant.organization.id, { status: 'active' })).status).toBe(200);
    expect((await request(tenant.url('/health/ready'))).status).toBe(200);
  });

  it('changes the plan and records from and to', async () => {
    const tenant = await createTenant();
    const admin = await createPlatformAdmin();
    const response = await put(admin.token, tenant.organization.id, { plan: 'enterprise' });
    expect(response.status).toBe(200);
    expect(await response.json<OrganizationResponse>()).toMatchObject({ plan: 'enterprise', status: 'active' });
    expect((await organizationRow(tenant.organization.id)).plan).toBe('enterprise');
    const [audit] = await auditRows(tenant.organization.id);
    expect(audit?.metadata).toEqual({ changes: { plan: { from: 'starter', to: 'enterprise' } } });
  });

  it('writes nothing when the values are already set', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const admin = await createPlatformAdmin();
    const response = await put(admin.token, tenant.organization.id, { plan: 'pro', status: 'active' });
    expect(response.status).toBe(200);
    expect((await response.json<OrganizationResponse>()).updatedAt).toBe(tenant.organization.updatedAt.toISOString());
    expect(await auditRows(tenant.organization.id)).toEqual([]);
  });

  it.each([
    ['name', { name: 'Renamed' }],
    ['branding', { branding: { displayName: 'X' } }],
    ['settings', { settings: { timezone: 'UTC' } }],
    ['slug', { slug: 'renamed' }],
    ['id', { id: '00000000-0000-4000-8000-000000000000' }],
  ])('refuses %s with 400 and changes nothing', async (field, body) => {
    const tenant = await createTenant();
    const admin = await createPlatformAdmin();
    const response = await put(admin.token, tenant.organization.id, { status: 'suspended', ...body });
    expect(response.status).toBe(400);
    expect(JSON.stringify((await problem(response)).errors)).toContain(field);
    expect(await organizationRow(tenant.organization.id)).toMatchObject({
      status: 'active',
      name: tenant.organization.name,
    });
  });

  it('refuses an empty change and unknown values with 400', async () => {
    const tenant = await createTenant();
    const admin = await createPlatformAdmin();
    const empty = await put(admin.token, tenant.organization.id, {});
    expect(empty.status).toBe(400);
    expect((await problem(empty)).detail).toBe('Send at least one of status, plan.');
    expect((await put(admin.token, tenant.organization.id, { status: 'deleted' })).status).toBe(400);
    expect((await put(admin.token, tenant.organization.id, { plan: 'free' })).status).toBe(400);
  });

  it('answers 404 for an unknown id and for an id that is not a UUID', async () => {
    const admin = await createPlatformAdmin();
    expect((await put(admin.token, crypto.randomUUID(), { status: 'suspended' })).status).toBe(404);
    expect((await put(admin.token, 'acme', { status: 'suspended' })).status).toBe(404);
  });

  it('refuses anonymous callers, organization tokens and non-administrators', async () => {
    const tenant = await createTenant();
    const anonymous = await request(`${PLATFORM}/api/v1/organizations/${tenant.organization.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'suspended' }),
    });
    expect(anonymous.status).toBe(401);
    const ownerToken = await tokenFor(tenant, await createMember(tenant, 'owner'));
    expect((await put(ownerToken, tenant.organization.id, { status: 'suspended' })).status).toBe(401);
    const { userId } = await createPlatformAdmin();
    expect(
      (await put(await platformToken(userId, 'support'), tenant.organization.id, { status: 'suspended' })).status,
    ).toBe(403);
    expect((await organizationRow(tenant.organization.id)).status).toBe('active');
  });
});
