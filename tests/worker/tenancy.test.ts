import { describe, expect, it } from 'vitest';
import { forgetHost } from '../../src/services/tenants/resolve.ts';
import {
  addDomain,
  bearer,
  createTenant,
  newRequestId,
  problem,
  randomSlug,
  request,
  roundTrips,
} from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';

describe('tenant resolution from the host', () => {
  it('serves an active organization on {slug}.localhost', async () => {
    const tenant = await createTenant();
    const response = await request(tenant.url('/health/ready'));
    expect(response.status).toBe(200);
    const body: { tenant: string | null } = await response.json();
    expect(body.tenant).toBe(tenant.organization.slug);
  });

  it('treats the bare root domain as the platform host', async () => {
    const response = await request('http://localhost/health/ready');
    expect(response.status).toBe(200);
    const body: { tenant: string | null } = await response.json();
    expect(body.tenant).toBeNull();
  });

  it('answers 404 problem for an unknown organization host', async () => {
    const response = await request(`http://${randomSlug('nope')}.localhost/health/ready`);
    expect(response.status).toBe(404);
    const body = await problem(response);
    expect(body.code).toBe('not_found');
    expect(body.detail).toBe('No organization is served at this host.');
  });

  it('answers 404 for a suspended organization, exactly like an unknown one', async () => {
    const tenant = await createTenant({ status: 'suspended' });
    const response = await request(tenant.url('/api/v1/openapi.json'));
    expect(response.status).toBe(404);
    expect((await problem(response)).detail).toBe('No organization is served at this host.');
  });

  it('answers 404 for a deeper subdomain and for an invalid host label', async () => {
    const tenant = await createTenant();
    expect((await request(`http://www.${tenant.host}/health/ready`)).status).toBe(404);
    expect((await request('http://-bad-.localhost/health/ready')).status).toBe(404);
  });

  it('serves a verified custom domain and refuses an unverified one', async () => {
    const tenant = await createTenant();
    const verified = `${randomSlug('tickets')}.example.com`;
    const pending = `${randomSlug('pending')}.example.com`;
    await addDomain(tenant.organization.id, verified, true);
    await addDomain(tenant.organization.id, pending, false);
    const ok = await request(`http://${verified}/health/ready`);
    expect(ok.status).toBe(200);
    expect(await ok.json<{ tenant: string }>()).toMatchObject({ tenant: tenant.organization.slug });
    expect((await request(`http://${pending}/health/ready`)).status).toBe(404);
  });

  it('resolves a warm tenant host without a database round trip', async () => {
    const tenant = await createTenant();
    const cold = newRequestId();
    const first = await request(tenant.url('/api/v1/openapi.json'), { headers: { 'x-request-id': cold } });
    expect(first.status).toBe(200);
    expect((await roundTrips(cold)).database).toBe(1);

    const warm = newRequestId();
    const second = await request(tenant.url('/api/v1/openapi.json'), { headers: { 'x-request-id': warm } });
    expect(second.status).toBe(200);
    // The one Redis round trip is the document's per-address limit (meta-read-ip).
    expect(await roundTrips(warm)).toEqual({ database: 0, redis: 1 });
  });

  it('resolves a host this location served lately with no database round trip in a cold isolate', async () => {
    const tenant = await createTenant();
    const first = newRequestId();
    expect((await request(tenant.url('/api/v1/openapi.json'), { headers: { 'x-request-id': first } })).status).toBe(
      200,
    );
    expect((await roundTrips(first)).database).toBe(1);

    // A cold isolate (its map emptied) finds the resolution in the location's shared tier, once stored (waitUntil).
    let trips = { database: -1, redis: -1 };
    for (let attempt = 0; attempt < 40 && trips.database !== 0; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25));
      forgetHost();
      const id = newRequestId();
      expect((await request(tenant.url('/api/v1/openapi.json'), { headers: { 'x-request-id': id } })).status).toBe(200);
      trips = await roundTrips(id);
    }
    expect(trips).toEqual({ database: 0, redis: 1 });
  });

  it('purges the shared tier of this location on suspension: a cold isolate here answers 404 at once', async () => {
    const tenant = await createTenant();
    const customHost = `${randomSlug('shared')}.example.com`;
    await addDomain(tenant.organization.id, customHost, true);
    for (const url of [tenant.url('/health/ready'), `http://${customHost}/health/ready`]) {
      expect((await request(url)).status).toBe(200);
    }
    // Wait until both are in the shared tier (a cold isolate resolves them without the database).
    for (const url of [tenant.url('/api/v1/openapi.json'), `http://${customHost}/api/v1/openapi.json`]) {
      let database = -1;
      for (let attempt = 0; attempt < 40 && database !== 0; attempt += 1) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25));
        forgetHost();
        const id = newRequestId();
        expect((await request(url, { headers: { 'x-request-id': id } })).status).toBe(200);
        database = (await roundTrips(id)).database;
      }
      expect(database).toBe(0);
    }

    const admin = await createPlatformAdmin();
    const suspended = await request(`${PLATFORM}/api/v1/organizations/${tenant.organization.id}`, {
      method: 'PUT',
      headers: bearer(admin.token),
      body: JSON.stringify({ status: 'suspended' }),
    });
    expect(suspended.status).toBe(200);
    forgetHost();
    expect((await request(tenant.url('/api/v1/openapi.json'))).status).toBe(404);
    expect((await request(`http://${customHost}/api/v1/openapi.json`)).status).toBe(404);
  });

  it('answers liveness on any host with no I/O at all', async () => {
    const id = newRequestId();
    const response = await request(`http://${randomSlug('unknown')}.localhost/health`, {
      headers: { 'x-request-id': id },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(await roundTrips(id)).toEqual({ database: 0, redis: 0 });
  });
});

describe('host classification', () => {
  it('treats loopback addresses as the platform host only while ROOT_DOMAIN is localhost', async () => {
    const { classifyHost } = await import('../../src/services/tenants/host.ts');
    expect(classifyHost('127.0.0.1', 'localhost')).toEqual({ kind: 'platform' });
    expect(classifyHost('[::1]', 'localhost')).toEqual({ kind: 'platform' });
    expect(classifyHost('127.0.0.1', 'eventra.app')).toEqual({ kind: 'invalid' });
    expect(classifyHost('10.0.0.8', 'eventra.app')).toEqual({ kind: 'invalid' });
    expect(classifyHost('ACME.Eventra.App.', 'eventra.app')).toEqual({ kind: 'subdomain', slug: 'acme' });
    expect(classifyHost('tickets.acme.com', 'eventra.app')).toEqual({ kind: 'custom', hostname: 'tickets.acme.com' });
    expect(classifyHost('a.b.eventra.app', 'eventra.app')).toEqual({ kind: 'invalid' });
    expect(classifyHost('xn--bcher-kva.example', 'eventra.app')).toEqual({
      kind: 'custom',
      hostname: 'xn--bcher-kva.example',
    });
  });

  it('answers an IP-literal host with 404 and no database round trip', async () => {
    const id = newRequestId();
    const response = await request('http://10.1.2.3/health/ready', { headers: { 'x-request-id': id } });
    expect(response.status).toBe(404);
    expect(await roundTrips(id)).toEqual({ database: 0, redis: 0 });
  });
});
