import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  attendees,
  bookings,
  capacityPools,
  capacityPoolTicketTypes,
  events,
  payments,
  ticketTypes,
  type Event,
  type TicketType,
} from '../../src/db/schema/index.ts';
import type { BookingResponse } from '../../src/routes/bookings/schema.ts';
import { book, bookingRow, counters, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { eventAudits } from '../support/events.ts';
import { createTenant, database, problem, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

/** A tenant with an event whose paid and free ticket types share a capacity pool of 50, and an organizer. */
async function setup() {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const { member, token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const paid = await createTicketType(event, { price: 1500 });
  const free = await createTicketType(event, { name: 'Free', price: 0 });
  const pool = await createPool(event, [paid, free]);
  return { tenant, member, token, event, paid, free, pool };
}

async function createPool(event: Event, types: TicketType[]): Promise<string> {
  const db = database();
  const [pool] = await db
    .insert(capacityPools)
    .values({ organizationId: event.organizationId, eventId: event.id, name: 'Hall', capacity: 50 })
    .returning({ id: capacityPools.id });
  if (!pool) throw new Error('pool insert returned nothing');
  await db.insert(capacityPoolTicketTypes).values(
    types.map((type) => ({
      organizationId: event.organizationId,
      eventId: event.id,
      poolId: pool.id,
      ticketTypeId: type.id,
    })),
  );
  return pool.id;
}

function post(tenant: TestTenant, token: string | undefined, bookingId: string, action: 'cancel' | 'confirm') {
  return call(tenant, 'POST', `/api/v1/bookings/${bookingId}/${action}`, token === undefined ? {} : { token });
}

async function ticketsOf(bookingId: string) {
  return database()
    .select({ status: attendees.status, cancelledAt: attendees.cancelledAt })
    .from(attendees)
    .where(eq(attendees.bookingId, bookingId));
}

async function paymentOf(bookingId: string) {
  const [row] = await database().select().from(payments).where(eq(payments.bookingId, bookingId));
  return row;
}

/** Audit rows of one action on one booking. */
async function auditsOf(tenant: TestTenant, action: string, targetId: string) {
  return (await eventAudits(tenant, action)).filter((row) => row.targetId === targetId);
}

describe('POST /api/v1/bookings/{id}/cancel', () => {
  it('cancels a pending booking: tickets cancelled, held seats released everywhere, payment cancelled', async () => {
    const { tenant, member, token, event, paid, free, pool } = await setup();
    const kept = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 3 }] });
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 1, held: 3 },
      ticketTypes: { [paid.id]: { sold: 0, held: 3 } },
      pools: { [pool]: { sold: 1, held: 3 } },
    });

    const response = await post(tenant, token, booking.id, 'cancel');
    expect(response.status).toBe(200);
    const body: BookingResponse = await response.json();
    expect(body).toMatchObject({ id: booking.id, status: 'cancelled', payment: { status: 'cancelled' } });
    expect(body.cancelledAt).not.toBeNull();
    expect(body.attendees.map((attendee) => attendee.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(body.attendees.every((attendee) => attendee.cancelledAt !== null)).toBe(true);

    expect(await counters(event.id)).toEqual({
      event: { sold: 1, held: 0 },
      ticketTypes: { [paid.id]: { sold: 0, held: 0 }, [free.id]: { sold: 1, held: 0 } },
      pools: { [pool]: { sold: 1, held: 0 } },
    });
    const row = await bookingRow(tenant, booking.id);
    expect(row?.status).toBe('cancelled');
    expect(row?.cancelledAt?.toISOString()).toBe(body.cancelledAt);
    expect((await ticketsOf(booking.id)).map((ticket) => ticket.status)).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    expect((await paymentOf(booking.id))?.status).toBe('cancelled');
    expect((await ticketsOf(kept.id)).map((ticket) => ticket.status)).toEqual(['valid']);
    const [audit] = await auditsOf(tenant, 'booking.cancelled', booking.id);
    expect(audit).toMatchObject({ actorUserId: member.userId, targetType: 'booking' });
    expect(audit?.metadata).toMatchObject({ from: 'pending', to: 'cancelled' });
  });

  it('cancels a confirmed booking: sold seats released, the succeeded payment untouched (no money moves)', async () => {
    const { tenant, token, event, free, pool } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 2 }] });
    expect(await counters(event.id)).toMatchObject({ event: { sold: 2, held: 0 }, pools: { [pool]: { sold: 2 } } });

    const response = await post(tenant, token, booking.id, 'cancel');
    expect(response.status).toBe(200);
    const body: BookingResponse = await response.json();
    expect(body.status).toBe('cancelled');
    expect(body.payment?.status).toBe('succeeded');
    expect(body.refundedAmount).toBe(0);
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [free.id]: { sold: 0, held: 0 } },
      pools: { [pool]: { sold: 0, held: 0 } },
    });
    expect((await paymentOf(booking.id))?.status).toBe('succeeded');
    const [audit] = await auditsOf(tenant, 'booking.cancelled', booking.id);
    expect(audit?.metadata).toMatchObject({ from: 'confirmed', to: 'cancelled' });
  });

  it('releases only the seats of tickets still valid (a partial refund already released the others)', async () => {
    const { tenant, token, event, free, pool } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 3 }] });
    const refundedTicket = booking.attendees[0];
    if (!refundedTicket) throw new Error('ticket expected');
    // What a partial refund of one ticket leaves behind: the ticket cancelled and its seat back on sale.
    const db = database();
    await db
      .update(attendees)
      .set({ status: 'cancelled', cancelledAt: new Date() })
      .where(eq(attendees.id, refundedTicket.id));
    await db.update(events).set({ sold: 2 }).where(eq(events.id, event.id));
    await db.update(ticketTypes).set({ sold: 2 }).where(eq(ticketTypes.id, free.id));
    await db.update(capacityPools).set({ sold: 2 }).where(eq(capacityPools.id, pool));

    const response = await post(tenant, token, booking.id, 'cancel');
    expect(response.status).toBe(200);
    const body: BookingResponse = await response.json();
    const refundedView = body.attendees.find((attendee) => attendee.id === refundedTicket.id);
    expect(refundedView?.cancelledAt).not.toBeNull();
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [free.id]: { sold: 0, held: 0 } },
      pools: { [pool]: { sold: 0, held: 0 } },
    });
  });

  it('answers 409 to a second cancel and to expired or refunded bookings; seats move once', async () => {
    const { tenant, token, event, paid } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 2 }] });
    expect((await post(tenant, token, booking.id, 'cancel')).status).toBe(200);
    const again = await post(tenant, token, booking.id, 'cancel');
    expect(again.status).toBe(409);
    expect((await problem(again)).detail).toContain('cancelled booking cannot be cancelled');
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 0 });
    expect(await auditsOf(tenant, 'booking.cancelled', booking.id)).toHaveLength(1);

    for (const status of ['expired', 'refunded'] as const) {
      const other = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
      await database().update(bookings).set({ status }).where(eq(bookings.id, other.id));
      const refused = await post(tenant, token, other.id, 'cancel');
      expect(refused.status).toBe(409);
      expect((await problem(refused)).detail).toContain(status);
    }
  });

  it('lets exactly one of two concurrent cancels win; the seats are released once', async () => {
    const { tenant, token, event, paid, pool } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 4 }] });
    const responses = await Promise.all([1, 2].map(() => post(tenant, token, booking.id, 'cancel')));
    expect(responses.map((response) => response.status).sort()).toEqual([200, 409]);
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [paid.id]: { sold: 0, held: 0 } },
      pools: { [pool]: { sold: 0, held: 0 } },
    });
    expect(await auditsOf(tenant, 'booking.cancelled', booking.id)).toHaveLength(1);
  });

  it('keeps the counters consistent when a confirm and a cancel race', async () => {
    const { tenant, token, event, paid } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 2 }] });
    const [confirm, cancel] = await Promise.all([
      post(tenant, token, booking.id, 'confirm'),
      post(tenant, token, booking.id, 'cancel'),
    ]);
    expect(cancel.status === 200 || confirm.status === 200).toBe(true);
    const row = await bookingRow(tenant, booking.id);
    const seats = await counters(event.id);
    if (row?.status === 'cancelled') {
      expect(cancel.status).toBe(200);
      expect(seats.event).toEqual({ sold: 0, held: 0 });
      expect(seats.ticketTypes[paid.id]).toEqual({ sold: 0, held: 0 });
    } else {
      expect(row?.status).toBe('confirmed');
      expect([confirm.status, cancel.status]).toEqual([200, 409]);
      expect(seats.event).toEqual({ sold: 2, held: 0 });
      expect(seats.ticketTypes[paid.id]).toEqual({ sold: 2, held: 0 });
    }
  });

  it("answers 404 for another organization's booking, 403 without bookings:write, 401 without a token", async () => {
    const { tenant, token, event, paid } = await setup();
    const other = await setup();
    const foreign = await book(other.tenant, other.event.slug, {
      items: [{ ticketTypeId: other.paid.id, quantity: 1 }],
    });
    const cross = await post(tenant, token, foreign.id, 'cancel');
    expect(cross.status).toBe(404);
    expect((await problem(cross)).detail).toBe('No booking with this id.');
    expect((await bookingRow(other.tenant, foreign.id))?.status).toBe('pending');
    expect((await counters(other.event.id)).event).toEqual({ sold: 0, held: 1 });

    const mine = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    expect((await post(tenant, staffToken, mine.id, 'cancel')).status).toBe(403);
    expect((await post(tenant, undefined, mine.id, 'cancel')).status).toBe(401);
    expect((await post(tenant, token, crypto.randomUUID(), 'cancel')).status).toBe(404);
    expect((await post(tenant, token, 'nope', 'cancel')).status).toBe(400);
    expect((await bookingRow(tenant, mine.id))?.status).toBe('pending');
  });
});

