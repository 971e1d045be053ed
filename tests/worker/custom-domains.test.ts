import { and, eq } from 'drizzle-orm';
import { inject, describe, expect, it } from 'vitest';
import { auditLogs, organizationDomains } from '../../src/db/schema/index.ts';
import { dohUrl, joinTxtData, verifyTxt } from '../../src/services/dns/verify-txt.ts';
import { cloudflareApiBase } from '../../src/services/domains/cloudflare.ts';
import {
  bearer,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  tokenFor,
} from '../support/harness.ts';
import type { TestTenant } from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';
import { call, memberWithToken } from '../support/users.ts';

const fake = () => inject('fakeCloudflareUrl');

interface DnsRecord {
  type: string;
  name: string;
  value: string;
  purpose: string;
}

interface DomainDetail {
  id: string;
  hostname: string;
  status: 'pending' | 'verified';
  verifiedAt: string | null;
  createdAt: string;
  updatedAt: string;
  records: DnsRecord[];
  cloudflare: { status: string; sslStatus: string; errors: string[] } | null;
}

interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

function randomHost(): string {
  return `events-${crypto.randomUUID().slice(0, 12)}.example.com`;
}

async function control(path: string, method: string, body?: unknown): Promise<void> {
  const response = await fetch(`${fake()}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`fake Cloudflare control ${path} answered ${response.status}`);
}

async function cloudflareRequests(hostname: string): Promise<RecordedRequest[]> {
  const all = await (await fetch(`${fake()}/__requests`)).json<RecordedRequest[]>();
  return all.filter((entry) => JSON.stringify(entry.body).includes(hostname) || entry.query.hostname === hostname);
}

async function proTenant(): Promise<{ tenant: TestTenant; token: string }> {
  const tenant = await createTenant({ plan: 'pro' });
  const { token } = await memberWithToken(tenant, 'admin');
  return { tenant, token };
}

async function add(tenant: TestTenant, token: string, hostname: string): Promise<Response> {
  return call(tenant, 'POST', '/api/v1/organization/domains', { token, body: { hostname } });
}

async function added(tenant: TestTenant, token: string, hostname = randomHost()): Promise<DomainDetail> {
  const response = await add(tenant, token, hostname);
  expect(response.status).toBe(201);
  return response.json<DomainDetail>();
}

/** Puts the records a customer would create, and has Cloudflare activate the hostname. */
async function configureDns(domain: DomainDetail, options: { activate?: boolean } = {}): Promise<void> {
  const ownership = domain.records.find((record) => record.purpose === 'ownership');
  if (!ownership) throw new Error('no ownership record');
  await control('/__dns', 'PUT', { name: ownership.name, type: 'TXT', data: ownership.value, ttl: 120 });
  if (options.activate ?? true) {
    await control(`/__hostnames/${domain.hostname}`, 'PUT', { status: 'active', sslStatus: 'active' });
  }
}

async function verified(tenant: TestTenant, token: string): Promise<DomainDetail> {
  const domain = await added(tenant, token);
  await configureDns(domain);
  const response = await call(tenant, 'POST', `/api/v1/organization/domains/${domain.id}/verify`, { token });
  expect(response.status).toBe(200);
  return response.json<DomainDetail>();
}

async function served(hostname: string): Promise<string | null> {
  const response = await request(`http://${hostname}/health/ready`);
  if (response.status !== 200) return null;
  return (await response.json<{ tenant: string }>()).tenant;
}

async function rows(organizationId: string) {
  return database().select().from(organizationDomains).where(eq(organizationDomains.organizationId, organizationId));
}

async function audits(organizationId: string, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, organizationId), eq(auditLogs.action, action)));
}

