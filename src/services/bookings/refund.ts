import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import type { Bindings } from '../../env.ts';
import {
  attendees,
  bookingItems,
  bookings,
  payments,
  refunds,
  type Attendee,
  type Booking,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError, type FieldError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import type { Logger } from '../../lib/logger.ts';
import { auditInsert, type Actor } from '../audit/record.ts';
import { issueCreditNote } from '../invoices/issue.ts';
import { abortLabel, actorOf, GUARD_LABEL_PREFIX, mustChange } from '../events/shared.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { bookingData } from '../outbox/views.ts';
import { attendeeSeats, moveSeats } from './inventory.ts';
import { bookingNotFound } from './shared.ts';
import { uuidArray } from '../../db/params.ts';
import { decryptStripeSecretKey, selectPaymentSettings, type PaymentSettingsRow } from '../payments/settings.ts';
import { createRefund, isProviderRefusal, stripeClient, type StripeRefund } from '../payments/stripe.ts';
import { bookingQueries, toBookingView, type BookingView } from './views.ts';

export interface RefundInput {
  /** The booking id. */
  id: string;
  /** Integer minor units; default: everything not refunded yet. */
  amount?: number | undefined;
  /** Tickets of this booking to cancel (their seats go back on sale). */
  attendeeIds?: string[] | undefined;
  reason?: string | undefined;
}

/** How a caller other than staff refunds (the buyer's self-service cancellation). */
export interface RefundOptions {
  /** The audit actor and the refund's `createdBy`; default: the authenticated caller. */
  actor?: Actor;
  /**
   * A guard statement (a GUARD_LABEL_PREFIX label aborts), run in the reservation batch of a Stripe refund and again
   * in the final batch, after the tickets are cancelled; `refused` maps its labels to the answer (null: not its own).
   */
  guard?: { statement: () => SQL; refused: (label: string | null) => ApiError | null };
}

/** What the payment provider did with the money, recorded on the refund row. */
export interface ProviderOutcome {
  status: 'pending' | 'succeeded';
  providerRefundId: string | null;
}

/**
 * Refund rows per booking, whatever their status (a `failed` Stripe attempt keeps its row). A booking has at most
 * 100 tickets (MAX_TICKETS_PER_ORDER in src/routes/bookings/schema.ts), so refunding every ticket on its own takes
 * 100; twice that leaves room for partial refunds by amount and refused Stripe attempts, while the booking (which
 * lists its refunds, unpaginated) stays bounded.
 */
export const MAX_REFUNDS_PER_BOOKING = 200;
const REFUND_LIMIT_LABEL = 'refund_limit';

export function refundLimitError(): ApiError {
  return new ApiError('conflict', {
    detail:
      `A booking has at most ${MAX_REFUNDS_PER_BOOKING} refunds, failed ones included; this one has reached it. ` +
      'Return any further money outside Eventra.',
    extensions: { limit: MAX_REFUNDS_PER_BOOKING },
  });
}

function refundConflict(detail: string, extensions: Record<string, unknown> = {}): ApiError {
  return new ApiError('conflict', { detail, extensions });
}

/**
 * The listed tickets, lowercased, after checking each is a valid ticket of this booking, listed once. Every bad
 * entry is reported with its pointer (400), so the caller can fix the whole list at once.
 */
function listedTickets(ids: readonly string[], tickets: readonly Attendee[]): string[] {
  const byId = new Map(tickets.map((ticket) => [ticket.id, ticket]));
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  const listed = ids.map((raw, index) => {
    const id = raw.toLowerCase();
    const pointer = `/body/attendeeIds/${index}`;
    const ticket = byId.get(id);
    if (seen.has(id)) errors.push({ pointer, message: 'listed twice' });
    else if (ticket === undefined) errors.push({ pointer, message: 'not a ticket of this booking' });
    else if (ticket.status !== 'valid') errors.push({ pointer, message: 'this ticket is already cancelled' });
    seen.add(id);
    return id;
  });
  if (errors.length > 0) {
    throw new ApiError('validation_failed', {
      detail: 'attendeeIds must list valid tickets of this booking, each once.',
      errors,
    });
  }
  return listed;
}

/** What the listed tickets cost: the unit price each was sold at. */
function priceOf(
  listed: readonly string[],
  tickets: readonly Attendee[],
  items: readonly { ticketTypeId: string; unitPrice: number }[],
): number {
  const unitPrice = new Map(items.map((item) => [item.ticketTypeId, item.unitPrice]));
  const byId = new Map(tickets.map((ticket) => [ticket.id, ticket]));
  return listed.reduce((sum, id) => {
    const ticket = byId.get(id);
    return sum + (ticket === undefined ? 0 : (unitPrice.get(ticket.ticketTypeId) ?? 0));
  }, 0);
}

/** Why a booking cannot be refunded at all, or null when it can. */
function refusal(booking: Booking, paymentStatus: string | undefined): ApiError | null {
  if (booking.status !== 'confirmed' && booking.status !== 'cancelled') {
    const hint =
      booking.status === 'pending'
        ? ' A pending booking is not paid yet; cancel it instead.'
        : booking.status === 'refunded'
          ? ' It has been refunded in full already.'
          : '';
    return refundConflict(
      `Only confirmed (or cancelled, paid) bookings can be refunded; this one is ${booking.status}.${hint}`,
    );
  }
  if (booking.total === 0) {
    return refundConflict(
      'This booking is free: there is no money to refund. Cancel it instead (POST /api/v1/bookings/{id}/cancel).',
    );
  }
  if (paymentStatus !== 'succeeded') {
    return refundConflict(
      `The booking's payment is ${paymentStatus ?? 'missing'}; only a succeeded payment can be refunded.`,
    );
  }
  if (booking.refundedAmount >= booking.total) {
    return refundConflict('Everything has been refunded already.', { refundable: 0 });
  }
  return null;
}

/**
 * Returns the money of a confirmed booking, in full or in part, and optionally cancels some of its tickets.
 *
 * - `amount` (default: the listed tickets' prices when `attendeeIds` is given, else everything not refunded yet) must
 *   be at most `total - refundedAmount` (409 otherwise).
 * - A cancelled booking whose payment succeeded (cancelling moves no money) can still be refunded; in full, it
 *   becomes `refunded`.
 * - `attendeeIds` cancel those tickets and put only their seats back on sale (sold -> released). A refund without
 *   them releases nothing, unless it refunds the booking in full: then the booking becomes `refunded` and every
 *   ticket still valid is cancelled, its seat released.
 * - Free and manual bookings: the organizer returns the money offline; the refund row is recorded `succeeded` at
 *   once. Stripe bookings: the amount is reserved first (a `pending` refund row, counted in `refundedAmount` by the
 *   booking's conditional UPDATE), then Stripe is called with the row's id as idempotency key, then its answer is
 *   recorded (see `stripeRefund`): money paid out by Stripe always equals refunds recorded.
 *
 * One batch writes it all: the booking's conditional UPDATE first (still `confirmed` with the `refundedAmount` read,
 * so of two concurrent refunds exactly one passes; the other answers 409), the MAX_REFUNDS_PER_BOOKING guard (counted
 * under the booking's row lock; 409 `refundLimitError`), then the seat moves, the tickets (a
 * guard aborts when a listed ticket is no longer valid), the payment, the refund row, the audit row, the
 * `booking.refunded` event (outbox), and finally the booking as it is now. Round trips: one read, one write; Stripe
 * refunds one more (the reservation, before the call, which holds the limit guard instead).
 */
export async function refundBooking({
  ctx,
  input,
  options = {},
}: {
  ctx: ServiceContext;
  input: RefundInput;
  options?: RefundOptions;
}): Promise<BookingView> {
  const actor = options.actor ?? actorOf(ctx);
  const guard = options.guard;
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const scope = { organizationId };
  const bookingId = input.id.toLowerCase();

  const [[booking], [payment], tickets, [settings], items] = await scoped(db, scope, [
    db
      .select()
      .from(bookings)
      .where(and(eq(bookings.organizationId, organizationId), eq(bookings.id, bookingId)))
      .limit(1),
    db
      .select()
      .from(payments)
      .where(and(eq(payments.organizationId, organizationId), eq(payments.bookingId, bookingId)))
      .limit(1),
    db
      .select()
      .from(attendees)
      .where(and(eq(attendees.organizationId, organizationId), eq(attendees.bookingId, bookingId))),
    selectPaymentSettings(db, organizationId),
    db
      .select({ ticketTypeId: bookingItems.ticketTypeId, unitPrice: bookingItems.unitPrice })
      .from(bookingItems)
      .where(and(eq(bookingItems.organizationId, organizationId), eq(bookingItems.bookingId, bookingId))),
  ]);
  if (booking === undefined) throw bookingNotFound();
  const refused = refusal(booking, payment?.status);
  if (refused !== null || payment === undefined) throw refused ?? bookingNotFound();

  const listed = input.attendeeIds === undefined ? [] : listedTickets(input.attendeeIds, tickets);
  const refundable = booking.total - booking.refundedAmount;
  // Without an amount: the listed tickets' prices when tickets are listed, else everything not refunded yet.
  const amount =
    input.amount ?? (listed.length > 0 ? Math.min(refundable, priceOf(listed, tickets, items)) : refundable);
  if (amount === 0) throw refundConflict('These tickets were free: there is no money to refund; cancel them instead.');
  if (amount > refundable) {
    throw refundConflict(
      `The amount exceeds what is left to refund: at most ${refundable} (minor units of ${booking.currency}).`,
      { refundable },
    );
  }
  const full = amount === refundable;
  // The tickets this refund cancels: the listed ones, or on a full refund every ticket still valid.
  const cancelled = full ? tickets.filter((ticket) => ticket.status === 'valid').map((ticket) => ticket.id) : listed;

  const refundId = crypto.randomUUID();
  const paymentUpdate = (change: SQL) =>
    mustChange(
      db,
      db
        .update(payments)
        .set({ refundedAmount: change, updatedAt: sql`now()` })
        .where(
          and(
            eq(payments.organizationId, organizationId),
            eq(payments.id, payment.id),
            eq(payments.status, 'succeeded'),
          ),
        )
        .returning({ id: payments.id }),
      'stale',
    );
  // The booking row first (lock order), unchanged since it was read: of two concurrent refunds exactly one passes.
  const bookingUpdate = (set: { refundedAmount?: SQL; status?: 'refunded' }) =>
    mustChange(
      db,
      db
        .update(bookings)
        .set({ ...set, updatedAt: sql`now()` })
        .where(
          and(
            eq(bookings.organizationId, organizationId),
            eq(bookings.id, bookingId),
            eq(bookings.status, booking.status),
            eq(bookings.refundedAmount, booking.refundedAmount),
          ),
        )
        .returning({ id: bookings.id }),
      'stale',
    );
  // Right after the booking's UPDATE (which locks its row: every refund row is inserted under that lock), a new
  // statement, hence a snapshot that counts the refund rows of every writer before: the limit holds under races.
  const refundLimit = db.execute(
    sql`select (case when (select count(*) from ${refunds} where ${refunds.organizationId} = ${organizationId}
      and ${refunds.bookingId} = ${bookingId}) < ${MAX_REFUNDS_PER_BOOKING} then '0'
      else ${GUARD_LABEL_PREFIX + REFUND_LIMIT_LABEL} end)::int as guard`,
  );
  const refundRow = {
    id: refundId,
    organizationId,
    bookingId,
    paymentId: payment.id,
    amount,
    currency: booking.currency,
    reason: input.reason ?? null,
    attendeeIds: cancelled,
    createdBy: actor.userId ?? null,
  };

  // Stripe: the money is reserved before Stripe is called (one round trip more than an offline refund), so money out
  // always equals refunds recorded: the amount counts against what is refundable in the same conditional UPDATE
  // that inserts the `pending` refund row.
  let stripe: StripeTarget | null = null;
  if (booking.provider === 'stripe') {
    stripe = await stripeTarget(ctx, booking, payment.paymentIntentId, settings);
    const reservation = [
      bookingUpdate({ refundedAmount: sql`${bookings.refundedAmount} + ${amount}` }),
      refundLimit,
      paymentUpdate(sql`${payments.refundedAmount} + ${amount}`),
      db.insert(refunds).values({ ...refundRow, status: 'pending', providerRefundId: null }),
      ...(guard === undefined ? [] : [db.execute(guard.statement())]),
    ] as const;
    await scoped(db, scope, reservation as unknown as Parameters<typeof scoped>[2]).catch((error: unknown) => {
      const label = abortLabel(error);
      throw label === 'stale'
        ? changedMeanwhile()
        : label === REFUND_LIMIT_LABEL
          ? refundLimitError()
          : (guard?.refused(label) ?? error);
    });
  }
  const outcome = stripe === null ? OFFLINE : await stripeRefund(ctx, stripe, { booking, refundId, amount });

  const seatsReleased =
    cancelled.length === 0
      ? []
      : moveSeats(
          db,
          organizationId,
          booking.eventId,
          attendeeSeats(organizationId, bookingId, cancelled),
          'sold',
          null,
        );
  const settledBooking =
    stripe === null
      ? bookingUpdate({
          refundedAmount: sql`${bookings.refundedAmount} + ${amount}`,
          ...(full ? { status: 'refunded' } : {}),
        })
      : // Reserved already: the booking's refunded amount includes this refund; only a full refund changes its status.
        db.execute(sql`update ${bookings} set status = case when ${full}::boolean then 'refunded'::booking_status else status end,
          updated_at = now() where organization_id = ${organizationId} and id = ${bookingId}`);
  const refundWrite =
    stripe === null
      ? db.insert(refunds).values({ ...refundRow, status: outcome.status, providerRefundId: outcome.providerRefundId })
      : // Aborts the batch when the pending-refund sweep recorded Stripe's answer (and finished the refund) first.
        mustChange(db, recordOutcome(db, organizationId, refundId, outcome).returning({ id: refunds.id }), 'stale');

  const statements = [
    settledBooking,
    // Stripe refunds were counted by the reservation, which inserted their row.
    ...(stripe === null ? [refundLimit] : []),
    // The seats of the tickets about to be cancelled (counted while they are still valid).
    ...seatsReleased,
    // Cancels exactly the tickets decided above; aborts when any of them is no longer valid.
    db.execute(sql`with changed as (
        update ${attendees} set status = 'cancelled', cancelled_at = now(), updated_at = now()
        where organization_id = ${organizationId} and booking_id = ${bookingId} and status = 'valid'
          and id = any(${uuidArray(cancelled)})
        returning id)
      select (case when (select count(*) from changed) = ${cancelled.length}::int then '0'
        else ${GUARD_LABEL_PREFIX + 'tickets_changed'} end)::int as guard`),
    ...(guard === undefined ? [] : [db.execute(guard.statement())]),
    ...(stripe === null ? [paymentUpdate(sql`${payments.refundedAmount} + ${amount}`)] : []),
    refundWrite,
    // Invoices (issue #18 part 4): the refund's credit note, numbered in this batch (none without an invoice).
    issueCreditNote(db, organizationId, bookingId, refundId, amount),
    auditInsert(db, ctx.client, {
      organizationId,
      actor,
      action: 'booking.refunded',
      target: { type: 'booking', id: bookingId },
      metadata: {
        refundId,
        amount,
        currency: booking.currency,
        attendeeIds: cancelled,
        full,
        provider: booking.provider,
        status: outcome.status,
      },
    }),
    outboxInsertSelect(db, { organizationId, type: 'booking.refunded', data: bookingData(organizationId, bookingId) }),
    ...bookingQueries(db, organizationId, bookingId),
  ] as const;

  let results: readonly unknown[];
  try {
    results = await scoped(db, scope, statements as unknown as Parameters<typeof scoped>[2]);
  } catch (error) {
    const label = abortLabel(error);
    if (stripe !== null) {
      // Stripe refunded and the money is reserved, but a listed ticket changed meanwhile: record Stripe's answer on
      // the reserved row anyway (money out = refunds recorded); the tickets stay as they are.
      ctx.logger.error('stripe refund made; tickets changed before they could be cancelled', { bookingId, label });
      await scoped(db, scope, [recordOutcome(db, organizationId, refundId, outcome)]);
    }
    if (label === 'stale' || label === 'tickets_changed') throw changedMeanwhile();
    if (label === REFUND_LIMIT_LABEL) throw refundLimitError();
    throw guard?.refused(label) ?? error;
  }
  notifyOutbox(ctx, organizationId);
  const view = toBookingView(results.slice(-5) as Parameters<typeof toBookingView>[0]);
  if (view === null) throw bookingNotFound();
  return view;
}

function changedMeanwhile(): ApiError {
  return refundConflict(
    'The booking changed while it was being refunded (another refund or a cancellation); read it again.',
  );
}

/**
 * The reserved (`pending`) refund row takes Stripe's answer; changes nothing when the row is no longer pending (the
 * request and the sweep may both have an answer: only one records it).
 */
export function recordOutcome(db: Database, organizationId: string, refundId: string, outcome: ProviderOutcome) {
  return db
    .update(refunds)
    .set({ status: outcome.status, providerRefundId: outcome.providerRefundId, updatedAt: sql`now()` })
    .where(and(eq(refunds.organizationId, organizationId), eq(refunds.id, refundId), eq(refunds.status, 'pending')));
}

interface StripeTarget {
  paymentIntentId: string;
  secretKey: string;
}

/** What a Stripe refund needs, checked before anything is reserved: a PaymentIntent and the organization's key. */
async function stripeTarget(
  ctx: ServiceContext,
  booking: Booking,
  paymentIntentId: string | null,
  settings: PaymentSettingsRow | undefined,
): Promise<StripeTarget> {
  if (paymentIntentId === null) {
    throw refundConflict('The Stripe payment of this booking has no PaymentIntent recorded; refund it in Stripe.');
  }
  const stored = settings?.stripeSecretKey ?? null;
  if (stored === null) {
    throw refundConflict(
      'Stripe is no longer configured for this organization: add its API key in the payment settings to refund.',
    );
  }
  return { paymentIntentId, secretKey: await decryptStripeSecretKey(ctx.bindings, booking.organizationId, stored) };
}

/** A reserved (`pending`) Stripe refund: what is needed to ask Stripe for it, the same way every time. */
export interface ReservedRefund {
  organizationId: string;
  bookingId: string;
  refundId: string;
  amount: number;
  paymentIntentId: string;
}

/** Stripe's answer to a reserved refund: recorded, released after a refusal, or still unknown. */
export type ReservedRefundResult =
  | { kind: 'answered'; outcome: ProviderOutcome }
  | { kind: 'released'; error: ApiError }
  | { kind: 'unanswered'; error: unknown };

/**
 * Asks Stripe for a reserved refund (the request path right after the reservation, and the pending-refund sweep for
 * one Stripe left unanswered). The idempotency key is the refund row's id and the body is the same every time, so a
 * retry gets Stripe's first answer instead of a second refund.
 *
 * - Stripe refunds (`succeeded`, or `pending` / `requires_action`): `answered`; the caller records it with
 *   `recordOutcome` (conditional on the row still being pending).
 * - Stripe definitely refuses (a 4xx, or a refund `failed` / `canceled`): the reservation is released in one
 *   statement (the row becomes `failed`, its amount goes back to the booking and the payment): `released`.
 * - Stripe does not answer (timeout, 5xx, 409, 429): the outcome is unknown, so the reservation stays: the row stays
 *   `pending` with no Stripe id and its amount stays counted as refunded, so no later refund can pay it out twice.
 *   The sweep (`sweepPendingRefunds`) asks again later with the same key.
 *
 * Round trips: the Stripe call, plus one batch when it releases.
 */
export async function requestReservedRefund(
  db: Database,
  bindings: Pick<Bindings, 'ENVIRONMENT' | 'STRIPE_API_BASE'>,
  logger: Logger,
  secretKey: string,
  reserved: ReservedRefund,
): Promise<ReservedRefundResult> {
  const { organizationId, bookingId, refundId, amount } = reserved;
  const release = () => releaseReservation(db, logger, reserved);
  let refund: StripeRefund;
  try {
    refund = await createRefund(stripeClient(bindings, secretKey, logger), {
      paymentIntent: reserved.paymentIntentId,
      amount,
      idempotencyKey: `refund-${refundId}`,
      // Key order matters: a retry must send the very same body, or Stripe answers an idempotency error.
      metadata: { booking_id: bookingId, organization_id: organizationId, refund_id: refundId },
    });
  } catch (error) {
    if (isProviderRefusal(error)) {
      await release();
      return { kind: 'released', error: error as ApiError };
    }
    logger.error('stripe refund outcome unknown: left reserved as pending', { bookingId, refundId });
    return { kind: 'unanswered', error };
  }
  const outcome = stripeOutcome(refund);
  if (outcome !== null) return { kind: 'answered', outcome };
  logger.warn('stripe refund not made', { bookingId, providerRefundId: refund.id, status: refund.status });
  await release();
  return {
    kind: 'released',
    error: new ApiError('payment_provider_error', {
      detail: `Stripe did not refund the payment (refund ${refund.status}); nothing was changed.`,
      extensions: { provider: 'stripe' },
    }),
  };
}

/** What a Stripe refund means for its row: recorded `succeeded` or `pending`, or null when Stripe did not make it. */
export function stripeOutcome(refund: Pick<StripeRefund, 'id' | 'status'>): ProviderOutcome | null {
  if (refund.status === 'succeeded') return { status: 'succeeded', providerRefundId: refund.id };
  if (refund.status === 'pending' || refund.status === 'requires_action') {
    return { status: 'pending', providerRefundId: refund.id };
  }
  return null;
}

/**
 * Gives a reserved refund's amount back after Stripe refused it, in one statement: the row becomes `failed` (only
 * while still pending) and its amount goes back to the booking and the payment. A release that fails leaves the
 * refund pending (counted, never paid twice): logged, not thrown.
 */
export async function releaseReservation(
  db: Database,
  logger: Logger,
  reserved: Pick<ReservedRefund, 'organizationId' | 'bookingId' | 'refundId'>,
): Promise<void> {
  const { organizationId, bookingId, refundId } = reserved;
  await scoped(db, { organizationId }, [
    db.execute(sql`with released as (
        update ${refunds} set status = 'failed', updated_at = now()
         where organization_id = ${organizationId} and id = ${refundId} and status = 'pending'
        returning amount
      ), booking as (
        update ${bookings} set refunded_amount = refunded_amount - (select amount from released), updated_at = now()
         where organization_id = ${organizationId} and id = ${bookingId} and exists (select 1 from released)
      )
      update ${payments} set refunded_amount = refunded_amount - (select amount from released), updated_at = now()
       where organization_id = ${organizationId} and booking_id = ${bookingId}
         and exists (select 1 from released)`),
  ]).catch((error: unknown) => {
    logger.error('stripe refused a refund; releasing its reservation failed', { refundId, error });
  });
}

/** The request path's Stripe call: Stripe's answer to record, or the 502 of a refusal or of no answer. */
async function stripeRefund(
  ctx: ServiceContext,
  target: StripeTarget,
  input: { booking: Booking; refundId: string; amount: number },
): Promise<ProviderOutcome> {
  const result = await requestReservedRefund(ctx.services.db, ctx.bindings, ctx.logger, target.secretKey, {
    organizationId: input.booking.organizationId,
    bookingId: input.booking.id,
    refundId: input.refundId,
    amount: input.amount,
    paymentIntentId: target.paymentIntentId,
  });
  if (result.kind === 'answered') return result.outcome;
  throw result.error;
}

/** Free and manual bookings: the organizer returns the money outside Eventra, so the refund is recorded as done. */
const OFFLINE: ProviderOutcome = { status: 'succeeded', providerRefundId: null };
