import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { attendees, bookings, events, payments } from '../../db/schema/index.ts';
import type { Answers } from '../../db/schema/questions.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert, type Actor } from '../audit/record.ts';
import { hashToken } from '../auth/tokens.ts';
import { abortLabel, GUARD_LABEL_PREFIX, mustChange } from '../events/shared.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { bookingData } from '../outbox/views.ts';
import { moveSeats } from './inventory.ts';
import { publicBookingQueries, toPublicBookingView, type PublicBookingView } from './public-view.ts';
import { answerRefusal, answersGuard, attendeeAnswersSubject, replacedAnswers } from '../questions/validate.ts';
import { refundBooking } from './refund.ts';
import { bookingNotFound } from './shared.ts';

/**
 * Buyer self-service, through the booking token (the buyer's credential, as for the booking view): cancelling the
 * booking under the event's refund policy, and editing its tickets (name, answers) before the event's edit cutoff. The buyer acts
 * anonymously (audit actor `anonymous`, as at checkout); every refusal is decided in SQL by a guard statement at the
 * head of the batch, so a refused request writes nothing and costs the same single round trip.
 */

const BUYER: Actor = { type: 'anonymous' };

type Label = string | null;

function guardLabel(label: string): SQL {
  return sql`${GUARD_LABEL_PREFIX + label}`;
}

/** Valid tickets already checked in, or tickets checked in that this transaction cancelled (`cancelled_at = now()`). */
function checkedInGuard(organizationId: string, bookingId: string): SQL {
  return sql`select (case when exists (select 1 from ${attendees} a where a.organization_id = ${organizationId}
      and a.booking_id = ${bookingId} and a.checked_in_at is not null
      and (a.status = 'valid' or a.cancelled_at = now()))
    then ${guardLabel('checked_in')} else '0' end)::int as guard`;
}

function selfServiceRefusal(label: Label): ApiError | null {
  if (label === null) return null;
  if (label === 'not_found') return bookingNotFound();
  if (label === 'attendee_not_found')
    return new ApiError('not_found', { detail: 'No ticket with this id in this booking.' });
  if (label.startsWith('status_')) {
    const status = label.slice('status_'.length);
    return new ApiError('conflict', {
      detail: `This booking is ${status}: only a pending or confirmed booking can be changed by its buyer.`,
      extensions: { status },
    });
  }
  switch (label) {
    case 'cancellation_not_offered':
      return new ApiError('self_service_not_offered', {
        detail: 'The organizer does not let buyers cancel bookings of this event; contact the organizer.',
      });
    case 'cancellation_closed':
      return new ApiError('self_service_closed', {
        detail: 'Buyer cancellation for this event has closed (see `cancellation.closesAt` on the booking).',
      });
    case 'edits_not_offered':
      return new ApiError('self_service_not_offered', {
        detail: 'The organizer does not let buyers edit the tickets of this event; contact the organizer.',
      });
    case 'edits_closed':
      return new ApiError('self_service_closed', {
        detail: 'Ticket edits for this event have closed (see `attendeeEditsCloseAt` on the booking).',
      });
    case 'checked_in':
      return new ApiError('conflict', {
        detail: 'A ticket of this booking has been checked in: the booking can no longer be cancelled by its buyer.',
      });
    case 'attendee_checked_in':
      return new ApiError('conflict', { detail: 'This ticket has been checked in: it can no longer be changed.' });
    case 'attendee_cancelled':
      return new ApiError('conflict', { detail: 'This ticket is cancelled: it can no longer be changed.' });
    case 'refund_in_progress':
      return new ApiError('conflict', {
        detail:
          'A refund of this booking is already in progress with Stripe; it completes without you (the booking then ' +
          'shows it as refunded). Read the booking again later.',
      });
    case 'unchanged':
      return new ApiError('conflict', {
        detail:
          'The booking changed while this request ran (cancelled, confirmed or refunded meanwhile); read it again.',
      });
    default:
      return null;
  }
}

/** The booking of this id and token with its event's self-service rules, as a CTE named `b`. */
function bookingOfToken(organizationId: string, bookingId: string, tokenHash: string): SQL {
  return sql`b as (select bk.status, bk.provider, bk.total, bk.refunded_amount, ev.buyer_cancellation,
      ev.starts_at - make_interval(mins => ev.buyer_cancellation_cutoff_minutes) as cancel_closes_at,
      ev.starts_at - make_interval(mins => ev.attendee_edit_cutoff_minutes) as edits_close_at
    from ${bookings} bk join ${events} ev on ev.organization_id = bk.organization_id and ev.id = bk.event_id
    where bk.organization_id = ${organizationId} and bk.id = ${bookingId} and bk.token_hash = ${tokenHash})`;
}

