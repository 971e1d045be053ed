import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  events,
  featureFlags,
  organizationDomains,
  organizations,
  tenantDirectory,
} from '../../src/db/schema/index.ts';
import { knownFlags } from '../../src/services/flags/cache.ts';
import { forgetHost, staleResolutions } from '../../src/services/tenants/resolve.ts';
import { bindings, randomIp } from '../support/auth.ts';
import { createEvent, createTicketType, traced, untilCached } from '../support/catalogue.ts';
import { eventBody } from '../support/events.ts';
import {
  addDomain,
  createTenant,
  database,
  newRequestId,
  problem,
  randomSlug,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

/** Lists events with a traced request; returns the response and the request's round trips. */
async function tracedList(tenant: TestTenant, token: string, url = tenant.url('/api/v1/events')) {
  const id = newRequestId();
  const response = await request(url, { headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
  return { response, trips: await roundTrips(id) };
}

async function eventCount(tenant: TestTenant): Promise<number> {
  return (await database().select().from(events).where(eq(events.organizationId, tenant.organization.id))).length;
}

/** Waits until the first request's resolution reached the location's tier (stored after the response). */
async function inLocationTier(tenant: TestTenant, token: string, url?: string): Promise<void> {
  let database = -1;
  for (let attempt = 0; attempt < 40 && database !== 1; attempt += 1) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25));
    forgetHost();
    database = (await tracedList(tenant, token, url)).trips.database;
  }
  expect(database, 'a cold isolate resolves the host from the location tier').toBe(1);
}

