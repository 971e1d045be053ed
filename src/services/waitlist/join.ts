import { sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { bookings, events, ticketTypes, waitlistEntries } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditClient, auditInsert, auditMetadata } from '../audit/record.ts';
import { hashToken } from '../auth/tokens.ts';
import { abortLabel, GUARD_LABEL_PREFIX, nothingChanged } from '../events/shared.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { bookingData } from '../outbox/views.ts';
import { confirmStatements, releaseStatements } from '../bookings/transitions.ts';
import { bookingNotFound } from '../bookings/shared.ts';
import { waitlistEntryObject } from './views.ts';

export interface JoinWaitlistInput {
  slug: string;
  ticketTypeId: string;
  name: string;
  email: string;
  groupSize: number;
}

/**
 * Joins the waitlist of a sold-out ticket type, in one database round trip: one statement checks the event (published,
 * public or unlisted, not ended), the ticket type (of this event, not hidden, within its sales window), the group size
 * (at most the ticket type's per-order maximum) and that the group does not fit in the free seats (otherwise the
 * buyer should book), then the entry is inserted unless the email already has a live entry (waiting or offered) for
 * this ticket type. The answer is the same either way, so it never tells whether someone else joined.
 */
export async function joinWaitlist({ ctx, input }: { ctx: ServiceContext; input: JoinWaitlistInput }): Promise<void> {
  const organizationId = requireTenant(ctx).id;
  const db = ctx.services.db;
  const ticketTypeId = input.ticketTypeId.toLowerCase();
  const email = input.email.toLowerCase();
  const audit = auditClient(ctx.client);
  const eventId = sql`(select id from ${events} where organization_id = ${organizationId} and slug = ${input.slug}
    and visibility in ('public', 'unlisted'))`;
  try {
    await scoped(db, { organizationId }, [
      db.execute(sql`with e as (select * from ${events} where organization_id = ${organizationId} and id = ${eventId}),
        t as (select * from ${ticketTypes} where organization_id = ${organizationId} and id = ${ticketTypeId}
          and event_id = ${eventId} and not hidden),
        problems(rank, label) as (
          select 1, 'event_not_found' where not exists (select 1 from e where status <> 'draft')
          union all select 2, 'not_on_sale' from e where status <> 'published' or ends_at <= now()
          union all select 3, 'ticket_type_not_found' where not exists (select 1 from t)
          union all select 4, 'not_available' from t where sales_end_at <= now()
          union all select 5, 'group_too_large' from t where ${input.groupSize}::int > max_per_order
          union all select 6, 'seats_available' from t, e
            where t.sold + t.held + ${input.groupSize}::int <= t.quantity
              and (e.capacity is null or e.sold + e.held + ${input.groupSize}::int <= e.capacity))
        select (coalesce((select ${GUARD_LABEL_PREFIX} || label from problems order by rank limit 1), '0'))::int
          as guard`),
      db.execute(sql`with inserted as (insert into ${waitlistEntries}
          (organization_id, event_id, ticket_type_id, name, email, group_size)
        values (${organizationId}, ${eventId}, ${ticketTypeId}, ${input.name}, ${email}, ${input.groupSize})
        on conflict (organization_id, ticket_type_id, email) where status in ('waiting', 'offered') do nothing
        returning id)
        insert into audit_logs (organization_id, actor_type, action, target_type, target_id, metadata, ip,
          user_agent, request_id, correlation_id)
        select ${organizationId}::uuid, 'anonymous', 'waitlist.joined', 'waitlist_entry', id::text,
          ${JSON.stringify(auditMetadata(ctx.client, 'waitlist.joined', { ticketTypeId, groupSize: input.groupSize }))}::jsonb,
          ${audit.ip}::text, ${audit.userAgent}::text, ${audit.requestId}::text, ${audit.correlationId}::text
        from inserted`),
    ]);
  } catch (error) {
    switch (abortLabel(error)) {
      case 'event_not_found':
        throw new ApiError('not_found', { detail: 'No event with this slug.' });
      case 'not_on_sale':
        throw new ApiError('conflict', { detail: 'This event is not on sale.' });
      case 'ticket_type_not_found':
        throw new ApiError('validation_failed', {
          detail: 'No such ticket type for this event.',
          errors: [{ pointer: '/body/ticketTypeId', message: 'no such ticket type for this event' }],
        });
      case 'not_available':
        throw new ApiError('conflict', { detail: 'This ticket type is no longer on sale.' });
      case 'group_too_large':
        throw new ApiError('validation_failed', {
          detail: 'The group is larger than one order of this ticket type may be.',
          errors: [{ pointer: '/body/groupSize', message: 'more than the per-order maximum' }],
        });
      case 'seats_available':
        throw new ApiError('conflict', { detail: 'Seats for this group are available: book them instead.' });
      default:
        throw error;
    }
  }
}

/**
 * The guard at the head of an offer's batch (claim, decline), read with the offer token (the `Booking-Token` of the
 * offer's pending booking): aborts with `not_found` (unknown id, wrong token, a booking that is not a waitlist offer:
 * indistinguishable), `offer_closed` (the booking is no longer pending or its hold lapsed: claimed, expired,
 * cancelled) or, when `freeOnly`, `offer_paid`. The status changes after it are conditional too (`mustChange`), so a
 * concurrent claim, decline or expiry makes exactly one of them win.
 */
