import type { Bindings } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { Logger } from '../../lib/logger.ts';

/**
 * A small Stripe client over fetch, shaped like Stripe's HTTP API: form-encoded bodies with bracketed keys
 * (`line_items[0][price_data][unit_amount]=1500`), `Authorization: Bearer <secret key>`, a pinned `Stripe-Version`,
 * and an `Idempotency-Key` on every POST so a retried call never creates a second object. Every call times out after
 * 10 seconds. A refusal or an unreachable Stripe becomes a 502 `payment_provider_error` problem; the secret key is
 * never logged and Stripe's error message (which can quote parts of the key) is not passed on.
 */
export const STRIPE_API_VERSION = '2024-06-20';
export const STRIPE_API_BASE = 'https://api.stripe.com';
const TIMEOUT_MS = 10_000;

export interface StripeClient {
  baseUrl: string;
  secretKey: string;
  logger: Logger;
  /** Whose key this is: an organization's own (payments, the default) or the platform's (plan billing). */
  account?: 'organization' | 'platform';
}

/**
 * Where Stripe calls go: https://api.stripe.com, except in the local environment when STRIPE_API_BASE is set (the
 * fake Stripe of the tests). Staging and production ignore STRIPE_API_BASE.
 */
export function stripeApiBase(bindings: Pick<Bindings, 'ENVIRONMENT' | 'STRIPE_API_BASE'>): string {
  if (bindings.ENVIRONMENT === 'local' && bindings.STRIPE_API_BASE !== undefined) {
    return bindings.STRIPE_API_BASE.replace(/\/+$/, '');
  }
  return STRIPE_API_BASE;
}

export function stripeClient(
  bindings: Pick<Bindings, 'ENVIRONMENT' | 'STRIPE_API_BASE'>,
  secretKey: string,
  logger: Logger,
): StripeClient {
  return { baseUrl: stripeApiBase(bindings), secretKey, logger };
}

type FormValue = string | number | boolean | null | undefined | readonly FormValue[] | { [key: string]: FormValue };

/** Stripe's form encoding: nested objects and arrays as `a[b][0][c]`; null and undefined are left out. */
export function stripeForm(params: Record<string, FormValue>): URLSearchParams {
  const form = new URLSearchParams();
  const append = (key: string, value: FormValue): void => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      (value as readonly FormValue[]).forEach((item, index) => append(`${key}[${index}]`, item));
    } else if (typeof value === 'object') {
      for (const [inner, item] of Object.entries(value)) append(`${key}[${inner}]`, item);
    } else {
      form.append(key, String(value));
    }
  };
  for (const [key, value] of Object.entries(params)) append(key, value);
  return form;
}

interface StripeErrorBody {
  error?: { type?: string; code?: string; param?: string; decline_code?: string };
}

function providerError(detail: string, cause?: unknown, extensions: Record<string, unknown> = {}): ApiError {
  return new ApiError('payment_provider_error', { detail, cause, extensions });
}

// Errors of requests Stripe answered with a definite "no" (a 4xx other than 409, 429 and idempotency_error):
// nothing was done. Every other error (no answer, 5xx, 409, 429, an unreadable body) leaves the outcome unknown.
const refusals = new WeakSet<ApiError>();

/** Whether Stripe definitely refused the request that threw `error` (so it did nothing), not merely failed to answer. */
export function isProviderRefusal(error: unknown): boolean {
  return error instanceof ApiError && refusals.has(error);
}