/**
 * Why the buyer may not cancel (a guard label, checked in this order), or '0': unknown id or wrong token (404), not
 * pending/confirmed (409), the policy is `none` (403), the cutoff has passed (409), a ticket is checked in (409). A
 * confirmed Stripe booking under `full_refund` aborts with `stripe_refund` (the caller refunds it through Stripe), or
 * `refund_in_progress` when everything paid is already reserved by an unanswered refund.
 */
function cancelGuard(organizationId: string, bookingId: string, tokenHash: string): SQL {
  return sql`with ${bookingOfToken(organizationId, bookingId, tokenHash)}
    select (case
      when not exists (select 1 from b) then ${guardLabel('not_found')}
      when (select status from b) not in ('pending', 'confirmed') then ${GUARD_LABEL_PREFIX + 'status_'} || (select status from b)::text
      when (select buyer_cancellation from b) = 'none' then ${guardLabel('cancellation_not_offered')}
      when now() >= (select cancel_closes_at from b) then ${guardLabel('cancellation_closed')}
      when exists (select 1 from ${attendees} a where a.organization_id = ${organizationId}
        and a.booking_id = ${bookingId} and a.status = 'valid' and a.checked_in_at is not null)
        then ${guardLabel('checked_in')}
      when (select buyer_cancellation = 'full_refund' and provider = 'stripe' and status = 'confirmed' from b) then
        (case when (select total - refunded_amount from b) > 0 then ${guardLabel('stripe_refund')}
          else ${guardLabel('refund_in_progress')} end)
      else '0' end)::int as guard`;
}

/**
 * The buyer cancels their booking (POST /api/v1/public/bookings/{id}/cancel), under the event's `buyerCancellation`
 * policy, until `buyerCancellationCutoffMinutes` before the start.
 *
 * Without money to move through Stripe (a free booking, an unpaid one, a manual payment, or a `no_refund` policy):
 * the staff cancellation's semantics in one round trip: the guard, then the booking's conditional UPDATE (still
 * pending or confirmed, and not a Stripe booking to refund: of two concurrent cancellations exactly one passes, the
 * other answers 409), the seats released on every level (held seats of a pending booking, sold seats of the valid
 * tickets of a confirmed one: `confirmed_at` tells which, read under the booking's row lock), the valid tickets
 * cancelled, the check-in guard again (a ticket checked in concurrently aborts everything), an unpaid payment
 * cancelled, the audit row (`booking.cancelled`, actor `anonymous`), the `booking.cancelled` outbox event (webhook and
 * the buyer's email), and the buyer's view as it now is. A manual payment stays `succeeded`: the organizer returns
 * it outside Eventra (the view said `refund: offline`).
 *
 * A confirmed Stripe booking under `full_refund`: that batch aborts at its guard (`stripe_refund`, nothing written),
 * then the staff refund path refunds everything not refunded yet (`refundBooking`: a read, the reservation of the
 * amount, the Stripe call keyed by the refund's id, the final batch that cancels every valid ticket, releases their
 * seats and makes the booking `refunded`, with the `booking.refunded` event and email), with the buyer as actor and
 * the check-in guard in its reservation and final batches, then the buyer's view. Round trips: 5 database (the guarded attempt, the refund's read, reservation and final batch,
 * the view), 1 Redis, 1 Stripe.
 * Stripe refusing leaves nothing changed (retry); Stripe not answering leaves the refund reserved (`pending`, its
 * amount counted as refunded, the booking still confirmed with valid tickets): the pending-refund sweep asks Stripe
 * again with the same idempotency key and finishes it, and a new cancel answers 409 `refund_in_progress` meanwhile.
 */
