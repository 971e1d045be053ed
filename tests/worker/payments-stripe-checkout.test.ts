import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { bookings, payments } from '../../src/db/schema/index.ts';
import { auditRows, randomIp } from '../support/auth.ts';
import { book, bookingRow, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { bearer, createTenant, database, problem, request, type TestTenant } from '../support/harness.ts';
import {
  configureStripe,
  paymentRow,
  randomStripeKeys,
  sessionRequests,
  startCheckout,
  type RecordedStripeRequest,
} from '../support/stripe.ts';

interface CheckoutBody {
  checkoutUrl: string;
  expiresAt: string;
  sessionId: string;
}

/** A tenant with Stripe, an event with two paid ticket types, and a pending Stripe booking of 2 + 1 tickets. */
async function stripeBooking(keys = randomStripeKeys()) {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const stripe = await configureStripe(tenant, keys);
  const event = await createEvent(tenant);
  const standard = await createTicketType(event, { name: 'General admission', price: 1500 });
  const vip = await createTicketType(event, { name: 'VIP', price: 4000, quantity: 5 });
  const booking = await book(tenant, event.slug, {
    items: [
      { ticketTypeId: standard.id, quantity: 2 },
      { ticketTypeId: vip.id, quantity: 1 },
    ],
  });
  return { tenant, stripe, event, standard, vip, booking };
}

/** The line items of a recorded Checkout Session request, from its form fields. */
function lineItems(request: RecordedStripeRequest) {
  const items: { name: string | undefined; unitAmount: number; quantity: number; currency: string | undefined }[] = [];
  for (let index = 0; request.form[`line_items[${index}][quantity]`] !== undefined; index += 1) {
    const at = `line_items[${index}]`;
    items.push({
      name: request.form[`${at}[price_data][product_data][name]`],
      unitAmount: Number(request.form[`${at}[price_data][unit_amount]`]),
      quantity: Number(request.form[`${at}[quantity]`]),
      currency: request.form[`${at}[price_data][currency]`],
    });
  }
  return items.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
}

describe('POST /api/v1/public/bookings/{id}/checkout', () => {
  it('creates a Stripe Checkout Session with the booking items, amounts and metadata', async () => {
    const { tenant, stripe, booking } = await stripeBooking();
    expect(booking).toMatchObject({
      status: 'pending',
      total: 7000,
      payment: {
        provider: 'stripe',
        checkout: { method: 'POST', href: `/api/v1/public/bookings/${booking.id}/checkout` },
      },
    });
    const started = Date.now();
    const response = await startCheckout(tenant, booking.id, { token: booking.token });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await response.json<CheckoutBody>();
    expect(body.sessionId).toMatch(/^cs_test_[A-Za-z0-9]+$/);
    expect(body.checkoutUrl).toBe(`https://checkout.stripe.com/c/pay/${body.sessionId}`);

    // The request Stripe received.
    const [sent, ...more] = await sessionRequests(booking.id);
    expect(more).toEqual([]);
    if (!sent) throw new Error('no Checkout Session request');
    const payment = await paymentRow(tenant, booking.id);
    expect(sent.method).toBe('POST');
    expect(sent.headers.authorization).toBe(`Bearer ${stripe.secretKey}`);
    expect(sent.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(sent.headers['stripe-version']).toBe('2024-06-20');
    expect(sent.idempotencyKey).toMatch(new RegExp(`^checkout-${payment.id}-\\d+$`));
    expect(sent.status).toBe(200);
    expect(lineItems(sent)).toEqual([
      { name: 'General admission', unitAmount: 1500, quantity: 2, currency: 'eur' },
      { name: 'VIP', unitAmount: 4000, quantity: 1, currency: 'eur' },
    ]);
    expect(sent.form).toMatchObject({
      mode: 'payment',
      client_reference_id: booking.id,
      customer_email: 'ada@example.com',
      'metadata[booking_id]': booking.id,
      'metadata[organization_id]': tenant.organization.id,
      'payment_intent_data[metadata][booking_id]': booking.id,
      'payment_intent_data[metadata][organization_id]': tenant.organization.id,
      success_url: `http://${tenant.host}/bookings/${booking.id}?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `http://${tenant.host}/bookings/${booking.id}?checkout=cancelled&session_id={CHECKOUT_SESSION_ID}`,
    });
    expect(sent.response).toMatchObject({ id: body.sessionId, amount_total: 7000, currency: 'eur' });
    // Stripe needs at least 30 minutes: the session runs that long and the booking's hold was extended to match.
    const expiresAt = Number(sent.form.expires_at);
    expect(expiresAt * 1000).toBeGreaterThanOrEqual(started + 30 * 60_000);
    expect(new Date(body.expiresAt).getTime()).toBe(expiresAt * 1000);
    expect((await bookingRow(tenant, booking.id))?.expiresAt?.toISOString()).toBe(body.expiresAt);

    expect(payment).toMatchObject({
      status: 'pending',
      checkoutSessionId: body.sessionId,
      checkoutUrl: body.checkoutUrl,
      paymentIntentId: null,
    });
    expect(payment.checkoutExpiresAt?.toISOString()).toBe(body.expiresAt);
    const [audit] = await auditRows(tenant.organization.id, 'payment.checkout_created');
    expect(audit).toMatchObject({ actorType: 'anonymous', targetType: 'booking', targetId: booking.id });
    expect(audit?.metadata).toMatchObject({ provider: 'stripe', sessionId: body.sessionId });
    expect(JSON.stringify(audit?.metadata)).not.toContain(stripe.secretKey);
  });

  it('reuses the open session on later calls instead of creating another', async () => {
    const { tenant, booking } = await stripeBooking();
    const first = await (await startCheckout(tenant, booking.id, { token: booking.token })).json<CheckoutBody>();
    const second = await startCheckout(tenant, booking.id, {
      token: booking.token,
      successUrl: 'https://tickets.example.com/ignored',
    });
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual(first);
    expect(await sessionRequests(booking.id)).toHaveLength(1);
    expect(await auditRows(tenant.organization.id, 'payment.checkout_created')).toHaveLength(1);
  });

  it('creates a new session when the stored one has expired while the booking is still held', async () => {
    const { tenant, booking } = await stripeBooking();
    const first = await (await startCheckout(tenant, booking.id, { token: booking.token })).json<CheckoutBody>();
    // The session ended (e.g. expired early at Stripe) while staff had extended the hold to 45 minutes.
    await database()
      .update(payments)
      .set({ checkoutExpiresAt: new Date(Date.now() - 1000) })
      .where(and(eq(payments.organizationId, tenant.organization.id), eq(payments.bookingId, booking.id)));
    const heldUntil = new Date(Math.floor(Date.now() / 1000 + 45 * 60) * 1000);
    await database()
      .update(bookings)
      .set({ expiresAt: heldUntil })
      .where(and(eq(bookings.organizationId, tenant.organization.id), eq(bookings.id, booking.id)));
    const second = await (await startCheckout(tenant, booking.id, { token: booking.token })).json<CheckoutBody>();
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(second.expiresAt).toBe(heldUntil.toISOString());
    const sent = await sessionRequests(booking.id);
    expect(sent).toHaveLength(2);
    expect(sent[1]?.idempotencyKey).not.toBe(sent[0]?.idempotencyKey);
    expect((await paymentRow(tenant, booking.id)).checkoutSessionId).toBe(second.sessionId);
  });

  it('passes https return URLs through and refuses other ones', async () => {
    const { tenant, booking } = await stripeBooking();
    const refused = await startCheckout(tenant, booking.id, {
      token: booking.token,
      successUrl: 'http://tickets.example.com/thanks',
    });
    expect(refused.status).toBe(400);
    expect(new Set((await problem(refused)).errors?.map((error) => error.pointer))).toEqual(
      new Set(['/body/successUrl']),
    );
    const unknownField = await startCheckout(tenant, booking.id, { token: booking.token, amount: 1 });
    expect(unknownField.status).toBe(400);

    const response = await startCheckout(tenant, booking.id, {
      token: booking.token,
      successUrl: 'https://tickets.example.com/thanks?session={CHECKOUT_SESSION_ID}',
      cancelUrl: 'https://tickets.example.com/cart',
    });
    expect(response.status).toBe(200);
    const [sent] = await sessionRequests(booking.id);
    expect(sent?.form).toMatchObject({
      success_url: 'https://tickets.example.com/thanks?session={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://tickets.example.com/cart',
    });
  });

  it('takes the booking token only in the Booking-Token header, never in the body', async () => {
    const { tenant, booking } = await stripeBooking();
    const withoutHeader = await request(tenant.url(`/api/v1/public/bookings/${booking.id}/checkout`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
      body: JSON.stringify({ token: booking.token }),
    });
    expect(withoutHeader.status).toBe(400);
    expect((await problem(withoutHeader)).errors?.map((error) => error.pointer)).toEqual(['/header/booking-token']);
    // With the header, a token in the body is an unknown field.
    const alsoInBody = await startCheckout(tenant, booking.id, { token: booking.token });
    expect(alsoInBody.status).toBe(200);
    const inBody = await request(tenant.url(`/api/v1/public/bookings/${booking.id}/checkout`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp(), 'booking-token': booking.token },
      body: JSON.stringify({ token: booking.token }),
    });
    expect(inBody.status).toBe(400);
    expect((await problem(inBody)).errors?.map((error) => error.pointer)).toEqual(['/body']);
    expect(await sessionRequests(booking.id)).toHaveLength(1);
  });

  it('answers 404 for a wrong token, an unknown booking and another tenant, without calling Stripe', async () => {
    const { tenant, booking } = await stripeBooking();
    const wrongToken = await startCheckout(tenant, booking.id, { token: `${booking.token.slice(0, -1)}x` });
    expect(wrongToken.status).toBe(404);
    expect((await problem(wrongToken)).code).toBe('not_found');
    const unknown = await startCheckout(tenant, crypto.randomUUID(), { token: booking.token });
    expect(unknown.status).toBe(404);
    const other = await createTenant();
    await configureStripe(other);
    const elsewhere = await startCheckout(other, booking.id, { token: booking.token });
    expect(elsewhere.status).toBe(404);
    expect(await sessionRequests(booking.id)).toEqual([]);
    expect((await paymentRow(tenant, booking.id)).checkoutSessionId).toBeNull();
  });

  it('answers 409 for bookings not paid through Stripe or no longer payable', async () => {
    const { tenant, event, standard, booking } = await stripeBooking();
    const manual = await book(tenant, event.slug, {
      items: [{ ticketTypeId: standard.id, quantity: 1 }],
      paymentMethod: 'manual',
    });
    const free = await createTicketType(event, { name: 'Free', price: 0 });
    const confirmed = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    for (const target of [manual, confirmed]) {
      const response = await startCheckout(tenant, target.id, { token: target.token });
      expect(response.status).toBe(409);
      expect((await problem(response)).code).toBe('conflict');
    }

    // A lapsed hold, then a cancelled booking.
    const setBooking = (values: Partial<typeof bookings.$inferInsert>) =>
      database()
        .update(bookings)
        .set(values)
        .where(and(eq(bookings.organizationId, tenant.organization.id), eq(bookings.id, booking.id)));
    await setBooking({ expiresAt: new Date(Date.now() - 1000) });
    const lapsed = await startCheckout(tenant, booking.id, { token: booking.token });
    expect(lapsed.status).toBe(409);
    expect((await problem(lapsed)).detail).toMatch(/expired/);
    await setBooking({ status: 'cancelled', expiresAt: new Date(Date.now() + 600_000) });
    expect((await startCheckout(tenant, booking.id, { token: booking.token })).status).toBe(409);
    expect(await sessionRequests(booking.id)).toEqual([]);
  });

  it('answers 409 once the organization removed Stripe', async () => {
    const { tenant, stripe, booking } = await stripeBooking();
    await removeStripe(tenant, stripe.ownerToken);
    const response = await startCheckout(tenant, booking.id, { token: booking.token });
    expect(response.status).toBe(409);
    expect((await problem(response)).detail).toMatch(/no longer accepts Stripe/);
  });

  it('answers 502 when Stripe refuses the key, storing nothing and never echoing the key', async () => {
    const keys = { ...randomStripeKeys(), secretKey: 'sk_test_REJECTED0000000000000000' };
    const { tenant, booking } = await stripeBooking(keys);
    const response = await startCheckout(tenant, booking.id, { token: booking.token });
    expect(response.status).toBe(502);
    const details = await problem(response);
    expect(details.code).toBe('payment_provider_error');
    expect(JSON.stringify(details)).not.toContain('REJECTED');
    const [sent] = await sessionRequests(booking.id);
    expect(sent?.status).toBe(401);
    expect(await paymentRow(tenant, booking.id)).toMatchObject({ checkoutSessionId: null, checkoutUrl: null });
    expect(await auditRows(tenant.organization.id, 'payment.checkout_created')).toEqual([]);
  });
});

async function removeStripe(tenant: TestTenant, token: string): Promise<void> {
  const response = await request(tenant.url('/api/v1/organization/payment-settings'), {
    method: 'PUT',
    headers: bearer(token),
    body: JSON.stringify({ stripe: null }),
  });
  expect(response.status).toBe(200);
}
