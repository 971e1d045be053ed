import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { attendees, paymentEvents } from '../../src/db/schema/index.ts';
import { verifyStripeSignature } from '../../src/services/payments/stripe.ts';
import { auditRows } from '../support/auth.ts';
import { book, bookingRow, counters } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { createTenant, database, problem, type TestTenant } from '../support/harness.ts';
import {
  checkoutSessionObject,
  configureStripe,
  paymentRow,
  postWebhook,
  signStripe,
  startCheckout,
  stripeEvent,
} from '../support/stripe.ts';

interface Receipt {
  received: boolean;
  duplicate: boolean;
  outcome: string;
}

/** A tenant with Stripe and a pending Stripe booking of 2 tickets (30.00 EUR) holding its seats. */
async function pendingStripeBooking(tenant?: TestTenant) {
  const owner = tenant ?? (await createTenant());
  const stripe = await configureStripe(owner);
  const event = await createEvent(owner);
  const ticketType = await createTicketType(event, { price: 1500, quantity: 10 });
  const booking = await book(owner, event.slug, { items: [{ ticketTypeId: ticketType.id, quantity: 2 }] });
  expect(booking).toMatchObject({ status: 'pending', total: 3000, payment: { provider: 'stripe' } });
  return { tenant: owner, stripe, event, ticketType, booking };
}

async function recordedEvents(tenant: TestTenant) {
  return database().select().from(paymentEvents).where(eq(paymentEvents.organizationId, tenant.organization.id));
}

async function receipt(response: Response): Promise<Receipt> {
  expect(response.status).toBe(200);
  return response.json();
}

