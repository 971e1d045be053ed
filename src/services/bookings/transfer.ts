import { and, eq, sql } from 'drizzle-orm';
import { attendees, auditLogs, bookings, events } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditClient, type Actor } from '../audit/record.ts';
import { hashToken } from '../auth/tokens.ts';
import { actorOf, violatedConstraint } from '../events/shared.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSql } from '../outbox/record.ts';
import { isoText } from '../outbox/views.ts';
import { newTicketCode } from './shared.ts';
import { toAttendeeView, type AttendeeView } from './views.ts';

/**
 * How often one ticket may change hands. A genuine ticket rarely moves more than once or twice (a typo corrected, a
 * friend who cannot come); the bound keeps a booking token from turning one ticket into an endless source of
 * emails to arbitrary addresses (each transfer mails the new and the previous holder).
 */
export const MAX_TRANSFERS_PER_TICKET = 5;

const TICKET_CODE_CONSTRAINT = 'attendees_organization_id_ticket_code_key';

export interface TransferTicketInput {
  bookingId: string;
  attendeeId: string;
  /**
   * Who transfers: the buyer with the booking token (the `Booking-Token` header, compared by its SHA-256 in SQL),
   * within the organizer's rules; or staff (`bookings:write`, the caller of the request), who set those rules and
   * are not bound by them (transfers allowed, cutoff, per-ticket bound).
   */
  by: { buyer: { token: string } } | { staff: true };
  /** The new holder. */
  name: string;
  email: string;
}

/** Who initiated a transfer, as the event, the audit row and the emails say it. */
export type TransferInitiator = 'buyer' | 'staff';

export interface TransferredTicket {
  /** The ticket as it is now: the new holder and the NEW ticket code. */
  attendee: AttendeeView;
  transferredAt: string;
}

function ticketNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No ticket with this id in this booking.' });
}

/** The rows of a `db.execute` result (the Neon HTTP driver gives `{ rows }`). */
function rowsOf<T>(result: T[] | { rows: T[] }): T[] {
  return Array.isArray(result) ? result : result.rows;
}

/**
 * Transfers a ticket to another holder, by the buyer (the booking token) or by staff, in ONE database round trip
 * (one scoped batch, one transaction):
 *
 * 1. One statement: `old` selects the ticket FOR UPDATE only where every rule holds (the booking is confirmed, the
 *    event is published, the ticket is valid, NOT checked in and held by another address; for the buyer also: the
 *    token's hash matches the booking, the event allows transfers and has not reached its cutoff before the start,
 *    and the ticket is under MAX_TRANSFERS_PER_TICKET); `changed` replaces the holder's name and email, clears the
 *    previous holder's answers and issues a new ticket code, so the old code stops working when the transaction
 *    commits; the audit row (`attendee.transferred`, no codes; actor anonymous for the buyer, the member or API key
 *    for staff) and the `ticket.transferred` outbox event are inserted from `changed`, so only a transfer that
 *    happened writes them. The conditions are SQL, not a read in JS: a concurrent check-in of the same ticket locks
 *    the row first or waits for this one, and PostgreSQL re-checks the conditions on the newest row version (READ
 *    COMMITTED), so exactly one of the two wins. A check-in that loses finds no ticket with the old code (404); a
 *    transfer that loses changes nothing.
 * 2. A SELECT of the ticket as it is now (a new snapshot), with its booking and event: the answer after a transfer,
 *    or the reason there was none (404 unknown ticket or wrong token, 409 and why).
 *
 * The emails (the ticket to the new holder, a notice to the previous one) go out from the outbox event through the
 * email queue, after the response (`notifyOutbox`).
 */