export async function cancelOwnBooking({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; token: string };
}): Promise<PublicBookingView> {
  const tenant = requireTenant(ctx);
  const organizationId = tenant.id;
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const tokenHash = await hashToken(input.token);
  const ofBooking = (confirmed: boolean) =>
    sql`exists (select 1 from ${bookings} x where x.organization_id = ${organizationId} and x.id = ${id}
      and x.confirmed_at is ${confirmed ? sql`not null` : sql`null`})`;
  const heldSeats = sql`(select ticket_type_id, quantity from booking_items
    where organization_id = ${organizationId} and booking_id = ${id} and ${ofBooking(false)})`;
  const soldSeats = sql`(select ticket_type_id, count(*)::int as quantity from attendees
    where organization_id = ${organizationId} and booking_id = ${id} and status = 'valid' and ${ofBooking(true)}
    group by ticket_type_id)`;
  const eventId = sql`(select event_id from ${bookings} where organization_id = ${organizationId} and id = ${id})`;
  const stripeRefundDue = sql`(${bookings.provider} = 'stripe' and ${bookings.status} = 'confirmed'
    and exists (select 1 from ${events} e where e.organization_id = ${organizationId}
      and e.id = ${bookings.eventId} and e.buyer_cancellation = 'full_refund'))`;

  const statements = [
    db.execute(cancelGuard(organizationId, id, tokenHash)),
    mustChange(
      db,
      db
        .update(bookings)
        .set({ status: 'cancelled', cancelledAt: sql`now()`, updatedAt: sql`now()` })
        .where(
          and(
            eq(bookings.organizationId, organizationId),
            eq(bookings.id, id),
            eq(bookings.tokenHash, tokenHash),
            inArray(bookings.status, ['pending', 'confirmed']),
            sql`not ${stripeRefundDue}`,
          ),
        )
        .returning({ id: bookings.id }),
    ),
    // Before the tickets are cancelled below: the sold seats are those of the valid tickets.
    ...moveSeats(db, organizationId, eventId, heldSeats, 'held', null),
    ...moveSeats(db, organizationId, eventId, soldSeats, 'sold', null),
    db
      .update(attendees)
      .set({ status: 'cancelled', cancelledAt: sql`now()`, updatedAt: sql`now()` })
      .where(
        and(eq(attendees.organizationId, organizationId), eq(attendees.bookingId, id), eq(attendees.status, 'valid')),
      ),
    db.execute(checkedInGuard(organizationId, id)),
    db
      .update(payments)
      .set({ status: 'cancelled', updatedAt: sql`now()` })
      .where(
        and(
          eq(payments.organizationId, organizationId),
          eq(payments.bookingId, id),
          inArray(payments.status, ['pending', 'failed']),
        ),
      ),
    auditInsert(db, ctx.client, {
      organizationId,
      actor: BUYER,
      action: 'booking.cancelled',
      target: { type: 'booking', id },
      metadata: { by: 'buyer', to: 'cancelled' },
    }),
    outboxInsertSelect(db, { organizationId, type: 'booking.cancelled', data: bookingData(organizationId, id) }),
    ...publicBookingQueries(db, organizationId, id, tokenHash),
  ] as const;

  let results: readonly unknown[];
  try {
    results = await scoped(db, { organizationId }, statements as unknown as Parameters<typeof scoped>[2]);
  } catch (error) {
    const label = abortLabel(error);
    if (label === 'stripe_refund') return refundOwnBooking(ctx, db, organizationId, id, tokenHash);
    throw selfServiceRefusal(label) ?? error;
  }
  notifyOutbox(ctx, organizationId);
  return toPublicBookingView(results.slice(-5) as unknown as Parameters<typeof toPublicBookingView>[0]);
}

/** The Stripe `full_refund` path of `cancelOwnBooking`: everything not refunded yet, then the buyer's view. */
async function refundOwnBooking(
  ctx: ServiceContext,
  db: Database,
  organizationId: string,
  id: string,
  tokenHash: string,
): Promise<PublicBookingView> {
  await refundBooking({
    ctx,
    input: { id },
    options: {
      actor: BUYER,
      guard: { statement: () => checkedInGuard(organizationId, id), refused: selfServiceRefusal },
    },
  });
  const rows = await scoped(db, { organizationId }, [...publicBookingQueries(db, organizationId, id, tokenHash)]);
  return toPublicBookingView(rows as unknown as Parameters<typeof toPublicBookingView>[0]);
}