describe('POST /api/v1/bookings/{id}/confirm', () => {
  it('confirms a manual booking: held seats become sold, the payment succeeds, both are audited', async () => {
    const { tenant, member, token, event, paid, pool } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 2 }] });
    expect(booking.expiresAt).not.toBeNull();

    const response = await post(tenant, token, booking.id, 'confirm');
    expect(response.status).toBe(200);
    const body: BookingResponse = await response.json();
    expect(body).toMatchObject({
      status: 'confirmed',
      expiresAt: null,
      payment: { provider: 'manual', status: 'succeeded', amount: 3000 },
    });
    expect(body.confirmedAt).not.toBeNull();
    expect(body.attendees.map((attendee) => attendee.status)).toEqual(['valid', 'valid']);
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 2, held: 0 },
      ticketTypes: { [paid.id]: { sold: 2, held: 0 } },
      pools: { [pool]: { sold: 2, held: 0 } },
    });
    const row = await bookingRow(tenant, booking.id);
    expect(row).toMatchObject({ status: 'confirmed', expiresAt: null });
    expect(row?.confirmedAt?.toISOString()).toBe(body.confirmedAt);
    const payment = await paymentOf(booking.id);
    expect(payment?.status).toBe('succeeded');
    const [confirmed] = await auditsOf(tenant, 'booking.confirmed', booking.id);
    expect(confirmed).toMatchObject({ actorUserId: member.userId });
    const [paidAudit] = await auditsOf(tenant, 'payment.succeeded', payment?.id ?? '');
    expect(paidAudit).toMatchObject({ actorUserId: member.userId, targetType: 'payment' });
    expect(paidAudit?.metadata).toMatchObject({ bookingId: booking.id, amount: 3000, currency: 'EUR' });

    // Confirmed now: a second confirm is refused and nothing moves again.
    const again = await post(tenant, token, booking.id, 'confirm');
    expect(again.status).toBe(409);
    expect((await counters(event.id)).event).toEqual({ sold: 2, held: 0 });
    expect(await auditsOf(tenant, 'booking.confirmed', booking.id)).toHaveLength(1);
  });

  it('answers 409 for a free booking, a Stripe booking and a cancelled manual booking', async () => {
    const { tenant, token, event, paid, free } = await setup();
    const freeBooking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const freeAnswer = await post(tenant, token, freeBooking.id, 'confirm');
    expect(freeAnswer.status).toBe(409);
    expect((await problem(freeAnswer)).detail).toContain('Free bookings');

    const stripeBooking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    await database().update(bookings).set({ provider: 'stripe' }).where(eq(bookings.id, stripeBooking.id));
    const stripeAnswer = await post(tenant, token, stripeBooking.id, 'confirm');
    expect(stripeAnswer.status).toBe(409);
    expect((await problem(stripeAnswer)).detail).toContain('Stripe');
    expect((await bookingRow(tenant, stripeBooking.id))?.status).toBe('pending');

    const cancelled = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    expect((await post(tenant, token, cancelled.id, 'cancel')).status).toBe(200);
    const late = await post(tenant, token, cancelled.id, 'confirm');
    expect(late.status).toBe(409);
    expect((await problem(late)).detail).toContain('cancelled');
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 1, held: 1 },
      ticketTypes: { [paid.id]: { sold: 0, held: 1 }, [free.id]: { sold: 1, held: 0 } },
    });
    expect(await eventAudits(tenant, 'booking.confirmed')).toEqual([]);
  });

  it('lets exactly one of two concurrent confirms win; the seats move once', async () => {
    const { tenant, token, event, paid } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 3 }] });
    const responses = await Promise.all([1, 2].map(() => post(tenant, token, booking.id, 'confirm')));
    expect(responses.map((response) => response.status).sort()).toEqual([200, 409]);
    expect((await counters(event.id)).event).toEqual({ sold: 3, held: 0 });
    expect(await auditsOf(tenant, 'booking.confirmed', booking.id)).toHaveLength(1);
  });

  it("answers 404 for another organization's booking and 403 to door staff; nothing changes", async () => {
    const { tenant, token, event, paid } = await setup();
    const other = await setup();
    const foreign = await book(other.tenant, other.event.slug, {
      items: [{ ticketTypeId: other.paid.id, quantity: 1 }],
    });
    expect((await post(tenant, token, foreign.id, 'confirm')).status).toBe(404);
    expect((await bookingRow(other.tenant, foreign.id))?.status).toBe('pending');
    const mine = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    expect((await post(tenant, staffToken, mine.id, 'confirm')).status).toBe(403);
    expect((await post(tenant, undefined, mine.id, 'confirm')).status).toBe(401);
    expect((await bookingRow(tenant, mine.id))?.status).toBe('pending');
    const [ticket] = await database()
      .select({ status: attendees.status })
      .from(attendees)
      .where(eq(attendees.bookingId, mine.id));
    expect(ticket?.status).toBe('valid');
  });
});
