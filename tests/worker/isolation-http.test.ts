import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs } from '../../src/db/schema/index.ts';
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
  type TestTenant,
} from '../support/harness.ts';
import { createPlatformAdmin, organizationRow, PLATFORM, signupBody } from '../support/organizations.ts';

async function adminToken(tenant: TestTenant): Promise<string> {
  return tokenFor(tenant, await createMember(tenant, 'admin'));
}

async function auditCount(organizationId: string): Promise<number> {
  const rows = await database().select().from(auditLogs).where(eq(auditLogs.organizationId, organizationId));
  return rows.length;
}

describe('cross-tenant access over HTTP', () => {
  it("refuses tenant A's admin token on tenant B's host with 401", async () => {
    const [a, b] = await Promise.all([createTenant(), createTenant()]);
    const token = await adminToken(a);
    const read = await request(b.url('/api/v1/organization'), { headers: bearer(token) });
    expect(read.status).toBe(401);
    expect((await problem(read)).detail).toBe('The access token is not valid on this host.');
    const write = await request(b.url(`/api/v1/organizations/${b.organization.id}`), {
      method: 'PUT',
      headers: bearer(token),
      body: JSON.stringify({ name: 'Hijacked' }),
    });
    expect(write.status).toBe(401);
    expect((await organizationRow(b.organization.id)).name).toBe(b.organization.name);
  });

  it("refuses tenant A's token on B's custom domain with 401", async () => {
    const [a, b] = await Promise.all([createTenant(), createTenant()]);
    const host = `${randomSlug('b')}.example.com`;
    await addDomain(b.organization.id, host, true);
    const response = await request(`http://${host}/api/v1/organization`, { headers: bearer(await adminToken(a)) });
    expect(response.status).toBe(401);
  });

  it("answers 404 when A's admin updates B's organization on A's host, and B is unchanged", async () => {
    const [a, b] = await Promise.all([createTenant(), createTenant()]);
    const response = await request(a.url(`/api/v1/organizations/${b.organization.id}`), {
      method: 'PUT',
      headers: bearer(await adminToken(a)),
      body: JSON.stringify({ name: 'Hijacked', settings: { allowedOrigins: ['https://evil.test'] } }),
    });
    expect(response.status).toBe(404);
    const unknown = await request(a.url(`/api/v1/organizations/${crypto.randomUUID()}`), {
      method: 'PUT',
      headers: bearer(await adminToken(a)),
      body: JSON.stringify({ name: 'Hijacked' }),
    });
    // Another tenant's id answers exactly like an id that does not exist.
    expect(await response.json()).toMatchObject({ code: 'not_found', detail: 'No such organization.' });
    expect(await unknown.json()).toMatchObject({ code: 'not_found', detail: 'No such organization.' });
    const row = await organizationRow(b.organization.id);
    expect(row).toMatchObject({ name: b.organization.name, settings: {} });
    expect(row.updatedAt.toISOString()).toBe(b.organization.updatedAt.toISOString());
    expect(await auditCount(b.organization.id)).toBe(0);
    expect(await auditCount(a.organization.id)).toBe(0);
  });

  it('answers 404 for platform routes on an organization host', async () => {
    const tenant = await createTenant();
    const token = await adminToken(tenant);
    const responses = await Promise.all([
      request(tenant.url('/api/v1/organizations'), { headers: bearer(token) }),
      request(tenant.url('/api/v1/organizations'), {
        method: 'POST',
        headers: bearer(token),
        body: JSON.stringify(signupBody()),
      }),
      request(tenant.url('/api/v1/organizations')),
    ]);
    expect(responses.map((response) => response.status)).toEqual([404, 404, 404]);
  });

  it('answers 404 for organization routes on the platform host, even to platform administrators', async () => {
    const admin = await createPlatformAdmin();
    const anonymous = await request(`${PLATFORM}/api/v1/organization`);
    const withToken = await request(`${PLATFORM}/api/v1/organization`, { headers: bearer(admin.token) });
    expect(anonymous.status).toBe(404);
    expect(withToken.status).toBe(404);
  });

  it("refuses a platform administrator's token on an organization host with 401", async () => {
    const tenant = await createTenant();
    const admin = await createPlatformAdmin();
    const response = await request(tenant.url(`/api/v1/organizations/${tenant.organization.id}`), {
      method: 'PUT',
      headers: bearer(admin.token),
      body: JSON.stringify({ name: 'Platform rename' }),
    });
    expect(response.status).toBe(401);
    expect((await organizationRow(tenant.organization.id)).name).toBe(tenant.organization.name);
  });

  it('refuses a member without organization:manage with 403 and changes nothing', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const response = await request(tenant.url(`/api/v1/organizations/${tenant.organization.id}`), {
      method: 'PUT',
      headers: bearer(await tokenFor(tenant, member)),
      body: JSON.stringify({ settings: { allowedOrigins: ['https://evil.test'] } }),
    });
    expect(response.status).toBe(403);
    expect((await organizationRow(tenant.organization.id)).settings).toEqual({});
  });

  it("refuses platform routes to an organization owner's token with 401", async () => {
    const tenant = await createTenant();
    const token = await tokenFor(tenant, await createMember(tenant, 'owner'));
    const responses = await Promise.all([
      request(`${PLATFORM}/api/v1/organizations`, { headers: bearer(token) }),
      request(`${PLATFORM}/api/v1/organizations/${tenant.organization.id}`, {
        method: 'PUT',
        headers: bearer(token),
        body: JSON.stringify({ plan: 'enterprise' }),
      }),
    ]);
    expect(responses.map((response) => response.status)).toEqual([401, 401]);
    expect((await organizationRow(tenant.organization.id)).plan).toBe('starter');
  });

  it("answers 404 on B's host once B is suspended, to B's own admin too", async () => {
    const b = await createTenant();
    const token = await adminToken(b);
    expect((await request(b.url('/api/v1/organization'), { headers: bearer(token) })).status).toBe(200);
    const admin = await createPlatformAdmin();
    const suspend = await request(`${PLATFORM}/api/v1/organizations/${b.organization.id}`, {
      method: 'PUT',
      headers: bearer(admin.token),
      body: JSON.stringify({ status: 'suspended' }),
    });
    expect(suspend.status).toBe(200);
    const response = await request(b.url('/api/v1/organization'), { headers: bearer(token) });
    expect(response.status).toBe(404);
  });
});