describe('POST /api/v1/organization/domains', () => {
  it('creates the custom hostname at Cloudflare and shows every DNS record to create', async () => {
    const { tenant, token } = await proTenant();
    const hostname = randomHost();
    const response = await add(tenant, token, hostname.toUpperCase());
    expect(response.status).toBe(201);
    const body = await response.json<DomainDetail>();
    expect(response.headers.get('location')).toBe(tenant.url(`/api/v1/organization/domains/${body.id}`));
    expect(body).toMatchObject({ hostname, status: 'pending', verifiedAt: null });
    expect(body.cloudflare).toMatchObject({ status: 'pending', sslStatus: 'pending_validation' });
    expect(body.records.map((record) => [record.purpose, record.type, record.name])).toEqual([
      ['routing', 'CNAME', hostname],
      ['ownership', 'TXT', `_eventra-challenge.${hostname}`],
      ['cloudflare_ownership', 'TXT', `_cf-custom-hostname.${hostname}`],
      ['certificate', 'TXT', `_acme-challenge.${hostname}`],
    ]);
    expect(body.records[0]?.value).toBe('customers.localhost');
    expect(body.records[1]?.value).toMatch(/^eventra-verification=[A-Za-z0-9_-]{43}$/);

    // The real request shape: bearer token, zone path, TXT-validated DV certificate. The token is never answered.
    const [create] = await cloudflareRequests(hostname);
    expect(create).toMatchObject({
      method: 'POST',
      path: '/client/v4/zones/023e105f4ecef8ad9ca31a8372d0c353/custom_hostnames',
      body: { hostname, ssl: { method: 'txt', type: 'dv' } },
    });
    expect(create?.headers.authorization).toBe('Bearer fake-cloudflare-token-0123456789abcdef');
    expect(JSON.stringify(body)).not.toContain('fake-cloudflare-token');

    expect(await rows(tenant.organization.id)).toMatchObject([{ hostname, verifiedAt: null }]);
    expect(await audits(tenant.organization.id, 'domain.added')).toMatchObject([
      { targetType: 'domain', targetId: body.id, metadata: expect.objectContaining({ hostname }) as unknown },
    ]);
    // Not served before verification.
    expect(await served(hostname)).toBeNull();
  });

  it('stores an internationalized name in punycode', async () => {
    const { tenant, token } = await proTenant();
    const label = crypto.randomUUID().slice(0, 8);
    const body = await added(tenant, token, `bücher-${label}.example.com`);
    expect(body.hostname).toBe(new URL(`http://bücher-${label}.example.com`).hostname);
    expect(body.hostname).toMatch(/^xn--/);
  });

  it.each([
    ['an IPv4 address', '192.0.2.10'],
    ['an IPv6 address', '[2001:db8::1]'],
    ['a URL', 'https://events.example.com/'],
    ['a port', 'events.example.com:8443'],
    ['a single label', 'intranet'],
    ['the platform domain', 'localhost'],
    ['a name under the platform domain', 'other.localhost'],
    ['a reserved top-level name', 'events.corp.internal'],
    ['a label too long', `${'a'.repeat(64)}.example.com`],
    ['a label with an underscore', 'my_events.example.com'],
    ['a leading hyphen', '-events.example.com'],
  ])('refuses %s with 400 and creates nothing', async (_case, hostname) => {
    const { tenant, token } = await proTenant();
    const response = await add(tenant, token, hostname);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const body = await problem(response);
    expect(body.code).toBe('validation_failed');
    expect(body.errors?.[0]?.pointer).toBe('/hostname');
    expect(await rows(tenant.organization.id)).toEqual([]);
  });

  it('keeps a name unique across the platform: 409 for another organization, and its hostname stays', async () => {
    const first = await proTenant();
    const second = await proTenant();
    const domain = await added(first.tenant, first.token);
    const response = await add(second.tenant, second.token, domain.hostname);
    expect(response.status).toBe(409);
    expect((await problem(response)).code).toBe('conflict');
    expect(await rows(second.tenant.organization.id)).toEqual([]);
    expect(await audits(second.tenant.organization.id, 'domain.added')).toEqual([]);
    // The other organization's custom hostname was adopted, not created, so it is not deleted at Cloudflare.
    const requests = await cloudflareRequests(domain.hostname);
    expect(requests.filter((entry) => entry.method === 'DELETE')).toEqual([]);
    // Its owner can still verify it.
    await configureDns(domain);
    const verify = await call(first.tenant, 'POST', `/api/v1/organization/domains/${domain.id}/verify`, {
      token: first.token,
    });
    expect(verify.status).toBe(200);
  });

  it('writes nothing when Cloudflare refuses (502 with Retry-After), and a retry succeeds', async () => {
    const { tenant, token } = await proTenant();
    const hostname = randomHost();
    await control('/__fail', 'POST', { operation: 'create', status: 500, times: 1 });
    const failed = await add(tenant, token, hostname);
    expect(failed.status).toBe(502);
    expect(failed.headers.get('retry-after')).toBe('30');
    expect((await problem(failed)).code).toBe('dns_provider_error');
    expect(await rows(tenant.organization.id)).toEqual([]);
    expect(await audits(tenant.organization.id, 'domain.added')).toEqual([]);
    expect((await add(tenant, token, hostname)).status).toBe(201);
  });

  it('adopts a custom hostname Cloudflare already has for a name no organization holds (retry after a lost insert)', async () => {
    const { tenant, token } = await proTenant();
    const domain = await added(tenant, token);
    // As if the row had not been written after Cloudflare created the hostname.
    await database().delete(organizationDomains).where(eq(organizationDomains.id, domain.id));
    const retry = await add(tenant, token, domain.hostname);
    expect(retry.status).toBe(201);
    const body = await retry.json<DomainDetail>();
    expect(body.records.find((record) => record.purpose === 'cloudflare_ownership')).toEqual(
      domain.records.find((record) => record.purpose === 'cloudflare_ownership'),
    );
  });

  it('is refused without the custom_domains plan feature (403) and without organization:manage (403, 401)', async () => {
    const starter = await createTenant({ plan: 'starter' });
    const { token } = await memberWithToken(starter, 'admin');
    const gated = await add(starter, token, randomHost());
    expect(gated.status).toBe(403);
    expect((await problem(gated)).code).toBe('feature_unavailable');

    const { tenant } = await proTenant();
    const organizer = await memberWithToken(tenant, 'organizer');
    const forbidden = await add(tenant, organizer.token, randomHost());
    expect(forbidden.status).toBe(403);
    expect((await problem(forbidden)).code).toBe('forbidden');
    const anonymous = await call(tenant, 'POST', '/api/v1/organization/domains', { body: { hostname: randomHost() } });
    expect(anonymous.status).toBe(401);
    expect(await rows(tenant.organization.id)).toEqual([]);
  });

  it('needs a recent sign-in (step-up)', async () => {
    const { tenant } = await proTenant();
    const { member } = await memberWithToken(tenant, 'admin');
    const stale = await tokenFor(tenant, member, { authTime: Math.floor(Date.now() / 1000) - 3600 });
    const response = await add(tenant, stale, randomHost());
    expect(response.status).toBe(401);
    expect((await problem(response)).code).toBe('reauthentication_required');
  });

  it('is not on the platform host', async () => {
    const response = await request('http://localhost/api/v1/organization/domains', { method: 'GET' });
    expect(response.status).toBe(404);
  });
});