export async function transferTicket({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: TransferTicketInput;
}): Promise<TransferredTicket> {
  const tenant = requireTenant(ctx);
  const organizationId = tenant.id;
  const db = ctx.services.db;
  const bookingId = input.bookingId.toLowerCase();
  const attendeeId = input.attendeeId.toLowerCase();
  const email = input.email.toLowerCase();
  const initiator: TransferInitiator = 'buyer' in input.by ? 'buyer' : 'staff';
  const tokenHash = 'buyer' in input.by ? await hashToken(input.by.buyer.token) : null;
  const actor: Actor = initiator === 'buyer' ? { type: 'anonymous' } : actorOf(ctx);
  const code = newTicketCode();
  const client = auditClient(ctx.client);
  // The buyer's credential and the organizer's rules; staff pass neither (the permission was checked by the route).
  const holder = tokenHash === null ? sql`true` : sql`b.token_hash = ${tokenHash}`;
  const organizerRules =
    initiator === 'staff'
      ? sql`true`
      : sql`e.transfers_allowed and now() < e.starts_at - make_interval(mins => e.transfer_cutoff_minutes)
        and a.transfer_count < ${MAX_TRANSFERS_PER_TICKET}`;

  const transfer = sql`with old as (
      select a.id, a.name, a.email, a.booking_id, b.event_id
      from ${attendees} a
      join ${bookings} b on b.organization_id = a.organization_id and b.id = a.booking_id
      join ${events} e on e.organization_id = b.organization_id and e.id = b.event_id
      where a.organization_id = ${organizationId} and a.id = ${attendeeId} and a.booking_id = ${bookingId}
        and ${holder} and b.status = 'confirmed' and e.status = 'published' and ${organizerRules}
        and a.status = 'valid' and a.checked_in_at is null and a.email <> ${email}
      for update of a),
    changed as (
      update ${attendees} a set name = ${input.name}, email = ${email}, ticket_code = ${code}, answers = '{}'::jsonb,
        transfer_count = a.transfer_count + 1, updated_at = now()
      from old
      where a.organization_id = ${organizationId} and a.id = old.id
        and a.status = 'valid' and a.checked_in_at is null
      returning a.id, a.booking_id, a.ticket_type_id, a.name, a.email, a.updated_at, old.event_id,
        old.name as previous_name, old.email as previous_email),
    logged as (insert into ${auditLogs} (organization_id, actor_type, actor_user_id, actor_api_key_id, action,
        target_type, target_id, ip, user_agent, request_id, correlation_id, metadata)
      select ${organizationId}, ${actor.type}, ${actor.userId ?? null}::uuid, ${actor.apiKeyId ?? null}::uuid,
        'attendee.transferred', 'attendee', changed.id::text,
        ${client.ip}::text, ${client.userAgent}::text, ${client.requestId}::text, ${client.correlationId}::text,
        jsonb_build_object('by', ${initiator}::text, 'bookingId', changed.booking_id, 'eventId', changed.event_id,
          'from', jsonb_build_object('name', changed.previous_name, 'email', changed.previous_email),
          'to', jsonb_build_object('name', changed.name, 'email', changed.email))
      from changed
      returning id),
    published as (${outboxInsertSql(
      db,
      {
        organizationId,
        type: 'ticket.transferred',
        data: sql`jsonb_build_object('attendeeId', changed.id, 'bookingId', changed.booking_id,
          'eventId', changed.event_id, 'ticketTypeId', changed.ticket_type_id,
          'holder', jsonb_build_object('name', changed.name, 'email', changed.email),
          'previousHolder', jsonb_build_object('name', changed.previous_name, 'email', changed.previous_email),
          'by', ${initiator}::text, 'transferredAt', ${isoText(sql`changed.updated_at`)})`,
      },
      { from: sql`changed` },
    )})
    select changed.id, ${isoText(sql`changed.updated_at`)} as "transferredAt" from changed`;

  let results;
  try {
    results = await scoped(db, { organizationId }, [
      db.execute<{ id: string; transferredAt: string }>(transfer),
      db
        .select({
          attendee: attendees,
          bookingStatus: bookings.status,
          eventStatus: events.status,
          transfersAllowed: events.transfersAllowed,
          closesAt: sql<string>`${isoText(sql`(${events.startsAt} - make_interval(mins => ${events.transferCutoffMinutes}))`)}`,
          closed: sql<boolean>`now() >= ${events.startsAt} - make_interval(mins => ${events.transferCutoffMinutes})`,
        })
        .from(attendees)
        .innerJoin(
          bookings,
          and(eq(bookings.organizationId, attendees.organizationId), eq(bookings.id, attendees.bookingId)),
        )
        .innerJoin(events, and(eq(events.organizationId, bookings.organizationId), eq(events.id, bookings.eventId)))
        .where(
          and(
            eq(attendees.organizationId, organizationId),
            eq(attendees.id, attendeeId),
            eq(attendees.bookingId, bookingId),
            tokenHash === null ? undefined : eq(bookings.tokenHash, tokenHash),
          ),
        )
        .limit(1),
    ]);
  } catch (error) {
    // 60 random bits: a new code equal to another ticket's is all but impossible, and then nothing was written.
    if (violatedConstraint(error) === TICKET_CODE_CONSTRAINT) {
      throw new ApiError('conflict', { detail: 'The ticket could not be transferred this time; try again.' });
    }
    throw error;
  }
  const [changed, [row]] = results;
  const done = rowsOf(changed)[0];
  if (row === undefined) throw ticketNotFound();
  if (done !== undefined) {
    notifyOutbox(ctx, organizationId);
    return { attendee: toAttendeeView(row.attendee), transferredAt: done.transferredAt };
  }
  throw refusal(row, email, initiator);
}

