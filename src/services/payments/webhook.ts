import { and, eq, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { bookings, paymentEvents, payments, type Booking, type Payment } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { DecryptionError } from '../../lib/crypto.ts';
import { strictUtf8 } from '../../lib/text.ts';
import { auditInsert, type AuditEntry } from '../audit/record.ts';
import { confirmStatements, releaseStatements } from '../bookings/transitions.ts';
import { abortLabel, mustChange, nothingChanged } from '../events/shared.ts';
import type { EventType } from '../outbox/catalogue.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { bookingData, paymentData } from '../outbox/views.ts';
import { decryptStripeWebhookSecret, selectPaymentSettings } from './settings.ts';
import { verifyStripeSignature } from './stripe.ts';

export type WebhookOutcome = 'confirmed' | 'payment_recorded' | 'released' | 'payment_failed' | 'unchanged' | 'ignored';

export interface WebhookReceipt {
  received: true;
  duplicate: boolean;
  outcome: WebhookOutcome;
}

export interface StripeWebhookInput {
  /** The raw request body, byte for byte (the signature covers it). */
  body: Uint8Array;
  signature: string | undefined;
}

interface Target {
  booking: { id: string; status: Booking['status']; eventId: string; provider: Booking['provider'] };
  payment: Payment;
}

export interface StripeEvent {
  id: string;
  type: string;
  /** Unix seconds when Stripe made the event; null when absent. */
  created: number | null;
  object: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The 400 detail of a refused Stripe-Signature; `secret` names the signing secret it was checked against. */
export function signatureProblem(
  reason: 'missing' | 'malformed' | 'mismatch' | 'stale',
  secret = "this organization's webhook secret",
): string {
  switch (reason) {
    case 'missing':
      return 'The Stripe-Signature header is missing.';
    case 'malformed':
      return 'The Stripe-Signature header is malformed.';
    case 'mismatch':
      return `The Stripe-Signature does not match the body and ${secret}.`;
    case 'stale':
      return 'The Stripe-Signature timestamp is too old (more than 5 minutes).';
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** The Stripe event in a verified webhook body; 400 when it is not JSON or not an event. */
export function parseEvent(body: Uint8Array): StripeEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8(body));
  } catch {
    throw new ApiError('invalid_json', { detail: 'The body is not valid JSON.' });
  }
  const id = isRecord(parsed) ? text(parsed.id) : null;
  const type = isRecord(parsed) ? text(parsed.type) : null;
  const data = isRecord(parsed) ? parsed.data : undefined;
  if (id === null || id.length > 255 || type === null || !isRecord(data) || !isRecord(data.object)) {
    throw new ApiError('bad_request', { detail: 'The body is not a Stripe event (id, type, data.object).' });
  }
  const created = isRecord(parsed) && Number.isSafeInteger(parsed.created) ? (parsed.created as number) : null;
  return { id, type, created, object: data.object };
}

/** The booking a Checkout Session or PaymentIntent is about, from the metadata the checkout put on it. */
function bookingReference(object: Record<string, unknown>): {
  organizationId: string | null;
  bookingId: string | null;
} {
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  const bookingId = text(metadata.booking_id) ?? text(object.client_reference_id);
  return {
    organizationId: text(metadata.organization_id),
    bookingId: bookingId !== null && UUID.test(bookingId) ? bookingId.toLowerCase() : null,
  };
}

function paymentIntentOf(session: Record<string, unknown>): string | null {
  const intent = session.payment_intent;
  if (isRecord(intent)) return text(intent.id);
  return text(intent);
}

/**
 * POST /payments/stripe/webhook on a tenant host. The signature is checked over the raw body with the tenant's own
 * (decrypted) webhook secret before anything is parsed: a missing, malformed, stale or foreign signature is a 400 and
 * changes nothing. Each event id is recorded in `payment_events` in the same batch as its effects, by an insert
 * that aborts the batch when the id is already there, so a replayed event (Stripe retries, duplicates) changes
 * nothing again and answers `duplicate: true`. Events about bookings of another organization (by their metadata) or
 * unknown to this one are recorded and ignored. The effects include the outbox events (`booking.confirmed` and
 * `payment.succeeded`, `payment.failed`, `booking.expired`), so a replay publishes nothing twice. Round trips: the
 * settings, the booking, one write batch.
 */
export async function handleStripeWebhook({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: StripeWebhookInput;
}): Promise<WebhookReceipt> {
  const tenant = requireTenant(ctx);
  const organizationId = tenant.id;
  const db = ctx.services.db;
  if (input.signature === undefined || input.signature.trim() === '') {
    throw new ApiError('bad_request', { detail: signatureProblem('missing') });
  }
  const [[settings]] = await scoped(db, { organizationId }, [selectPaymentSettings(db, organizationId)]);
  if (!settings?.stripeWebhookSecret) {
    throw new ApiError('not_found', { detail: 'Stripe is not configured for this organization.' });
  }
  let secret: string;
  try {
    secret = await decryptStripeWebhookSecret(ctx.bindings, organizationId, settings.stripeWebhookSecret);
  } catch (error) {
    if (!(error instanceof DecryptionError)) throw error;
    ctx.logger.error('stored Stripe webhook secret cannot be decrypted', { organizationId });
    throw new ApiError('misconfigured', { detail: "The organization's Stripe settings cannot be read." });
  }
  const check = await verifyStripeSignature(input.body, input.signature, secret);
  if (!check.ok) {
    ctx.logger.warn('stripe webhook signature refused', { reason: check.reason });
    throw new ApiError('bad_request', { detail: signatureProblem(check.reason) });
  }
  const event = parseEvent(input.body);
  return new WebhookProcessor(ctx, organizationId, event).run();
}

class WebhookProcessor {
  private readonly ctx: ServiceContext;
  private readonly organizationId: string;
  private readonly event: StripeEvent;
  private readonly db: ServiceContext['services']['db'];
  private readonly log: ServiceContext['logger'];

  constructor(ctx: ServiceContext, organizationId: string, event: StripeEvent) {
    this.ctx = ctx;
    this.organizationId = organizationId;
    this.event = event;
    this.db = ctx.services.db;
    this.log = ctx.logger.child({ stripeEventId: event.id, stripeEventType: event.type });
  }

  async run(): Promise<WebhookReceipt> {
    const { type, object } = this.event;
    switch (type) {
      case 'checkout.session.completed':
        // Delayed methods (SEPA debit, ...) complete unpaid and report later with async_payment_succeeded.
        if (object.payment_status !== 'paid') return this.recordOnly('unchanged');
        return this.paid();
      case 'checkout.session.async_payment_succeeded':
        return this.paid();
      case 'checkout.session.expired':
        return this.sessionExpired();
      case 'checkout.session.async_payment_failed':
      case 'payment_intent.payment_failed':
        return this.failed();
      default:
        return this.recordOnly('ignored');
    }
  }

  /** The insert that records the event id; it aborts the batch (label `duplicate`) when the id is known. */
  private record() {
    return mustChange(
      this.db,
      this.db
        .insert(paymentEvents)
        .values({
          organizationId: this.organizationId,
          provider: 'stripe',
          eventId: this.event.id,
          type: this.event.type,
        })
        .onConflictDoNothing()
        .returning({ eventId: paymentEvents.eventId }),
      'duplicate',
    );
  }

  private audit(action: string, target: { type: string; id: string }, metadata: Record<string, unknown>) {
    const entry: AuditEntry = {
      organizationId: this.organizationId,
      actor: { type: 'system' },
      action,
      target,
      metadata: { provider: 'stripe', stripeEventId: this.event.id, stripeEventType: this.event.type, ...metadata },
    };
    return auditInsert(this.db, this.ctx.client, entry);
  }

  /** The outbox event of a change of this booking (`payment.*` carry the payment, the others the booking). */
  private publish(type: EventType, bookingId: string) {
    const data = type.startsWith('payment.')
      ? paymentData(this.organizationId, bookingId)
      : bookingData(this.organizationId, bookingId);
    return outboxInsertSelect(this.db, { organizationId: this.organizationId, type, data });
  }

  /**
   * Runs `[record, ...effects]` as one batch; a known event id answers `duplicate` and changes nothing. When the
   * effects publish outbox events, they are dispatched after the response.
   */
  private async write(effects: BatchItem<'pg'>[], outcome: WebhookOutcome, publishes = false): Promise<WebhookReceipt> {
    try {
      await scoped(this.db, { organizationId: this.organizationId }, [this.record(), ...effects]);
      if (publishes) notifyOutbox(this.ctx, this.organizationId);
      return { received: true, duplicate: false, outcome };
    } catch (error) {
      if (abortLabel(error) === 'duplicate') return { received: true, duplicate: true, outcome: 'unchanged' };
      throw error;
    }
  }

  private recordOnly(outcome: WebhookOutcome): Promise<WebhookReceipt> {
    return this.write([], outcome);
  }

  /** The booking and payment the event is about, or null (recorded and ignored) when not this tenant's. */
  private async load(): Promise<Target | 'duplicate' | null> {
    const reference = bookingReference(this.event.object);
    if (reference.organizationId !== this.organizationId || reference.bookingId === null) {
      // Another organization's booking (or a payment this API did not create): never look it up here.
      this.log.warn('stripe event for another organization or no booking ignored', {
        metadataOrganizationId: reference.organizationId,
        bookingId: reference.bookingId,
      });
      return null;
    }
    const bookingId = reference.bookingId;
    const { organizationId, db } = this;
    const [[booking], [payment], [known]] = await scoped(db, { organizationId }, [
      db
        .select({
          id: bookings.id,
          status: bookings.status,
          eventId: bookings.eventId,
          provider: bookings.provider,
        })
        .from(bookings)
        .where(and(eq(bookings.organizationId, organizationId), eq(bookings.id, bookingId)))
        .limit(1),
      db
        .select()
        .from(payments)
        .where(and(eq(payments.organizationId, organizationId), eq(payments.bookingId, bookingId)))
        .limit(1),
      db
        .select({ eventId: paymentEvents.eventId })
        .from(paymentEvents)
        .where(
          and(
            eq(paymentEvents.organizationId, organizationId),
            eq(paymentEvents.provider, 'stripe'),
            eq(paymentEvents.eventId, this.event.id),
          ),
        )
        .limit(1),
    ]);
    if (known !== undefined) return 'duplicate';
    if (booking === undefined || payment === undefined || booking.provider !== 'stripe') {
      this.log.warn('stripe event for an unknown booking ignored', { bookingId });
      return null;
    }
    return { booking, payment };
  }

  /** The target of the event, or the receipt when there is none (a known event id, or nothing of this tenant's). */
  private async loaded(): Promise<{ receipt: WebhookReceipt } | { target: Target }> {
    const found = await this.load();
    if (found === 'duplicate') return { receipt: { received: true, duplicate: true, outcome: 'unchanged' } };
    if (found === null) return { receipt: await this.recordOnly('ignored') };
    return { target: found };
  }

  /** checkout.session.completed (paid) and async_payment_succeeded: confirm a pending booking. */
  private async paid(): Promise<WebhookReceipt> {
    const result = await this.loaded();
    if ('receipt' in result) return result.receipt;
    const { booking, payment } = result.target;
    const session = this.event.object;
    const paymentIntentId = paymentIntentOf(session);
    const amountTotal = typeof session.amount_total === 'number' ? session.amount_total : null;
    const currency = text(session.currency)?.toUpperCase() ?? null;
    const details = { bookingId: booking.id, amount: amountTotal, currency, paymentIntentId };

    if (amountTotal !== payment.amount || currency !== payment.currency) {
      this.log.error('stripe payment amount differs from the booking', {
        bookingId: booking.id,
        expected: payment.amount,
        received: amountTotal,
      });
      return this.write(
        [
          this.audit(
            'payment.amount_mismatch',
            { type: 'payment', id: payment.id },
            {
              ...details,
              expectedAmount: payment.amount,
              expectedCurrency: payment.currency,
            },
          ),
        ],
        'unchanged',
      );
    }

    // The payment row: succeeded with its PaymentIntent, also after a failed attempt of the same session.
    const paymentSucceeded = () =>
      this.db
        .update(payments)
        .set({
          status: 'succeeded',
          updatedAt: sql`now()`,
          ...(paymentIntentId === null ? {} : { paymentIntentId }),
        })
        .where(
          and(
            eq(payments.organizationId, this.organizationId),
            eq(payments.id, payment.id),
            sql`${payments.status} <> 'succeeded'`,
          ),
        );

    if (booking.status === 'pending') {
      try {
        return await this.write(
          [
            ...confirmStatements(this.db, this.organizationId, booking.id, booking.eventId, { paymentIntentId }),
            paymentSucceeded(),
            this.audit(
              'booking.confirmed',
              { type: 'booking', id: booking.id },
              {
                from: 'pending',
                to: 'confirmed',
                eventId: booking.eventId,
              },
            ),
            this.audit('payment.succeeded', { type: 'payment', id: payment.id }, details),
            this.publish('booking.confirmed', booking.id),
            this.publish('payment.succeeded', booking.id),
          ],
          'confirmed',
          true,
        );
      } catch (error) {
        // Expired or cancelled between the read and the write: the money still arrived (below).
        if (!nothingChanged(error)) throw error;
      }
    } else if (payment.status === 'succeeded') {
      return this.recordOnly('unchanged');
    }

    // The booking is no longer pending (expired, cancelled): record the money and tell staff to refund it. The
    // payment update must change the row: when a concurrent event settled it first (and confirmed the booking),
    // there is nothing to record.
    try {
      const receipt = await this.write(
        [
          mustChange(this.db, paymentSucceeded().returning({ id: payments.id }), 'payment_settled'),
          this.audit(
            'payment.received_for_inactive_booking',
            { type: 'payment', id: payment.id },
            {
              ...details,
              bookingStatus: booking.status === 'pending' ? 'changed' : booking.status,
              action: 'refund_required',
            },
          ),
          // The money arrived: its payment succeeded, even though the booking is no longer pending.
          this.publish('payment.succeeded', booking.id),
        ],
        'payment_recorded',
        true,
      );
      if (!receipt.duplicate) {
        this.log.warn('stripe payment received for a booking that is no longer pending: refund it', {
          bookingId: booking.id,
        });
      }
      return receipt;
    } catch (error) {
      if (abortLabel(error) !== 'payment_settled') throw error;
      return this.recordOnly('unchanged');
    }
  }

  /** checkout.session.expired: release a booking still pending on this session. */
  private async sessionExpired(): Promise<WebhookReceipt> {
    const result = await this.loaded();
    if ('receipt' in result) return result.receipt;
    const { booking, payment } = result.target;
    const sessionId = text(this.event.object.id);
    // An older or orphaned session expiring leaves a booking alone that pays through another one.
    const current = payment.checkoutSessionId === null || payment.checkoutSessionId === sessionId;
    if (booking.status !== 'pending' || !current) return this.recordOnly('unchanged');
    try {
      return await this.write(
        [
          ...releaseStatements(this.db, this.organizationId, booking.id, booking.eventId, 'pending', 'expired'),
          this.audit(
            'booking.expired',
            { type: 'booking', id: booking.id },
            {
              from: 'pending',
              to: 'expired',
              reason: 'checkout_session_expired',
              sessionId,
              eventId: booking.eventId,
            },
          ),
          this.publish('booking.expired', booking.id),
        ],
        'released',
        true,
      );
    } catch (error) {
      if (!nothingChanged(error)) throw error;
      return this.recordOnly('unchanged');
    }
  }

  /** payment_intent.payment_failed, checkout.session.async_payment_failed: the attempt failed. */
  private async failed(): Promise<WebhookReceipt> {
    const result = await this.loaded();
    if ('receipt' in result) return result.receipt;
    const { booking, payment } = result.target;
    if (payment.status !== 'pending') return this.recordOnly('unchanged');
    const object = this.event.object;
    const lastError = isRecord(object.last_payment_error) ? object.last_payment_error : {};
    const paymentIntentId =
      this.event.type === 'payment_intent.payment_failed' ? text(object.id) : paymentIntentOf(object);
    try {
      return await this.write(
        [
          mustChange(
            this.db,
            this.db
              .update(payments)
              .set({
                status: 'failed',
                updatedAt: sql`now()`,
                ...(paymentIntentId === null ? {} : { paymentIntentId }),
              })
              .where(
                and(
                  eq(payments.organizationId, this.organizationId),
                  eq(payments.id, payment.id),
                  eq(payments.status, 'pending'),
                ),
              )
              .returning({ id: payments.id }),
          ),
          this.audit(
            'payment.failed',
            { type: 'payment', id: payment.id },
            {
              bookingId: booking.id,
              paymentIntentId,
              failureCode: text(lastError.code),
              declineCode: text(lastError.decline_code),
            },
          ),
          this.publish('payment.failed', booking.id),
        ],
        'payment_failed',
        true,
      );
    } catch (error) {
      if (!nothingChanged(error)) throw error;
      return this.recordOnly('unchanged');
    }
  }
}
