import { desc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, organizations } from '../../src/db/schema/index.ts';
import type { OrganizationResponse } from '../../src/routes/organizations/schema.ts';
import {
  addDomain,
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  randomSlug,
  request,
  roundTrips,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { organizationRow, PLATFORM } from '../support/organizations.ts';

async function adminOf(tenant: TestTenant): Promise<string> {
  return tokenFor(tenant, await createMember(tenant, 'admin'));
}

function put(tenant: TestTenant, token: string, body: unknown, id = tenant.organization.id): Promise<Response> {
  return request(tenant.url(`/api/v1/organizations/${id}`), {
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

describe('GET /api/v1/organization', () => {
  it('returns the organization of this host with its branding and settings', async () => {
    const tenant = await createTenant({
      plan: 'pro',
      branding: { displayName: 'Acme', primaryColor: '#112233' },
      settings: { timezone: 'Europe/Paris', currency: 'EUR' },
    });
    const response = await request(tenant.url('/api/v1/organization'), { headers: bearer(await adminOf(tenant)) });
    expect(response.status).toBe(200);
    const body = await response.json<OrganizationResponse>();
    expect(body).toEqual({
      id: tenant.organization.id,
      slug: tenant.organization.slug,
      name: tenant.organization.name,
      plan: 'pro',
      status: 'active',
      branding: { displayName: 'Acme', primaryColor: '#112233' },
      settings: { timezone: 'Europe/Paris', currency: 'EUR' },
      createdAt: tenant.organization.createdAt.toISOString(),
      updatedAt: tenant.organization.updatedAt.toISOString(),
    });
  });

  it('is readable by staff (organization:read)', async () => {
    const tenant = await createTenant();
    const staff = await createMember(tenant, 'staff');
    const response = await request(tenant.url('/api/v1/organization'), {
      headers: bearer(await tokenFor(tenant, staff)),
    });
    expect(response.status).toBe(200);
    expect((await response.json<OrganizationResponse>()).id).toBe(tenant.organization.id);
  });

  it('refuses a member without organization:read with 403 and an anonymous caller with 401', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const forbidden = await request(tenant.url('/api/v1/organization'), {
      headers: bearer(await tokenFor(tenant, member)),
    });
    expect(forbidden.status).toBe(403);
    expect((await problem(forbidden)).code).toBe('forbidden');
    const anonymous = await request(tenant.url('/api/v1/organization'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 404 on the platform host, like an unknown path', async () => {
    const response = await request(`${PLATFORM}/api/v1/organization`);
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe('not_found');
  });

  it('costs one database round trip and one Redis round trip on a warm host', async () => {
    const tenant = await createTenant();
    const token = await adminOf(tenant);
    await request(tenant.url('/api/v1/organization'), { headers: bearer(token) });
    const id = newRequestId();
    const response = await request(tenant.url('/api/v1/organization'), {
      headers: bearer(token, { 'x-request-id': id }),
    });
    expect(response.status).toBe(200);
    expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });
  });
});

describe('PUT /api/v1/organizations/{id} on an organization host', () => {
  it('changes name, branding and settings, merging key by key, and writes an audit row', async () => {
    const tenant = await createTenant({
      branding: { displayName: 'Old name', accentColor: '#000000' },
      settings: { currency: 'USD', locale: 'en-US' },
    });
    const admin = await createMember(tenant, 'admin');
    const response = await put(tenant, await tokenFor(tenant, admin), {
      name: 'Acme Events Ltd',
      branding: {
        displayName: 'Acme',
        logoUrl: 'https://cdn.acme.test/logo.png',
        primaryColor: '#4F46E5',
        emailSenderName: 'Acme Tickets',
      },
      settings: { timezone: 'Europe/Paris', currency: 'EUR', allowedOrigins: ['https://tickets.acme.test'] },
    });
    expect(response.status).toBe(200);
    const body = await response.json<OrganizationResponse>();
    const expectedBranding = {
      displayName: 'Acme',
      logoUrl: 'https://cdn.acme.test/logo.png',
      primaryColor: '#4F46E5',
      accentColor: '#000000',
      emailSenderName: 'Acme Tickets',
    };
    const expectedSettings = {
      timezone: 'Europe/Paris',
      currency: 'EUR',
      locale: 'en-US',
      allowedOrigins: ['https://tickets.acme.test'],
    };
    expect(body).toMatchObject({ name: 'Acme Events Ltd', branding: expectedBranding, settings: expectedSettings });

    const row = await organizationRow(tenant.organization.id);
    expect(row).toMatchObject({
      name: 'Acme Events Ltd',
      branding: expectedBranding,
      settings: expectedSettings,
      plan: tenant.organization.plan,
      status: 'active',
      slug: tenant.organization.slug,
    });
    expect(row.updatedAt.getTime()).toBeGreaterThan(tenant.organization.updatedAt.getTime());

    const [audit] = await auditRows(tenant.organization.id);
    expect(audit).toMatchObject({
      action: 'organization.updated',
      actorType: 'user',
      actorUserId: admin.userId,
      targetType: 'organization',
      targetId: tenant.organization.id,
    });
    expect(audit?.metadata).toEqual({
      fields: [
        'name',
        'branding.displayName',
        'branding.logoUrl',
        'branding.primaryColor',
        'branding.emailSenderName',
        'settings.timezone',
        'settings.currency',
        'settings.allowedOrigins',
      ],
    });
  });

  it('removes a branding or settings key set to null and leaves the others', async () => {
    const tenant = await createTenant({
      branding: { displayName: 'Acme', logoUrl: 'https://cdn.acme.test/logo.png' },
      settings: { timezone: 'UTC', allowedOrigins: ['https://a.test'] },
    });
    const response = await put(tenant, await adminOf(tenant), {
      branding: { logoUrl: null },
      settings: { allowedOrigins: null },
    });
    expect(response.status).toBe(200);
    const row = await organizationRow(tenant.organization.id);
    expect(row.branding).toEqual({ displayName: 'Acme' });
    expect(row.settings).toEqual({ timezone: 'UTC' });
  });

  it('applies new CORS origins at once on this host and its custom domains', async () => {
    const tenant = await createTenant();
    const customHost = `${randomSlug('tickets')}.example.com`;
    await addDomain(tenant.organization.id, customHost, true);
    const origin = 'https://shop.acme.test';
    const preflight = (url: string) =>
      request(url, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
    // Warm both hosts so their resolutions sit in the isolate cache.
    expect((await preflight(tenant.url('/api/v1/organization'))).headers.get('access-control-allow-origin')).toBeNull();
    expect(
      (await preflight(`http://${customHost}/api/v1/organization`)).headers.get('access-control-allow-origin'),
    ).toBeNull();

    const response = await put(tenant, await adminOf(tenant), { settings: { allowedOrigins: [origin] } });
    expect(response.status).toBe(200);
    expect((await preflight(tenant.url('/api/v1/organization'))).headers.get('access-control-allow-origin')).toBe(
      origin,
    );
    expect(
      (await preflight(`http://${customHost}/api/v1/organization`)).headers.get('access-control-allow-origin'),
    ).toBe(origin);
  });

  it.each([
    ['a non-https logo URL', { branding: { logoUrl: 'http://cdn.acme.test/logo.png' } }, '/body/branding/logoUrl'],
    ['a javascript: logo URL', { branding: { logoUrl: 'javascript:alert(1)' } }, '/body/branding/logoUrl'],
    [
      'a logo URL with credentials',
      { branding: { logoUrl: 'https://u:p@cdn.acme.test/l.png' } },
      '/body/branding/logoUrl',
    ],
    ['a short color', { branding: { primaryColor: '#fff' } }, '/body/branding/primaryColor'],
    ['a named color', { branding: { accentColor: 'red' } }, '/body/branding/accentColor'],
    [
      'a sender name with a newline',
      { branding: { emailSenderName: 'Acme\r\nBcc: x@y.z' } },
      '/body/branding/emailSenderName',
    ],
    ['an unknown branding key', { branding: { fontFamily: 'Comic Sans' } }, '/body/branding'],
    ['an invalid time zone', { settings: { timezone: 'Mars/Olympus_Mons' } }, '/body/settings/timezone'],
    ['a lowercase currency', { settings: { currency: 'eur' } }, '/body/settings/currency'],
    ['an unknown currency', { settings: { currency: 'ZZZ' } }, '/body/settings/currency'],
    ['an invalid locale', { settings: { locale: 'not a locale!' } }, '/body/settings/locale'],
    ['an http origin', { settings: { allowedOrigins: ['http://acme.test'] } }, '/body/settings/allowedOrigins/0'],
    ['a wildcard origin', { settings: { allowedOrigins: ['https://*.acme.test'] } }, '/body/settings/allowedOrigins/0'],
    [
      'an origin with a path',
      { settings: { allowedOrigins: ['https://acme.test/app'] } },
      '/body/settings/allowedOrigins/0',
    ],
    [
      'an origin with a trailing slash',
      { settings: { allowedOrigins: ['https://acme.test/'] } },
      '/body/settings/allowedOrigins/0',
    ],
    ['the * origin', { settings: { allowedOrigins: ['*'] } }, '/body/settings/allowedOrigins/0'],
    [
      'more than 20 origins',
      { settings: { allowedOrigins: Array.from({ length: 21 }, (_, index) => `https://o${index}.acme.test`) } },
      '/body/settings/allowedOrigins',
    ],
    [
      'duplicate origins',
      { settings: { allowedOrigins: ['https://a.test', 'https://a.test'] } },
      '/body/settings/allowedOrigins',
    ],
    ['an unknown settings key', { settings: { theme: 'dark' } }, '/body/settings'],
    ['an empty name', { name: '   ' }, '/body/name'],
  ])('refuses %s with 400 and changes nothing', async (_case, body, pointer) => {
    const tenant = await createTenant();
    const response = await put(tenant, await adminOf(tenant), body);
    expect(response.status).toBe(400);
    const failure = await problem(response);
    expect(failure.code).toBe('validation_failed');
    expect(failure.errors?.map((error) => error.pointer)).toContain(pointer);
    const row = await organizationRow(tenant.organization.id);
    expect(row.branding).toEqual({});
    expect(row.settings).toEqual({});
    expect(await auditRows(tenant.organization.id)).toEqual([]);
  });

  it.each([
    ['plan', { plan: 'enterprise' }],
    ['status', { status: 'suspended' }],
    ['slug', { slug: 'taken-over' }],
    ['id', { id: '00000000-0000-4000-8000-000000000000' }],
    ['createdAt', { createdAt: '2000-01-01T00:00:00.000Z' }],
  ])('refuses %s in the body with 400 (mass assignment) and changes nothing', async (field, body) => {
    const tenant = await createTenant();
    const response = await put(tenant, await adminOf(tenant), { name: 'New name', ...body });
    expect(response.status).toBe(400);
    const failure = await problem(response);
    expect(JSON.stringify(failure.errors)).toContain(field);
    const row = await organizationRow(tenant.organization.id);
    expect(row).toMatchObject({
      name: tenant.organization.name,
      plan: tenant.organization.plan,
      status: 'active',
      slug: tenant.organization.slug,
    });
  });

  it('refuses an empty change with 400', async () => {
    const tenant = await createTenant();
    const response = await put(tenant, await adminOf(tenant), {});
    expect(response.status).toBe(400);
    expect((await problem(response)).detail).toBe('Send at least one of name, branding, settings.');
  });

  it("answers 404 for another organization's id on this host and changes neither", async () => {
    const [a, b] = await Promise.all([createTenant(), createTenant()]);
    const response = await put(
      a,
      await adminOf(a),
      { name: 'Hijacked', branding: { displayName: 'x' } },
      b.organization.id,
    );
    expect(response.status).toBe(404);
    expect((await problem(response)).detail).toBe('No such organization.');
    expect(await organizationRow(b.organization.id)).toMatchObject({ name: b.organization.name, branding: {} });
    expect(await organizationRow(a.organization.id)).toMatchObject({ name: a.organization.name, branding: {} });
    expect(await auditRows(a.organization.id)).toEqual([]);
    expect(await auditRows(b.organization.id)).toEqual([]);
  });

  it('answers 404 for an unknown id and for an id that is not a UUID', async () => {
    const tenant = await createTenant();
    const token = await adminOf(tenant);
    expect((await put(tenant, token, { name: 'x' }, crypto.randomUUID())).status).toBe(404);
    expect((await put(tenant, token, { name: 'x' }, 'not-a-uuid')).status).toBe(404);
    expect((await put(tenant, token, { name: 'x' }, "1' or '1'='1")).status).toBe(404);
  });

  it('accepts its own id in upper case', async () => {
    const tenant = await createTenant();
    const response = await put(tenant, await adminOf(tenant), { name: 'Upper' }, tenant.organization.id.toUpperCase());
    expect(response.status).toBe(200);
    expect((await organizationRow(tenant.organization.id)).name).toBe('Upper');
  });

  it.each(['member', 'staff', 'organizer'])('refuses a %s (no organization:manage) with 403', async (role) => {
    const tenant = await createTenant();
    const token = await tokenFor(tenant, await createMember(tenant, role));
    const response = await put(tenant, token, { name: 'Nope' });
    expect(response.status).toBe(403);
    expect((await problem(response)).detail).toBe('This needs the organization:manage permission.');
    expect((await organizationRow(tenant.organization.id)).name).toBe(tenant.organization.name);
  });

  it('refuses an anonymous caller with 401', async () => {
    const tenant = await createTenant();
    const response = await request(tenant.url(`/api/v1/organizations/${tenant.organization.id}`), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Nope' }),
    });
    expect(response.status).toBe(401);
  });

  it('lets the owner change the organization too', async () => {
    const tenant = await createTenant();
    const token = await tokenFor(tenant, await createMember(tenant, 'owner'));
    const response = await put(tenant, token, { settings: { locale: 'fr-FR', timezone: 'America/New_York' } });
    expect(response.status).toBe(200);
    expect((await organizationRow(tenant.organization.id)).settings).toEqual({
      locale: 'fr-FR',
      timezone: 'America/New_York',
    });
  });

  it('stores hostile text as data, never as SQL', async () => {
    const tenant = await createTenant();
    const name = `Robert'); DROP TABLE organizations;-- ${'é'.repeat(3)} 🎟️`;
    const response = await put(tenant, await adminOf(tenant), { name, branding: { displayName: "'||pg_sleep(5)||'" } });
    expect(response.status).toBe(200);
    const [row] = await database().select().from(organizations).where(eq(organizations.id, tenant.organization.id));
    expect(row?.name).toBe(name);
    expect(row?.branding).toEqual({ displayName: "'||pg_sleep(5)||'" });
  });
});