describe('GET /api/v1/organization/domains', () => {
  it('lists and gets what was added (round trip), one database round trip each', async () => {
    const { tenant, token } = await proTenant();
    const one = await added(tenant, token);
    const two = await added(tenant, token);
    const listId = newRequestId();
    const list = await call(tenant, 'GET', '/api/v1/organization/domains', {
      token,
      headers: { 'x-request-id': listId },
    });
    expect(list.status).toBe(200);
    const strip = ({ records: _records, cloudflare: _cloudflare, ...rest }: DomainDetail) => rest;
    expect(await list.json()).toEqual({ data: [strip(one), strip(two)] });
    expect((await roundTrips(listId)).database).toBe(1);

    const getId = newRequestId();
    const get = await call(tenant, 'GET', `/api/v1/organization/domains/${one.id}`, {
      token,
      headers: { 'x-request-id': getId },
    });
    expect(get.status).toBe(200);
    const body = await get.json<DomainDetail>();
    expect(body).toEqual({
      ...strip(one),
      records: one.records.filter((record) => record.purpose === 'routing' || record.purpose === 'ownership'),
      cloudflare: null,
    });
    expect((await roundTrips(getId)).database).toBe(1);

    // Read with organization:read (staff).
    const staff = await memberWithToken(tenant, 'staff');
    expect((await call(tenant, 'GET', '/api/v1/organization/domains', { token: staff.token })).status).toBe(200);
  });

  it("answers 404 for another organization's domain, on get, verify and delete", async () => {
    const owner = await proTenant();
    const other = await proTenant();
    const domain = await added(owner.tenant, owner.token);
    for (const [method, path] of [
      ['GET', `/api/v1/organization/domains/${domain.id}`],
      ['POST', `/api/v1/organization/domains/${domain.id}/verify`],
      ['DELETE', `/api/v1/organization/domains/${domain.id}`],
    ] as const) {
      const response = await call(other.tenant, method, path, { token: other.token });
      expect(response.status).toBe(404);
    }
    const list = await call(other.tenant, 'GET', '/api/v1/organization/domains', { token: other.token });
    expect(await list.json()).toEqual({ data: [] });
    expect(await rows(owner.tenant.organization.id)).toHaveLength(1);
  });
});

