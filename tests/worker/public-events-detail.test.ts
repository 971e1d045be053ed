import { describe, expect, it } from 'vitest';
import type { PublicEventDetailResponse, PublicTicketTypeResponse } from '../../src/routes/public/schema.ts';
import { createEvent, createTicketType, daysFromNow, getPublic, publicJson } from '../support/catalogue.ts';
import { createTenant, newRequestId, problem, request, roundTrips, type TestTenant } from '../support/harness.ts';

const TICKET_TYPE_KEYS = [
  'currency',
  'description',
  'eventId',
  'hidden',
  'id',
  'maxPerOrder',
  'minPerOrder',
  'name',
  'onSale',
  'price',
  'remaining',
  'salesEndAt',
  'salesStartAt',
];

async function detail(tenant: TestTenant, slug: string, query = ''): Promise<PublicEventDetailResponse> {
  return publicJson<PublicEventDetailResponse>(await getPublic(tenant, `/api/v1/public/events/${slug}${query}`));
}

async function expectNotFound(tenant: TestTenant, slug: string): Promise<void> {
  const response = await getPublic(tenant, `/api/v1/public/events/${slug}`);
  expect(response.status, slug).toBe(404);
  expect((await problem(response)).code).toBe('not_found');
}

function byName(event: PublicEventDetailResponse): Record<string, PublicTicketTypeResponse> {
  return Object.fromEntries(event.ticketTypes.map((ticketType) => [ticketType.name, ticketType]));
}

