import { and, asc, eq, gt, isNull, lte, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { bookings, paymentSettings, payments, refunds } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import type { ClientInfo } from '../../lib/client.ts';
import type { Logger } from '../../lib/logger.ts';
import { auditInsert } from '../audit/record.ts';
import { abortLabel, mustChange } from '../events/shared.ts';
import { issueCreditNote } from '../invoices/issue.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { bookingData } from '../outbox/views.ts';
import { decryptStripeSecretKey } from '../payments/settings.ts';
import { listRefunds, stripeClient } from '../payments/stripe.ts';
import { uuidArray } from '../../db/params.ts';
import { attendeeSeats, moveSeats } from './inventory.ts';
import {
  recordOutcome,
  releaseReservation,
  requestReservedRefund,
  stripeOutcome,
  type ProviderOutcome,
} from './refund.ts';

/** How many unanswered refunds one sweep asks Stripe about (one after the other: each is a Stripe call). */
const SWEEP_LIMIT = 20;
/** Younger rows may still be in the hands of the request that reserved them (its Stripe call times out after 10 s). */
const MIN_AGE = '1 minute';
/**
 * Stripe keeps an idempotency key at least 24 hours; after that a retry with the same key could refund twice, so
 * older rows are left to an operator (logged at every run).
 */
const MAX_AGE = '23 hours';

export interface RefundSweepResult {
  settled: number;
  released: number;
  unanswered: number;
  /** Rows past the retry window: an operator settles them (docs/API.md, Refunds). */
  expired: number;
}

const SYSTEM_CLIENT: ClientInfo = {
  ip: null,
  addressKey: null,
  userAgent: 'eventra-scheduler',
  requestId: 'scheduled',
};

interface Unanswered {
  id: string;
  organizationId: string;
  bookingId: string;
  eventId: string;
  amount: number;
  currency: string;
  attendeeIds: string[];
  paymentIntentId: string | null;
  stripeSecretKey: string | null;
}

/**
 * The pending-refund sweep (the scheduled handler, every minute): Stripe refunds reserved by the refunds endpoint that
 * Stripe never answered (`pending`, no Stripe refund id), 1 minute to 23 hours old, up to 20 a run across all
 * organizations, least recently tried first. Each is asked of Stripe again with the same idempotency key, amount and
 * PaymentIntent under its own organization's key (`requestReservedRefund`, as the request did), so Stripe answers its
 * first outcome or makes the refund once; when the replay still fails, the refund is looked up by `metadata[refund_id]`
 * on the PaymentIntent (Stripe replays a saved 500 too). A refusal releases the reservation; no answer leaves the row for the next
 * run (its `updated_at` moves, so rows Stripe keeps failing do not starve the others). An answer finishes the refund
 * as the request would have: the row records Stripe's answer (only while still pending: of two sweeps, or a sweep and
 * a late request, exactly one records it), the refund's tickets still valid are cancelled and their seats released,
 * a booking refunded in full becomes `refunded`, audit and `booking.refunded` event, all in one batch.
 */
export async function sweepPendingRefunds(
  db: Database,
  bindings: Bindings,
  logger: Logger,
): Promise<RefundSweepResult> {
  const unansweredStripe = and(
    eq(refunds.status, 'pending'),
    isNull(refunds.providerRefundId),
    eq(bookings.provider, 'stripe'),
  );
  const [candidates, [tooOld]] = await scoped(db, { platform: true }, [
    db
      .select({
        id: refunds.id,
        organizationId: refunds.organizationId,
        bookingId: refunds.bookingId,
        eventId: bookings.eventId,
        amount: refunds.amount,
        currency: refunds.currency,
        attendeeIds: refunds.attendeeIds,
        paymentIntentId: payments.paymentIntentId,
        stripeSecretKey: paymentSettings.stripeSecretKey,
      })
      .from(refunds)
      .innerJoin(bookings, and(eq(bookings.organizationId, refunds.organizationId), eq(bookings.id, refunds.bookingId)))
      .innerJoin(payments, and(eq(payments.organizationId, refunds.organizationId), eq(payments.id, refunds.paymentId)))
      .leftJoin(paymentSettings, eq(paymentSettings.organizationId, refunds.organizationId))
      .where(
        and(
          unansweredStripe,
          lte(refunds.createdAt, sql`now() - ${MIN_AGE}::interval`),
          gt(refunds.createdAt, sql`now() - ${MAX_AGE}::interval`),
        ),
      )
      .orderBy(asc(refunds.updatedAt))
      .limit(SWEEP_LIMIT),
    db
      .select({ count: sql<number>`count(*)::int` })
      .from(refunds)
      .innerJoin(bookings, and(eq(bookings.organizationId, refunds.organizationId), eq(bookings.id, refunds.bookingId)))
      .where(and(unansweredStripe, lte(refunds.createdAt, sql`now() - ${MAX_AGE}::interval`))),
  ]);
  const result: RefundSweepResult = { settled: 0, released: 0, unanswered: 0, expired: tooOld?.count ?? 0 };
  for (const row of candidates) {
    try {
      const outcome = await retry(db, bindings, logger, row);
      if (outcome === 'released' || outcome === 'unanswered') result[outcome] += 1;
      else if (await finish(db, row, outcome)) result.settled += 1;
    } catch (error) {
      // One row's failure (a key that no longer decrypts, a database error) does not stop the others.
      logger.error('pending refund sweep: row failed', { refundId: row.id, error });
      await markTried(db, row).catch(() => undefined);
      result.unanswered += 1;
    }
  }
  if (result.expired > 0) {
    logger.error('stripe refunds left pending past the retry window: settle them by hand', { count: result.expired });
  }
  if (candidates.length > 0) logger.info('swept pending stripe refunds', { ...result });
  return result;
}

/** Moves a row Stripe did not settle to the back of the queue, so rows that keep failing do not starve the others. */
function markTried(db: Database, row: Unanswered) {
  return scoped(db, { organizationId: row.organizationId }, [
    db
      .update(refunds)
      .set({ updatedAt: sql`now()` })
      .where(
        and(eq(refunds.organizationId, row.organizationId), eq(refunds.id, row.id), eq(refunds.status, 'pending')),
      ),
  ]);
}

/** Stripe's answer for one row, `released` after a refusal, or `unanswered` (the row is marked as tried). */
async function retry(
  db: Database,
  bindings: Bindings,
  logger: Logger,
  row: Unanswered,
): Promise<ProviderOutcome | 'released' | 'unanswered'> {
  if (row.paymentIntentId === null || row.stripeSecretKey === null) {
    // Cannot be asked (no PaymentIntent, or Stripe removed from the settings since): an operator settles it.
    logger.error('pending stripe refund cannot be retried: no PaymentIntent or no Stripe key', { refundId: row.id });
    await markTried(db, row);
    return 'unanswered';
  }
  const secretKey = await decryptStripeSecretKey(bindings, row.organizationId, row.stripeSecretKey);
  const answer = await requestReservedRefund(db, bindings, logger, secretKey, {
    organizationId: row.organizationId,
    bookingId: row.bookingId,
    refundId: row.id,
    amount: row.amount,
    paymentIntentId: row.paymentIntentId,
  });
  if (answer.kind !== 'unanswered') return answer.kind === 'answered' ? answer.outcome : 'released';
  // Stripe saves the answer of a key once the refund started, 500s included, so a replay can keep failing although
  // the refund was made: look it up by the row's id in its metadata. Not found: it stays pending (a refund may still
  // be made under the key), for the next run or, past the window, an operator.
  const made = await listRefunds(stripeClient(bindings, secretKey, logger), row.paymentIntentId)
    .then((list) => list.find((refund) => refund.metadata.refund_id === row.id))
    .catch(() => undefined);
  if (made !== undefined && made.amount !== row.amount) {
    // Not the refund this row reserved (changed by hand?): an operator reconciles it.
    logger.error('stripe refund found for a pending refund with another amount', { refundId: row.id });
  } else if (made !== undefined) {
    const outcome = stripeOutcome(made);
    if (outcome !== null) return outcome;
    await releaseReservation(db, logger, {
      organizationId: row.organizationId,
      bookingId: row.bookingId,
      refundId: row.id,
    });
    return 'released';
  }
  await markTried(db, row);
  return 'unanswered';
}

/** Records Stripe's answer and finishes the refund in one batch; false when another run or the request did first. */
async function finish(db: Database, row: Unanswered, outcome: ProviderOutcome): Promise<boolean> {
  const { organizationId, bookingId } = row;
  const tickets = row.attendeeIds;
  try {
    await scoped(db, { organizationId }, [
      mustChange(db, recordOutcome(db, organizationId, row.id, outcome).returning({ id: refunds.id }), 'stale'),
      // Refunded in full once nothing is left to refund and no other refund of the booking is still unanswered.
      db.execute(sql`update ${bookings} set status = 'refunded', updated_at = now()
        where organization_id = ${organizationId} and id = ${bookingId} and status in ('confirmed', 'cancelled')
          and refunded_amount >= total
          and not exists (select 1 from ${refunds} r where r.organization_id = ${organizationId}
            and r.booking_id = ${bookingId} and r.status = 'pending' and r.provider_refund_id is null)`),
      // The seats of the refund's tickets still valid (counted before they are cancelled), then those tickets.
      ...(tickets.length === 0
        ? []
        : [
            ...moveSeats(
              db,
              organizationId,
              row.eventId,
              attendeeSeats(organizationId, bookingId, tickets),
              'sold',
              null,
            ),
            db.execute(sql`update attendees set status = 'cancelled', cancelled_at = now(), updated_at = now()
              where organization_id = ${organizationId} and booking_id = ${bookingId} and status = 'valid'
                and id = any(${uuidArray(tickets)})`),
          ]),
      // The refund's credit note, as the request would have issued it (none without an invoice).
      issueCreditNote(db, organizationId, bookingId, row.id, row.amount),
      auditInsert(db, SYSTEM_CLIENT, {
        organizationId,
        actor: { type: 'system' },
        action: 'booking.refunded',
        target: { type: 'booking', id: bookingId },
        metadata: {
          refundId: row.id,
          amount: row.amount,
          currency: row.currency,
          attendeeIds: tickets,
          provider: 'stripe',
          status: outcome.status,
          settledBy: 'pending_refund_sweep',
        },
      }),
      outboxInsertSelect(db, {
        organizationId,
        type: 'booking.refunded',
        data: bookingData(organizationId, bookingId),
      }),
    ] as unknown as Parameters<typeof scoped>[2]);
    return true;
  } catch (error) {
    if (abortLabel(error) === 'stale') return false;
    throw error;
  }
}
