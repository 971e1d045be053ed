import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  attendees,
  auditLogs,
  bookings,
  capacityPools,
  capacityPoolTicketTypes,
  payments,
  refunds,
  type Event,
} from '../../src/db/schema/index.ts';
import type { BookingResponse } from '../../src/routes/bookings/schema.ts';
import { bookingSeats, moveSeats } from '../../src/services/bookings/inventory.ts';
import { MAX_REFUNDS_PER_BOOKING } from '../../src/services/bookings/refund.ts';
import { book, bookingRow, counters, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { createTenant, database, problem, type TestTenant } from '../support/harness.ts';
import { configureStripe, stripeRequests } from '../support/stripe.ts';
import { call, memberWithToken } from '../support/users.ts';

type Booked = Awaited<ReturnType<typeof book>>;

/**
 * Confirms a pending booking in the database as a confirmation would: status, payment (with the PaymentIntent that
 * paid, for Stripe), seats held -> sold.
 */
async function confirm(tenant: TestTenant, booking: Booked, paymentIntentId: string | null = null): Promise<void> {
  const db = database();
  const organizationId = tenant.organization.id;
  await db.batch([
    db
      .update(bookings)
      .set({ status: 'confirmed', confirmedAt: new Date(), expiresAt: null })
      .where(and(eq(bookings.id, booking.id), eq(bookings.status, 'pending'))),
    db.update(payments).set({ status: 'succeeded', paymentIntentId }).where(eq(payments.bookingId, booking.id)),
    ...moveSeats(db, organizationId, booking.eventId, bookingSeats(organizationId, booking.id), 'held', 'sold'),
  ]);
}

interface Fixture {
  tenant: TestTenant;
  token: string;
  userId: string;
  event: Event;
  standard: string;
  vip: string;
  pool: string;
}

/** A tenant with an organizer, an event with two paid ticket types (1500 and 4000 EUR) sharing a pool of 50. */
async function fixture(): Promise<Fixture> {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const { member, token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const standard = await createTicketType(event, { price: 1500, quantity: 20 });
  const vip = await createTicketType(event, { name: 'VIP', price: 4000, quantity: 5 });
  const db = database();
  const [pool] = await db
    .insert(capacityPools)
    .values({ organizationId: tenant.organization.id, eventId: event.id, name: 'Floor', capacity: 50 })
    .returning({ id: capacityPools.id });
  if (!pool) throw new Error('pool insert returned nothing');
  await db.insert(capacityPoolTicketTypes).values(
    [standard.id, vip.id].map((ticketTypeId) => ({
      organizationId: tenant.organization.id,
      eventId: event.id,
      poolId: pool.id,
      ticketTypeId,
    })),
  );
  return { tenant, token, userId: member.userId, event, standard: standard.id, vip: vip.id, pool: pool.id };
}

/** A confirmed manual booking of 2 standard + 1 VIP tickets: total 7000 EUR. */
async function confirmedBooking(f: Fixture): Promise<Booked> {
  const booking = await book(f.tenant, f.event.slug, {
    items: [
      { ticketTypeId: f.standard, quantity: 2 },
      { ticketTypeId: f.vip, quantity: 1 },
    ],
  });
  await confirm(f.tenant, booking);
  return booking;
}

function refund(f: Fixture, bookingId: string, body: unknown, token = f.token): Promise<Response> {
  return call(f.tenant, 'POST', `/api/v1/bookings/${bookingId}/refund`, { token, body });
}

async function refundRows(bookingId: string) {
  return database().select().from(refunds).where(eq(refunds.bookingId, bookingId));
}

async function attendeeRows(bookingId: string) {
  return database()
    .select({ id: attendees.id, status: attendees.status, cancelledAt: attendees.cancelledAt })
    .from(attendees)
    .where(eq(attendees.bookingId, bookingId))
    .orderBy(attendees.position);
}

async function refundAudits(tenant: TestTenant) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'booking.refunded')));
}

