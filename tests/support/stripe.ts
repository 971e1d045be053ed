import { env } from 'cloudflare:workers';
import { and, eq } from 'drizzle-orm';
import { payments } from '../../src/db/schema/index.ts';
import { randomIp } from './auth.ts';
import { createMember, database, request, tokenFor, bearer, type TestTenant } from './harness.ts';

/** A request the fake Stripe received (tests/setup/fake-stripe.ts). */
export interface RecordedStripeRequest {
  id: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Form fields exactly as sent: `line_items[0][price_data][unit_amount]`. */
  form: Record<string, string>;
  idempotencyKey: string | null;
  status: number;
  response: Record<string, unknown>;
  receivedAt: string;
}

function stripeBase(): string {
  const base = (env as unknown as { STRIPE_API_BASE?: string }).STRIPE_API_BASE;
  if (base === undefined) throw new Error('STRIPE_API_BASE is not set: the global setup starts the fake Stripe');
  return base;
}

/** Every request the fake Stripe received (optionally only those to `path`), oldest first. */
export async function stripeRequests(path?: string): Promise<RecordedStripeRequest[]> {
  const url = new URL(`${stripeBase()}/__requests`);
  if (path !== undefined) url.searchParams.set('path', path);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fake Stripe answered ${response.status}`);
  return response.json();
}

/** The Checkout Session requests made for one booking (by its metadata), oldest first. */
export async function sessionRequests(bookingId: string): Promise<RecordedStripeRequest[]> {
  const all = await stripeRequests('/v1/checkout/sessions');
  return all.filter((entry) => entry.form['metadata[booking_id]'] === bookingId);
}

function randomAlphanumeric(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...crypto.getRandomValues(new Uint8Array(length))].map((byte) => alphabet[byte % 62]).join('');
}

export function randomStripeKeys(mode: 'test' | 'live' = 'test') {
  return {
    secretKey: `sk_${mode}_${randomAlphanumeric(32)}`,
    webhookSecret: `whsec_${randomAlphanumeric(32)}`,
  };
}

const encoder = new TextEncoder();

/** `Stripe-Signature` for `payload` exactly as Stripe builds it: `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`. */
export async function signStripe(
  payload: string,
  secret: string,
  timestamp: number = Math.floor(Date.now() / 1000),
): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const signature = await crypto.subtle.sign('HMAC', key, encoder.encode(`${timestamp}.${payload}`));
  const hex = [...new Uint8Array(signature)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `t=${timestamp},v1=${hex}`;
}

/** A Stripe event envelope (`evt_...`) around `object`, as JSON text. */
export function stripeEvent(type: string, object: Record<string, unknown>, id = `evt_${randomAlphanumeric(24)}`) {
  return JSON.stringify({
    id,
    object: 'event',
    api_version: '2024-06-20',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  });
}

/** A Checkout Session object as Stripe sends it in `checkout.session.*` events. */
export function checkoutSessionObject(
  tenant: TestTenant,
  booking: { id: string; total: number; currency: string },
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: `cs_test_${randomAlphanumeric(40)}`,
    object: 'checkout.session',
    mode: 'payment',
    status: 'complete',
    payment_status: 'paid',
    amount_total: booking.total,
    currency: booking.currency.toLowerCase(),
    client_reference_id: booking.id,
    payment_intent: `pi_${randomAlphanumeric(24)}`,
    metadata: { booking_id: booking.id, organization_id: tenant.organization.id },
    ...overrides,
  };
}

/** POST the webhook on the tenant's host; signs `payload` with `secret` unless a header (or null: none) is given. */
export async function postWebhook(
  tenant: TestTenant,
  payload: string,
  options: { secret?: string; signature?: string | null } = {},
): Promise<Response> {
  let signature = options.signature;
  if (signature === undefined) {
    if (options.secret === undefined) throw new Error('give a secret or a signature');
    signature = await signStripe(payload, options.secret);
  }
  return request(tenant.url('/api/v1/payments/stripe/webhook'), {
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'cf-connecting-ip': randomIp(),
      ...(signature === null ? {} : { 'stripe-signature': signature }),
    },
    body: payload,
  });
}

/** Stores Stripe keys for the tenant through the API (as an owner); returns the keys. */
export async function configureStripe(tenant: TestTenant, keys = randomStripeKeys()) {
  const owner = await createMember(tenant, 'owner');
  const token = await tokenFor(tenant, owner);
  const response = await request(tenant.url('/api/v1/organization/payment-settings'), {
    method: 'PUT',
    headers: bearer(token),
    body: JSON.stringify({ stripe: keys }),
  });
  if (response.status !== 200)
    throw new Error(`payment settings answered ${response.status}: ${await response.text()}`);
  return { ...keys, ownerToken: token };
}

/** POST /api/v1/public/bookings/{id}/checkout as the buyer: `token` goes in the Booking-Token header, the rest is the body. */
export function startCheckout(tenant: TestTenant, bookingId: string, input: Record<string, unknown>) {
  const { token, ...body } = input;
  return request(tenant.url(`/api/v1/public/bookings/${bookingId}/checkout`), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'cf-connecting-ip': randomIp(),
      ...(typeof token === 'string' ? { 'booking-token': token } : {}),
    },
    body: JSON.stringify(body),
  });
}

export async function paymentRow(tenant: TestTenant, bookingId: string) {
  const [row] = await database()
    .select()
    .from(payments)
    .where(and(eq(payments.organizationId, tenant.organization.id), eq(payments.bookingId, bookingId)));
  if (!row) throw new Error(`no payment for booking ${bookingId}`);
  return row;
}