describe('POST /api/v1/organization/domains/{id}/verify', () => {
  it('is 422 before the DNS records exist and while Cloudflare is pending; served once both hold', async () => {
    const { tenant, token } = await proTenant();
    const domain = await added(tenant, token);
    const path = `/api/v1/organization/domains/${domain.id}/verify`;

    const before = await call(tenant, 'POST', path, { token });
    expect(before.status).toBe(422);
    expect(before.headers.get('retry-after')).not.toBeNull();
    const beforeBody = await problem(before);
    expect(beforeBody).toMatchObject({
      code: 'domain_not_verified',
      ownershipVerified: false,
      cloudflare: { status: 'pending' },
    });

    // The TXT record alone is not enough while Cloudflare has not activated the hostname.
    await configureDns(domain, { activate: false });
    const txtOnly = await call(tenant, 'POST', path, { token });
    expect(txtOnly.status).toBe(422);
    expect(await problem(txtOnly)).toMatchObject({ ownershipVerified: true, cloudflare: { status: 'pending' } });
    expect(await served(domain.hostname)).toBeNull();

    // A TXT record with another value does not verify either, even with Cloudflare active.
    const other = await proTenant();
    const copy = await added(other.tenant, other.token);
    await control(`/__dns`, 'PUT', {
      name: `_eventra-challenge.${copy.hostname}`,
      type: 'TXT',
      data: domain.records[1]?.value,
    });
    await control(`/__hostnames/${copy.hostname}`, 'PUT', { status: 'active', sslStatus: 'active' });
    const wrong = await call(other.tenant, 'POST', `/api/v1/organization/domains/${copy.id}/verify`, {
      token: other.token,
    });
    expect(wrong.status).toBe(422);
    expect(await problem(wrong)).toMatchObject({ ownershipVerified: false });

    await control(`/__hostnames/${domain.hostname}`, 'PUT', { status: 'active', sslStatus: 'active' });
    const ok = await call(tenant, 'POST', path, { token });
    expect(ok.status).toBe(200);
    const body = await ok.json<DomainDetail>();
    expect(body).toMatchObject({ status: 'verified', cloudflare: { status: 'active', sslStatus: 'active' } });
    expect(body.verifiedAt).not.toBeNull();
    expect(await served(domain.hostname)).toBe(tenant.organization.slug);
    expect(await audits(tenant.organization.id, 'domain.verified')).toHaveLength(1);

    // The DoH query had the JSON API's shape.
    const all = await (await fetch(`${fake()}/__requests`)).json<RecordedRequest[]>();
    const query = all.find(
      (entry) => entry.path === '/dns-query' && entry.query.name === `_eventra-challenge.${domain.hostname}`,
    );
    expect(query).toMatchObject({ method: 'GET', query: { type: 'TXT' } });
    expect(query?.headers.accept).toBe('application/dns-json');

    // Verifying again keeps it verified, without a second audit row.
    expect((await call(tenant, 'POST', path, { token })).status).toBe(200);
    expect(await audits(tenant.organization.id, 'domain.verified')).toHaveLength(1);
  });

  it('follows a CNAME to the TXT record, as a delegated challenge', async () => {
    const { tenant, token } = await proTenant();
    const domain = await added(tenant, token);
    const ownership = domain.records.find((record) => record.purpose === 'ownership');
    const delegated = `challenge-${crypto.randomUUID().slice(0, 8)}.dns-provider.example.net`;
    await control('/__dns', 'PUT', { name: ownership?.name, type: 'CNAME', data: delegated });
    await control('/__dns', 'PUT', { name: delegated, type: 'TXT', data: ownership?.value });
    await control(`/__hostnames/${domain.hostname}`, 'PUT', { status: 'active', sslStatus: 'active' });
    const response = await call(tenant, 'POST', `/api/v1/organization/domains/${domain.id}/verify`, { token });
    expect(response.status).toBe(200);
  });

  it('answers 502 with Retry-After when the resolver fails (SERVFAIL), and stays pending', async () => {
    const { tenant, token } = await proTenant();
    const domain = await added(tenant, token);
    await control('/__dns/status', 'PUT', { name: `_eventra-challenge.${domain.hostname}`, status: 2 });
    await control(`/__hostnames/${domain.hostname}`, 'PUT', { status: 'active', sslStatus: 'active' });
    const response = await call(tenant, 'POST', `/api/v1/organization/domains/${domain.id}/verify`, { token });
    expect(response.status).toBe(502);
    expect(response.headers.get('retry-after')).toBe('30');
    expect((await rows(tenant.organization.id))[0]?.verifiedAt).toBeNull();
  });

  it('answers 502 when Cloudflare fails', async () => {
    const { tenant, token } = await proTenant();
    const domain = await added(tenant, token);
    await configureDns(domain);
    await control('/__fail', 'POST', { operation: 'list', status: 503, times: 1 });
    const response = await call(tenant, 'POST', `/api/v1/organization/domains/${domain.id}/verify`, { token });
    expect(response.status).toBe(502);
    expect((await rows(tenant.organization.id))[0]?.verifiedAt).toBeNull();
  });
});