async function paymentRow(bookingId: string) {
  const [row] = await database().select().from(payments).where(eq(payments.bookingId, bookingId));
  return row;
}

/** `n` failed refunds of 1 (minor unit) straight into the database, in one statement: they move no money. */
async function seedFailedRefunds(f: Fixture, bookingId: string, n: number): Promise<void> {
  const payment = await paymentRow(bookingId);
  if (!payment) throw new Error('no payment');
  await database()
    .insert(refunds)
    .values(
      Array.from({ length: n }, () => ({
        organizationId: f.tenant.organization.id,
        bookingId,
        paymentId: payment.id,
        amount: 1,
        currency: 'EUR',
        status: 'failed' as const,
      })),
    );
}

describe('POST /api/v1/bookings/{id}/refund', () => {
  it('refunds a confirmed booking in full: refunded, every ticket cancelled, every seat released, audited', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    expect(await counters(f.event.id)).toMatchObject({
      event: { sold: 3, held: 0 },
      ticketTypes: { [f.standard]: { sold: 2, held: 0 }, [f.vip]: { sold: 1, held: 0 } },
      pools: { [f.pool]: { sold: 3, held: 0 } },
    });

    const response = await refund(f, booking.id, { reason: 'Event moved; guest cannot come.' });
    expect(response.status).toBe(201);
    const body: BookingResponse = await response.json();
    expect(body).toMatchObject({
      id: booking.id,
      status: 'refunded',
      total: 7000,
      refundedAmount: 7000,
      payment: { status: 'succeeded', amount: 7000, refundedAmount: 7000, provider: 'manual' },
    });
    expect(body.attendees.map((attendee) => attendee.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(body.attendees.every((attendee) => attendee.cancelledAt !== null)).toBe(true);
    expect(body.refunds).toHaveLength(1);
    expect(body.refunds[0]).toMatchObject({
      amount: 7000,
      currency: 'EUR',
      status: 'succeeded',
      reason: 'Event moved; guest cannot come.',
    });
    expect([...(body.refunds[0]?.attendeeIds ?? [])].sort()).toEqual(booking.attendees.map((a) => a.id).sort());

    expect(await counters(f.event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [f.standard]: { sold: 0, held: 0 }, [f.vip]: { sold: 0, held: 0 } },
      pools: { [f.pool]: { sold: 0, held: 0 } },
    });
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'refunded', refundedAmount: 7000 });
    expect((await attendeeRows(booking.id)).map((row) => row.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(await paymentRow(booking.id)).toMatchObject({ status: 'succeeded', refundedAmount: 7000 });
    const [row] = await refundRows(booking.id);
    expect(row).toMatchObject({ amount: 7000, status: 'succeeded', createdBy: f.userId, providerRefundId: null });

    const audits = await refundAudits(f.tenant);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      actorUserId: f.userId,
      targetType: 'booking',
      targetId: booking.id,
      metadata: { amount: 7000, currency: 'EUR', full: true, refundId: row?.id },
    });
    expect([...((audits[0]?.metadata.attendeeIds as string[] | undefined) ?? [])].sort()).toEqual(
      booking.attendees.map((a) => a.id).sort(),
    );

    // Refunded in full: a second refund is refused and changes nothing.
    const again = await refund(f, booking.id, {});
    expect(again.status).toBe(409);
    expect((await problem(again)).detail).toContain('refunded');
    expect(await refundRows(booking.id)).toHaveLength(1);
  });

  it('refunds part of the amount without releasing a seat; the booking stays confirmed until the rest', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);

    const partial = await refund(f, booking.id, { amount: 2500 });
    expect(partial.status).toBe(201);
    const body: BookingResponse = await partial.json();
    expect(body).toMatchObject({ status: 'confirmed', refundedAmount: 2500, payment: { refundedAmount: 2500 } });
    expect(body.attendees.every((attendee) => attendee.status === 'valid')).toBe(true);
    expect(body.refunds).toMatchObject([{ amount: 2500, attendeeIds: [], status: 'succeeded', reason: null }]);
    expect(await counters(f.event.id)).toMatchObject({
      event: { sold: 3, held: 0 },
      ticketTypes: { [f.standard]: { sold: 2 }, [f.vip]: { sold: 1 } },
      pools: { [f.pool]: { sold: 3 } },
    });
    expect((await refundAudits(f.tenant))[0]?.metadata).toMatchObject({ amount: 2500, full: false, attendeeIds: [] });

    // The default amount is what is left: 4500, which completes the refund.
    const rest = await refund(f, booking.id, {});
    expect(rest.status).toBe(201);
    const after: BookingResponse = await rest.json();
    expect(after).toMatchObject({ status: 'refunded', refundedAmount: 7000, payment: { refundedAmount: 7000 } });
    expect(after.refunds.map((r) => r.amount)).toEqual([2500, 4500]);
    expect(after.attendees.every((attendee) => attendee.status === 'cancelled')).toBe(true);
    expect(await counters(f.event.id)).toMatchObject({
      event: { sold: 0 },
      ticketTypes: { [f.standard]: { sold: 0 }, [f.vip]: { sold: 0 } },
      pools: { [f.pool]: { sold: 0 } },
    });
    expect(await refundAudits(f.tenant)).toHaveLength(2);
  });

  it('cancels only the listed tickets and releases only their seats', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const vipTicket = booking.attendees.find((attendee) => attendee.ticketTypeId === f.vip);
    if (!vipTicket) throw new Error('no VIP ticket');

    const response = await refund(f, booking.id, { amount: 4000, attendeeIds: [vipTicket.id.toUpperCase()] });
    expect(response.status).toBe(201);
    const body: BookingResponse = await response.json();
    expect(body).toMatchObject({ status: 'confirmed', refundedAmount: 4000 });
    expect(body.refunds).toMatchObject([{ amount: 4000, attendeeIds: [vipTicket.id] }]);
    const statuses = Object.fromEntries(body.attendees.map((attendee) => [attendee.id, attendee.status]));
    expect(statuses).toEqual(
      Object.fromEntries(
        booking.attendees.map((attendee) => [attendee.id, attendee.id === vipTicket.id ? 'cancelled' : 'valid']),
      ),
    );
    expect(await counters(f.event.id)).toMatchObject({
      event: { sold: 2, held: 0 },
      ticketTypes: { [f.standard]: { sold: 2, held: 0 }, [f.vip]: { sold: 0, held: 0 } },
      pools: { [f.pool]: { sold: 2, held: 0 } },
    });
    expect((await refundAudits(f.tenant))[0]?.metadata).toMatchObject({
      amount: 4000,
      full: false,
      attendeeIds: [vipTicket.id],
    });

    // The same ticket again: already cancelled, 400 at its index, nothing changes.
    const standardTicket = booking.attendees.find((attendee) => attendee.ticketTypeId === f.standard);
    const twice = await refund(f, booking.id, { amount: 100, attendeeIds: [standardTicket?.id, vipTicket.id] });
    expect(twice.status).toBe(400);
    expect((await problem(twice)).errors).toEqual([
      { pointer: '/body/attendeeIds/1', message: 'this ticket is already cancelled' },
    ]);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 4000 });
    expect((await counters(f.event.id)).event).toMatchObject({ sold: 2 });

    // Refunding the rest in full cancels the remaining tickets and releases their seats, not the VIP seat again.
    const rest = await refund(f, booking.id, {});
    expect(rest.status).toBe(201);
    const after: BookingResponse = await rest.json();
    expect(after.status).toBe('refunded');
    expect([...(after.refunds[1]?.attendeeIds ?? [])].sort()).toEqual(
      booking.attendees
        .filter((attendee) => attendee.id !== vipTicket.id)
        .map((attendee) => attendee.id)
        .sort(),
    );
    expect(await counters(f.event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [f.standard]: { sold: 0 }, [f.vip]: { sold: 0 } },
      pools: { [f.pool]: { sold: 0 } },
    });
  });

  it("defaults the amount to the listed tickets' prices", async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const standardTicket = booking.attendees.find((attendee) => attendee.ticketTypeId === f.standard);
    if (!standardTicket) throw new Error('no standard ticket');
    const response = await refund(f, booking.id, { attendeeIds: [standardTicket.id] });
    expect(response.status).toBe(201);
    const body: BookingResponse = await response.json();
    expect(body).toMatchObject({ status: 'confirmed', refundedAmount: 1500 });
    expect(body.refunds).toMatchObject([{ amount: 1500, attendeeIds: [standardTicket.id] }]);
    expect((await counters(f.event.id)).ticketTypes[f.standard]).toEqual({ sold: 1, held: 0 });
  });

  it('refunds a paid booking that staff cancelled (cancelling moves no money)', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const cancelled = await call(f.tenant, 'POST', `/api/v1/bookings/${booking.id}/cancel`, { token: f.token });
    expect(cancelled.status).toBe(200);
    expect((await counters(f.event.id)).event).toMatchObject({ sold: 0, held: 0 });
    const response = await refund(f, booking.id, {});
    expect(response.status).toBe(201);
    const body: BookingResponse = await response.json();
    expect(body).toMatchObject({ status: 'refunded', refundedAmount: 7000 });
    expect(body.refunds).toMatchObject([{ amount: 7000, attendeeIds: [] }]);
    // The seats were released once, by the cancellation.
    expect((await counters(f.event.id)).event).toMatchObject({ sold: 0, held: 0 });
    expect((await paymentRow(booking.id))?.refundedAmount).toBe(7000);
  });

  it('refuses more than what is left to refund with 409 and the refundable amount', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const first = await refund(f, booking.id, { amount: 5000 });
    expect(first.status).toBe(201);
    const over = await refund(f, booking.id, { amount: 2001 });
    expect(over.status).toBe(409);
    const body = await problem(over);
    expect(body).toMatchObject({ code: 'conflict', refundable: 2000 });
    expect(body.detail).toContain('at most 2000');
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 5000 });
    expect(await paymentRow(booking.id)).toMatchObject({ refundedAmount: 5000 });
    expect(await refundRows(booking.id)).toHaveLength(1);
    expect(await refundAudits(f.tenant)).toHaveLength(1);
  });

  it('refuses a pending booking and a free one with 409', async () => {
    const f = await fixture();
    const pending = await book(f.tenant, f.event.slug, { items: [{ ticketTypeId: f.standard, quantity: 1 }] });
    const response = await refund(f, pending.id, {});
    expect(response.status).toBe(409);
    expect((await problem(response)).detail).toContain('pending');
    expect(await bookingRow(f.tenant, pending.id)).toMatchObject({ status: 'pending', refundedAmount: 0 });
    expect((await counters(f.event.id)).ticketTypes[f.standard]).toEqual({ sold: 0, held: 1 });

    const freeType = await createTicketType(f.event, { name: 'Free', price: 0, quantity: 10 });
    const free = await book(f.tenant, f.event.slug, { items: [{ ticketTypeId: freeType.id, quantity: 1 }] });
    expect(free.status).toBe('confirmed');
    const refused = await refund(f, free.id, {});
    expect(refused.status).toBe(409);
    expect((await problem(refused)).detail).toContain('Cancel it instead');
    expect(await bookingRow(f.tenant, free.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
    expect(await refundRows(free.id)).toEqual([]);
    expect(await refundAudits(f.tenant)).toEqual([]);
  });

  it('refuses a ticket of another booking and a ticket listed twice with 400 at their index', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const other = await confirmedBooking(f);
    const [mine] = booking.attendees;
    const [theirs] = other.attendees;
    if (!mine || !theirs) throw new Error('no tickets');

    const foreign = await refund(f, booking.id, { amount: 1500, attendeeIds: [mine.id, theirs.id] });
    expect(foreign.status).toBe(400);
    expect((await problem(foreign)).errors).toEqual([
      { pointer: '/body/attendeeIds/1', message: 'not a ticket of this booking' },
    ]);
    const duplicate = await refund(f, booking.id, { amount: 1500, attendeeIds: [mine.id, mine.id] });
    expect(duplicate.status).toBe(400);
    expect((await problem(duplicate)).errors).toEqual([{ pointer: '/body/attendeeIds/1', message: 'listed twice' }]);

    expect((await attendeeRows(booking.id)).every((row) => row.status === 'valid')).toBe(true);
    expect((await attendeeRows(other.id)).every((row) => row.status === 'valid')).toBe(true);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ refundedAmount: 0 });
    expect((await counters(f.event.id)).event).toMatchObject({ sold: 6 });
  });

  it('validates the body strictly', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const cases: [unknown, string][] = [
      [{ amount: 0 }, '/body/amount'],
      [{ amount: 10.5 }, '/body/amount'],
      [{ amount: '100' }, '/body/amount'],
      [{ attendeeIds: [] }, '/body/attendeeIds'],
      [{ attendeeIds: ['not-a-uuid'] }, '/body/attendeeIds/0'],
      [{ reason: 'line\nbreak' }, '/body/reason'],
      [{ reason: 'x'.repeat(501) }, '/body/reason'],
    ];
    for (const [body, pointer] of cases) {
      const response = await refund(f, booking.id, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await problem(response)).errors?.map((error) => error.pointer)).toContain(pointer);
    }
    const unknown = await refund(f, booking.id, { amount: 100, currency: 'USD' });
    expect(unknown.status).toBe(400);
    const badId = await refund(f, 'not-a-uuid', {});
    expect(badId.status).toBe(400);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
  });

  it('answers 404 for a booking of another organization and for an unknown id', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const other = await createTenant();
    const { token } = await memberWithToken(other, 'owner');
    const response = await call(other, 'POST', `/api/v1/bookings/${booking.id}/refund`, { token, body: {} });
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe('not_found');
    const unknown = await refund(f, crypto.randomUUID(), {});
    expect(unknown.status).toBe(404);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
    expect((await counters(f.event.id)).event).toMatchObject({ sold: 3 });
  });

  it('needs bookings:write: staff get 403, anonymous callers 401', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const { token } = await memberWithToken(f.tenant, 'staff');
    const forbidden = await refund(f, booking.id, {}, token);
    expect(forbidden.status).toBe(403);
    expect((await problem(forbidden)).detail).toContain('bookings:write');
    const anonymous = await call(f.tenant, 'POST', `/api/v1/bookings/${booking.id}/refund`, { body: {} });
    expect(anonymous.status).toBe(401);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
    expect(await refundAudits(f.tenant)).toEqual([]);
  });

  it('lets exactly one of two concurrent refunds of the remaining amount succeed', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const first = await refund(f, booking.id, { amount: 1000 });
    expect(first.status).toBe(201);

    const responses = await Promise.all([
      refund(f, booking.id, { amount: 6000 }),
      refund(f, booking.id, { amount: 6000 }),
    ]);
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
    const loser = responses.find((response) => response.status === 409);
    expect((await problem(loser as Response)).code).toBe('conflict');

    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'refunded', refundedAmount: 7000 });
    expect(await paymentRow(booking.id)).toMatchObject({ refundedAmount: 7000 });
    expect((await refundRows(booking.id)).map((row) => row.amount).sort()).toEqual([1000, 6000]);
    expect(await refundAudits(f.tenant)).toHaveLength(2);
    // The seats were released exactly once.
    expect(await counters(f.event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [f.standard]: { sold: 0 }, [f.vip]: { sold: 0 } },
      pools: { [f.pool]: { sold: 0 } },
    });
    const [check] = await database()
      .select({ cancelled: sql<number>`count(*)::int` })
      .from(attendees)
      .where(and(eq(attendees.bookingId, booking.id), eq(attendees.status, 'cancelled')));
    expect(check?.cancelled).toBe(3);
  });

  it('never refunds more than the total when two partial refunds race', async () => {
    const f = await fixture();
    const booking = await confirmedBooking(f);
    const [ticket] = booking.attendees;
    if (!ticket) throw new Error('no ticket');
    const responses = await Promise.all([
      refund(f, booking.id, { amount: 4000, attendeeIds: [ticket.id] }),
      refund(f, booking.id, { amount: 4000 }),
    ]);
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
    const loser = responses.find((response) => response.status === 409);
    expect((await problem(loser as Response)).code).toBe('conflict');
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 4000 });
    expect(await paymentRow(booking.id)).toMatchObject({ refundedAmount: 4000 });
    const rows = await refundRows(booking.id);
    expect(rows).toHaveLength(1);
    expect(await refundAudits(f.tenant)).toHaveLength(1);
    // The ticket was cancelled (and its seat released) only if the refund that listed it won.
    const cancelled = rows[0]?.attendeeIds.includes(ticket.id) === true;
    expect((await attendeeRows(booking.id)).filter((row) => row.status === 'cancelled')).toHaveLength(
      cancelled ? 1 : 0,
    );
    expect((await counters(f.event.id)).event).toMatchObject({ sold: cancelled ? 2 : 3 });
  });

  describe(`at most ${MAX_REFUNDS_PER_BOOKING} refunds per booking`, () => {
    it('refuses one more with 409 naming the limit and changes nothing; the booking lists them all', async () => {
      const f = await fixture();
      const booking = await confirmedBooking(f);
      await seedFailedRefunds(f, booking.id, MAX_REFUNDS_PER_BOOKING);
      const [ticket] = booking.attendees;

      const response = await refund(f, booking.id, { attendeeIds: [ticket?.id] });
      expect(response.status).toBe(409);
      const body = await problem(response);
      expect(body).toMatchObject({ code: 'conflict', limit: MAX_REFUNDS_PER_BOOKING });
      expect(body.detail).toContain(`at most ${MAX_REFUNDS_PER_BOOKING} refunds`);
      expect(await refundRows(booking.id)).toHaveLength(MAX_REFUNDS_PER_BOOKING);
      expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
      expect(await paymentRow(booking.id)).toMatchObject({ refundedAmount: 0 });
      expect((await attendeeRows(booking.id)).every((row) => row.status === 'valid')).toBe(true);
      expect((await counters(f.event.id)).event).toMatchObject({ sold: 3 });
      expect(await refundAudits(f.tenant)).toEqual([]);

      // The booking lists every refund (it declares maxItems: the limit).
      const read = await call(f.tenant, 'GET', `/api/v1/bookings/${booking.id}`, { token: f.token });
      expect(read.status).toBe(200);
      const listed: BookingResponse = await read.json();
      expect(listed.refunds).toHaveLength(MAX_REFUNDS_PER_BOOKING);
    });

    it('lets exactly one of two concurrent refunds take the last place, and refuses the next', async () => {
      const f = await fixture();
      const booking = await confirmedBooking(f);
      await seedFailedRefunds(f, booking.id, MAX_REFUNDS_PER_BOOKING - 1);
      const responses = await Promise.all([
        refund(f, booking.id, { amount: 1000 }),
        refund(f, booking.id, { amount: 2000 }),
      ]);
      expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
      expect(await refundRows(booking.id)).toHaveLength(MAX_REFUNDS_PER_BOOKING);
      expect(await refundAudits(f.tenant)).toHaveLength(1);

      const next = await refund(f, booking.id, { amount: 100 });
      expect(next.status).toBe(409);
      expect(await problem(next)).toMatchObject({ limit: MAX_REFUNDS_PER_BOOKING });
      expect(await refundRows(booking.id)).toHaveLength(MAX_REFUNDS_PER_BOOKING);
    });
  });

  describe('of a Stripe booking', () => {
    /** A confirmed Stripe booking of 2 standard tickets (3000 EUR), paid by `paymentIntentId`. */
    async function stripeBooking(f: Fixture, paymentIntentId: string): Promise<Booked> {
      await configureStripe(f.tenant);
      const booking = await book(f.tenant, f.event.slug, {
        items: [{ ticketTypeId: f.standard, quantity: 2 }],
        paymentMethod: 'stripe',
      });
      expect(booking.payment.provider).toBe('stripe');
      await confirm(f.tenant, booking, paymentIntentId);
      return booking;
    }

    it('returns the money through Stripe first, with an idempotency key, and records the Stripe refund', async () => {
      const f = await fixture();
      const paymentIntentId = `pi_${crypto.randomUUID().replaceAll('-', '')}`;
      const booking = await stripeBooking(f, paymentIntentId);
      const [ticket] = booking.attendees;
      if (!ticket) throw new Error('no ticket');

      const response = await refund(f, booking.id, { amount: 1500, attendeeIds: [ticket.id], reason: 'Sick' });
      expect(response.status).toBe(201);
      const body: BookingResponse = await response.json();
      expect(body).toMatchObject({ status: 'confirmed', refundedAmount: 1500, provider: 'stripe' });
      expect(body.refunds).toMatchObject([{ amount: 1500, status: 'succeeded', attendeeIds: [ticket.id] }]);

      const sent = (await stripeRequests('/v1/refunds')).filter(
        (entry) => entry.form.payment_intent === paymentIntentId,
      );
      expect(sent).toHaveLength(1);
      const [row] = await refundRows(booking.id);
      expect(sent[0]).toMatchObject({
        method: 'POST',
        status: 200,
        idempotencyKey: `refund-${row?.id}`,
        form: {
          payment_intent: paymentIntentId,
          amount: '1500',
          'metadata[booking_id]': booking.id,
          'metadata[organization_id]': f.tenant.organization.id,
          'metadata[refund_id]': row?.id,
        },
      });
      expect(row).toMatchObject({ amount: 1500, status: 'succeeded', providerRefundId: sent[0]?.response.id });
      expect(row?.providerRefundId).toMatch(/^re_/);
      expect((await counters(f.event.id)).ticketTypes[f.standard]).toEqual({ sold: 1, held: 0 });

      // The rest: a second Stripe refund with its own key; the booking is refunded in full.
      const rest = await refund(f, booking.id, {});
      expect(rest.status).toBe(201);
      expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'refunded', refundedAmount: 3000 });
      const keys = (await stripeRequests('/v1/refunds'))
        .filter((entry) => entry.form.payment_intent === paymentIntentId)
        .map((entry) => entry.idempotencyKey);
      const rowIds = (await refundRows(booking.id)).map((refundRow) => `refund-${refundRow.id}`);
      expect(keys).toHaveLength(2);
      expect(new Set(keys)).toEqual(new Set(rowIds));
      expect((await counters(f.event.id)).ticketTypes[f.standard]).toEqual({ sold: 0, held: 0 });
    });

    it('answers 502 and releases the reserved amount when Stripe refuses, keeping the refund as failed', async () => {
      const f = await fixture();
      const paymentIntentId = `pi_refused_${crypto.randomUUID().replaceAll('-', '')}`;
      const booking = await stripeBooking(f, paymentIntentId);

      const response = await refund(f, booking.id, {});
      expect(response.status).toBe(502);
      expect(await problem(response)).toMatchObject({ code: 'payment_provider_error', status: 502 });
      const sent = (await stripeRequests('/v1/refunds')).filter(
        (entry) => entry.form.payment_intent === paymentIntentId,
      );
      expect(sent.map((entry) => entry.status)).toEqual([400]);

      expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
      expect(await paymentRow(booking.id)).toMatchObject({ refundedAmount: 0 });
      expect(await refundRows(booking.id)).toMatchObject([{ amount: 3000, status: 'failed', providerRefundId: null }]);
      expect(await refundAudits(f.tenant)).toEqual([]);
      expect((await attendeeRows(booking.id)).every((row) => row.status === 'valid')).toBe(true);
      expect((await counters(f.event.id)).ticketTypes[f.standard]).toEqual({ sold: 2, held: 0 });
    });

    it('keeps the amount reserved as a pending refund when Stripe does not answer, so nothing is paid out twice', async () => {
      const f = await fixture();
      const paymentIntentId = `pi_unanswered_${crypto.randomUUID().replaceAll('-', '')}`;
      const booking = await stripeBooking(f, paymentIntentId);

      const response = await refund(f, booking.id, { amount: 1000 });
      expect(response.status).toBe(502);
      const [row] = await refundRows(booking.id);
      expect(row).toMatchObject({ amount: 1000, status: 'pending', providerRefundId: null });
      expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 1000 });
      expect(await paymentRow(booking.id)).toMatchObject({ refundedAmount: 1000 });
      const sent = (await stripeRequests('/v1/refunds')).filter(
        (entry) => entry.form.payment_intent === paymentIntentId,
      );
      expect(sent.map((entry) => entry.idempotencyKey)).toEqual([`refund-${row?.id}`]);
      // What is left is refundable; the reserved amount is not refundable a second time.
      const tooMuch = await refund(f, booking.id, { amount: 2500 });
      expect(tooMuch.status).toBe(409);
      expect(await problem(tooMuch)).toMatchObject({ refundable: 2000 });
    });

    it(`refuses a refund beyond ${MAX_REFUNDS_PER_BOOKING} before reserving anything or calling Stripe`, async () => {
      const f = await fixture();
      const paymentIntentId = `pi_${crypto.randomUUID().replaceAll('-', '')}`;
      const booking = await stripeBooking(f, paymentIntentId);
      await seedFailedRefunds(f, booking.id, MAX_REFUNDS_PER_BOOKING);

      const response = await refund(f, booking.id, { amount: 1000 });
      expect(response.status).toBe(409);
      expect(await problem(response)).toMatchObject({ code: 'conflict', limit: MAX_REFUNDS_PER_BOOKING });
      expect(
        (await stripeRequests('/v1/refunds')).filter((entry) => entry.form.payment_intent === paymentIntentId),
      ).toEqual([]);
      const rows = await refundRows(booking.id);
      expect(rows).toHaveLength(MAX_REFUNDS_PER_BOOKING);
      expect(rows.every((row) => row.status === 'failed')).toBe(true);
      expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
      expect(await paymentRow(booking.id)).toMatchObject({ refundedAmount: 0 });
    });

    it('pays out through Stripe exactly what it records when refunds of different amounts race', async () => {
      const f = await fixture();
      const paymentIntentId = `pi_${crypto.randomUUID().replaceAll('-', '')}`;
      const booking = await stripeBooking(f, paymentIntentId);

      const amounts = [500, 700, 900, 1100];
      const responses = await Promise.all(amounts.map((amount) => refund(f, booking.id, { amount })));
      const statuses = responses.map((response) => response.status);
      expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
      expect(statuses).toContain(201);

      const sent = (await stripeRequests('/v1/refunds')).filter(
        (entry) => entry.form.payment_intent === paymentIntentId && entry.status === 200,
      );
      const paidOut = sent.reduce((sum, entry) => sum + Number(entry.form.amount), 0);
      const rows = await refundRows(booking.id);
      const recorded = rows.reduce((sum, row) => sum + row.amount, 0);
      expect(rows.every((row) => row.status === 'succeeded')).toBe(true);
      expect(sent).toHaveLength(statuses.filter((status) => status === 201).length);
      expect(paidOut).toBe(recorded);
      expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ refundedAmount: recorded });
      expect(await paymentRow(booking.id)).toMatchObject({ refundedAmount: recorded });
      // Every Stripe refund is the row it was reserved as.
      expect(new Set(sent.map((entry) => entry.idempotencyKey))).toEqual(
        new Set(rows.map((row) => `refund-${row.id}`)),
      );
    });
  });
});
