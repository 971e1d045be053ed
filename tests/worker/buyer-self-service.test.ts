import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { attendees, auditLogs, bookings, outbox, payments, refunds, type Event } from '../../src/db/schema/index.ts';
import type { PublicBookingResponse } from '../../src/routes/bookings/staff-schema.ts';
import type { CreatedBookingResponse } from '../../src/routes/bookings/schema.ts';
import type { EventResponse } from '../../src/routes/events/schema.ts';
import { bookingSeats, moveSeats } from '../../src/services/bookings/inventory.ts';
import { randomIp } from '../support/auth.ts';
import { book, bookingRow, counters, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import {
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { configureStripe, stripeRequests } from '../support/stripe.ts';
import { call, memberWithToken, waitForMail } from '../support/users.ts';

const HOUR = 3_600_000;

interface Setup {
  tenant: TestTenant;
  event: Event;
  paid: string;
  free: string;
}

/** A tenant (manual payment on) and an event starting in `startsInHours` (default a week) with the given rules. */
async function setup(rules: Partial<Event> = {}, startsInHours = 7 * 24): Promise<Setup> {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const event = await createEvent(tenant, { startsAt: new Date(Date.now() + startsInHours * HOUR), ...rules });
  const paid = await createTicketType(event, { price: 1500 });
  const free = await createTicketType(event, { name: 'Free', price: 0 });
  return { tenant, event, paid: paid.id, free: free.id };
}

function buyerEmail(): string {
  return `buyer-${crypto.randomUUID().slice(0, 12)}@example.test`;
}

function bookFor(s: Setup, ticketTypeId: string, quantity = 2, extra: Record<string, unknown> = {}) {
  return book(s.tenant, s.event.slug, {
    buyer: { name: 'Ada Lovelace', email: buyerEmail() },
    items: [{ ticketTypeId, quantity }],
    ...extra,
  });
}

function cancel(tenant: TestTenant, id: string, token: string | undefined, headers: Record<string, string> = {}) {
  return request(tenant.url(`/api/v1/public/bookings/${id}/cancel`), {
    method: 'POST',
    headers: {
      'cf-connecting-ip': randomIp(),
      ...(token === undefined ? {} : { 'booking-token': token }),
      ...headers,
    },
  });
}

function rename(
  tenant: TestTenant,
  id: string,
  attendeeId: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return request(tenant.url(`/api/v1/public/bookings/${id}/attendees/${attendeeId}`), {
    method: 'PATCH',
    headers: { 'cf-connecting-ip': randomIp(), 'content-type': 'application/json', 'booking-token': token, ...headers },
    body: JSON.stringify(body),
  });
}

async function view(tenant: TestTenant, booking: CreatedBookingResponse): Promise<PublicBookingResponse> {
  const response = await getPublic(tenant, `/api/v1/public/bookings/${booking.id}`, {
    headers: { 'booking-token': booking.token },
  });
  expect(response.status).toBe(200);
  return response.json();
}

async function outboxTypes(tenant: TestTenant, type: string) {
  return database()
    .select({ id: outbox.id, payload: outbox.payload })
    .from(outbox)
    .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, type)));
}

async function audits(tenant: TestTenant, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, action)));
}

async function ticketRows(bookingId: string) {
  return database().select().from(attendees).where(eq(attendees.bookingId, bookingId));
}

