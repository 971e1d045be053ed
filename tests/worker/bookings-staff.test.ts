import { describe, expect, it } from 'vitest';
import type { BookingResponse } from '../../src/routes/bookings/schema.ts';
import type { BookingListResponse } from '../../src/routes/bookings/staff-schema.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { createTenant, newRequestId, problem, roundTrips, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

/** A tenant with an event of a paid and a free ticket type, and an organizer's token. */
async function setup() {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const { token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const paid = await createTicketType(event, { price: 1500 });
  const free = await createTicketType(event, { name: 'Free', price: 0 });
  return { tenant, token, event, paid, free };
}

function list(tenant: TestTenant, token: string, query = '', headers: Record<string, string> = {}) {
  return call(tenant, 'GET', `/api/v1/bookings${query}`, { token, headers });
}

describe('GET /api/v1/bookings', () => {
  it('lists bookings newest first, filtered by event, status and buyer email, in one round trip', async () => {
    const { tenant, token, event, paid, free } = await setup();
    const other = await createEvent(tenant);
    const otherType = await createTicketType(other, { price: 0 });
    const pending = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 2 }] });
    const confirmed = await book(tenant, event.slug, {
      buyer: { name: 'Grace Hopper', email: 'Grace@Example.com' },
      items: [{ ticketTypeId: free.id, quantity: 1 }],
    });
    const elsewhere = await book(tenant, other.slug, { items: [{ ticketTypeId: otherType.id, quantity: 1 }] });

    const requestId = newRequestId();
    const all = await list(tenant, token, '', { 'x-request-id': requestId });
    expect(all.status).toBe(200);
    const page: BookingListResponse = await all.json();
    expect(page.data.map((booking) => booking.id)).toEqual([elsewhere.id, confirmed.id, pending.id]);
    expect(page.nextCursor).toBeNull();
    expect((await roundTrips(requestId)).database).toBe(1);
    const first = page.data.find((booking) => booking.id === pending.id);
    expect(first).toMatchObject({
      eventId: event.id,
      status: 'pending',
      provider: 'manual',
      total: 3000,
      buyer: { name: 'Ada Lovelace', email: 'ada@example.com' },
      items: [{ ticketTypeId: paid.id, quantity: 2, unitPrice: 1500 }],
    });
    expect(first).not.toHaveProperty('attendees');
    expect(JSON.stringify(page)).not.toContain('token');

    const byEvent: BookingListResponse = await (await list(tenant, token, `?eventId=${event.id}`)).json();
    expect(byEvent.data.map((booking) => booking.id)).toEqual([confirmed.id, pending.id]);
    const byStatus: BookingListResponse = await (await list(tenant, token, '?status=confirmed')).json();
    expect(byStatus.data.map((booking) => booking.id)).toEqual([elsewhere.id, confirmed.id]);
    const byEmail: BookingListResponse = await (await list(tenant, token, '?email=GRACE%40example.COM')).json();
    expect(byEmail.data.map((booking) => booking.id)).toEqual([confirmed.id]);
    const combined: BookingListResponse = await (
      await list(tenant, token, `?eventId=${event.id}&status=pending&email=ada%40example.com`)
    ).json();
    expect(combined.data.map((booking) => booking.id)).toEqual([pending.id]);
    const none: BookingListResponse = await (await list(tenant, token, '?status=expired')).json();
    expect(none).toEqual({ data: [], nextCursor: null });
  });

  it('pages with a cursor without gaps or repeats', async () => {
    const { tenant, token, event, free } = await setup();
    const ids: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      ids.unshift((await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] })).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const response = await list(tenant, token, query);
      expect(response.status).toBe(200);
      const page: BookingListResponse = await response.json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((booking) => booking.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['status=paid', 'status'],
    ['eventId=123', 'eventId'],
    ['email=not-an-email', 'email'],
    ['cursor=%21%21', 'cursor'],
    ['cursor=WyJ4IiwieSJd', 'cursor'],
    ['sort=asc', 'sort'],
  ])('answers 400 for ?%s', async (query, field) => {
    const { tenant, token } = await setup();
    const response = await list(tenant, token, `?${query}`);
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.code).toBe('validation_failed');
    if (field !== '') expect(body.errors?.map((error) => error.pointer)).toContain(`/query/${field}`);
  });

  it('needs bookings:read: 401 without a token, 403 for a member, 200 for door staff', async () => {
    const { tenant, event, free } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    expect((await call(tenant, 'GET', '/api/v1/bookings')).status).toBe(401);
    const { token: memberToken } = await memberWithToken(tenant, 'member');
    const forbidden = await list(tenant, memberToken);
    expect(forbidden.status).toBe(403);
    expect((await problem(forbidden)).code).toBe('forbidden');
    expect((await call(tenant, 'GET', `/api/v1/bookings/${booking.id}`, { token: memberToken })).status).toBe(403);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const allowed: BookingListResponse = await (await list(tenant, staffToken)).json();
    expect(allowed.data.map((row) => row.id)).toEqual([booking.id]);
  });

  it("never lists another organization's bookings", async () => {
    const { tenant, token } = await setup();
    const otherTenant = await createTenant();
    const otherEvent = await createEvent(otherTenant);
    const otherType = await createTicketType(otherEvent, { price: 0 });
    const foreign = await book(otherTenant, otherEvent.slug, { items: [{ ticketTypeId: otherType.id, quantity: 1 }] });
    const page: BookingListResponse = await (await list(tenant, token, `?eventId=${otherEvent.id}`)).json();
    expect(page.data).toEqual([]);
    const unfiltered: BookingListResponse = await (await list(tenant, token)).json();
    expect(unfiltered.data.map((row) => row.id)).not.toContain(foreign.id);
  });
});