describe('POST /api/v1/payments/stripe/webhook: checkout.session.completed', () => {
  it('confirms the paid booking: held seats become sold, the payment succeeds with its PaymentIntent', async () => {
    const { tenant, stripe, event, ticketType, booking } = await pendingStripeBooking();
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 2 } });
    const session = checkoutSessionObject(tenant, booking, { payment_intent: 'pi_test_paid0001' });
    const payload = stripeEvent('checkout.session.completed', session);

    const response = await postWebhook(tenant, payload, { secret: stripe.webhookSecret });
    expect(await receipt(response)).toEqual({ received: true, duplicate: false, outcome: 'confirmed' });

    const row = await bookingRow(tenant, booking.id);
    expect(row).toMatchObject({ status: 'confirmed', expiresAt: null });
    expect(row?.confirmedAt).toBeInstanceOf(Date);
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 2, held: 0 },
      ticketTypes: { [ticketType.id]: { sold: 2, held: 0 } },
    });
    expect(await paymentRow(tenant, booking.id)).toMatchObject({
      status: 'succeeded',
      paymentIntentId: 'pi_test_paid0001',
    });
    const events = await recordedEvents(tenant);
    expect(events.map((entry) => [entry.eventId, entry.type])).toEqual([
      [(JSON.parse(payload) as { id: string }).id, 'checkout.session.completed'],
    ]);
    const [confirmed] = await auditRows(tenant.organization.id, 'booking.confirmed');
    expect(confirmed).toMatchObject({ actorType: 'system', targetId: booking.id });
    const [succeeded] = await auditRows(tenant.organization.id, 'payment.succeeded');
    expect(succeeded?.metadata).toMatchObject({
      provider: 'stripe',
      amount: 3000,
      paymentIntentId: 'pi_test_paid0001',
    });
  });

  it('processes a replayed event id once: duplicate, no double counting', async () => {
    const { tenant, stripe, event, booking } = await pendingStripeBooking();
    const payload = stripeEvent('checkout.session.completed', checkoutSessionObject(tenant, booking));
    expect((await receipt(await postWebhook(tenant, payload, { secret: stripe.webhookSecret }))).outcome).toBe(
      'confirmed',
    );
    // Stripe's retry: the same event, signed again later.
    const replays = await Promise.all(
      [0, 1, 2].map(async () => receipt(await postWebhook(tenant, payload, { secret: stripe.webhookSecret }))),
    );
    for (const replay of replays) expect(replay).toEqual({ received: true, duplicate: true, outcome: 'unchanged' });
    // Another event about the same paid session (async_payment_succeeded) changes nothing either.
    const other = stripeEvent('checkout.session.async_payment_succeeded', checkoutSessionObject(tenant, booking));
    expect(await receipt(await postWebhook(tenant, other, { secret: stripe.webhookSecret }))).toEqual({
      received: true,
      duplicate: false,
      outcome: 'unchanged',
    });

    expect(await counters(event.id)).toMatchObject({ event: { sold: 2, held: 0 } });
    expect(await recordedEvents(tenant)).toHaveLength(2);
    expect(await auditRows(tenant.organization.id, 'booking.confirmed')).toHaveLength(1);
    expect(await auditRows(tenant.organization.id, 'payment.succeeded')).toHaveLength(1);
  });

  it('confirms concurrent deliveries exactly once, also of two events about the same payment', async () => {
    const { tenant, stripe, event, booking } = await pendingStripeBooking();
    const session = checkoutSessionObject(tenant, booking);
    const payload = stripeEvent('checkout.session.completed', session);
    const other = stripeEvent('checkout.session.async_payment_succeeded', session);
    const results = await Promise.all(
      [payload, payload, other, payload, other].map(async (body) =>
        receipt(await postWebhook(tenant, body, { secret: stripe.webhookSecret })),
      ),
    );
    expect(results.filter((result) => result.outcome === 'confirmed')).toHaveLength(1);
    // Of the five deliveries of two event ids, three are replays; the other event changes nothing.
    expect(results.filter((result) => result.duplicate)).toHaveLength(3);
    expect(results.filter((result) => !result.duplicate && result.outcome === 'unchanged')).toHaveLength(1);
    expect(await counters(event.id)).toMatchObject({ event: { sold: 2, held: 0 } });
    expect(await auditRows(tenant.organization.id, 'payment.received_for_inactive_booking')).toEqual([]);
    expect(await recordedEvents(tenant)).toHaveLength(2);
  });

  it('leaves a session that completed unpaid (delayed payment methods) pending', async () => {
    const { tenant, stripe, event, booking } = await pendingStripeBooking();
    const session = checkoutSessionObject(tenant, booking, { payment_status: 'unpaid', payment_intent: null });
    const response = await postWebhook(tenant, stripeEvent('checkout.session.completed', session), {
      secret: stripe.webhookSecret,
    });
    expect((await receipt(response)).outcome).toBe('unchanged');
    expect((await bookingRow(tenant, booking.id))?.status).toBe('pending');
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 2 } });
  });

  it('does not confirm when the amount paid differs from the booking', async () => {
    const { tenant, stripe, event, booking } = await pendingStripeBooking();
    const session = checkoutSessionObject(tenant, booking, { amount_total: 100 });
    const response = await postWebhook(tenant, stripeEvent('checkout.session.completed', session), {
      secret: stripe.webhookSecret,
    });
    expect((await receipt(response)).outcome).toBe('unchanged');
    expect((await bookingRow(tenant, booking.id))?.status).toBe('pending');
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 2 } });
    const [audit] = await auditRows(tenant.organization.id, 'payment.amount_mismatch');
    expect(audit?.metadata).toMatchObject({ amount: 100, expectedAmount: 3000 });
  });

  it('records a payment for a booking that already expired, keeps the booking, and flags it for a refund', async () => {
    const { tenant, stripe, event, booking } = await pendingStripeBooking();
    await startCheckout(tenant, booking.id, { token: booking.token });
    const sessionId = (await paymentRow(tenant, booking.id)).checkoutSessionId;
    const expired = checkoutSessionObject(tenant, booking, {
      id: sessionId,
      status: 'expired',
      payment_status: 'unpaid',
    });
    expect(
      (
        await receipt(
          await postWebhook(tenant, stripeEvent('checkout.session.expired', expired), {
            secret: stripe.webhookSecret,
          }),
        )
      ).outcome,
    ).toBe('released');

    const paid = checkoutSessionObject(tenant, booking, { id: sessionId, payment_intent: 'pi_test_late0001' });
    const response = await postWebhook(tenant, stripeEvent('checkout.session.completed', paid), {
      secret: stripe.webhookSecret,
    });
    expect(await receipt(response)).toEqual({ received: true, duplicate: false, outcome: 'payment_recorded' });
    expect((await bookingRow(tenant, booking.id))?.status).toBe('expired');
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 0 } });
    expect(await paymentRow(tenant, booking.id)).toMatchObject({
      status: 'succeeded',
      paymentIntentId: 'pi_test_late0001',
    });
    const [audit] = await auditRows(tenant.organization.id, 'payment.received_for_inactive_booking');
    expect(audit?.metadata).toMatchObject({ bookingStatus: 'expired', action: 'refund_required', amount: 3000 });
  });
});

