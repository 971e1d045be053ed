import { describe, expect, it } from 'vitest';
import { auditLogs, webhookDeliveries, webhookEndpoints } from '../../src/db/schema/index.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import { insertEvent } from '../support/events.ts';
import { createMember, createTenant, database, problem, request, type TestTenant } from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';
import { call, memberWithToken } from '../support/users.ts';

interface Row {
  id: string;
  [field: string]: unknown;
}

interface Page {
  data: Row[];
  nextCursor: string | null;
}

const HOUR = 3_600_000;

/** A GET on the tenant host: with a token through `call`, else as an anonymous public read. */
async function get(tenant: TestTenant, token: string | undefined, path: string): Promise<Response> {
  return token === undefined ? getPublic(tenant, path) : call(tenant, 'GET', path, { token });
}

function withQuery(path: string, query: Record<string, string>): string {
  return `${path}${path.includes('?') ? '&' : '?'}${new URLSearchParams(query).toString()}`;
}

/** Every row of the list under `sort`, `limit` at a time, following nextCursor to the end. */
async function pageThrough(
  tenant: TestTenant,
  token: string | undefined,
  path: string,
  sort: string,
  limit = 2,
): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages += 1) {
    const response = await get(
      tenant,
      token,
      withQuery(path, { sort, limit: String(limit), ...(cursor === null ? {} : { cursor }) }),
    );
    expect(response.status, `${path} sort=${sort}: ${await response.clone().text()}`).toBe(200);
    const page = await response.json<Page>();
    expect(page.data.length).toBeLessThanOrEqual(limit);
    rows.push(...page.data);
    if (page.nextCursor === null) return rows;
    cursor = page.nextCursor;
  }
  throw new Error('more than 50 pages');
}

/**
 * The shared contract of a sortable list: both directions page through every row once, ascending is ordered by the
 * field (ids breaking ties), descending is exactly its reverse; the default order is the one named first; unknown
 * sorts answer 400 naming the allowed values; a cursor only works with the sort it was made under.
 */
async function expectSortable(
  tenant: TestTenant,
  token: string | undefined,
  path: string,
  field: string,
  options: { defaultSort: string; expectedCount: number },
): Promise<void> {
  const ascending = await pageThrough(tenant, token, path, field);
  const descending = await pageThrough(tenant, token, path, `-${field}`);
  expect(ascending).toHaveLength(options.expectedCount);
  expect(new Set(ascending.map((row) => row.id)).size).toBe(options.expectedCount);
  const instants = ascending.map((row) => Date.parse(String(row[field])));
  expect(instants).toEqual([...instants].sort((a, b) => a - b));
  expect(descending.map((row) => row.id)).toEqual(ascending.map((row) => row.id).reverse());

  // Without `sort`, the default order: the same rows as with it spelled out.
  if (options.defaultSort.replace(/^-/, '') === field) {
    const unsorted = await get(tenant, token, withQuery(path, { limit: '100' }));
    const defaultRows = options.defaultSort.startsWith('-') ? descending : ascending;
    expect((await unsorted.json<Page>()).data.map((row) => row.id)).toEqual(defaultRows.map((row) => row.id));
  }

  const unknown = await get(tenant, token, withQuery(path, { sort: 'title' }));
  expect(unknown.status).toBe(400);
  const refusal = await problem(unknown);
  expect(refusal.errors?.[0]?.pointer).toBe('/query/sort');
  expect(refusal.errors?.[0]?.message).toMatch(/^Must be one of /);
  expect(refusal.errors?.[0]?.message).toContain(field);
  expect(refusal.errors?.[0]?.message).toContain(`-${field}`);

  // A cursor made under one sort is refused under the other instead of answering a wrong page.
  const first = await (await get(tenant, token, withQuery(path, { sort: field, limit: '1' }))).json<Page>();
  expect(first.nextCursor).not.toBeNull();
  const crossed = await get(tenant, token, withQuery(path, { sort: `-${field}`, cursor: first.nextCursor ?? '' }));
  expect(crossed.status).toBe(400);
  expect((await problem(crossed)).errors?.[0]?.pointer).toBe('/query/cursor');
}