describe('DELETE /api/v1/organization/domains/{id}', () => {
  it('removes the hostname at Cloudflare and stops serving it at once', async () => {
    const { tenant, token } = await proTenant();
    const domain = await verified(tenant, token);
    expect(await served(domain.hostname)).toBe(tenant.organization.slug);
    const response = await call(tenant, 'DELETE', `/api/v1/organization/domains/${domain.id}`, { token });
    expect(response.status).toBe(204);
    expect(await served(domain.hostname)).toBeNull();
    expect(await rows(tenant.organization.id)).toEqual([]);
    const requests = await (await fetch(`${fake()}/__requests`)).json<RecordedRequest[]>();
    expect(
      requests.filter((entry) => entry.method === 'DELETE' && entry.path.includes('/custom_hostnames/')),
    ).not.toEqual([]);
    const list = await fetch(`${fake()}/__requests`);
    expect(list.ok).toBe(true);
    expect(await audits(tenant.organization.id, 'domain.removed')).toHaveLength(1);
    // The name is free again.
    const other = await proTenant();
    expect((await add(other.tenant, other.token, domain.hostname)).status).toBe(201);
  });

  it('keeps the domain (and serving it) when Cloudflare fails: 502, retry works', async () => {
    const { tenant, token } = await proTenant();
    const domain = await verified(tenant, token);
    await control('/__fail', 'POST', { operation: 'delete', status: 500, times: 1 });
    const failed = await call(tenant, 'DELETE', `/api/v1/organization/domains/${domain.id}`, { token });
    expect(failed.status).toBe(502);
    expect(failed.headers.get('retry-after')).toBe('30');
    expect(await rows(tenant.organization.id)).toHaveLength(1);
    expect(await served(domain.hostname)).toBe(tenant.organization.slug);
    expect((await call(tenant, 'DELETE', `/api/v1/organization/domains/${domain.id}`, { token })).status).toBe(204);
  });
});

