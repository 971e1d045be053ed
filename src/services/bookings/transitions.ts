import { and, eq, inArray, lte, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { attendees, bookings, payments } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { issueInvoice } from '../invoices/issue.ts';
import { actorOf, mustChange, nothingChanged } from '../events/shared.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { bookingData, paymentData } from '../outbox/views.ts';
import { attendeeSeats, bookingSeats, moveSeats } from './inventory.ts';
import { bookingNotFound } from './shared.ts';
import { bookingQueries, toBookingView, type BookingRows, type BookingView } from './views.ts';

/**
 * Booking state transitions as batch statements, shared by the staff routes (confirm, cancel), the Stripe webhook
 * and the hold sweep. Each list starts with the booking's conditional status UPDATE (`mustChange`, label
 * `unchanged`): when the booking is no longer in the status the caller read, the whole batch aborts (detect it with
 * `nothingChanged(error)`), so seats move exactly once however many requests race. The seat moves follow, in the
 * lock order of inventory.ts (booking, event, ticket types, pools). Callers add their audit rows to the same batch.
 */

export interface ConfirmOptions {
  /** Stripe: the PaymentIntent that paid, stored on the payment row. */
  paymentIntentId?: string | null;
}

/**
 * pending -> confirmed: `confirmedAt` = now, `expiresAt` cleared, the booking's seats move held -> sold on every
 * level, and its payment (pending, or failed after an earlier attempt) becomes `succeeded`. Aborts the batch unless
 * the booking is still pending. A paid booking (total > 0) gets its invoice, numbered in this batch
 * (src/services/invoices/issue.ts).
 */
export function confirmStatements(
  db: Database,
  organizationId: string,
  bookingId: string,
  eventId: string | SQL,
  options: ConfirmOptions = {},
) {
  return [
    mustChange(
      db,
      db
        .update(bookings)
        .set({ status: 'confirmed', confirmedAt: sql`now()`, expiresAt: null, updatedAt: sql`now()` })
        .where(
          and(eq(bookings.organizationId, organizationId), eq(bookings.id, bookingId), eq(bookings.status, 'pending')),
        )
        .returning({ id: bookings.id }),
    ),
    ...moveSeats(db, organizationId, eventId, bookingSeats(organizationId, bookingId), 'held', 'sold'),
    db
      .update(payments)
      .set({
        status: 'succeeded',
        updatedAt: sql`now()`,
        ...(options.paymentIntentId === undefined ? {} : { paymentIntentId: options.paymentIntentId }),
      })
      .where(
        and(
          eq(payments.organizationId, organizationId),
          eq(payments.bookingId, bookingId),
          inArray(payments.status, ['pending', 'failed']),
        ),
      ),
    // Invoices (issue #18 part 4): after the status change, which aborted the batch unless the booking was pending.
    issueInvoice(db, organizationId, bookingId),
  ] as const;
}

export interface ReleaseOptions {
  /** The hold sweep: change the booking only when its hold has lapsed (`expires_at <= now()`). */
  lapsedOnly?: boolean;
}

/**
 * pending | confirmed -> cancelled | expired: the status change (`cancelledAt` = now for `cancelled`), the seats of
 * the booking's valid tickets released (from `held` for a pending booking, from `sold` for a confirmed one; tickets
 * a refund already cancelled released theirs then), every valid ticket cancelled, and an unpaid payment (pending or
 * failed) cancelled. No money moves: a succeeded payment stays succeeded (refunds are their own operation). Aborts
 * the batch unless the booking is still in `from`.
 */
export function releaseStatements(
  db: Database,
  organizationId: string,
  bookingId: string,
  eventId: string | SQL,
  from: 'pending' | 'confirmed',
  to: 'cancelled' | 'expired',
  options: ReleaseOptions = {},
) {
  const conditions = [
    eq(bookings.organizationId, organizationId),
    eq(bookings.id, bookingId),
    eq(bookings.status, from),
  ];
  if (options.lapsedOnly === true) conditions.push(lte(bookings.expiresAt, sql`now()`));
  const seats = from === 'pending' ? bookingSeats(organizationId, bookingId) : attendeeSeats(organizationId, bookingId);
  return [
    mustChange(
      db,
      db
        .update(bookings)
        .set({
          status: to,
          updatedAt: sql`now()`,
          ...(to === 'cancelled' ? { cancelledAt: sql`now()` } : {}),
        })
        .where(and(...conditions))
        .returning({ id: bookings.id }),
    ),
    // Before the tickets are cancelled below: `attendeeSeats` counts the valid ones.
    ...moveSeats(db, organizationId, eventId, seats, from === 'pending' ? 'held' : 'sold', null),
    db
      .update(attendees)
      .set({ status: 'cancelled', cancelledAt: sql`now()`, updatedAt: sql`now()` })
      .where(
        and(
          eq(attendees.organizationId, organizationId),
          eq(attendees.bookingId, bookingId),
          eq(attendees.status, 'valid'),
        ),
      ),
    db
      .update(payments)
      .set({ status: 'cancelled', updatedAt: sql`now()` })
      .where(
        and(
          eq(payments.organizationId, organizationId),
          eq(payments.bookingId, bookingId),
          inArray(payments.status, ['pending', 'failed']),
        ),
      ),
  ] as const;
}

// ---------------------------------------------------------------------------------------------------------------
// Staff routes: POST /api/v1/bookings/{id}/cancel and /confirm
// ---------------------------------------------------------------------------------------------------------------

function selectBookingState(db: Database, organizationId: string, bookingId: string) {
  return db
    .select({
      status: bookings.status,
      eventId: bookings.eventId,
      provider: bookings.provider,
      paymentId: payments.id,
      amount: bookings.total,
      currency: bookings.currency,
    })
    .from(bookings)
    .leftJoin(payments, and(eq(payments.organizationId, bookings.organizationId), eq(payments.bookingId, bookings.id)))
    .where(and(eq(bookings.organizationId, organizationId), eq(bookings.id, bookingId)))
    .limit(1);
}

function raced(action: string): ApiError {
  return new ApiError('conflict', {
    detail: `The booking changed while it was being ${action}; read it again.`,
  });
}

/** The full view out of the last five results of a batch that ends with `bookingQueries`. */
function viewOfBatchEnd(results: readonly unknown[]): BookingView {
  const view = toBookingView(results.slice(-5) as unknown as BookingRows);
  if (view === null) throw bookingNotFound();
  return view;
}

/**
 * pending | confirmed -> cancelled by staff: the tickets are cancelled and their seats go back on sale (held seats of
 * a pending booking, sold seats of a confirmed one); an unpaid payment is cancelled. No money moves: a paid booking
 * is refunded separately. Two round trips: read the status, then one batch whose first statement changes the
 * booking only if it still has that status (a concurrent confirm, expiry or cancel makes this one answer 409), then
 * the seat moves, the audit row and the updated booking.
 */
export async function cancelBooking({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<BookingView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[current]] = await scoped(db, scope, [selectBookingState(db, tenant.id, id)]);
  if (!current) throw bookingNotFound();
  if (current.status !== 'pending' && current.status !== 'confirmed') {
    throw new ApiError('conflict', { detail: `A ${current.status} booking cannot be cancelled.` });
  }
  try {
    const results = await scoped(db, scope, [
      ...releaseStatements(db, tenant.id, id, current.eventId, current.status, 'cancelled'),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'booking.cancelled',
        target: { type: 'booking', id },
        metadata: { from: current.status, to: 'cancelled', eventId: current.eventId },
      }),
      outboxInsertSelect(db, {
        organizationId: tenant.id,
        type: 'booking.cancelled',
        data: bookingData(tenant.id, id),
      }),
      ...bookingQueries(db, tenant.id, id),
    ]);
    notifyOutbox(ctx, tenant.id);
    return viewOfBatchEnd(results);
  } catch (error) {
    if (nothingChanged(error)) throw raced('cancelled');
    throw error;
  }
}

