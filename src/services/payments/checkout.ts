import { and, asc, eq, sql } from 'drizzle-orm';
import { bookingItems, bookings, payments, ticketTypes } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { DecryptionError } from '../../lib/crypto.ts';
import { auditInsert } from '../audit/record.ts';
import { hashToken } from '../auth/tokens.ts';
import { bookingNotFound } from '../bookings/shared.ts';
import { abortLabel, mustChange } from '../events/shared.ts';
import { decryptStripeSecretKey, selectPaymentSettings } from './settings.ts';
import { createCheckoutSession, stripeClient } from './stripe.ts';

export interface StartCheckoutInput {
  bookingId: string;
  token: string;
  successUrl?: string | undefined;
  cancelUrl?: string | undefined;
  /** The origin of this request (`https://<tenant host>`), for the default return URLs. */
  origin: string;
}

export interface CheckoutView {
  checkoutUrl: string;
  /** ISO 8601 UTC: when the Checkout Session (and the booking's hold) ends. */
  expiresAt: string;
  sessionId: string;
}

/** Stripe accepts a session expiry 30 minutes to 24 hours after creation; one more minute absorbs clock skew. */
const MIN_SESSION_SECONDS = 31 * 60;
const MAX_SESSION_SECONDS = 23 * 60 * 60;

/**
 * When the Checkout Session expires (unix seconds): the booking's hold, or the earliest time Stripe accepts when the
 * hold ends sooner, rounded up to the minute so that retries within a minute send identical parameters (Stripe
 * refuses a reused Idempotency-Key with different parameters).
 */
export function sessionExpiry(holdEndsAt: Date, nowMs: number): number {
  const now = Math.floor(nowMs / 1000);
  const earliest = Math.ceil((now + MIN_SESSION_SECONDS) / 60) * 60;
  return Math.min(Math.max(Math.floor(holdEndsAt.getTime() / 1000), earliest), now + MAX_SESSION_SECONDS);
}

function notPayable(detail: string): ApiError {
  return new ApiError('conflict', { detail });
}

/**
 * POST /public/bookings/{id}/checkout: the Stripe Checkout URL of a pending Stripe booking, for its buyer (the
 * booking token is checked in the query itself: a wrong token finds nothing, 404).
 *
 * A Checkout Session that has not expired is reused. Otherwise one is created at Stripe with the booking's items at
 * the prices charged, tagged with the booking and organization ids (also on the PaymentIntent), and stored with a
 * conditional write: the booking must still be pending and unexpired, and no other live session may have been
 * stored meanwhile (a concurrent call's session then wins and is returned). Stripe cannot expire a session sooner
 * than 30 minutes after creating it, so the booking's hold is extended to the session's expiry in the same batch:
 * seats stay held as long as the buyer can pay. Round trips: one read, one Stripe call, one write.
 */