function offerGuard(organizationId: string, id: string, tokenHash: string, freeOnly: boolean): SQL {
  return sql`with o as (select b.status, b.total, b.expires_at > now() as live from ${bookings} b
      join ${waitlistEntries} w on w.organization_id = b.organization_id and w.booking_id = b.id
      where b.organization_id = ${organizationId} and b.id = ${id} and b.token_hash = ${tokenHash})
    select (case when not exists (select 1 from o) then ${GUARD_LABEL_PREFIX + 'not_found'}
      when (select status <> 'pending' or live is not true from o) then ${GUARD_LABEL_PREFIX + 'offer_closed'}
      when ${freeOnly}::boolean and (select total <> 0 from o) then ${GUARD_LABEL_PREFIX + 'offer_paid'}
      else '0' end)::int as guard`;
}

function offerClosed(): ApiError {
  return new ApiError('conflict', {
    detail: 'This offer is no longer open (claimed, expired, declined or cancelled).',
  });
}

/** The API error of an offer batch that its guard or a conditional change aborted; null for any other failure. */
function offerRefusal(error: unknown): ApiError | null {
  if (nothingChanged(error)) return offerClosed();
  switch (abortLabel(error)) {
    case 'not_found':
      return bookingNotFound();
    case 'offer_closed':
      return offerClosed();
    case 'offer_paid':
      return new ApiError('conflict', {
        detail: 'This offer is paid: claim it by paying the booking (its checkout), before it expires.',
      });
    default:
      return null;
  }
}

/** What an offer's batch is built from: the database, the tenant, the offer's booking id and its event (a subquery). */
interface OfferBatch {
  db: ServiceContext['services']['db'];
  organizationId: string;
  id: string;
  eventId: SQL;
}

/**
 * The one path of an answer to an offer (claim, decline), in one database round trip: the offer guard with the token
 * (`freeOnly` for a claim), then the answer's own statements, the audit row of `action` (actor anonymous: the token
 * holder), then `notifyOutbox`. A refused guard or a lost race answers as `offerRefusal` says.
 */
async function answerOffer(
  ctx: ServiceContext,
  input: { id: string; token: string },
  answer: { action: string; freeOnly: boolean; statements: (batch: OfferBatch) => BatchItem<'pg'>[] },
): Promise<string> {
  const organizationId = requireTenant(ctx).id;
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const tokenHash = await hashToken(input.token);
  const eventId = sql`(select event_id from ${bookings} where organization_id = ${organizationId} and id = ${id})`;
  try {
    await scoped(db, { organizationId }, [
      db.execute(offerGuard(organizationId, id, tokenHash, answer.freeOnly)),
      ...answer.statements({ db, organizationId, id, eventId }),
      auditInsert(db, ctx.client, {
        organizationId,
        actor: { type: 'anonymous' },
        action: answer.action,
        target: { type: 'booking', id },
      }),
    ]);
  } catch (error) {
    throw offerRefusal(error) ?? error;
  }
  notifyOutbox(ctx, organizationId);
  return id;
}

/**
 * Claims a free waitlist offer with its token, in one database round trip: the offer guard, then the booking goes
 * pending -> confirmed (held seats -> sold, as staff confirmation does), the entry becomes `claimed`, with the audit
 * row, the `booking.confirmed` event (which emails the tickets) and `waitlist.claimed`. The seats were the buyer's
 * since the offer, so no seat check can fail here. A paid offer is claimed by paying it
 * (POST /api/v1/public/bookings/{id}/checkout, or the manual instructions), like any pending booking: 409 here.
 * Unknown id, wrong token and a booking that is not a waitlist offer answer 404; an offer no longer open 409.
 */
export async function claimWaitlistOffer({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; token: string };
}): Promise<{ id: string; status: 'confirmed' }> {
  const id = await answerOffer(ctx, input, {
    action: 'waitlist.claimed',
    freeOnly: true,
    statements: ({ db, organizationId, id, eventId }) => [
      ...confirmStatements(db, organizationId, id, eventId),
      db.execute(sql`update ${waitlistEntries} set status = 'claimed', updated_at = now()
        where organization_id = ${organizationId} and booking_id = ${id} and status = 'offered'`),
      outboxInsertSelect(db, { organizationId, type: 'booking.confirmed', data: bookingData(organizationId, id) }),
      outboxInsertSelect(db, {
        organizationId,
        type: 'waitlist.claimed',
        data: sql`(select ${waitlistEntryObject('w')} from ${waitlistEntries} w
          where w.organization_id = ${organizationId} and w.booking_id = ${id})`,
      }),
    ],
  });
  return { id, status: 'confirmed' };
}

/**
 * Declines a waitlist offer (free or paid) with its token, in one database round trip: the offer guard, then the
 * offer's booking goes pending -> cancelled (its held seats released), with the audit row (`waitlist.declined`) and
 * `booking.cancelled`, whose dispatch runs the offer step: the entry settles as `expired` (`waitlist.expired`) and the
 * seats are offered to the next in line at once instead of when the offer would have lapsed.
 */
export async function declineWaitlistOffer({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; token: string };
}): Promise<{ id: string; status: 'cancelled' }> {
  const id = await answerOffer(ctx, input, {
    action: 'waitlist.declined',
    freeOnly: false,
    statements: ({ db, organizationId, id, eventId }) => [
      ...releaseStatements(db, organizationId, id, eventId, 'pending', 'cancelled'),
      outboxInsertSelect(db, { organizationId, type: 'booking.cancelled', data: bookingData(organizationId, id) }),
    ],
  });
  return { id, status: 'cancelled' };
}