describe('POST /api/v1/payments/stripe/webhook: signatures', () => {
  it('refuses a missing, malformed, tampered, stale or foreign signature with 400 and changes nothing', async () => {
    const { tenant, stripe, event, booking } = await pendingStripeBooking();
    const payload = stripeEvent('checkout.session.completed', checkoutSessionObject(tenant, booking));
    const now = Math.floor(Date.now() / 1000);
    const tampered = payload.replace('"amount_total":3000', '"amount_total":3001');
    expect(tampered).not.toBe(payload);
    const cases: [string, string, string | null][] = [
      ['missing', payload, null],
      ['malformed', payload, 't=abc,v1=zz'],
      ['no v1', payload, `t=${now}`],
      ['tampered', tampered, await signStripe(payload, stripe.webhookSecret)],
      ['stale', payload, await signStripe(payload, stripe.webhookSecret, now - 301)],
      ['wrong secret', payload, await signStripe(payload, 'whsec_SomebodyElsesSecret0000')],
    ];
    for (const [name, body, signature] of cases) {
      const response = await postWebhook(tenant, body, { signature });
      expect(response.status, name).toBe(400);
      expect((await problem(response)).code, name).toBe('bad_request');
    }
    const stale = await postWebhook(tenant, payload, {
      signature: await signStripe(payload, stripe.webhookSecret, now - 301),
    });
    expect((await problem(stale)).detail).toMatch(/too old/);

    expect((await bookingRow(tenant, booking.id))?.status).toBe('pending');
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 2 } });
    expect(await recordedEvents(tenant)).toEqual([]);
    // The genuine delivery still works afterwards.
    expect((await receipt(await postWebhook(tenant, payload, { secret: stripe.webhookSecret }))).outcome).toBe(
      'confirmed',
    );
  });

  it('refuses a signed body that is not JSON or not an event with 400', async () => {
    const { tenant, stripe } = await pendingStripeBooking();
    const notJson = await postWebhook(tenant, '{"id": "evt_1",', { secret: stripe.webhookSecret });
    expect(notJson.status).toBe(400);
    expect((await problem(notJson)).code).toBe('invalid_json');
    const notEvent = await postWebhook(tenant, '{"hello":"world"}', { secret: stripe.webhookSecret });
    expect(notEvent.status).toBe(400);
    expect(await recordedEvents(tenant)).toEqual([]);
  });

  it('answers 404 on an organization without Stripe', async () => {
    const tenant = await createTenant();
    const payload = stripeEvent('checkout.session.completed', { id: 'cs_test_1' });
    const response = await postWebhook(tenant, payload, { secret: 'whsec_AnySecretAtAll000' });
    expect(response.status).toBe(404);
  });

  it('verifies exactly like Stripe: any matching v1 passes, timestamps older than the tolerance fail', async () => {
    const secret = 'whsec_UnitTestSecret0000';
    const payload = '{"id":"evt_1"}';
    const now = 1_800_000_000;
    const good = await signStripe(payload, secret, now);
    const goodHex = good.split('v1=')[1] ?? '';
    expect(await verifyStripeSignature(payload, good, secret, 300, now)).toEqual({ ok: true, timestamp: now });
    expect(
      await verifyStripeSignature(payload, `t=${now},v1=${'0'.repeat(64)},v0=abc,v1=${goodHex}`, secret, 300, now),
    ).toEqual({ ok: true, timestamp: now });
    expect(await verifyStripeSignature(payload, good, secret, 300, now + 300)).toMatchObject({ ok: true });
    expect(await verifyStripeSignature(payload, good, secret, 300, now + 301)).toEqual({ ok: false, reason: 'stale' });
    expect(await verifyStripeSignature(`${payload} `, good, secret, 300, now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(await verifyStripeSignature(payload, `t=${now + 1},v1=${goodHex}`, secret, 300, now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(await verifyStripeSignature(payload, '', secret)).toEqual({ ok: false, reason: 'missing' });
    expect(await verifyStripeSignature(payload, `v1=${goodHex}`, secret)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('POST /api/v1/payments/stripe/webhook: other events', () => {
  it('releases the seats of a pending booking whose Checkout Session expired', async () => {
    const { tenant, stripe, event, ticketType, booking } = await pendingStripeBooking();
    await startCheckout(tenant, booking.id, { token: booking.token });
    const sessionId = (await paymentRow(tenant, booking.id)).checkoutSessionId;
    // An older, orphaned session expiring leaves the booking alone.
    const orphan = checkoutSessionObject(tenant, booking, { status: 'expired', payment_status: 'unpaid' });
    expect(
      (
        await receipt(
          await postWebhook(tenant, stripeEvent('checkout.session.expired', orphan), {
            secret: stripe.webhookSecret,
          }),
        )
      ).outcome,
    ).toBe('unchanged');
    expect((await bookingRow(tenant, booking.id))?.status).toBe('pending');

    const session = checkoutSessionObject(tenant, booking, {
      id: sessionId,
      status: 'expired',
      payment_status: 'unpaid',
    });
    const payload = stripeEvent('checkout.session.expired', session);
    expect(await receipt(await postWebhook(tenant, payload, { secret: stripe.webhookSecret }))).toEqual({
      received: true,
      duplicate: false,
      outcome: 'released',
    });
    expect((await bookingRow(tenant, booking.id))?.status).toBe('expired');
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [ticketType.id]: { sold: 0, held: 0 } },
    });
    expect((await paymentRow(tenant, booking.id)).status).toBe('cancelled');
    const tickets = await database()
      .select({ status: attendees.status })
      .from(attendees)
      .where(and(eq(attendees.organizationId, tenant.organization.id), eq(attendees.bookingId, booking.id)));
    expect(tickets.map((ticket) => ticket.status)).toEqual(['cancelled', 'cancelled']);
    const [audit] = await auditRows(tenant.organization.id, 'booking.expired');
    expect(audit?.metadata).toMatchObject({ reason: 'checkout_session_expired', sessionId });
    // Replayed: nothing is released twice.
    expect((await receipt(await postWebhook(tenant, payload, { secret: stripe.webhookSecret }))).duplicate).toBe(true);
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 0 } });
  });

  it('marks a failed payment attempt; the booking stays pending and a later success still confirms it', async () => {
    const { tenant, stripe, event, booking } = await pendingStripeBooking();
    const intent = {
      id: 'pi_test_declined01',
      object: 'payment_intent',
      amount: 3000,
      currency: 'eur',
      status: 'requires_payment_method',
      last_payment_error: {
        code: 'card_declined',
        decline_code: 'insufficient_funds',
        message: 'Your card was declined.',
      },
      metadata: { booking_id: booking.id, organization_id: tenant.organization.id },
    };
    const response = await postWebhook(tenant, stripeEvent('payment_intent.payment_failed', intent), {
      secret: stripe.webhookSecret,
    });
    expect(await receipt(response)).toEqual({ received: true, duplicate: false, outcome: 'payment_failed' });
    expect(await paymentRow(tenant, booking.id)).toMatchObject({
      status: 'failed',
      paymentIntentId: 'pi_test_declined01',
    });
    expect((await bookingRow(tenant, booking.id))?.status).toBe('pending');
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 2 } });
    const [audit] = await auditRows(tenant.organization.id, 'payment.failed');
    expect(audit?.metadata).toMatchObject({ failureCode: 'card_declined', declineCode: 'insufficient_funds' });

    // The buyer retries with another card in the same session.
    const paid = checkoutSessionObject(tenant, booking, { payment_intent: 'pi_test_declined01' });
    expect(
      (
        await receipt(
          await postWebhook(tenant, stripeEvent('checkout.session.completed', paid), {
            secret: stripe.webhookSecret,
          }),
        )
      ).outcome,
    ).toBe('confirmed');
    expect(await paymentRow(tenant, booking.id)).toMatchObject({ status: 'succeeded' });
    expect(await counters(event.id)).toMatchObject({ event: { sold: 2, held: 0 } });
  });

  it('acknowledges and records event types it does not act on', async () => {
    const { tenant, stripe } = await pendingStripeBooking();
    const payload = stripeEvent('customer.created', { id: 'cus_123', object: 'customer' });
    expect(await receipt(await postWebhook(tenant, payload, { secret: stripe.webhookSecret }))).toEqual({
      received: true,
      duplicate: false,
      outcome: 'ignored',
    });
    expect((await recordedEvents(tenant)).map((entry) => entry.type)).toEqual(['customer.created']);
    expect((await receipt(await postWebhook(tenant, payload, { secret: stripe.webhookSecret }))).duplicate).toBe(true);
  });
});

