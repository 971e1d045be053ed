import { describe, expect, it } from 'vitest';
import type { PublicBookingResponse } from '../../src/routes/bookings/staff-schema.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import { createTenant, newRequestId, problem, roundTrips, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

const SECRET_URL = 'https://meet.example.com/secret-room';

async function setup() {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const { token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const paid = await createTicketType(event, { price: 1500 });
  const free = await createTicketType(event, { name: 'Free', price: 0 });
  return { tenant, token, event, paid, free };
}

function view(tenant: TestTenant, id: string, query: string, headers: Record<string, string> = {}) {
  return getPublic(tenant, `/api/v1/public/bookings/${id}${query}`, { headers });
}

describe('GET /api/v1/public/bookings/{id}', () => {
  it("shows the buyer their pending booking without internal ids and without the event's online URL", async () => {
    const { tenant, event, paid } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 2 }] });
    const requestId = newRequestId();
    const response = await view(tenant, booking.id, `?token=${booking.token}`, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('ratelimit-policy')).toContain('public-read-ip');
    const text = await response.text();
    for (const secret of [SECRET_URL, 'tokenHash', 'paymentIntentId', 'checkoutSessionId', booking.token]) {
      expect(text).not.toContain(secret);
    }
    const body = JSON.parse(text) as PublicBookingResponse;
    expect(body).toMatchObject({
      id: booking.id,
      status: 'pending',
      total: 3000,
      expiresAt: booking.expiresAt,
      buyer: { name: 'Ada Lovelace', email: 'ada@example.com' },
      items: [{ ticketTypeId: paid.id, quantity: 2, unitPrice: 1500 }],
      payment: { provider: 'manual', status: 'pending', amount: 3000, currency: 'EUR', refundedAmount: 0 },
      refunds: [],
      event: {
        id: event.id,
        slug: event.slug,
        title: 'Spring Gala',
        status: 'published',
        timezone: 'Europe/Lisbon',
        startsAt: event.startsAt.toISOString(),
        endsAt: event.endsAt.toISOString(),
        venue: { name: 'Main Hall', city: 'Lisbon', country: 'PT' },
        onlineUrl: null,
      },
    });
    expect(body.payment).not.toHaveProperty('id');
    expect(body.attendees.map((attendee) => attendee.ticketCode)).toEqual(
      booking.attendees.map((attendee) => attendee.ticketCode),
    );
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
  });

  it('reveals the online URL once the booking is confirmed, and hides it again after a cancellation', async () => {
    const { tenant, token, event, paid, free } = await setup();
    const pending = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    const confirm = await call(tenant, 'POST', `/api/v1/bookings/${pending.id}/confirm`, { token });
    expect(confirm.status).toBe(200);
    const confirmed: PublicBookingResponse = await (await view(tenant, pending.id, `?token=${pending.token}`)).json();
    expect(confirmed.status).toBe('confirmed');
    expect(confirmed.event.onlineUrl).toBe(SECRET_URL);
    expect(confirmed.payment?.status).toBe('succeeded');

    const freeBooking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const freeView: PublicBookingResponse = await (
      await view(tenant, freeBooking.id, `?token=${encodeURIComponent(freeBooking.token)}`)
    ).json();
    expect(freeView.event.onlineUrl).toBe(SECRET_URL);

    expect((await call(tenant, 'POST', `/api/v1/bookings/${freeBooking.id}/cancel`, { token })).status).toBe(200);
    const cancelled = await view(tenant, freeBooking.id, `?token=${freeBooking.token}`);
    const cancelledText = await cancelled.text();
    expect(cancelled.status).toBe(200);
    expect(cancelledText).not.toContain(SECRET_URL);
    const cancelledView = JSON.parse(cancelledText) as PublicBookingResponse;
    expect(cancelledView).toMatchObject({ status: 'cancelled', event: { onlineUrl: null } });
    expect(cancelledView.attendees.map((attendee) => attendee.status)).toEqual(['cancelled']);
  });

  it('answers the same 404 for a wrong token, an unknown id and a booking of another organization', async () => {
    const { tenant, event, free } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const other = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const wrong = await view(tenant, booking.id, `?token=${other.token}`);
    const unknown = await view(tenant, crypto.randomUUID(), `?token=${booking.token}`);
    const truncated = await view(tenant, booking.id, `?token=${booking.token.slice(0, -1)}`);
    const otherTenant = await createTenant();
    const elsewhere = await view(otherTenant, booking.id, `?token=${booking.token}`);
    const problems = await Promise.all([wrong, unknown, truncated, elsewhere].map((response) => problem(response)));
    for (const body of problems) {
      expect(body).toMatchObject({ status: 404, code: 'not_found', detail: 'No booking with this id.' });
    }
    expect(wrong.headers.get('cache-control')).toBe('no-store');
  });

  it.each([
    ['no token', ''],
    ['an empty token', '?token='],
    ['an unknown parameter', '?token=bk_x&expand=payment'],
  ])('answers 400 for %s', async (_name, query) => {
    const { tenant, event, free } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const response = await view(tenant, booking.id, query);
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
  });

  it('answers 400 for a malformed id', async () => {
    const { tenant } = await setup();
    expect((await view(tenant, 'not-a-uuid', '?token=bk_x')).status).toBe(400);
  });
});