describe('a tenant resolution past its freshness, checked in the route’s own round trip', () => {
  it('costs no lookup of its own, in a warm isolate and in a cold one, for reads and writes', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const cold = await tracedList(tenant, token);
    expect(cold.response.status).toBe(200);
    // The tenant lookup, then the route.
    expect(cold.trips.database).toBe(2);
    await inLocationTier(tenant, token);

    // This isolate's entry, 30 s old: the list's own batch carries the check.
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    const stale = await tracedList(tenant, token);
    expect(stale.response.status).toBe(200);
    expect(stale.trips).toEqual({ database: 1, redis: 1 });
    expect(await stale.response.json()).toEqual(await (await tracedList(tenant, token)).response.json());

    // A cold isolate with only the location's stale entry: the same.
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    forgetHost();
    const coldIsolate = await tracedList(tenant, token);
    expect(coldIsolate.response.status).toBe(200);
    expect(coldIsolate.trips).toEqual({ database: 1, redis: 1 });

    // A write is checked the same way, in its own batch: it costs what it costs with a fresh resolution (the
    // creation, then its outbox dispatch after the response, under the request's trace).
    const write = async () => {
      const id = newRequestId();
      const created = await call(tenant, 'POST', '/api/v1/events', {
        token,
        body: eventBody(),
        headers: { 'x-request-id': id },
      });
      expect(created.status).toBe(201);
      return roundTrips(id);
    };
    const fresh = await write();
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    expect(await write()).toEqual(fresh);
    expect(await eventCount(tenant)).toBe(2);
  });

  it('serves a request whose settings changed unheard on the previous ones, and reads the change in that round trip', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    expect((await tracedList(tenant, token)).response.status).toBe(200);

    // A change this location did not hear of (made elsewhere: no purge here), then the entry goes stale.
    const origin = 'https://shop.example.com';
    await database()
      .update(organizations)
      .set({ settings: { allowedOrigins: [origin] } })
      .where(eq(organizations.id, tenant.organization.id));
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    const fromShop = async () => {
      const id = newRequestId();
      const response = await request(tenant.url('/api/v1/events'), {
        headers: { authorization: `Bearer ${token}`, origin, 'x-request-id': id },
      });
      return { response, trips: await roundTrips(id) };
    };
    // Served on the settings it had (no CORS grant for the new origin yet), in the route's one round trip.
    const served = await fromShop();
    expect(served.response.status).toBe(200);
    expect(served.trips).toEqual({ database: 1, redis: 1 });
    expect(served.response.headers.get('access-control-allow-origin')).toBeNull();
    // The next request uses the settings that round trip read: no lookup of its own either.
    const next = await fromShop();
    expect(next.response.status).toBe(200);
    expect(next.trips).toEqual({ database: 1, redis: 1 });
    expect(next.response.headers.get('access-control-allow-origin')).toBe(origin);
  });

  it('serves a suspension at the first request that reaches the database, then 404 like an unknown host', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    await inLocationTier(tenant, token);
    await database()
      .update(organizations)
      .set({ status: 'suspended' })
      .where(eq(organizations.id, tenant.organization.id));
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    forgetHost();
    expect((await tracedList(tenant, token)).response.status).toBe(503);
    const after = await tracedList(tenant, token);
    expect(after.response.status).toBe(404);
    expect((await problem(after.response)).detail).toBe('No organization is served at this host.');
  });

  it('checks that a custom domain still names the organization', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const hostname = `${randomSlug('hint')}.example.com`;
    await addDomain(tenant.organization.id, hostname, true);
    const url = `http://${hostname}/api/v1/events`;
    expect((await tracedList(tenant, token, url)).response.status).toBe(200);

    await staleResolutions(bindings().ROOT_DOMAIN, [{ hostname }]);
    const kept = await tracedList(tenant, token, url);
    expect(kept.response.status).toBe(200);
    expect(kept.trips).toEqual({ database: 1, redis: 1 });

    // The domain removed elsewhere: the host no longer names the organization.
    await database().delete(organizationDomains).where(eq(organizationDomains.hostname, hostname));
    await staleResolutions(bindings().ROOT_DOMAIN, [{ hostname }]);
    expect((await tracedList(tenant, token, url)).response.status).toBe(503);
    expect((await tracedList(tenant, token, url)).response.status).toBe(404);
  });

  it('reads changed flag definitions in the same round trip, without refusing the request', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    expect((await tracedList(tenant, token)).response.status).toBe(200);
    const [flag] = await database().select().from(featureFlags).limit(1);
    if (flag === undefined) throw new Error('the seeded flags are missing');
    const description = `Checked at ${crypto.randomUUID()}`;
    try {
      await database().update(featureFlags).set({ description }).where(eq(featureFlags.key, flag.key));
      await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
      const served = await tracedList(tenant, token);
      expect(served.response.status).toBe(200);
      expect(served.trips).toEqual({ database: 1, redis: 1 });
      expect(knownFlags().get(flag.key)?.description).toBe(description);
    } finally {
      await database()
        .update(featureFlags)
        .set({ description: flag.description })
        .where(eq(featureFlags.key, flag.key));
    }
  });

  it('reads the database, not the edge cache, on an unconfirmed resolution: a suspension is not served from it', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant, { title: 'Hinted Gala' });
    await createTicketType(event);
    const ip = randomIp();
    const detail = `/api/v1/public/events/${event.slug}`;
    const read = () => traced(tenant, detail, { ip });
    expect((await read()).response.status).toBe(200);
    expect((await untilCached(tenant, detail, ip)).trips, 'an edge-cache hit').toEqual({ database: 0, redis: 1 });

    // Stale: the hit is not taken; the database answers, with the check, and the resolution is fresh again.
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    const checked = await read();
    expect(checked.response.status).toBe(200);
    expect(checked.trips).toEqual({ database: 1, redis: 1 });
    expect((await read()).trips).toEqual({ database: 0, redis: 1 });

    // Suspended elsewhere: the cached answer is not served on the stale resolution.
    await database()
      .update(organizations)
      .set({ status: 'suspended' })
      .where(eq(organizations.id, tenant.organization.id));
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    expect((await read()).response.status).toBe(503);
    expect((await read()).response.status).toBe(404);
  });

  it('refuses a write once a move made the organization read-only, then answers as a read-only organization', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    expect((await tracedList(tenant, token)).response.status).toBe(200);
    // A move's first step, in another location: this one still holds the organization as writable.
    await database()
      .update(tenantDirectory)
      .set({ readOnlySince: new Date() })
      .where(eq(tenantDirectory.organizationId, tenant.organization.id));
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    const refused = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await problem(refused)).code).toBe('service_unavailable');
    expect(await eventCount(tenant)).toBe(0);
    const readOnly = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() });
    expect(readOnly.status).toBe(503);
    expect((await problem(readOnly)).code).toBe('organization_read_only');
    expect(await eventCount(tenant)).toBe(0);
    // Reads go on; a resolution of an organization being moved is never used as a hint.
    await staleResolutions(bindings().ROOT_DOMAIN, [{ slug: tenant.organization.slug }]);
    const read = await tracedList(tenant, token);
    expect(read.response.status).toBe(200);
    expect(read.trips.database).toBe(2);
  });
});
