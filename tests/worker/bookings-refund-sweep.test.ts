import { env } from 'cloudflare:workers';
import { and, asc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { attendees, auditLogs, bookings, invoices, payments, refunds } from '../../src/db/schema/index.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import { bookingSeats, moveSeats } from '../../src/services/bookings/inventory.ts';
import { sweepPendingRefunds } from '../../src/services/bookings/refund-sweep.ts';
import { issueInvoice } from '../../src/services/invoices/issue.ts';
import { book, bookingRow, counters } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { runCron, withCronLock } from '../support/cron.ts';
import { appDatabase, createTenant, database, type TestTenant } from '../support/harness.ts';
import { configureStripe, stripeRequests } from '../support/stripe.ts';
import { call, memberWithToken } from '../support/users.ts';

interface Fixture {
  tenant: TestTenant;
  token: string;
  eventId: string;
  eventSlug: string;
  ticketTypeId: string;
  secretKey: string;
}

/** A tenant with Stripe configured, an organizer, and an event with one ticket type at 1500. */
async function fixture(): Promise<Fixture> {
  const tenant = await createTenant();
  const { secretKey } = await configureStripe(tenant);
  const { token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const ticketType = await createTicketType(event, { price: 1500, quantity: 10 });
  return { tenant, token, eventId: event.id, eventSlug: event.slug, ticketTypeId: ticketType.id, secretKey };
}

/** A Stripe booking of two tickets (3000), confirmed as the Stripe webhook would, paid by `paymentIntentId`. */
async function paidBooking(f: Fixture, paymentIntentId: string) {
  const booking = await book(f.tenant, f.eventSlug, {
    items: [{ ticketTypeId: f.ticketTypeId, quantity: 2 }],
    paymentMethod: 'stripe',
  });
  expect(booking.payment.provider).toBe('stripe');
  const db = database();
  const organizationId = f.tenant.organization.id;
  await db.batch([
    db
      .update(bookings)
      .set({ status: 'confirmed', confirmedAt: new Date(), expiresAt: null })
      .where(eq(bookings.id, booking.id)),
    db.update(payments).set({ status: 'succeeded', paymentIntentId }).where(eq(payments.bookingId, booking.id)),
    ...moveSeats(db, organizationId, booking.eventId, bookingSeats(organizationId, booking.id), 'held', 'sold'),
  ]);
  return booking;
}

/** Refunds through the API while Stripe does not answer: the 502 that leaves the refund reserved as `pending`. */
async function unansweredRefund(f: Fixture, bookingId: string, body: Record<string, unknown>) {
  const response = await call(f.tenant, 'POST', `/api/v1/bookings/${bookingId}/refund`, { token: f.token, body });
  expect(response.status).toBe(502);
  const [row] = await refundRows(bookingId);
  expect(row).toMatchObject({ status: 'pending', providerRefundId: null });
  if (!row) throw new Error('no refund row');
  return row;
}

/** Makes a refund row look reserved `age` ago (a Postgres interval). */
async function age(refundId: string, interval: string): Promise<void> {
  await database()
    .update(refunds)
    .set({ createdAt: sql`now() - ${interval}::interval`, updatedAt: sql`now() - ${interval}::interval` })
    .where(eq(refunds.id, refundId));
}

function refundRows(bookingId: string) {
  return database().select().from(refunds).where(eq(refunds.bookingId, bookingId));
}

async function sentFor(refundId: string) {
  return (await stripeRequests('/v1/refunds')).filter((entry) => entry.idempotencyKey === `refund-${refundId}`);
}

describe('pending Stripe refund sweep (scheduled)', () => {
  it('settles a refund Stripe left unanswered: one Stripe refund for its key, recorded, tickets cancelled, audited', async () => {
    const f = await fixture();
    const paymentIntentId = `pi_unanswered_once_${crypto.randomUUID().replaceAll('-', '')}`;
    const booking = await paidBooking(f, paymentIntentId);
    // Its invoice, as the confirmation would have issued it: the settled refund gets a credit note against it.
    await issueInvoice(database(), f.tenant.organization.id, booking.id);
    const row = await unansweredRefund(f, booking.id, {});
    await age(row.id, '2 minutes');
    const documents = () =>
      database()
        .select({ kind: invoices.kind, number: invoices.number, gross: invoices.gross, refundId: invoices.refundId })
        .from(invoices)
        .where(eq(invoices.bookingId, booking.id))
        .orderBy(asc(invoices.sequence));
    // Not yet: the refund is only reserved.
    expect((await documents()).map((document) => document.kind)).toEqual(['invoice']);

    await runCron();

    const sent = await sentFor(row.id);
    expect(sent.map((entry) => entry.status)).toEqual([500, 200]);
    // The retry is the very same request: same PaymentIntent, amount and metadata.
    expect(sent[1]?.form).toEqual(sent[0]?.form);
    expect(sent[1]?.form).toMatchObject({
      payment_intent: paymentIntentId,
      amount: '3000',
      'metadata[refund_id]': row.id,
    });
    const [settled] = await refundRows(booking.id);
    expect(settled).toMatchObject({ status: 'succeeded', providerRefundId: sent[1]?.response.id });
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'refunded', refundedAmount: 3000 });
    const tickets = await database().select().from(attendees).where(eq(attendees.bookingId, booking.id));
    expect(tickets.map((ticket) => ticket.status)).toEqual(['cancelled', 'cancelled']);
    expect((await counters(f.eventId)).ticketTypes[f.ticketTypeId]).toEqual({ sold: 0, held: 0 });
    const audits = () =>
      database()
        .select()
        .from(auditLogs)
        .where(and(eq(auditLogs.targetId, booking.id), eq(auditLogs.action, 'booking.refunded')));
    expect(await audits()).toMatchObject([{ actorType: 'system' }]);
    expect(await documents()).toEqual([
      { kind: 'invoice', number: 'INV-000001', gross: 3000, refundId: null },
      { kind: 'credit_note', number: 'INV-000002', gross: 3000, refundId: row.id },
    ]);

    // Settled once: a second run asks Stripe nothing more and records nothing more.
    await runCron();
    expect(await sentFor(row.id)).toHaveLength(2);
    expect(await audits()).toHaveLength(1);
    expect(await documents()).toHaveLength(2);
  });

  it('finds a refund Stripe made but keeps answering 500 for (a saved answer) by its metadata, and records it', async () => {
    const f = await fixture();
    const paymentIntentId = `pi_made_unanswered_${crypto.randomUUID().replaceAll('-', '')}`;
    const booking = await paidBooking(f, paymentIntentId);
    const row = await unansweredRefund(f, booking.id, { amount: 1000 });
    await age(row.id, '2 minutes');

    await runCron();

    expect((await sentFor(row.id)).map((entry) => entry.status)).toEqual([500, 500]);
    const lookups = (await stripeRequests('/v1/refunds')).filter(
      (entry) => entry.method === 'GET' && entry.headers.authorization === `Bearer ${f.secretKey}`,
    );
    expect(lookups).toHaveLength(1);
    const listed = lookups[0]?.response.data as { id: string; metadata: Record<string, string> }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]?.metadata.refund_id).toBe(row.id);
    expect(await refundRows(booking.id)).toMatchObject([{ status: 'succeeded', providerRefundId: listed[0]?.id }]);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 1000 });
  });

  it('releases the reserved amount when Stripe refuses the retried refund', async () => {
    const f = await fixture();
    const booking = await paidBooking(f, `pi_unanswered_once_refused_${crypto.randomUUID().replaceAll('-', '')}`);
    const row = await unansweredRefund(f, booking.id, { amount: 1000 });
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ refundedAmount: 1000 });
    await age(row.id, '2 minutes');

    await runCron();

    expect((await sentFor(row.id)).map((entry) => entry.status)).toEqual([500, 400]);
    expect(await refundRows(booking.id)).toMatchObject([{ status: 'failed', providerRefundId: null }]);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 0 });
    const [payment] = await database().select().from(payments).where(eq(payments.bookingId, booking.id));
    expect(payment?.refundedAmount).toBe(0);
    expect((await counters(f.eventId)).ticketTypes[f.ticketTypeId]).toEqual({ sold: 2, held: 0 });
  });

  it('leaves a refund Stripe still does not answer pending, amount reserved, and tries it again after the others', async () => {
    const f = await fixture();
    const booking = await paidBooking(f, `pi_unanswered_${crypto.randomUUID().replaceAll('-', '')}`);
    const row = await unansweredRefund(f, booking.id, { amount: 1000 });
    await age(row.id, '2 minutes');

    await runCron();

    expect((await sentFor(row.id)).map((entry) => entry.status)).toEqual([500, 500]);
    const [after] = await refundRows(booking.id);
    expect(after).toMatchObject({ status: 'pending', providerRefundId: null });
    // Marked as tried: it goes behind rows not tried since (the sweep takes the least recently tried first).
    expect(after?.updatedAt.getTime()).toBeGreaterThan(row.updatedAt.getTime());
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 1000 });
  });

  it('keeps the amount reserved when Stripe answers an idempotency error: the key may have refunded already', async () => {
    const f = await fixture();
    const booking = await paidBooking(f, `pi_${crypto.randomUUID().replaceAll('-', '')}`);
    const response = await call(f.tenant, 'POST', `/api/v1/bookings/${booking.id}/refund`, {
      token: f.token,
      body: { amount: 1000 },
    });
    expect(response.status).toBe(201);
    const [row] = await refundRows(booking.id);
    if (!row) throw new Error('no refund row');
    // A row whose key Stripe already used with another body (amount changed by hand, say), still unanswered here.
    await database()
      .update(refunds)
      .set({ status: 'pending', providerRefundId: null, amount: 999 })
      .where(eq(refunds.id, row.id));
    await age(row.id, '2 minutes');

    await runCron();

    const sent = await sentFor(row.id);
    expect(sent.map((entry) => [entry.status, (entry.response.error as { type?: string } | undefined)?.type])).toEqual([
      [200, undefined],
      [400, 'idempotency_error'],
    ]);
    expect(await refundRows(booking.id)).toMatchObject([{ status: 'pending', providerRefundId: null }]);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ refundedAmount: 1000 });
  });

  it('leaves refunds younger than a minute, and those past the 23-hour idempotency window, to others', async () => {
    const f = await fixture();
    const fresh = await paidBooking(f, `pi_unanswered_once_${crypto.randomUUID().replaceAll('-', '')}`);
    const stale = await paidBooking(f, `pi_unanswered_once_${crypto.randomUUID().replaceAll('-', '')}`);
    const freshRow = await unansweredRefund(f, fresh.id, { amount: 500 });
    const staleRow = await unansweredRefund(f, stale.id, { amount: 500 });
    await age(staleRow.id, '23 hours 1 minute');

    await runCron();

    for (const [booking, row] of [
      [fresh, freshRow],
      [stale, staleRow],
    ] as const) {
      expect(await sentFor(row.id)).toHaveLength(1);
      expect(await refundRows(booking.id)).toMatchObject([{ status: 'pending', providerRefundId: null }]);
      expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ refundedAmount: 500 });
    }
  });

  it("asks Stripe for each organization's refund with that organization's own key", async () => {
    const [first, second] = await Promise.all([fixture(), fixture()]);
    const rows = [];
    for (const f of [first, second]) {
      const booking = await paidBooking(f, `pi_unanswered_once_${crypto.randomUUID().replaceAll('-', '')}`);
      const row = await unansweredRefund(f, booking.id, { amount: 1500 });
      await age(row.id, '5 minutes');
      rows.push({ f, booking, row });
    }

    await runCron();

    for (const { f, booking, row } of rows) {
      const sent = await sentFor(row.id);
      expect(sent.map((entry) => [entry.status, entry.headers.authorization])).toEqual([
        [500, `Bearer ${f.secretKey}`],
        [200, `Bearer ${f.secretKey}`],
      ]);
      expect(sent[1]?.form['metadata[organization_id]']).toBe(f.tenant.organization.id);
      expect(await refundRows(booking.id)).toMatchObject([
        { status: 'succeeded', providerRefundId: sent[1]?.response.id },
      ]);
    }
    expect(first.secretKey).not.toBe(second.secretKey);
  });
  it("records Stripe's answer once when two sweeps settle the same refund at once", async () => {
    const f = await fixture();
    // Stripe answers slowly: both sweeps read the refund as pending before either records it.
    const booking = await paidBooking(f, `pi_unanswered_once_slow_${crypto.randomUUID().replaceAll('-', '')}`);
    const row = await unansweredRefund(f, booking.id, { amount: 1500 });
    await age(row.id, '2 minutes');

    const bindings = readBindings(env as unknown as Record<string, unknown>);
    const sweep = () => sweepPendingRefunds(appDatabase(), bindings, createLogger({}, 'error'));
    await withCronLock(() => Promise.all([sweep(), sweep()]));

    const answered = (await sentFor(row.id)).filter((entry) => entry.status === 200);
    // Both sweeps asked with the same key: Stripe made one refund and replayed it to the second.
    expect(answered).toHaveLength(2);
    expect(new Set(answered.map((entry) => entry.response.id)).size).toBe(1);
    expect(await refundRows(booking.id)).toMatchObject([
      { status: 'succeeded', providerRefundId: answered[0]?.response.id },
    ]);
    const audits = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.targetId, booking.id), eq(auditLogs.action, 'booking.refunded')));
    expect(audits).toHaveLength(1);
    expect(await bookingRow(f.tenant, booking.id)).toMatchObject({ status: 'confirmed', refundedAmount: 1500 });
  });
});