/**
 * The buyer edits one ticket of their booking (PATCH /api/v1/public/bookings/{id}/attendees/{attendeeId}) until
 * `attendeeEditCutoffMinutes` before the event's start: its name, its answers to the attendee questions, or both. Not
 * the email: the holder's email is who the ticket belongs to, which is a transfer, not an edit. One round trip: the
 * guard (404 unknown booking, wrong token or ticket of another booking; 403 edits not offered; 409 booking not
 * pending/confirmed, cutoff passed, ticket cancelled or checked in), the answers checked as at checkout and as staff
 * edits are (400 with the pointer; the same replacement rule), the ticket's conditional UPDATE (still valid and not checked in: a concurrent check-in or
 * cancellation makes it answer 409), the audit row (`attendee.updated`, actor `anonymous`, the fields changed, not
 * their values), the `attendee.updated` outbox event (data: the booking with its tickets) and the buyer's view.
 */
export async function updateOwnAttendee({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; token: string; attendeeId: string; name?: string | undefined; answers?: Answers | undefined };
}): Promise<PublicBookingView> {
  const tenant = requireTenant(ctx);
  const organizationId = tenant.id;
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const attendeeId = input.attendeeId.toLowerCase();
  const tokenHash = await hashToken(input.token);
  const ticket = sql`(select status, checked_in_at from ${attendees} where organization_id = ${organizationId}
    and booking_id = ${id} and id = ${attendeeId})`;
  const guard = sql`with ${bookingOfToken(organizationId, id, tokenHash)}, t as ${ticket}
    select (case
      when not exists (select 1 from b) then ${guardLabel('not_found')}
      when not exists (select 1 from t) then ${guardLabel('attendee_not_found')}
      when (select status from b) not in ('pending', 'confirmed') then ${GUARD_LABEL_PREFIX + 'status_'} || (select status from b)::text
      when (select edits_close_at from b) is null then ${guardLabel('edits_not_offered')}
      when now() >= (select edits_close_at from b) then ${guardLabel('edits_closed')}
      when (select status from t) <> 'valid' then ${guardLabel('attendee_cancelled')}
      when (select checked_in_at from t) is not null then ${guardLabel('attendee_checked_in')}
      else '0' end)::int as guard`;

  const attendee = sql`(select a.* from ${attendees} a where a.organization_id = ${organizationId}
    and a.booking_id = ${id} and a.id = ${attendeeId})`;
  const eventId = sql`(select event_id from ${bookings} where organization_id = ${organizationId} and id = ${id})`;
  const { name, answers } = input;
  const fields = [...(name === undefined ? [] : ['name']), ...(answers === undefined ? [] : ['answers'])];

  const statements = [
    db.execute(guard),
    // Attendee questions (issue #18 part 3): the new answers checked exactly as at checkout.
    ...(answers === undefined
      ? []
      : [db.execute(answersGuard(organizationId, eventId, attendeeAnswersSubject(attendee, answers)))]),
    mustChange(
      db,
      db
        .update(attendees)
        .set({
          ...(name === undefined ? {} : { name }),
          ...(answers === undefined ? {} : { answers: replacedAnswers(organizationId, eventId, answers) }),
          updatedAt: sql`now()`,
        })
        .where(
          and(
            eq(attendees.organizationId, organizationId),
            eq(attendees.bookingId, id),
            eq(attendees.id, attendeeId),
            eq(attendees.status, 'valid'),
            sql`${attendees.checkedInAt} is null`,
            sql`exists (select 1 from ${bookings} x where x.organization_id = ${organizationId} and x.id = ${id}
              and x.token_hash = ${tokenHash} and x.status in ('pending', 'confirmed'))`,
          ),
        )
        .returning({ id: attendees.id }),
    ),
    auditInsert(db, ctx.client, {
      organizationId,
      actor: BUYER,
      action: 'attendee.updated',
      target: { type: 'attendee', id: attendeeId },
      metadata: { by: 'buyer', bookingId: id, fields },
    }),
    outboxInsertSelect(db, { organizationId, type: 'attendee.updated', data: bookingData(organizationId, id) }),
    ...publicBookingQueries(db, organizationId, id, tokenHash),
  ] as const;

  let results: readonly unknown[];
  try {
    results = await scoped(db, { organizationId }, statements as unknown as Parameters<typeof scoped>[2]);
  } catch (error) {
    throw selfServiceRefusal(abortLabel(error)) ?? answerRefusal(error) ?? error;
  }
  notifyOutbox(ctx, organizationId);
  return toPublicBookingView(results.slice(-5) as unknown as Parameters<typeof toPublicBookingView>[0]);
}