describe('GET /api/v1/public/events/{slug}', () => {
  it('shows a published public event with its ticket types and no secrets', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant, { title: 'Gala', categories: ['music'] });
    const salesStartAt = daysFromNow(-1);
    const salesEndAt = daysFromNow(6);
    const general = await createTicketType(event, {
      name: 'General',
      description: 'Standing.',
      price: 1500,
      quantity: 100,
      sold: 30,
      held: 5,
      salesStartAt,
      salesEndAt,
      minPerOrder: 2,
      maxPerOrder: 8,
      sortOrder: 1,
    });
    await createTicketType(event, { name: 'Free', price: 0, sortOrder: 2 });

    const response = await getPublic(tenant, `/api/v1/public/events/${event.slug}`);
    expect(response.headers.get('cache-control')).toBe('public, max-age=30');
    const body = await publicJson<PublicEventDetailResponse>(response);
    expect(body).toMatchObject({
      id: event.id,
      slug: event.slug,
      title: 'Gala',
      status: 'published',
      visibility: 'public',
      startsAt: event.startsAt.toISOString(),
      endsAt: event.endsAt.toISOString(),
      timezone: 'Europe/Lisbon',
      categories: ['music'],
      priceFrom: { price: 0, currency: 'EUR' },
    });
    expect(body.ticketTypes.map((ticketType) => ticketType.name)).toEqual(['General', 'Free']);
    expect(Object.keys(body.ticketTypes[0] ?? {}).sort()).toEqual(TICKET_TYPE_KEYS);
    expect(body.ticketTypes[0]).toEqual({
      id: general.id,
      eventId: event.id,
      name: 'General',
      description: 'Standing.',
      price: 1500,
      currency: 'EUR',
      remaining: 65,
      salesStartAt: salesStartAt.toISOString(),
      salesEndAt: salesEndAt.toISOString(),
      minPerOrder: 2,
      maxPerOrder: 8,
      hidden: false,
      onSale: true,
    });
  });

  it('shows an unlisted event by its link but answers 404 for drafts, private events and unknown slugs', async () => {
    const tenant = await createTenant();
    const unlisted = await createEvent(tenant, { visibility: 'unlisted' });
    await createTicketType(unlisted);
    const draft = await createEvent(tenant, { status: 'draft' });
    await createTicketType(draft);
    const privateEvent = await createEvent(tenant, { visibility: 'private' });
    const privateCancelled = await createEvent(tenant, { visibility: 'private', status: 'cancelled' });

    const body = await detail(tenant, unlisted.slug);
    expect(body.visibility).toBe('unlisted');
    expect(body.ticketTypes).toHaveLength(1);
    // Reachable by its link only: never in the list.
    const list = await publicJson<{ data: unknown[] }>(await getPublic(tenant, '/api/v1/public/events'));
    expect(list.data).toEqual([]);

    for (const slug of [draft.slug, privateEvent.slug, privateCancelled.slug, 'no-such-event']) {
      await expectNotFound(tenant, slug);
    }
  });

  it('shows cancelled and completed events with their status and no ticket types', async () => {
    const tenant = await createTenant();
    const cancelled = await createEvent(tenant, { status: 'cancelled', cancelledAt: new Date() });
    await createTicketType(cancelled);
    const completed = await createEvent(tenant, {
      status: 'completed',
      startsAt: daysFromNow(-3),
      endsAt: daysFromNow(-2),
    });
    await createTicketType(completed);

    const first = await detail(tenant, cancelled.slug);
    expect(first.status).toBe('cancelled');
    expect(first.ticketTypes).toEqual([]);
    const second = await detail(tenant, completed.slug);
    expect(second.status).toBe('completed');
    expect(second.ticketTypes).toEqual([]);
  });

  it("answers 404 for another organization's event, even with its slug", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await createEvent(other);
    await createTicketType(theirs);

    await expectNotFound(tenant, theirs.slug);
    expect((await detail(other, theirs.slug)).id).toBe(theirs.id);
  });

  it('shows a hidden ticket type only with its own access code, and a wrong code changes nothing', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    await createTicketType(event, { name: 'Public', sortOrder: 1 });
    const vip = await createTicketType(event, { name: 'VIP', hidden: true, accessCode: 'VIP-7Q2X', sortOrder: 2 });
    await createTicketType(event, { name: 'Press', hidden: true, accessCode: 'PRESS-9K', sortOrder: 3 });
    const otherEvent = await createEvent(tenant);
    await createTicketType(otherEvent, { name: 'Elsewhere', hidden: true, accessCode: 'ELSE-1' });

    const plain = await publicJson<PublicEventDetailResponse>(
      await getPublic(tenant, `/api/v1/public/events/${event.slug}`),
    );
    expect(plain.ticketTypes.map((ticketType) => ticketType.name)).toEqual(['Public']);

    const unlocked = await getPublic(tenant, `/api/v1/public/events/${event.slug}?accessCode=VIP-7Q2X`);
    const unlockedText = await unlocked.clone().text();
    expect(unlockedText).not.toContain('VIP-7Q2X');
    expect(unlockedText).not.toContain('PRESS-9K');
    const body = await publicJson<PublicEventDetailResponse>(unlocked);
    expect(body.ticketTypes.map((ticketType) => ticketType.name)).toEqual(['Public', 'VIP']);
    expect(byName(body)['VIP']).toMatchObject({ id: vip.id, hidden: true, onSale: true });
    // The hidden price never changes the public price summary.
    expect(body.priceFrom).toEqual({ price: 1500, currency: 'EUR' });

    for (const code of ['vip-7q2x', 'VIP-7Q2', 'ELSE-1', "' or '1'='1", '%']) {
      const wrong = await getPublic(
        tenant,
        `/api/v1/public/events/${event.slug}?accessCode=${encodeURIComponent(code)}`,
      );
      expect(wrong.status, code).toBe(200);
      expect(await wrong.text()).toBe(JSON.stringify(plain));
    }
  });

  it('reports remaining seats and whether each ticket type is on sale now', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    await createTicketType(event, { name: 'Open', quantity: 10, sold: 3, held: 2 });
    await createTicketType(event, { name: 'Sold out', quantity: 10, sold: 8, held: 2 });
    await createTicketType(event, { name: 'Not yet', salesStartAt: daysFromNow(1) });
    await createTicketType(event, { name: 'Over', salesStartAt: daysFromNow(-5), salesEndAt: daysFromNow(-1) });
    await createTicketType(event, { name: 'Ends later', salesEndAt: daysFromNow(1), quantity: 1 });
    await createTicketType(event, { name: 'All held', quantity: 4, held: 4 });

    const tickets = byName(await detail(tenant, event.slug));
    expect(tickets['Open']).toMatchObject({ remaining: 5, onSale: true });
    expect(tickets['Sold out']).toMatchObject({ remaining: 0, onSale: false });
    expect(tickets['Not yet']).toMatchObject({ remaining: 100, onSale: false });
    expect(tickets['Over']).toMatchObject({ remaining: 100, onSale: false });
    expect(tickets['Ends later']).toMatchObject({ remaining: 1, onSale: true });
    expect(tickets['All held']).toMatchObject({ remaining: 0, onSale: false });
  });

  it('refuses unknown parameters and malformed slugs', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    for (const path of [
      `/api/v1/public/events/${event.slug}?include=onlineUrl`,
      `/api/v1/public/events/${event.slug}?accessCode=`,
      `/api/v1/public/events/${event.slug}?accessCode=${'x'.repeat(101)}`,
      '/api/v1/public/events/Not_A_Slug',
    ]) {
      const response = await getPublic(tenant, path);
      expect(response.status, path).toBe(400);
      expect((await problem(response)).code).toBe('validation_failed');
    }
  });

  it('answers 404 on the platform host', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const response = await request(`http://localhost/api/v1/public/events/${event.slug}`, {
      headers: { 'cf-connecting-ip': '203.0.113.10' },
    });
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe('not_found');
  });

  it('makes one database and one Redis round trip', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    await createTicketType(event);
    await createTicketType(event, { name: 'VIP', hidden: true, accessCode: 'VIP-1' });
    const ip = '198.51.100.78';
    await getPublic(tenant, `/api/v1/public/events/${event.slug}`, { ip });

    const id = newRequestId();
    const response = await getPublic(tenant, `/api/v1/public/events/${event.slug}?accessCode=VIP-1`, {
      ip,
      headers: { 'x-request-id': id },
    });
    expect((await publicJson<PublicEventDetailResponse>(response)).ticketTypes).toHaveLength(2);
    expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });

    const missing = newRequestId();
    const notFound = await getPublic(tenant, '/api/v1/public/events/no-such-event', {
      ip,
      headers: { 'x-request-id': missing },
    });
    expect(notFound.status).toBe(404);
    expect(await roundTrips(missing)).toEqual({ database: 1, redis: 1 });
  });
});