describe('POST /api/v1/payments/stripe/webhook: tenant isolation', () => {
  it("ignores events whose metadata names another organization's booking, on any host", async () => {
    const a = await pendingStripeBooking();
    const b = await pendingStripeBooking();
    const session = checkoutSessionObject(a.tenant, a.booking);

    // On B's host, signed with B's secret, about A's booking (A's organization id in the metadata).
    const foreign = await postWebhook(b.tenant, stripeEvent('checkout.session.completed', session), {
      secret: b.stripe.webhookSecret,
    });
    expect(await receipt(foreign)).toEqual({ received: true, duplicate: false, outcome: 'ignored' });
    // The same with B's organization id in the metadata: A's booking is not found on B's host.
    const relabelled = {
      ...session,
      metadata: { booking_id: a.booking.id, organization_id: b.tenant.organization.id },
    };
    const spoofed = await postWebhook(b.tenant, stripeEvent('checkout.session.completed', relabelled), {
      secret: b.stripe.webhookSecret,
    });
    expect((await receipt(spoofed)).outcome).toBe('ignored');
    // An expiry, too.
    const expiry = await postWebhook(b.tenant, stripeEvent('checkout.session.expired', relabelled), {
      secret: b.stripe.webhookSecret,
    });
    expect((await receipt(expiry)).outcome).toBe('ignored');
    // A's own event signed with A's secret is refused on B's host.
    const wrongHost = await postWebhook(b.tenant, stripeEvent('checkout.session.completed', session), {
      secret: a.stripe.webhookSecret,
    });
    expect(wrongHost.status).toBe(400);

    expect((await bookingRow(a.tenant, a.booking.id))?.status).toBe('pending');
    expect(await counters(a.event.id)).toMatchObject({ event: { sold: 0, held: 2 } });
    expect((await paymentRow(a.tenant, a.booking.id)).status).toBe('pending');
    expect(await recordedEvents(a.tenant)).toEqual([]);
    expect(await auditRows(a.tenant.organization.id, 'booking.confirmed')).toEqual([]);
  });
});