describe('plan downgrade', () => {
  it('keeps verified domains served until removed; adding and verifying are refused, removing works', async () => {
    const { tenant, token } = await proTenant();
    const domain = await verified(tenant, token);
    // The platform's downgrade (as billing's dunning or an administrator does it), which purges the cached hosts.
    const admin = await createPlatformAdmin();
    const downgrade = await request(`${PLATFORM}/api/v1/organizations/${tenant.organization.id}`, {
      method: 'PUT',
      headers: bearer(admin.token),
      body: JSON.stringify({ plan: 'starter' }),
    });
    expect(downgrade.status).toBe(200);

    expect(await served(domain.hostname)).toBe(tenant.organization.slug);
    const addResponse = await add(tenant, token, randomHost());
    expect(addResponse.status).toBe(403);
    expect((await problem(addResponse)).code).toBe('feature_unavailable');
    const verify = await call(tenant, 'POST', `/api/v1/organization/domains/${domain.id}/verify`, { token });
    expect(verify.status).toBe(403);
    const list = await call(tenant, 'GET', '/api/v1/organization/domains', { token });
    expect((await list.json<{ data: unknown[] }>()).data).toHaveLength(1);
    expect((await call(tenant, 'DELETE', `/api/v1/organization/domains/${domain.id}`, { token })).status).toBe(204);
    expect(await served(domain.hostname)).toBeNull();
  });
});

describe('the DNS TXT verification service (src/services/dns/verify-txt.ts)', () => {
  const local = { ENVIRONMENT: 'local' as const, DOH_URL: `${inject('fakeCloudflareUrl')}/dns-query` };

  it('answers verified for the exact value, not for another, and reports the TTL', async () => {
    const name = `_check.${randomHost()}`;
    await control('/__dns', 'PUT', { name, type: 'TXT', data: 'token-one', ttl: 90 });
    await control('/__dns', 'PUT', { name, type: 'TXT', data: 'unrelated', ttl: 300 });
    expect(await verifyTxt(local, name, 'token-one')).toEqual({
      verified: true,
      values: ['token-one', 'unrelated'],
      ttl: 90,
    });
    expect((await verifyTxt(local, name, 'token-on')).verified).toBe(false);
    // NXDOMAIN: not verified, no error.
    expect(await verifyTxt(local, `_none.${randomHost()}`, 'x')).toEqual({ verified: false, values: [], ttl: null });
  });

  it('joins the character strings of one TXT record', () => {
    expect(joinTxtData('"abc" "def"')).toBe('abcdef');
    expect(joinTxtData('"a\\"b"')).toBe('a"b');
    expect(joinTxtData('plain')).toBe('plain');
  });

  it('refuses the fakes outside the local environment', () => {
    for (const environment of ['staging', 'production'] as const) {
      expect(() => dohUrl({ ENVIRONMENT: environment, DOH_URL: 'http://127.0.0.1:1/dns-query' })).toThrow(
        /local environment only/,
      );
      expect(() => cloudflareApiBase({ ENVIRONMENT: environment, CLOUDFLARE_API_BASE: 'http://127.0.0.1:1' })).toThrow(
        /local environment only/,
      );
    }
    expect(dohUrl({ ENVIRONMENT: 'production', DOH_URL: undefined })).toBe('https://cloudflare-dns.com/dns-query');
    expect(cloudflareApiBase({ ENVIRONMENT: 'production', CLOUDFLARE_API_BASE: undefined })).toBe(
      'https://api.cloudflare.com/client/v4',
    );
  });
});
