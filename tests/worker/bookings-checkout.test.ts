import { describe, expect, it } from 'vitest';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { book, bookingRow, checkout, counters } from '../support/bookings.ts';
import { createTenant, newRequestId, problem, roundTrips } from '../support/harness.ts';

describe('POST /api/v1/public/events/{slug}/bookings', () => {
  it('confirms a free order at once, with one ticket code per attendee', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { name: 'Free', price: 0, quantity: 10 });
    const booking = await book(tenant, event.slug, {
      items: [
        {
          ticketTypeId: free.id,
          quantity: 2,
          attendees: [
            { name: 'Grace Hopper', email: 'Grace@Example.com' },
            { name: 'Alan Turing', email: 'alan@example.com' },
          ],
        },
      ],
    });
    expect(booking).toMatchObject({
      status: 'confirmed',
      total: 0,
      currency: 'EUR',
      expiresAt: null,
      eventId: event.id,
      payment: { provider: 'free', status: 'succeeded', amount: 0, instructions: null, checkout: null },
      items: [{ ticketTypeId: free.id, quantity: 2, unitPrice: 0 }],
    });
    expect(booking.attendees.map((attendee) => attendee.email)).toEqual(['grace@example.com', 'alan@example.com']);
    expect(new Set(booking.attendees.map((attendee) => attendee.ticketCode)).size).toBe(2);
    expect(booking.token).toMatch(/^bk_[A-Za-z0-9_-]{43}$/);
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 2, held: 0 },
      ticketTypes: { [free.id]: { sold: 2, held: 0 } },
    });
    const row = await bookingRow(tenant, booking.id);
    expect(row?.tokenHash).not.toContain(booking.token);
  });

  it('holds the seats of a paid order and computes the total on the server', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const standard = await createTicketType(event, { price: 1500, quantity: 10 });
    const vip = await createTicketType(event, { name: 'VIP', price: 4000, quantity: 5 });
    // A client-supplied total is refused, never used (this also resolves the tenant once for the isolate cache).
    const response = await checkout(tenant, event.slug, {
      items: [
        { ticketTypeId: standard.id, quantity: 2 },
        { ticketTypeId: vip.id, quantity: 1 },
      ],
      total: 1,
    });
    expect(response.status).toBe(400);
    const requestId = newRequestId();
    const ok = await checkout(
      tenant,
      event.slug,
      {
        items: [
          { ticketTypeId: standard.id, quantity: 2 },
          { ticketTypeId: vip.id, quantity: 1 },
        ],
      },
      { headers: { 'x-request-id': requestId } },
    );
    expect(ok.status).toBe(201);
    const booking = await ok.json<Awaited<ReturnType<typeof book>>>();
    expect(booking).toMatchObject({
      status: 'pending',
      total: 7000,
      payment: { provider: 'manual', status: 'pending' },
    });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 3 },
      ticketTypes: { [standard.id]: { sold: 0, held: 2 }, [vip.id]: { sold: 0, held: 1 } },
    });
    const sold = await checkout(tenant, event.slug, { items: [{ ticketTypeId: vip.id, quantity: 5 }] });
    expect(sold.status).toBe(409);
    expect(await problem(sold)).toMatchObject({ code: 'sold_out', ticketTypeId: vip.id });
  });
});
