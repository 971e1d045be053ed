import { describe, expect, it } from 'vitest';
import type { EventListResponse, EventResponse } from '../../src/routes/events/schema.ts';
import { createTenant, newRequestId, problem, request, roundTrips } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';
import { checkout, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { eventAudits, eventBody, eventRow, insertEvent, insertTicketType, ticketTypeRow } from '../support/events.ts';

async function organizer() {
  const tenant = await createTenant();
  const { member, token } = await memberWithToken(tenant, 'organizer');
  return { tenant, member, token };
}

describe('POST /api/v1/events', () => {
  it('creates a draft with a slug from the title, UTC times, the timezone and an audit row', async () => {
    const { tenant, member, token } = await organizer();
    const body = eventBody({
      title: 'Café Nights: 2026!',
      startsAt: '2030-07-04T20:00:00+02:00',
      endsAt: '2030-07-04T23:00:00+02:00',
      venue: { name: 'Kulturhaus', city: 'Hamburg', country: 'DE', latitude: 53.5, longitude: 9.9 },
      categories: ['music', 'jazz'],
      coverImageUrl: 'https://cdn.example.com/cover.jpg',
      capacity: 300,
      visibility: 'unlisted',
    });
    const response = await call(tenant, 'POST', '/api/v1/events', { token, body });
    expect(response.status).toBe(201);
    const event: EventResponse = await response.json();
    expect(event).toMatchObject({
      slug: 'cafe-nights-2026',
      title: 'Café Nights: 2026!',
      status: 'draft',
      visibility: 'unlisted',
      timezone: 'Europe/Berlin',
      startsAt: '2030-07-04T18:00:00.000Z',
      endsAt: '2030-07-04T21:00:00.000Z',
      venue: { name: 'Kulturhaus', city: 'Hamburg', country: 'DE', latitude: 53.5, longitude: 9.9 },
      onlineUrl: null,
      categories: ['music', 'jazz'],
      capacity: 300,
      publishedAt: null,
      cancelledAt: null,
    });
    expect(event).not.toHaveProperty('organizationId');
    const row = await eventRow(event.id);
    expect(row).toMatchObject({ organizationId: tenant.organization.id, status: 'draft', slug: 'cafe-nights-2026' });
    expect(row?.startsAt.toISOString()).toBe('2030-07-04T18:00:00.000Z');
    const [audit] = await eventAudits(tenant, 'event.created');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetType: 'event', targetId: event.id });
  });

  it('makes generated slugs unique (title, title-2) and answers 409 for a taken slug that is given', async () => {
    const { tenant, token } = await organizer();
    const first = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody({ title: 'Open Day' }) });
    const second = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody({ title: 'Open Day' }) });
    expect((await first.json<EventResponse>()).slug).toBe('open-day');
    expect((await second.json<EventResponse>()).slug).toBe('open-day-2');
    const taken = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody({ slug: 'open-day' }) });
    expect(taken.status).toBe(409);
    expect((await problem(taken)).code).toBe('conflict');
    expect(await eventAudits(tenant, 'event.created')).toHaveLength(2);
    // Another organization may use the same slug.
    const other = await organizer();
    const elsewhere = await call(other.tenant, 'POST', '/api/v1/events', {
      token: other.token,
      body: eventBody({ slug: 'open-day' }),
    });
    expect(elsewhere.status).toBe(201);
  });

  it.each([
    ['an unknown timezone', { timezone: 'Mars/Olympus' }, '/body/timezone'],
    ['an end before the start', { startsAt: '2030-01-02T10:00:00Z', endsAt: '2030-01-02T09:00:00Z' }, '/body/endsAt'],
    ['an end equal to the start', { startsAt: '2030-01-02T10:00:00Z', endsAt: '2030-01-02T10:00:00Z' }, '/body/endsAt'],
    ['an http online URL', { onlineUrl: 'http://meet.example.com/x' }, '/body/onlineUrl'],
    ['a javascript cover URL', { coverImageUrl: 'javascript:alert(1)' }, '/body/coverImageUrl'],
    ['a latitude out of range', { venue: { name: 'X', latitude: 91 } }, '/body/venue/latitude'],
    ['a longitude out of range', { venue: { name: 'X', longitude: -181 } }, '/body/venue/longitude'],
    ['eleven categories', { categories: Array.from({ length: 11 }, (_, i) => `c${i}`) }, '/body/categories'],
    ['a category over 40 characters', { categories: ['x'.repeat(41)] }, '/body/categories/0'],
    ['a zero capacity', { capacity: 0 }, '/body/capacity'],
    ['a malformed slug', { slug: 'Not A Slug' }, '/body/slug'],
    ['a date without a time', { startsAt: '2030-01-02' }, '/body/startsAt'],
    ['status (mass assignment)', { status: 'published' }, '/body'],
    ['organizationId (mass assignment)', { organizationId: crypto.randomUUID() }, '/body'],
    ['publishedAt (mass assignment)', { publishedAt: '2030-01-01T00:00:00Z' }, '/body'],
    ['sold (mass assignment)', { sold: 5 }, '/body'],
  ])('refuses %s with 400 and creates nothing', async (_name, overrides, pointer) => {
    const { tenant, token } = await organizer();
    const response = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody(overrides) });
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.code).toBe('validation_failed');
    expect(body.errors?.map((error) => error.pointer)).toContain(pointer);
    expect(await eventAudits(tenant, 'event.created')).toEqual([]);
  });

  it('answers 401 without a token, 403 to staff (events:read only) and to members', async () => {
    const tenant = await createTenant();
    expect((await call(tenant, 'POST', '/api/v1/events', { body: eventBody() })).status).toBe(401);
    for (const role of ['staff', 'member']) {
      const { token } = await memberWithToken(tenant, role);
      const response = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() });
      expect(response.status).toBe(403);
      expect((await problem(response)).code).toBe('forbidden');
    }
    expect(await eventAudits(tenant, 'event.created')).toEqual([]);
  });
});