describe('sort on every list', () => {
  it('sorts the staff event list by start and by creation, both ways, ties broken by id', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'staff');
    const now = Date.now();
    const sameInstant = new Date(now - 5 * HOUR);
    for (const [offset, created] of [
      [3, sameInstant],
      [1, sameInstant],
      [2, new Date(now - HOUR)],
      [3, new Date(now - 2 * HOUR)],
      [5, sameInstant],
    ] as const) {
      await insertEvent(tenant, { startsAt: new Date(now + offset * 24 * HOUR), createdAt: created });
    }
    await expectSortable(tenant, token, '/api/v1/events', 'startsAt', { defaultSort: 'startsAt', expectedCount: 5 });
    await expectSortable(tenant, token, '/api/v1/events', 'createdAt', { defaultSort: 'startsAt', expectedCount: 5 });
  });

  it('sorts the public event list by start both ways', async () => {
    const tenant = await createTenant();
    for (const days of [4, 2, 9, 2, 6])
      await createEvent(tenant, { startsAt: new Date(Date.now() + days * 24 * HOUR) });
    await expectSortable(tenant, undefined, '/api/v1/public/events', 'startsAt', {
      defaultSort: 'startsAt',
      expectedCount: 5,
    });
  });

  it('sorts bookings by creation both ways (newest first by default)', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const { token } = await memberWithToken(tenant, 'organizer');
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { price: 0 });
    for (let index = 0; index < 5; index += 1) {
      await book(tenant, event.slug, {
        buyer: { name: 'Ada', email: `ada${index}@example.com` },
        items: [{ ticketTypeId: free.id, quantity: 1 }],
      });
    }
    await expectSortable(tenant, token, '/api/v1/bookings', 'createdAt', {
      defaultSort: '-createdAt',
      expectedCount: 5,
    });
  });

  it('sorts members by when they joined both ways', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    for (const role of ['staff', 'organizer', 'staff', 'member']) await createMember(tenant, role);
    await expectSortable(tenant, token, '/api/v1/users', 'createdAt', { defaultSort: 'createdAt', expectedCount: 5 });
  });

  it('sorts webhook endpoints and their deliveries by creation both ways', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'admin');
    const organizationId = tenant.organization.id;
    const sameInstant = new Date(Date.now() - HOUR);
    const endpoints = await database()
      .insert(webhookEndpoints)
      .values(
        [sameInstant, new Date(Date.now() - 2 * HOUR), sameInstant, new Date(Date.now() - 3 * HOUR)].map(
          (createdAt, index) => ({
            organizationId,
            url: `https://hooks.example.com/${index}`,
            secret: 'v1.unused',
            eventTypes: [],
            createdAt,
          }),
        ),
      )
      .returning({ id: webhookEndpoints.id });
    await expectSortable(tenant, token, '/api/v1/webhooks', 'createdAt', {
      defaultSort: 'createdAt',
      expectedCount: 4,
    });

    const endpointId = endpoints[0]?.id ?? '';
    await database()
      .insert(webhookDeliveries)
      .values(
        [sameInstant, sameInstant, new Date(Date.now() - 2 * HOUR), sameInstant, new Date()].map((createdAt) => ({
          organizationId,
          endpointId,
          eventId: crypto.randomUUID(),
          eventType: 'booking.confirmed',
          createdAt,
        })),
      );
    await expectSortable(tenant, token, `/api/v1/webhooks/${endpointId}/deliveries`, 'createdAt', {
      defaultSort: '-createdAt',
      expectedCount: 5,
    });
  });

  it('sorts the audit log by time both ways (newest first by default)', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const sameInstant = new Date(Date.now() - HOUR);
    await database()
      .insert(auditLogs)
      .values(
        [sameInstant, new Date(Date.now() - 2 * HOUR), sameInstant, new Date(), sameInstant].map((createdAt) => ({
          organizationId: tenant.organization.id,
          actorType: 'system',
          action: 'test.sorted',
          metadata: {},
          createdAt,
        })),
      );
    await expectSortable(tenant, token, '/api/v1/audit-logs?action=test.sorted', 'createdAt', {
      defaultSort: '-createdAt',
      expectedCount: 5,
    });
  });

  it('sorts the platform list of organizations by slug both ways', async () => {
    const admin = await createPlatformAdmin();
    const prefix = `srt${crypto.randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const slugs = ['c', 'a', 'e', 'b', 'd'].map((letter) => `${prefix}-${letter}`);
    for (const slug of slugs) await createTenant({ slug });
    const list = (query: string) =>
      request(`${PLATFORM}/api/v1/organizations?q=${prefix}&limit=2${query}`, {
        headers: { authorization: `Bearer ${admin.token}` },
      });
    async function all(sort: string): Promise<string[]> {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const response = await list(`&sort=${sort}${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(response.status).toBe(200);
        const page = await response.json<{ data: { slug: string }[]; nextCursor: string | null }>();
        seen.push(...page.data.map((row) => row.slug));
        cursor = page.nextCursor;
      } while (cursor !== null);
      return seen;
    }
    expect(await all('slug')).toEqual([...slugs].sort());
    expect(await all('-slug')).toEqual([...slugs].sort().reverse());
    const first = await (await list('&sort=slug')).json<{ nextCursor: string }>();
    const crossed = await list(`&sort=-slug&cursor=${first.nextCursor}`);
    expect(crossed.status).toBe(400);
    expect((await problem(crossed)).errors?.[0]?.pointer).toBe('/query/cursor');
    const unknown = await list('&sort=name');
    expect(unknown.status).toBe(400);
    expect((await problem(unknown)).errors?.[0]).toMatchObject({ pointer: '/query/sort' });
  });

  it('keeps accepting a cursor from before sort existed, as one of the default order', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'staff');
    for (const days of [1, 2, 3]) await insertEvent(tenant, { startsAt: new Date(Date.now() + days * 24 * HOUR) });
    const first = await (await call(tenant, 'GET', '/api/v1/events?limit=1', { token })).json<Page>();
    const [at, id, sort] = JSON.parse(atob((first.nextCursor ?? '').replaceAll('-', '+').replaceAll('_', '/'))) as [
      string,
      string,
      string,
    ];
    expect(sort).toBe('startsAt');
    const legacy = btoa(JSON.stringify([at, id]))
      .replaceAll('+', '-')
      .replaceAll('/', '_')
      .replace(/=+$/, '');
    const withLegacy = await call(tenant, 'GET', `/api/v1/events?limit=1&cursor=${legacy}`, { token });
    const withCurrent = await call(tenant, 'GET', `/api/v1/events?limit=1&cursor=${first.nextCursor ?? ''}`, { token });
    expect(withLegacy.status).toBe(200);
    expect((await withLegacy.json<Page>()).data).toEqual((await withCurrent.json<Page>()).data);
    const crossed = await call(tenant, 'GET', `/api/v1/events?limit=1&sort=-createdAt&cursor=${legacy}`, { token });
    expect(crossed.status).toBe(400);
  });
});