describe('GET /api/v1/bookings/{id}', () => {
  it('returns the full booking with tickets and payment in one round trip', async () => {
    const { tenant, token, event, paid } = await setup();
    const created = await book(tenant, event.slug, {
      items: [
        {
          ticketTypeId: paid.id,
          quantity: 2,
          attendees: [
            { name: 'Grace Hopper', email: 'grace@example.com' },
            { name: 'Alan Turing', email: 'alan@example.com' },
          ],
        },
      ],
    });
    const requestId = newRequestId();
    const response = await call(tenant, 'GET', `/api/v1/bookings/${created.id}`, {
      token,
      headers: { 'x-request-id': requestId },
    });
    expect(response.status).toBe(200);
    const booking: BookingResponse = await response.json();
    expect(booking).toMatchObject({
      id: created.id,
      eventId: event.id,
      status: 'pending',
      total: 3000,
      refundedAmount: 0,
      provider: 'manual',
      expiresAt: created.expiresAt,
      confirmedAt: null,
      cancelledAt: null,
      items: [{ ticketTypeId: paid.id, quantity: 2, unitPrice: 1500 }],
      payment: { provider: 'manual', status: 'pending', amount: 3000, currency: 'EUR', refundedAmount: 0 },
      refunds: [],
    });
    expect(booking.attendees.map((attendee) => [attendee.name, attendee.ticketCode, attendee.status])).toEqual(
      created.attendees.map((attendee) => [attendee.name, attendee.ticketCode, 'valid']),
    );
    expect(JSON.stringify(booking)).not.toContain('tokenHash');
    expect((await roundTrips(requestId)).database).toBe(1);
  });

  it("answers 404 for an unknown or another organization's booking and 400 for a malformed id", async () => {
    const { tenant, token } = await setup();
    const otherTenant = await createTenant();
    const otherEvent = await createEvent(otherTenant);
    const otherType = await createTicketType(otherEvent, { price: 0 });
    const foreign = await book(otherTenant, otherEvent.slug, { items: [{ ticketTypeId: otherType.id, quantity: 1 }] });
    const cross = await call(tenant, 'GET', `/api/v1/bookings/${foreign.id}`, { token });
    expect(cross.status).toBe(404);
    expect((await problem(cross)).detail).toBe('No booking with this id.');
    expect((await call(tenant, 'GET', `/api/v1/bookings/${crypto.randomUUID()}`, { token })).status).toBe(404);
    expect((await call(tenant, 'GET', '/api/v1/bookings/42', { token })).status).toBe(400);
  });
});