describe('GET /api/v1/events', () => {
  it('pages through events by start with an opaque cursor', async () => {
    const { tenant, token } = await organizer();
    const base = Date.now() + 86_400_000;
    const ids: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      ids.push((await insertEvent(tenant, { startsAt: new Date(base + index * 3_600_000) })).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`;
      const response = await call(tenant, 'GET', `/api/v1/events${query}`, { token });
      expect(response.status).toBe(200);
      const page: EventListResponse = await response.json();
      seen.push(...page.data.map((event) => event.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
  });

  it('filters by status, visibility, start range and title text (wildcards literal)', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'staff');
    const day = 86_400_000;
    const now = Date.now();
    const jazz = await insertEvent(tenant, { title: 'Jazz Night', startsAt: new Date(now + day) });
    const published = await insertEvent(tenant, {
      title: '100% Rock',
      status: 'published',
      startsAt: new Date(now + 2 * day),
    });
    const hidden = await insertEvent(tenant, {
      title: 'Secret jazz',
      visibility: 'private',
      startsAt: new Date(now + 3 * day),
    });
    const list = async (query: string) => {
      const response = await call(tenant, 'GET', `/api/v1/events?${query}`, { token });
      expect(response.status).toBe(200);
      return (await response.json<EventListResponse>()).data.map((event) => event.id);
    };
    expect(await list('status=published')).toEqual([published.id]);
    expect(await list('visibility=private')).toEqual([hidden.id]);
    expect(await list('q=JAZZ')).toEqual([jazz.id, hidden.id]);
    expect(await list('q=100%25')).toEqual([published.id]);
    expect(await list('q=_')).toEqual([]);
    const from = new Date(now + 1.5 * day).toISOString();
    const to = new Date(now + 2.5 * day).toISOString();
    expect(await list(`from=${from}&to=${to}`)).toEqual([published.id]);
  });

  it.each([
    ['limit=0'],
    ['limit=101'],
    ['limit=abc'],
    ['cursor=not-a-cursor!'],
    ['cursor=WyJ4Il0'],
    ['sort=title'],
    ['organizationId=x'],
    ['status=open'],
    ['from=yesterday'],
    ['from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z'],
  ])('answers 400 for %s', async (query) => {
    const { tenant, token } = await organizer();
    const response = await call(tenant, 'GET', `/api/v1/events?${query}`, { token });
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
  });

  it("never lists another organization's events and answers 403 to members", async () => {
    const { tenant, token } = await organizer();
    const other = await createTenant();
    await insertEvent(other);
    const mine = await insertEvent(tenant);
    const response = await call(tenant, 'GET', '/api/v1/events', { token });
    expect((await response.json<EventListResponse>()).data.map((event) => event.id)).toEqual([mine.id]);
    const { token: memberToken } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'GET', '/api/v1/events', { token: memberToken })).status).toBe(403);
    expect((await call(tenant, 'GET', '/api/v1/events')).status).toBe(401);
  });
});

describe('GET /api/v1/events/{id}', () => {
  it('returns the event to staff; 404 for another organization and a missing id; 400 for a non-UUID', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'staff');
    const event = await insertEvent(tenant, { title: 'Mine' });
    const other = await insertEvent(await createTenant());
    const found = await call(tenant, 'GET', `/api/v1/events/${event.id}`, { token });
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ id: event.id, title: 'Mine', status: 'draft' });
    for (const id of [other.id, crypto.randomUUID()]) {
      const response = await call(tenant, 'GET', `/api/v1/events/${id}`, { token });
      expect(response.status).toBe(404);
      expect((await problem(response)).code).toBe('not_found');
    }
    const invalid = await call(tenant, 'GET', "/api/v1/events/1'%20or%201=1", { token });
    expect(invalid.status).toBe(400);
  });
});

describe('PUT /api/v1/events/{id}', () => {
  it('changes the given fields only, clears with null and audits the values before', async () => {
    const { tenant, member, token } = await organizer();
    const event = await insertEvent(tenant, { title: 'Old', capacity: 50, onlineUrl: 'https://meet.example.com/a' });
    const response = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, {
      token,
      body: { title: 'New', capacity: null, onlineUrl: null, categories: ['talk'] },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      title: 'New',
      capacity: null,
      onlineUrl: null,
      categories: ['talk'],
    });
    const row = await eventRow(event.id);
    expect(row).toMatchObject({
      title: 'New',
      capacity: null,
      onlineUrl: null,
      slug: event.slug,
      timezone: 'Europe/Berlin',
    });
    const [audit] = await eventAudits(tenant, 'event.updated');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetId: event.id });
    expect(audit?.metadata).toMatchObject({ before: { title: 'Old', capacity: 50 } });
  });

  it('checks a new end against the stored start and a new start against the stored end', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const before = new Date(event.startsAt.getTime() - 60_000).toISOString();
    const after = new Date(event.endsAt.getTime() + 60_000).toISOString();
    const badEnd = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { endsAt: before } });
    expect(badEnd.status).toBe(400);
    expect((await problem(badEnd)).errors?.[0]?.pointer).toBe('/body/endsAt');
    const badStart = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { startsAt: after } });
    expect(badStart.status).toBe(400);
    expect((await problem(badStart)).errors?.[0]?.pointer).toBe('/body/startsAt');
    expect((await eventRow(event.id))?.endsAt).toEqual(event.endsAt);
    const moved = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { endsAt: after } });
    expect(moved.status).toBe(200);
    expect((await eventRow(event.id))?.endsAt.toISOString()).toBe(after);
  });

  it('refuses status, sold and an empty body with 400; a taken slug with 409', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const taken = await insertEvent(tenant);
    for (const body of [{ status: 'published' }, { sold: 1 }, { publishedAt: '2030-01-01T00:00:00Z' }, {}]) {
      const response = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body });
      expect(response.status).toBe(400);
    }
    const clash = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { slug: taken.slug } });
    expect(clash.status).toBe(409);
    expect(await eventRow(event.id)).toMatchObject({ status: 'draft', slug: event.slug });
    expect(await eventAudits(tenant, 'event.updated')).toEqual([]);
  });

  it('refuses a capacity below the seats sold or held with 409; down to exactly that, or null, is fine', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status: 'published', capacity: 10, sold: 5, held: 2 });
    const below = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { capacity: 6, title: 'X' } });
    expect(below.status).toBe(409);
    expect((await problem(below)).detail).toContain('7 tickets');
    expect(await eventRow(event.id)).toMatchObject({ capacity: 10, title: 'Fixture event' });
    expect(await eventAudits(tenant, 'event.updated')).toEqual([]);
    const exact = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { capacity: 7 } });
    expect(exact.status).toBe(200);
    expect(await eventRow(event.id)).toMatchObject({ capacity: 7, sold: 5, held: 2 });
    const unlimited = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { capacity: null } });
    expect(unlimited.status).toBe(200);
    expect((await eventRow(event.id))?.capacity).toBeNull();
  });

  it('keeps sold + held within the capacity while checkouts race a capacity change (no 500s)', async () => {
    const { tenant, token } = await organizer();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant, { capacity: 10 });
    const standard = await createTicketType(event);
    const [resize, ...sales] = await Promise.all([
      call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { capacity: 3 } }),
      ...Array.from({ length: 6 }, (_, index) =>
        checkout(tenant, event.slug, {
          buyer: { name: 'Buyer', email: `buyer-${index}@example.com` },
          items: [{ ticketTypeId: standard.id, quantity: 1 }],
        }),
      ),
    ]);
    expect([200, 409]).toContain(resize.status);
    for (const sale of sales) expect([201, 409]).toContain(sale.status);
    const sold = sales.filter((sale) => sale.status === 201).length;
    const row = await eventRow(event.id);
    expect(row?.held).toBe(sold);
    expect(row?.capacity).toBe(resize.status === 200 ? 3 : 10);
    expect((row?.sold ?? 0) + (row?.held ?? 0)).toBeLessThanOrEqual(row?.capacity ?? 0);
  });

  it('answers 409 for a cancelled or completed event, 404 across tenants, 403 to staff', async () => {
    const { tenant, token } = await organizer();
    for (const status of ['cancelled', 'completed'] as const) {
      const event = await insertEvent(tenant, { status });
      const response = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { title: 'X' } });
      expect(response.status).toBe(409);
      expect((await eventRow(event.id))?.title).toBe('Fixture event');
    }
    const foreign = await insertEvent(await createTenant());
    const cross = await call(tenant, 'PUT', `/api/v1/events/${foreign.id}`, { token, body: { title: 'Hijacked' } });
    expect(cross.status).toBe(404);
    expect((await eventRow(foreign.id))?.title).toBe('Fixture event');
    const mine = await insertEvent(tenant);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const staff = await call(tenant, 'PUT', `/api/v1/events/${mine.id}`, { token: staffToken, body: { title: 'X' } });
    expect(staff.status).toBe(403);
  });
});

describe('DELETE /api/v1/events/{id}', () => {
  it('deletes a draft with its ticket types and audits it', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const ticketType = await insertTicketType(tenant, event.id);
    const response = await call(tenant, 'DELETE', `/api/v1/events/${event.id}`, { token });
    expect(response.status).toBe(204);
    expect(await eventRow(event.id)).toBeUndefined();
    expect(await ticketTypeRow(ticketType.id)).toBeUndefined();
    expect((await eventAudits(tenant, 'event.deleted'))[0]).toMatchObject({ targetId: event.id });
  });

  it('answers 409 "cancel instead" for a published event, 404 across tenants; nothing is deleted', async () => {
    const { tenant, token } = await organizer();
    const published = await insertEvent(tenant, { status: 'published' });
    const response = await call(tenant, 'DELETE', `/api/v1/events/${published.id}`, { token });
    expect(response.status).toBe(409);
    expect((await problem(response)).detail).toContain('Cancel it instead');
    const foreign = await insertEvent(await createTenant());
    expect((await call(tenant, 'DELETE', `/api/v1/events/${foreign.id}`, { token })).status).toBe(404);
    expect(await eventRow(published.id)).toBeDefined();
    expect(await eventRow(foreign.id)).toBeDefined();
    expect(await eventAudits(tenant, 'event.deleted')).toEqual([]);
    expect((await call(tenant, 'DELETE', '/api/v1/events/nope', { token })).status).toBe(400);
  });
});

describe('the events API in the OpenAPI document', () => {
  it('documents every operation with security, a summary and its error responses', async () => {
    const response = await request('http://localhost/api/v1/openapi.json');
    expect(response.status).toBe(200);
    const document: {
      paths: Record<
        string,
        Record<string, { summary?: string; security?: unknown[]; responses: Record<string, unknown> }>
      >;
    } = await response.json();
    const operations: [string, string, string[]][] = [
      ['/api/v1/events', 'get', ['400', '401', '403']],
      ['/api/v1/events', 'post', ['400', '401', '403', '409']],
      ['/api/v1/events/{id}', 'get', ['400', '401', '403', '404']],
      ['/api/v1/events/{id}', 'put', ['400', '401', '403', '404', '409']],
      ['/api/v1/events/{id}', 'delete', ['400', '401', '403', '404', '409']],
      ['/api/v1/events/{id}/publish', 'post', ['401', '403', '404', '409', '422']],
      ['/api/v1/events/{id}/cancel', 'post', ['401', '403', '404', '409']],
      ['/api/v1/events/{id}/ticket-types', 'get', ['401', '403', '404']],
      ['/api/v1/events/{id}/ticket-types', 'post', ['400', '401', '403', '404', '409']],
      ['/api/v1/ticket-types/{id}', 'put', ['400', '401', '403', '404', '409']],
      ['/api/v1/ticket-types/{id}', 'delete', ['401', '403', '404', '409']],
    ];
    for (const [path, method, statuses] of operations) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation?.summary).toBeTruthy();
      expect(operation?.security).toEqual([{ bearerAuth: [] }]);
      for (const status of statuses) expect(operation?.responses).toHaveProperty(status);
    }
  });
});

describe('round trips', () => {
  it('lists a page with one database and one Redis round trip (the revocation check)', async () => {
    const { tenant, token } = await organizer();
    await insertEvent(tenant);
    await insertEvent(tenant);
    await call(tenant, 'GET', '/api/v1/events', { token });
    const requestId = newRequestId();
    const response = await call(tenant, 'GET', '/api/v1/events?limit=1&status=draft&q=fixture', {
      token,
      headers: { 'x-request-id': requestId },
    });
    expect(response.status).toBe(200);
    expect((await response.json<EventListResponse>()).nextCursor).not.toBeNull();
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
  });
});
