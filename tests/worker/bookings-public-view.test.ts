import { describe, expect, it } from 'vitest';
import type { PublicBookingResponse } from '../../src/routes/bookings/staff-schema.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import {
  createTenant,
  newRequestId,
  problem,
  roundTrips,
  type ProblemBody,
  type TestTenant,
} from '../support/harness.ts';
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

/** The buyer's view with the booking token in the Booking-Token header (undefined: no header). */
function view(tenant: TestTenant, id: string, bookingToken: string | undefined, headers: Record<string, string> = {}) {
  return getPublic(tenant, `/api/v1/public/bookings/${id}`, {
    headers: bookingToken === undefined ? headers : { ...headers, 'booking-token': bookingToken },
  });
}

/** A well-formed token that is not the given one: its last character changed. */
function otherToken(token: string): string {
  return `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
}

describe('GET /api/v1/public/bookings/{id}', () => {
  it("shows the buyer their pending booking without internal ids and without the event's online URL", async () => {
    const { tenant, event, paid } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 2 }] });
    const requestId = newRequestId();
    const response = await view(tenant, booking.id, booking.token, { 'x-request-id': requestId });
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
    const confirmed: PublicBookingResponse = await (await view(tenant, pending.id, pending.token)).json();
    expect(confirmed.status).toBe('confirmed');
    expect(confirmed.event.onlineUrl).toBe(SECRET_URL);
    expect(confirmed.payment?.status).toBe('succeeded');

    const freeBooking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const freeView: PublicBookingResponse = await (await view(tenant, freeBooking.id, freeBooking.token)).json();
    expect(freeView.event.onlineUrl).toBe(SECRET_URL);

    expect((await call(tenant, 'POST', `/api/v1/bookings/${freeBooking.id}/cancel`, { token })).status).toBe(200);
    const cancelled = await view(tenant, freeBooking.id, freeBooking.token);
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
    const wrong = await view(tenant, booking.id, other.token);
    const unknown = await view(tenant, crypto.randomUUID(), booking.token);
    const altered = await view(tenant, booking.id, otherToken(booking.token));
    const otherTenant = await createTenant();
    const elsewhere = await view(otherTenant, booking.id, booking.token);
    const problems = await Promise.all([wrong, unknown, altered, elsewhere].map((response) => problem(response)));
    for (const body of problems) {
      expect(body).toMatchObject({ status: 404, code: 'not_found', detail: 'No booking with this id.' });
    }
    expect(wrong.headers.get('cache-control')).toBe('no-store');
  });

  it.each([
    ['no token', undefined, '/header/booking-token'],
    ['an empty token', '', '/header/booking-token'],
    ['a truncated token', 'truncated', '/header/booking-token'],
    ['a token without its prefix', 'unprefixed', '/header/booking-token'],
  ])('answers 400 for %s, at the header', async (_name, kind, pointer) => {
    const { tenant, event, free } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const token =
      kind === 'truncated' ? booking.token.slice(0, -1) : kind === 'unprefixed' ? booking.token.slice(3) : kind;
    const response = await view(tenant, booking.id, token);
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.code).toBe('validation_failed');
    expect([...new Set(body.errors?.map((error) => error.pointer))]).toEqual([pointer]);
  });

  it('refuses the token in the query string (the old way), even with the right token in the header', async () => {
    const { tenant, event, free } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const path = `/api/v1/public/bookings/${booking.id}?token=${booking.token}`;
    const attempts: Record<string, string>[] = [{}, { 'booking-token': booking.token }];
    for (const headers of attempts) {
      const response = await getPublic(tenant, path, { headers });
      expect(response.status).toBe(400);
      const text = await response.text();
      expect(text).not.toContain(booking.attendees[0]?.ticketCode ?? 'no ticket');
      const body = JSON.parse(text) as ProblemBody;
      expect(body.code).toBe('validation_failed');
      expect(body.errors).toContainEqual({
        pointer: '/query',
        message: 'No query parameter is accepted: send the booking token in the Booking-Token header.',
      });
    }
  });

  it('answers 400 for a malformed id', async () => {
    const { tenant } = await setup();
    expect((await view(tenant, 'not-a-uuid', `bk_${'x'.repeat(43)}`)).status).toBe(400);
  });
});