export async function startCheckout({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: StartCheckoutInput;
}): Promise<CheckoutView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const bookingId = input.bookingId.toLowerCase();
  const tokenHash = await hashToken(input.token);
  // Like the buyer's booking view: every query of the batch requires the token, so nothing is read without it.
  const holder = sql`exists (select 1 from ${bookings} t where t.organization_id = ${organizationId}
    and t.id = ${bookingId} and t.token_hash = ${tokenHash})`;

  const [[booking], items, [payment], [settings]] = await scoped(db, { organizationId }, [
    db
      .select()
      .from(bookings)
      .where(
        and(eq(bookings.organizationId, organizationId), eq(bookings.id, bookingId), eq(bookings.tokenHash, tokenHash)),
      )
      .limit(1),
    db
      .select({
        ticketTypeId: bookingItems.ticketTypeId,
        quantity: bookingItems.quantity,
        unitPrice: bookingItems.unitPrice,
        name: ticketTypes.name,
      })
      .from(bookingItems)
      .innerJoin(
        ticketTypes,
        and(eq(ticketTypes.organizationId, bookingItems.organizationId), eq(ticketTypes.id, bookingItems.ticketTypeId)),
      )
      .where(and(eq(bookingItems.organizationId, organizationId), eq(bookingItems.bookingId, bookingId), holder))
      .orderBy(asc(bookingItems.ticketTypeId)),
    db
      .select()
      .from(payments)
      .where(and(eq(payments.organizationId, organizationId), eq(payments.bookingId, bookingId), holder))
      .limit(1),
    selectPaymentSettings(db, organizationId),
  ]);
  if (booking === undefined) throw bookingNotFound();
  if (booking.provider !== 'stripe') throw notPayable('This booking is not paid through Stripe.');
  if (booking.status !== 'pending') throw notPayable(`The booking is ${booking.status}; there is nothing to pay.`);
  const now = Date.now();
  if (booking.expiresAt === null || booking.expiresAt.getTime() <= now) {
    throw notPayable('The booking has expired; its seats are back on sale.');
  }
  if (payment === undefined) throw new Error(`booking ${bookingId} has no payment row`);
  const stored = liveSession(payment, now);
  if (stored !== null) return stored;

  if (!settings?.stripeSecretKey) throw notPayable('This organization no longer accepts Stripe payments.');
  let secretKey: string;
  try {
    secretKey = await decryptStripeSecretKey(ctx.bindings, organizationId, settings.stripeSecretKey);
  } catch (error) {
    if (!(error instanceof DecryptionError)) throw error;
    ctx.logger.error('stored Stripe key cannot be decrypted', { organizationId });
    throw new ApiError('misconfigured', { detail: "The organization's Stripe settings cannot be read." });
  }

  const expiresAt = sessionExpiry(booking.expiresAt, now);
  const returnUrl = (outcome: string) =>
    `${input.origin}/bookings/${bookingId}?checkout=${outcome}&session_id={CHECKOUT_SESSION_ID}`;
  const session = await createCheckoutSession(stripeClient(ctx.bindings, secretKey, ctx.logger), {
    bookingId,
    organizationId,
    currency: booking.currency,
    customerEmail: booking.buyerEmail,
    lineItems: items.map((item) => ({ name: item.name, unitAmount: item.unitPrice, quantity: item.quantity })),
    expiresAt,
    successUrl: input.successUrl ?? returnUrl('success'),
    cancelUrl: input.cancelUrl ?? returnUrl('cancelled'),
    idempotencyKey: `checkout-${payment.id}-${expiresAt}`,
  });
  if (session.amountTotal !== null && session.amountTotal !== booking.total) {
    ctx.logger.error('checkout session total differs from the booking', { bookingId, sessionId: session.id });
  }
  const sessionExpiresAt = new Date(session.expiresAt * 1000);

  try {
    await scoped(db, { organizationId }, [
      // The booking row first (the lock order of every booking path): still pending and unexpired.
      mustChange(
        db,
        sql`(update ${bookings} set expires_at = greatest(expires_at, ${sessionExpiresAt.toISOString()}::timestamptz),
            updated_at = now()
          where organization_id = ${organizationId} and id = ${bookingId} and status = 'pending'
            and provider = 'stripe' and expires_at > now()
          returning 1)`,
        'booking_inactive',
      ),
      mustChange(
        db,
        sql`(update ${payments} set checkout_session_id = ${session.id}, checkout_url = ${session.url},
            checkout_expires_at = ${sessionExpiresAt.toISOString()}::timestamptz, updated_at = now()
          where organization_id = ${organizationId} and id = ${payment.id} and status in ('pending', 'failed')
            and (checkout_session_id is null or checkout_expires_at <= now() or checkout_session_id = ${session.id})
          returning 1)`,
        'checkout_taken',
      ),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: { type: 'anonymous' },
        action: 'payment.checkout_created',
        target: { type: 'booking', id: bookingId },
        metadata: { provider: 'stripe', sessionId: session.id, expiresAt: sessionExpiresAt.toISOString() },
      }),
    ]);
  } catch (error) {
    const label = abortLabel(error);
    if (label === 'booking_inactive') throw notPayable('The booking is no longer pending; there is nothing to pay.');
    if (label !== 'checkout_taken') throw error;
    // A concurrent request stored its session first: answer with that one.
    const [[current]] = await scoped(db, { organizationId }, [
      db
        .select()
        .from(payments)
        .where(and(eq(payments.organizationId, organizationId), eq(payments.id, payment.id)))
        .limit(1),
    ]);
    const winner = current === undefined ? null : liveSession(current, Date.now());
    if (winner === null) throw notPayable('The payment changed while the checkout started; retry.');
    return winner;
  }
  return { checkoutUrl: session.url, expiresAt: sessionExpiresAt.toISOString(), sessionId: session.id };
}

function liveSession(
  payment: { checkoutSessionId: string | null; checkoutUrl: string | null; checkoutExpiresAt: Date | null },
  now: number,
): CheckoutView | null {
  const { checkoutSessionId, checkoutUrl, checkoutExpiresAt } = payment;
  if (checkoutSessionId === null || checkoutUrl === null || checkoutExpiresAt === null) return null;
  if (checkoutExpiresAt.getTime() <= now) return null;
  return { checkoutUrl, expiresAt: checkoutExpiresAt.toISOString(), sessionId: checkoutSessionId };
}