interface TicketState {
  attendee: typeof attendees.$inferSelect;
  bookingStatus: string;
  eventStatus: string;
  transfersAllowed: boolean;
  closesAt: string;
  closed: boolean;
}

/** Why a transfer changed nothing, from the ticket as it is after the attempt (first matching rule). */
function refusal(row: TicketState, email: string, initiator: TransferInitiator): ApiError {
  if (row.bookingStatus !== 'confirmed') {
    return new ApiError('conflict', {
      detail:
        row.bookingStatus === 'pending'
          ? 'Only tickets of a paid (confirmed) booking can be transferred; this booking is not paid yet.'
          : `Only tickets of a confirmed booking can be transferred; this booking is ${row.bookingStatus}.`,
      extensions: { reason: `booking_${row.bookingStatus}` },
    });
  }
  if (row.attendee.status !== 'valid') {
    return new ApiError('conflict', {
      detail: 'This ticket has been cancelled; it cannot be transferred.',
      extensions: { reason: 'ticket_cancelled' },
    });
  }
  if (row.attendee.checkedInAt !== null) {
    return new ApiError('ticket_checked_in', {
      detail: 'This ticket has already been checked in; a used ticket cannot be transferred.',
      extensions: { checkedInAt: row.attendee.checkedInAt.toISOString() },
    });
  }
  if (row.eventStatus !== 'published') {
    return new ApiError('conflict', {
      detail: `The event is ${row.eventStatus}; its tickets can no longer be transferred.`,
      extensions: { reason: `event_${row.eventStatus}` },
    });
  }
  if (initiator === 'buyer' && !row.transfersAllowed) {
    return new ApiError('transfers_disabled', {
      detail: 'The organizer does not allow ticket transfers for this event.',
    });
  }
  if (initiator === 'buyer' && row.closed) {
    return new ApiError('transfer_closed', {
      detail: 'Ticket transfers for this event are closed (they close before the event starts).',
      extensions: { closedAt: row.closesAt },
    });
  }
  if (row.attendee.email === email) {
    return new ApiError('conflict', {
      detail: 'This ticket is already held by this email address; nothing was transferred.',
      extensions: { reason: 'same_holder' },
    });
  }
  if (initiator === 'buyer' && row.attendee.transferCount >= MAX_TRANSFERS_PER_TICKET) {
    return new ApiError('conflict', {
      detail: `This ticket has been transferred ${MAX_TRANSFERS_PER_TICKET} times, the most allowed.`,
      extensions: { reason: 'transfer_limit' },
    });
  }
  // Every rule holds now, so the ticket changed while this request ran (another transfer got there first).
  return new ApiError('conflict', {
    detail: 'The ticket changed while it was being transferred; read the booking again.',
    extensions: { reason: 'changed' },
  });
}