/**
 * pending -> confirmed by staff, for a manual (offline) payment that has arrived: seats move held -> sold and the
 * payment succeeds. Stripe bookings are confirmed by Stripe's webhook and free ones at checkout: 409. A pending
 * booking whose hold has lapsed but that the sweep has not expired yet still holds its seats and can be confirmed.
 */
export async function confirmBooking({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<BookingView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[current]] = await scoped(db, scope, [selectBookingState(db, tenant.id, id)]);
  if (!current) throw bookingNotFound();
  if (current.provider !== 'manual') {
    throw new ApiError('conflict', {
      detail:
        current.provider === 'stripe'
          ? 'Stripe bookings are confirmed by Stripe when the payment succeeds, not by hand.'
          : 'Free bookings are confirmed at checkout; there is nothing to confirm.',
    });
  }
  if (current.status !== 'pending') {
    throw new ApiError('conflict', {
      detail: `Only a pending booking can be confirmed; this one is ${current.status}.`,
    });
  }
  try {
    const results = await scoped(db, scope, [
      ...confirmStatements(db, tenant.id, id, current.eventId),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'booking.confirmed',
        target: { type: 'booking', id },
        metadata: { from: 'pending', to: 'confirmed', provider: 'manual', eventId: current.eventId },
      }),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'payment.succeeded',
        target: current.paymentId === null ? { type: 'booking', id } : { type: 'payment', id: current.paymentId },
        metadata: { bookingId: id, provider: 'manual', amount: current.amount, currency: current.currency },
      }),
      outboxInsertSelect(db, {
        organizationId: tenant.id,
        type: 'booking.confirmed',
        data: bookingData(tenant.id, id),
      }),
      outboxInsertSelect(db, {
        organizationId: tenant.id,
        type: 'payment.succeeded',
        data: paymentData(tenant.id, id),
      }),
      ...bookingQueries(db, tenant.id, id),
    ]);
    notifyOutbox(ctx, tenant.id);
    return viewOfBatchEnd(results);
  } catch (error) {
    if (nothingChanged(error)) throw raced('confirmed');
    throw error;
  }
}
