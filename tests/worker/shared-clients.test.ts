import { env } from 'cloudflare:workers';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { sharedDatabase } from '../../src/db/client.ts';
import { sharedRedis } from '../../src/lib/redis.ts';
import { servicesFor } from '../../src/lib/services.ts';
import { inTrace } from '../../src/lib/trace.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import { createEvent, getPublic, publicJson } from '../support/catalogue.ts';
import { createTenant, newRequestId, roundTrips } from '../support/harness.ts';

const bindings = () => readBindings(env as unknown as Record<string, unknown>);

describe('the isolate-wide Neon and Upstash clients', () => {
  it('are built once per bindings object and serve every request of it', () => {
    expect(sharedRedis(bindings())).toBe(sharedRedis(bindings()));
    expect(sharedDatabase(bindings())).toBe(sharedDatabase(bindings()));
    expect(servicesFor(bindings())).toBe(servicesFor(bindings()));
    expect(servicesFor(bindings()).redis).toBe(sharedRedis(bindings()));
    expect(servicesFor(bindings()).db).toBe(sharedDatabase(bindings()));
    const other = { ...bindings() };
    expect(sharedRedis(other)).not.toBe(sharedRedis(bindings()));
    expect(sharedDatabase(other)).not.toBe(sharedDatabase(bindings()));
  });

  it('never merge the calls of concurrent requests, and count each call under the trace of its request', async () => {
    const redis = sharedRedis(bindings());
    const db = sharedDatabase(bindings());
    const traces = [newRequestId(), newRequestId(), newRequestId(), newRequestId()];
    // Started in the same tick: an auto-pipelining client would send the four GETs as one pipeline.
    const answers = await Promise.all(
      traces.map((trace) =>
        inTrace(trace, () => Promise.all([redis.get(`shared-clients:${trace}`), db.execute(sql`select 1 as one`)])),
      ),
    );
    for (const [value, result] of answers) {
      expect(value).toBeNull();
      expect(result.rows).toEqual([{ one: 1 }]);
    }
    for (const trace of traces) expect(await roundTrips(trace)).toEqual({ database: 1, redis: 1 });
  });

  it('keeps concurrent public reads on one database and one Redis round trip each', async () => {
    const tenant = await createTenant();
    await createEvent(tenant);
    // Warms the tenant resolution and the rate limiter's script.
    await getPublic(tenant, '/api/v1/public/events');

    const ids = Array.from({ length: 6 }, () => newRequestId());
    // A page size of its own per request: each is a miss of the catalogue's edge cache, so each reads the database.
    const responses = await Promise.all(
      ids.map((id, index) =>
        getPublic(tenant, `/api/v1/public/events?limit=${String(index + 1)}`, { headers: { 'x-request-id': id } }),
      ),
    );
    for (const response of responses) await publicJson(response);
    for (const id of ids) expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });
  });
});