/** A POST with its idempotency key (form body), or a GET (`idempotencyKey` null: the parameters go in the query). */
async function post<T>(
  client: StripeClient,
  path: string,
  params: Record<string, FormValue>,
  idempotencyKey: string | null,
): Promise<T> {
  let response: Response;
  const form = stripeForm(params).toString();
  const headers = { authorization: `Bearer ${client.secretKey}`, 'stripe-version': STRIPE_API_VERSION };
  try {
    response = await fetch(
      idempotencyKey === null ? `${client.baseUrl}${path}?${form}` : `${client.baseUrl}${path}`,
      idempotencyKey === null
        ? { method: 'GET', headers, signal: AbortSignal.timeout(TIMEOUT_MS) }
        : {
            method: 'POST',
            headers: {
              ...headers,
              'content-type': 'application/x-www-form-urlencoded',
              'idempotency-key': idempotencyKey,
            },
            body: form,
            signal: AbortSignal.timeout(TIMEOUT_MS),
          },
    );
  } catch (error) {
    client.logger.warn('stripe unreachable', { path, error });
    throw providerError('The payment provider did not answer; retry shortly.', error);
  }
  const text = await response.text();
  if (!response.ok) {
    let body: StripeErrorBody = {};
    try {
      body = JSON.parse(text) as StripeErrorBody;
    } catch {
      // A non-JSON error page: only the status is known.
    }
    const stripeError = {
      status: response.status,
      type: body.error?.type ?? null,
      code: body.error?.code ?? null,
      param: body.error?.param ?? null,
    };
    client.logger.warn('stripe refused a request', {
      path,
      ...stripeError,
      stripeRequestId: response.headers.get('request-id'),
    });
    const detail =
      response.status === 401 || response.status === 403
        ? client.account === 'platform'
          ? "Stripe refused the platform's billing key; the operators have to fix it."
          : "Stripe refused the organization's API key; check the payment settings."
        : `Stripe refused the request (${stripeError.type ?? `HTTP ${response.status}`}${
            stripeError.code === null ? '' : `: ${stripeError.code}`
          }).`;
    const error = providerError(detail, undefined, {
      provider: 'stripe',
      providerError: { type: stripeError.type, code: stripeError.code },
    });
    // An idempotency_error (400) says the key was used before with another body: that first request may have been
    // carried out, so it is no refusal.
    if (
      response.status < 500 &&
      response.status !== 409 &&
      response.status !== 429 &&
      stripeError.type !== 'idempotency_error'
    ) {
      refusals.add(error);
    }
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw providerError('The payment provider sent an unreadable answer.', error);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Checkout Sessions
// ---------------------------------------------------------------------------------------------------------------

export interface CheckoutLineItem {
  name: string;
  /** Integer minor units per ticket. */
  unitAmount: number;
  quantity: number;
}

export interface CheckoutSessionInput {
  bookingId: string;
  organizationId: string;
  /** ISO 4217, any case (sent lowercased). */
  currency: string;
  customerEmail: string;
  lineItems: readonly CheckoutLineItem[];
  /** Unix seconds; Stripe accepts 30 minutes to 24 hours after the session is created. */
  expiresAt: number;
  successUrl: string;
  cancelUrl: string;
  idempotencyKey: string;
}

export interface CheckoutSession {
  id: string;
  url: string;
  /** Unix seconds. */
  expiresAt: number;
  amountTotal: number | null;
}

interface StripeCheckoutSession {
  id?: unknown;
  url?: unknown;
  expires_at?: unknown;
  amount_total?: unknown;
}

/** POST /v1/checkout/sessions: a one-time payment of the booking's items, tagged with the booking and tenant. */
export async function createCheckoutSession(
  client: StripeClient,
  input: CheckoutSessionInput,
): Promise<CheckoutSession> {
  const currency = input.currency.toLowerCase();
  const metadata = { booking_id: input.bookingId, organization_id: input.organizationId };
  const session = await post<StripeCheckoutSession>(
    client,
    '/v1/checkout/sessions',
    {
      mode: 'payment',
      client_reference_id: input.bookingId,
      customer_email: input.customerEmail,
      expires_at: input.expiresAt,
      success_url: input.successUrl,
      cancel_url: input.cancelUrl,
      line_items: input.lineItems.map((item) => ({
        quantity: item.quantity,
        price_data: { currency, unit_amount: item.unitAmount, product_data: { name: item.name } },
      })),
      metadata,
      payment_intent_data: { metadata },
    },
    input.idempotencyKey,
  );
  if (typeof session.id !== 'string' || typeof session.url !== 'string' || typeof session.expires_at !== 'number') {
    throw providerError('The payment provider sent an incomplete Checkout Session.');
  }
  return {
    id: session.id,
    url: session.url,
    expiresAt: session.expires_at,
    amountTotal: typeof session.amount_total === 'number' ? session.amount_total : null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Refunds
// ---------------------------------------------------------------------------------------------------------------

export interface RefundInput {
  /** The PaymentIntent to refund (`payments.payment_intent_id`, stored when the Checkout Session was paid). */
  paymentIntent: string;
  /** Integer minor units; at most what is left to refund on the PaymentIntent. */
  amount: number;
  /** Makes the call safe to retry, e.g. `refund-<refund row id>`. */
  idempotencyKey: string;
  /** Shown in the Stripe dashboard, e.g. `{ booking_id, organization_id, refund_id }`. */
  metadata?: Record<string, string>;
  reason?: 'duplicate' | 'fraudulent' | 'requested_by_customer';
}

export interface StripeRefund {
  /** `re_...` */
  id: string;
  /** Stripe's refund status: `pending`, `requires_action`, `succeeded`, `failed` or `canceled`. */
  status: string;
  amount: number;
}

/**
 * POST /v1/refunds. For the refunds endpoint:
 *
 *   const client = stripeClient(ctx.bindings, await decryptStripeSecretKey(ctx.bindings, organizationId, row), ctx.logger);
 *   const refund = await createRefund(client, { paymentIntent, amount, idempotencyKey: `refund-${refundId}`, metadata });
 *
 * Resolves with Stripe's refund (`refund.status` is usually `succeeded` or `pending`); throws ApiError
 * `payment_provider_error` (502) when Stripe refuses (e.g. the amount exceeds what is left) or does not answer, in
 * which case nothing was refunded, or the same idempotency key may be retried safely.
 */
export async function createRefund(client: StripeClient, input: RefundInput): Promise<StripeRefund> {
  const refund = await post<{ id?: unknown; status?: unknown; amount?: unknown }>(
    client,
    '/v1/refunds',
    {
      payment_intent: input.paymentIntent,
      amount: input.amount,
      reason: input.reason,
      metadata: input.metadata,
    },
    input.idempotencyKey,
  );
  if (typeof refund.id !== 'string' || typeof refund.status !== 'string' || typeof refund.amount !== 'number') {
    throw providerError('The payment provider sent an incomplete refund.');
  }
  return { id: refund.id, status: refund.status, amount: refund.amount };
}

/**
 * GET /v1/refunds?payment_intent=...: the PaymentIntent's refunds (newest first, at most 100), to find the one a
 * request made whose answer was lost (by `metadata[refund_id]`). Throws like `createRefund`.
 */
export async function listRefunds(
  client: StripeClient,
  paymentIntent: string,
): Promise<(StripeRefund & { metadata: Record<string, string> })[]> {
  const list = await post<{ data?: unknown }>(
    client,
    '/v1/refunds',
    { payment_intent: paymentIntent, limit: 100 },
    null,
  );
  if (!Array.isArray(list.data)) throw providerError('The payment provider sent an incomplete list of refunds.');
  return (list.data as { id?: unknown; status?: unknown; amount?: unknown; metadata?: unknown }[]).flatMap((refund) =>
    typeof refund.id === 'string' && typeof refund.status === 'string' && typeof refund.amount === 'number'
      ? [
          {
            id: refund.id,
            status: refund.status,
            amount: refund.amount,
            metadata:
              typeof refund.metadata === 'object' && refund.metadata !== null
                ? (refund.metadata as Record<string, string>)
                : {},
          },
        ]
      : [],
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Billing (the platform's own Stripe account: plan subscriptions of organizations)
// ---------------------------------------------------------------------------------------------------------------

/** The id of a Stripe reference field: the id itself, or an expanded object's `id`. */
export function stripeId(value: unknown): string | null {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string') {
    return (value as { id: string }).id;
  }
  return null;
}

/** POST /v1/customers: the organization's customer on the platform account, tagged with its id. */
export async function createCustomer(
  client: StripeClient,
  input: { organizationId: string; name: string; email: string | null; idempotencyKey: string },
): Promise<string> {
  const customer = await post<{ id?: unknown }>(
    client,
    '/v1/customers',
    { name: input.name, email: input.email, metadata: { organization_id: input.organizationId } },
    input.idempotencyKey,
  );
  const id = stripeId(customer.id);
  if (id === null) throw providerError('The payment provider sent an incomplete customer.');
  return id;
}

/**
 * POST /v1/checkout/sessions in subscription mode: one recurring price for the customer, tagged with the
 * organization (client_reference_id, and metadata on the session and on the subscription it creates).
 */
export async function createSubscriptionCheckout(
  client: StripeClient,
  input: {
    organizationId: string;
    customer: string;
    price: string;
    plan: string;
    successUrl: string;
    cancelUrl: string;
    idempotencyKey: string;
  },
): Promise<{ id: string; url: string; expiresAt: number }> {
  const metadata = { organization_id: input.organizationId, plan: input.plan };
  const session = await post<StripeCheckoutSession>(
    client,
    '/v1/checkout/sessions',
    {
      mode: 'subscription',
      customer: input.customer,
      client_reference_id: input.organizationId,
      line_items: [{ price: input.price, quantity: 1 }],
      success_url: input.successUrl,
      cancel_url: input.cancelUrl,
      metadata,
      subscription_data: { metadata },
    },
    input.idempotencyKey,
  );
  if (typeof session.id !== 'string' || typeof session.url !== 'string' || typeof session.expires_at !== 'number') {
    throw providerError('The payment provider sent an incomplete Checkout Session.');
  }
  return { id: session.id, url: session.url, expiresAt: session.expires_at };
}

/** POST /v1/billing_portal/sessions: a short-lived link to Stripe's customer portal (plan, payment method, invoices). */
export async function createPortalSession(
  client: StripeClient,
  input: { customer: string; returnUrl: string; idempotencyKey: string },
): Promise<{ id: string; url: string }> {
  const session = await post<{ id?: unknown; url?: unknown }>(
    client,
    '/v1/billing_portal/sessions',
    { customer: input.customer, return_url: input.returnUrl },
    input.idempotencyKey,
  );
  if (typeof session.id !== 'string' || typeof session.url !== 'string') {
    throw providerError('The payment provider sent an incomplete billing portal session.');
  }
  return { id: session.id, url: session.url };
}

/** GET /v1/subscriptions/{id}: the subscription as it is now (Stripe's object, checked by the caller). */
export async function retrieveSubscription(client: StripeClient, id: string): Promise<Record<string, unknown>> {
  if (!/^sub_[A-Za-z0-9]+$/.test(id)) throw providerError('Not a Stripe subscription id.');
  return post<Record<string, unknown>>(client, `/v1/subscriptions/${id}`, {}, null);
}

// ---------------------------------------------------------------------------------------------------------------
// Webhook signatures
// ---------------------------------------------------------------------------------------------------------------

export type SignatureCheck =
  { ok: true; timestamp: number } | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' | 'stale' };

const encoder = new TextEncoder();

function hexBytes(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return null;
  const bytes = new Uint8Array(32);
  for (let index = 0; index < 32; index += 1) bytes[index] = parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}

/**
 * Stripe's webhook signature scheme: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` where each v1 is
 * HMAC-SHA256(secret, `${t}.${raw body}`). Passes when one v1 matches (compared in constant time by
 * `crypto.subtle.verify`) and `t` is at most `toleranceSeconds` old. Other schemes (v0) are ignored, like Stripe's
 * libraries do. `payload` must be the raw body, byte for byte.
 */
export async function verifyStripeSignature(
  payload: string | Uint8Array,
  header: string | null | undefined,
  secret: string,
  toleranceSeconds = 300,
  now: number = Math.floor(Date.now() / 1000),
): Promise<SignatureCheck> {
  if (header === null || header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  let timestamp: number | null = null;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator === -1) continue;
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === 'v1') {
      const bytes = hexBytes(value);
      if (bytes !== null) signatures.push(bytes);
    }
  }
  if (timestamp === null || signatures.length === 0) return { ok: false, reason: 'malformed' };

  const body = typeof payload === 'string' ? encoder.encode(payload) : payload;
  const prefix = encoder.encode(`${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'verify',
  ]);
  let matched = false;
  for (const signature of signatures) {
    if (await crypto.subtle.verify('HMAC', key, signature, signed)) matched = true;
  }
  if (!matched) return { ok: false, reason: 'mismatch' };
  if (toleranceSeconds > 0 && timestamp < now - toleranceSeconds) return { ok: false, reason: 'stale' };
  return { ok: true, timestamp };
}