/** Confirms a pending booking as Stripe's webhook would: paid by `paymentIntentId`, seats held -> sold. */
async function confirmPaid(tenant: TestTenant, booking: CreatedBookingResponse, paymentIntentId: string) {
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

async function stripeBooking(s: Setup, paymentIntentId: string): Promise<CreatedBookingResponse> {
  await configureStripe(s.tenant);
  const booking = await bookFor(s, s.paid, 2, { paymentMethod: 'stripe' });
  await confirmPaid(s.tenant, booking, paymentIntentId);
  return booking;
}

function otherToken(token: string): string {
  return `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
}

describe('event rules for buyer self-service', () => {
  it('default to nothing offered, are set and bounded through the staff API, and shown to staff', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const body = {
      title: 'Rules',
      timezone: 'Europe/Berlin',
      startsAt: '2030-07-04T18:00:00Z',
      endsAt: '2030-07-04T22:00:00Z',
    };
    const created = await call(tenant, 'POST', '/api/v1/events', { token, body });
    expect(created.status).toBe(201);
    const event: EventResponse = await created.json();
    expect(event).toMatchObject({
      buyerCancellation: 'none',
      buyerCancellationCutoffMinutes: 0,
      attendeeEditCutoffMinutes: null,
    });
    const rules = {
      buyerCancellation: 'full_refund',
      buyerCancellationCutoffMinutes: 2880,
      attendeeEditCutoffMinutes: 60,
    };
    const updated = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: rules });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject(rules);

    const bad = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, {
      token,
      body: { buyerCancellation: 'sometimes', buyerCancellationCutoffMinutes: 525_601, attendeeEditCutoffMinutes: -1 },
    });
    expect(bad.status).toBe(400);
    const pointers = (await problem(bad)).errors?.map((error) => error.pointer).sort();
    expect(pointers).toEqual([
      '/body/attendeeEditCutoffMinutes',
      '/body/buyerCancellation',
      '/body/buyerCancellationCutoffMinutes',
    ]);
  });
});

describe('POST /api/v1/public/bookings/{id}/cancel', () => {
  it('cancels a free booking in one round trip: seats back on sale, tickets cancelled, audit, webhook, email', async () => {
    const s = await setup({ buyerCancellation: 'no_refund', buyerCancellationCutoffMinutes: 60 });
    const booking = await bookFor(s, s.free, 2);
    expect(booking.status).toBe('confirmed');
    const before = await view(s.tenant, booking);
    expect(before.cancellation).toEqual({
      allowed: true,
      refund: 'none',
      closesAt: new Date(s.event.startsAt.getTime() - HOUR).toISOString(),
    });
    expect((await counters(s.event.id)).ticketTypes[s.free]).toEqual({ sold: 2, held: 0 });

    const requestId = newRequestId();
    const response = await cancel(s.tenant, booking.id, booking.token, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body: PublicBookingResponse = await response.json();
    expect(body).toMatchObject({ id: booking.id, status: 'cancelled', cancellation: { allowed: false } });
    expect(body.attendees.every((ticket) => ticket.status === 'cancelled')).toBe(true);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });

    const seats = await counters(s.event.id);
    expect(seats.ticketTypes[s.free]).toEqual({ sold: 0, held: 0 });
    expect(seats.event).toEqual({ sold: 0, held: 0 });
    const availability = await getPublic(s.tenant, `/api/v1/public/events/${s.event.slug}`);
    expect(availability.status).toBe(200);
    expect(JSON.stringify(await availability.json())).toContain('"remaining":100');

    const [audit] = await audits(s.tenant, 'booking.cancelled');
    expect(audit).toMatchObject({ actorType: 'anonymous', targetId: booking.id, metadata: { by: 'buyer' } });
    const events = await outboxTypes(s.tenant, 'booking.cancelled');
    expect(events).toHaveLength(1);
    const [mail] = (await waitForMail(booking.buyer.email, 2)).filter((m) => m.subject.includes('was cancelled'));
    expect(mail?.subject).toBe('Your booking for Spring Gala was cancelled');
  });

  it('cancels a pending manual booking (held seats released, unpaid payment cancelled)', async () => {
    const s = await setup({ buyerCancellation: 'full_refund' });
    const booking = await bookFor(s, s.paid, 3);
    expect(booking.status).toBe('pending');
    expect((await view(s.tenant, booking)).cancellation).toMatchObject({ allowed: true, refund: 'none' });
    const response = await cancel(s.tenant, booking.id, booking.token);
    expect(response.status).toBe(200);
    const body: PublicBookingResponse = await response.json();
    expect(body).toMatchObject({ status: 'cancelled', payment: { provider: 'manual', status: 'cancelled' } });
    expect((await counters(s.event.id)).ticketTypes[s.paid]).toEqual({ sold: 0, held: 0 });
  });

  it('cancels a confirmed manual booking under full_refund as an offline refund: the payment stays succeeded', async () => {
    const s = await setup({ buyerCancellation: 'full_refund' });
    const booking = await bookFor(s, s.paid, 2);
    await confirmPaid(s.tenant, booking, 'pi_unused');
    expect((await view(s.tenant, booking)).cancellation).toMatchObject({ allowed: true, refund: 'offline' });
    const response = await cancel(s.tenant, booking.id, booking.token);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'cancelled',
      payment: { status: 'succeeded', refundedAmount: 0 },
      refunds: [],
    });
    expect((await counters(s.event.id)).ticketTypes[s.paid]).toEqual({ sold: 0, held: 0 });
  });

  it('refunds a Stripe booking in full under full_refund and makes it refunded', async () => {
    const s = await setup({ buyerCancellation: 'full_refund' });
    const paymentIntentId = `pi_${crypto.randomUUID().replaceAll('-', '')}`;
    const booking = await stripeBooking(s, paymentIntentId);
    expect((await view(s.tenant, booking)).cancellation).toMatchObject({ allowed: true, refund: 'stripe' });

    const requestId = newRequestId();
    const response = await cancel(s.tenant, booking.id, booking.token, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    const body: PublicBookingResponse = await response.json();
    expect(body).toMatchObject({
      status: 'refunded',
      refundedAmount: 3000,
      refunds: [{ amount: 3000, status: 'succeeded' }],
      cancellation: { allowed: false, refund: 'none' },
    });
    expect(body.attendees.every((ticket) => ticket.status === 'cancelled')).toBe(true);
    // The guarded attempt, the refund's read, reservation and final batch, and the buyer's view.
    expect(await roundTrips(requestId)).toEqual({ database: 5, redis: 1 });

    const sent = (await stripeRequests('/v1/refunds')).filter((entry) => entry.form.payment_intent === paymentIntentId);
    expect(sent).toHaveLength(1);
    const [row] = await database().select().from(refunds).where(eq(refunds.bookingId, booking.id));
    expect(sent[0]).toMatchObject({ idempotencyKey: `refund-${row?.id}`, form: { amount: '3000' } });
    expect((await counters(s.event.id)).ticketTypes[s.paid]).toEqual({ sold: 0, held: 0 });
    const [audit] = await audits(s.tenant, 'booking.refunded');
    expect(audit).toMatchObject({ actorType: 'anonymous', metadata: { amount: 3000, full: true } });
    expect(await outboxTypes(s.tenant, 'booking.refunded')).toHaveLength(1);
    const mails = await waitForMail(booking.buyer.email, 1);
    expect(mails.some((m) => m.subject === 'Refund for your booking for Spring Gala')).toBe(true);
  });

  it('lets exactly one of two concurrent cancellations of a confirmed manual booking release the seats', async () => {
    const s = await setup({ buyerCancellation: 'no_refund' });
    const booking = await bookFor(s, s.paid, 2);
    await confirmPaid(s.tenant, booking, 'pi_unused');
    const responses = await Promise.all([
      cancel(s.tenant, booking.id, booking.token),
      cancel(s.tenant, booking.id, booking.token),
    ]);
    expect(responses.map((response) => response.status).sort()).toEqual([200, 409]);
    expect((await counters(s.event.id)).ticketTypes[s.paid]).toEqual({ sold: 0, held: 0 });
    expect(await audits(s.tenant, 'booking.cancelled')).toHaveLength(1);
    expect(await outboxTypes(s.tenant, 'booking.cancelled')).toHaveLength(1);
  });

  it('refunds exactly once when two cancellations of a Stripe booking race', async () => {
    const s = await setup({ buyerCancellation: 'full_refund' });
    const paymentIntentId = `pi_slow_${crypto.randomUUID().replaceAll('-', '')}`;
    const booking = await stripeBooking(s, paymentIntentId);
    const responses = await Promise.all([
      cancel(s.tenant, booking.id, booking.token),
      cancel(s.tenant, booking.id, booking.token),
    ]);
    expect(responses.map((response) => response.status).sort()).toEqual([200, 409]);
    const sent = (await stripeRequests('/v1/refunds')).filter((entry) => entry.form.payment_intent === paymentIntentId);
    expect(sent).toHaveLength(1);
    expect(await bookingRow(s.tenant, booking.id)).toMatchObject({ status: 'refunded', refundedAmount: 3000 });
    expect((await counters(s.event.id)).ticketTypes[s.paid]).toEqual({ sold: 0, held: 0 });
  });

  it('changes nothing when Stripe refuses (502, retryable), and keeps an unanswered refund reserved (409 on retry)', async () => {
    const s = await setup({ buyerCancellation: 'full_refund' });
    const refused = await stripeBooking(s, `pi_refused_${crypto.randomUUID().replaceAll('-', '')}`);
    const first = await cancel(s.tenant, refused.id, refused.token);
    expect(first.status).toBe(502);
    expect(await bookingRow(s.tenant, refused.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
    expect((await ticketRows(refused.id)).every((ticket) => ticket.status === 'valid')).toBe(true);
    expect((await view(s.tenant, refused)).cancellation).toMatchObject({ allowed: true, refund: 'stripe' });

    const unanswered = await stripeBooking(s, `pi_unanswered_${crypto.randomUUID().replaceAll('-', '')}`);
    const second = await cancel(s.tenant, unanswered.id, unanswered.token);
    expect(second.status).toBe(502);
    expect(await bookingRow(s.tenant, unanswered.id)).toMatchObject({ status: 'confirmed', refundedAmount: 3000 });
    const [pending] = await database().select().from(refunds).where(eq(refunds.bookingId, unanswered.id));
    expect(pending).toMatchObject({ status: 'pending', amount: 3000, providerRefundId: null });
    const retry = await cancel(s.tenant, unanswered.id, unanswered.token);
    expect(retry.status).toBe(409);
    expect((await problem(retry)).detail).toContain('in progress');
  });

  it('refuses, writing nothing: policy none (403), past the cutoff (409), already cancelled (409)', async () => {
    const none = await setup();
    const booking = await bookFor(none, none.free, 1);
    expect((await view(none.tenant, booking)).cancellation).toEqual({ allowed: false, refund: 'none', closesAt: null });
    const refused = await cancel(none.tenant, booking.id, booking.token);
    expect(refused.status).toBe(403);
    expect(await problem(refused)).toMatchObject({ code: 'self_service_not_offered' });

    const late = await setup({ buyerCancellation: 'no_refund', buyerCancellationCutoffMinutes: 120 }, 1);
    const lateBooking = await bookFor(late, late.free, 1);
    expect((await view(late.tenant, lateBooking)).cancellation).toMatchObject({ allowed: false });
    const closed = await cancel(late.tenant, lateBooking.id, lateBooking.token);
    expect(closed.status).toBe(409);
    expect(await problem(closed)).toMatchObject({ code: 'self_service_closed' });

    for (const [s, b] of [
      [none, booking],
      [late, lateBooking],
    ] as const) {
      expect(await bookingRow(s.tenant, b.id)).toMatchObject({ status: 'confirmed' });
      expect(await audits(s.tenant, 'booking.cancelled')).toEqual([]);
      expect((await counters(s.event.id)).ticketTypes[s.free]).toEqual({ sold: 1, held: 0 });
    }

    const open = await setup({ buyerCancellation: 'no_refund' });
    const once = await bookFor(open, open.free, 1);
    expect((await cancel(open.tenant, once.id, once.token)).status).toBe(200);
    const again = await cancel(open.tenant, once.id, once.token);
    expect(again.status).toBe(409);
    expect(await problem(again)).toMatchObject({ code: 'conflict', status: 409 });
    expect(await audits(open.tenant, 'booking.cancelled')).toHaveLength(1);
  });

  it('refuses a booking with a checked-in ticket, and exactly one of a cancel and a concurrent check-in wins', async () => {
    const s = await setup({ buyerCancellation: 'no_refund' });
    const { token: staffToken } = await memberWithToken(s.tenant, 'staff');
    const checkedIn = await bookFor(s, s.free, 2);
    const first = checkedIn.attendees[0];
    if (!first) throw new Error('no ticket');
    expect(
      (await call(s.tenant, 'POST', '/api/v1/check-ins', { token: staffToken, body: { ticketCode: first.ticketCode } }))
        .status,
    ).toBe(200);
    expect((await view(s.tenant, checkedIn)).cancellation).toMatchObject({ allowed: false });
    const refused = await cancel(s.tenant, checkedIn.id, checkedIn.token);
    expect(refused.status).toBe(409);
    expect((await problem(refused)).detail).toContain('checked in');

    for (let round = 0; round < 3; round += 1) {
      const raced = await bookFor(s, s.free, 1);
      const [ticket] = raced.attendees;
      if (!ticket) throw new Error('no ticket');
      const [cancelled, scanned] = await Promise.all([
        cancel(s.tenant, raced.id, raced.token),
        call(s.tenant, 'POST', '/api/v1/check-ins', { token: staffToken, body: { ticketCode: ticket.ticketCode } }),
      ]);
      expect([cancelled.status, scanned.status].sort()).toEqual([200, 409]);
      const [row] = await ticketRows(raced.id);
      if (cancelled.status === 200) expect(row).toMatchObject({ status: 'cancelled', checkedInAt: null });
      else expect(row).toMatchObject({ status: 'valid' });
      expect(row?.checkedInAt === null).toBe(cancelled.status === 200);
    }
  });

  it('answers 404 for a wrong token, another tenant or an unknown id, and 400 without a token', async () => {
    const s = await setup({ buyerCancellation: 'no_refund' });
    const other = await setup({ buyerCancellation: 'no_refund' });
    const booking = await bookFor(s, s.free, 1);
    expect((await cancel(s.tenant, booking.id, otherToken(booking.token))).status).toBe(404);
    expect((await cancel(other.tenant, booking.id, booking.token)).status).toBe(404);
    expect((await cancel(s.tenant, crypto.randomUUID(), booking.token)).status).toBe(404);
    const missing = await cancel(s.tenant, booking.id, undefined);
    expect(missing.status).toBe(400);
    expect((await problem(missing)).errors?.[0]?.pointer).toBe('/header/booking-token');
    const badId = await cancel(s.tenant, 'not-a-uuid', booking.token);
    expect(badId.status).toBe(400);
    expect((await problem(badId)).errors?.[0]?.pointer).toBe('/param/id');
    expect(await bookingRow(s.tenant, booking.id)).toMatchObject({ status: 'confirmed' });
  });
});

describe('PATCH /api/v1/public/bookings/{id}/attendees/{attendeeId}', () => {
  it('renames a ticket before the cutoff in one round trip, audited, with an attendee.updated event', async () => {
    const s = await setup({ attendeeEditCutoffMinutes: 60 });
    const booking = await bookFor(s, s.free, 2);
    const before = await view(s.tenant, booking);
    expect(before.attendeeEditsCloseAt).toBe(new Date(s.event.startsAt.getTime() - HOUR).toISOString());
    const [ticket] = booking.attendees;
    if (!ticket) throw new Error('no ticket');
    const requestId = newRequestId();
    const response = await rename(
      s.tenant,
      booking.id,
      ticket.id,
      booking.token,
      { name: 'Grace Hopper' },
      {
        'x-request-id': requestId,
      },
    );
    expect(response.status).toBe(200);
    const body: PublicBookingResponse = await response.json();
    expect(body.attendees.find((a) => a.id === ticket.id)).toMatchObject({ name: 'Grace Hopper', status: 'valid' });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const [audit] = await audits(s.tenant, 'attendee.updated');
    expect(audit).toMatchObject({ actorType: 'anonymous', targetId: ticket.id, metadata: { fields: ['name'] } });
    expect(JSON.stringify(audit?.metadata)).not.toContain('Grace');
    expect(await outboxTypes(s.tenant, 'attendee.updated')).toHaveLength(1);
  });

  it("edits a ticket's answers as checkout checks them (400 with the pointer, nothing written), 1 + 1 round trips", async () => {
    const s = await setup({ attendeeEditCutoffMinutes: 60 });
    const { token } = await memberWithToken(s.tenant, 'organizer');
    for (const body of [
      { key: 'tshirt', label: 'T-shirt', type: 'choice', options: ['S', 'M', 'L'], required: true },
      { key: 'diet', label: 'Diet', type: 'text' },
    ]) {
      const created = await call(s.tenant, 'POST', `/api/v1/events/${s.event.id}/questions`, { token, body });
      expect(created.status).toBe(201);
    }
    const booking = await bookFor(s, s.free, 1, {
      items: [
        {
          ticketTypeId: s.free,
          quantity: 1,
          attendees: [{ name: 'Ada', email: buyerEmail(), answers: { tshirt: 'S' } }],
        },
      ],
    });
    const [ticket] = booking.attendees;
    if (!ticket) throw new Error('no ticket');
    const stored = async () => (await ticketRows(booking.id))[0];

    for (const [body, pointer] of [
      [{ answers: { tshirt: 'XL' } }, '/body/answers/tshirt'],
      [{ answers: { diet: 'vegan' } }, '/body/answers/tshirt'],
      [{ answers: { tshirt: 'M', shoe: 42 } }, '/body/answers/shoe'],
      [{ name: 'Grace', answers: { tshirt: ['M'] } }, '/body/answers/tshirt'],
      [{}, '/body'],
    ] as const) {
      const refused = await rename(s.tenant, booking.id, ticket.id, booking.token, body);
      expect(refused.status).toBe(400);
      expect((await problem(refused)).errors?.map((error) => error.pointer)).toContain(pointer);
    }
    expect(await stored()).toMatchObject({ name: 'Ada', answers: { tshirt: 'S' } });

    const requestId = newRequestId();
    const response = await rename(
      s.tenant,
      booking.id,
      ticket.id,
      booking.token,
      { name: 'Grace Hopper', answers: { tshirt: 'L', diet: 'vegan' } },
      { 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect(await stored()).toMatchObject({ name: 'Grace Hopper', answers: { tshirt: 'L', diet: 'vegan' } });
    const answersOnly = await rename(s.tenant, booking.id, ticket.id, booking.token, { answers: { tshirt: 'M' } });
    expect(answersOnly.status).toBe(200);
    expect(await stored()).toMatchObject({ name: 'Grace Hopper', answers: { tshirt: 'M' } });
    const updates = await audits(s.tenant, 'attendee.updated');
    expect(updates.map((audit) => (audit.metadata as { fields: string[] }).fields)).toEqual(
      expect.arrayContaining([['name', 'answers'], ['answers']]),
    );
    expect(JSON.stringify(updates.map((audit) => audit.metadata))).not.toContain('vegan');
    expect(await outboxTypes(s.tenant, 'attendee.updated')).toHaveLength(2);
  });

  it('refuses: not offered (403), past the cutoff (409), checked in or cancelled (409), bad input (400), 404s', async () => {
    const none = await setup();
    const b1 = await bookFor(none, none.free, 1);
    const t1 = b1.attendees[0]?.id ?? '';
    const notOffered = await rename(none.tenant, b1.id, t1, b1.token, { name: 'X' });
    expect(notOffered.status).toBe(403);
    expect(await problem(notOffered)).toMatchObject({ code: 'self_service_not_offered' });

    const late = await setup({ attendeeEditCutoffMinutes: 120 }, 1);
    const b2 = await bookFor(late, late.free, 1);
    const closed = await rename(late.tenant, b2.id, b2.attendees[0]?.id ?? '', b2.token, { name: 'X' });
    expect(closed.status).toBe(409);
    expect(await problem(closed)).toMatchObject({ code: 'self_service_closed' });

    const s = await setup({ attendeeEditCutoffMinutes: 0, buyerCancellation: 'no_refund' });
    const { token: staffToken } = await memberWithToken(s.tenant, 'staff');
    const b3 = await bookFor(s, s.free, 1);
    const [t3] = b3.attendees;
    if (!t3) throw new Error('no ticket');
    await call(s.tenant, 'POST', '/api/v1/check-ins', { token: staffToken, body: { ticketCode: t3.ticketCode } });
    const checked = await rename(s.tenant, b3.id, t3.id, b3.token, { name: 'X' });
    expect(checked.status).toBe(409);
    expect((await problem(checked)).detail).toContain('checked in');

    const b4 = await bookFor(s, s.free, 1);
    const t4 = b4.attendees[0]?.id ?? '';
    const bad = await rename(s.tenant, b4.id, t4, b4.token, { name: '', email: 'x@example.com' });
    expect(bad.status).toBe(400);
    const pointers = (await problem(bad)).errors?.map((error) => error.pointer);
    expect(pointers).toEqual(expect.arrayContaining(['/body/name']));
    expect((await rename(s.tenant, b4.id, t3.id, b4.token, { name: 'X' })).status).toBe(404);
    expect((await rename(s.tenant, b4.id, t4, otherToken(b4.token), { name: 'X' })).status).toBe(404);
    expect((await rename(none.tenant, b4.id, t4, b4.token, { name: 'X' })).status).toBe(404);

    expect((await cancel(s.tenant, b4.id, b4.token)).status).toBe(200);
    const cancelled = await rename(s.tenant, b4.id, t4, b4.token, { name: 'X' });
    expect(cancelled.status).toBe(409);
    expect((await ticketRows(b4.id))[0]?.name).toBe('Ada Lovelace');
    expect(await audits(s.tenant, 'attendee.updated')).toEqual([]);
  });
});
