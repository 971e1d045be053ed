import { and, eq, sql } from 'drizzle-orm';
import { attendees, auditLogs, bookings, ticketTypes } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSql } from '../outbox/record.ts';
import { checkInObject } from '../outbox/views.ts';
import { callerOf } from '../roles/authority.ts';
import { normalizeTicketCode } from './shared.ts';
import { toAttendeeView, type AttendeeView } from './views.ts';

export interface CheckInInput {
  /** As scanned or typed: case, spaces and dashes do not matter. */
  ticketCode: string;
  /** Refuse tickets of any other event (the event this door serves). */
  eventId?: string | undefined;
}

export interface CheckInResult {
  attendee: AttendeeView & { eventId: string; ticketTypeName: string };
  /** The first check-in's time (also on a repeated scan). */
  checkedInAt: string;
  /** True when the ticket had already been checked in before this scan. */
  alreadyCheckedIn: boolean;
}

/**
 * Checks a ticket in by its code, in one round trip (one scoped batch, one transaction):
 *
 * 1. One conditional UPDATE sets `checked_in_at` and `checked_in_by` only where the ticket is of this organization,
 *    still valid, not yet checked in, of a confirmed booking (and of `eventId` when given); the audit row and the
 *    `checkin.created` outbox event are inserted from its RETURNING in the same statement, so only the scan that
 *    changed the ticket writes them. Of two concurrent scans the second waits for the first's row lock, re-checks
 *    `checked_in_at is null` and changes nothing.
 * 2. A SELECT of the ticket with its booking's status and event reads the outcome: checked in now (first scan),
 *    already checked in (the first scan's time, `alreadyCheckedIn`), or why it cannot be (404 unknown code, 409
 *    cancelled ticket, booking not confirmed, another event).
 */
export async function checkIn({ ctx, input }: { ctx: ServiceContext; input: CheckInInput }): Promise<CheckInResult> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const db = ctx.services.db;
  const organizationId = tenant.id;
  const code = normalizeTicketCode(input.ticketCode);
  const eventId = input.eventId?.toLowerCase() ?? null;
  const { client } = ctx;

  const [changed, [row]] = await scoped(db, { organizationId }, [
    db.execute<{ id: string }>(sql`with changed as (
        update ${attendees} a set checked_in_at = now(), checked_in_by = ${caller.userId}, updated_at = now()
        from ${bookings} b
        where a.organization_id = ${organizationId} and a.ticket_code = ${code}
          and a.status = 'valid' and a.checked_in_at is null
          and b.organization_id = ${organizationId} and b.id = a.booking_id and b.status = 'confirmed'
          and (${eventId}::uuid is null or b.event_id = ${eventId}::uuid)
        returning a.*, b.event_id),
      logged as (insert into ${auditLogs} (organization_id, actor_type, actor_user_id, action, target_type, target_id,
          ip, user_agent, request_id, correlation_id, metadata)
        select ${organizationId}, 'user', ${caller.userId}, 'attendee.checked_in', 'attendee', changed.id::text,
          ${client.ip}, ${client.userAgent}, ${client.requestId}, ${client.correlationId ?? null}::text,
          jsonb_build_object('bookingId', changed.booking_id, 'eventId', changed.event_id, 'ticketCode', ${code}::text)
        from changed
        returning id),
      published as (${outboxInsertSql(
        db,
        { organizationId, type: 'checkin.created', data: checkInObject(organizationId, 'changed') },
        { from: sql`changed` },
      )})
      select id from logged`),
    db
      .select({
        attendee: attendees,
        bookingStatus: bookings.status,
        eventId: bookings.eventId,
        ticketTypeName: ticketTypes.name,
      })
      .from(attendees)
      .innerJoin(
        bookings,
        and(eq(bookings.organizationId, attendees.organizationId), eq(bookings.id, attendees.bookingId)),
      )
      .innerJoin(
        ticketTypes,
        and(eq(ticketTypes.organizationId, attendees.organizationId), eq(ticketTypes.id, attendees.ticketTypeId)),
      )
      .where(and(eq(attendees.organizationId, organizationId), eq(attendees.ticketCode, code)))
      .limit(1),
  ]);

  if (row === undefined) throw new ApiError('not_found', { detail: 'No ticket with this code.' });
  const firstScan = rowsOf(changed).length > 0;
  if (firstScan) notifyOutbox(ctx, organizationId);
  if (!firstScan) {
    if (row.attendee.status !== 'valid') {
      throw new ApiError('conflict', {
        detail: 'This ticket has been cancelled.',
        extensions: { reason: 'ticket_cancelled' },
      });
    }
    if (row.bookingStatus !== 'confirmed') {
      throw new ApiError('conflict', {
        detail:
          row.bookingStatus === 'pending'
            ? 'The booking of this ticket is not paid yet (pending).'
            : `The booking of this ticket is ${row.bookingStatus}.`,
        extensions: { reason: `booking_${row.bookingStatus}` },
      });
    }
    if (eventId !== null && row.eventId !== eventId) {
      throw new ApiError('conflict', {
        detail: 'This ticket is for another event.',
        extensions: { reason: 'other_event' },
      });
    }
  }
  const checkedInAt = row.attendee.checkedInAt;
  // Only when the booking was confirmed between the two statements (a ticket row cannot change under the UPDATE's lock).
  if (checkedInAt === null) {
    throw new ApiError('conflict', { detail: 'The ticket changed while it was being checked in; scan it again.' });
  }
  return {
    attendee: { ...toAttendeeView(row.attendee), eventId: row.eventId, ticketTypeName: row.ticketTypeName },
    checkedInAt: checkedInAt.toISOString(),
    alreadyCheckedIn: !firstScan,
  };
}

/** The rows of a `db.execute` result (the Neon HTTP driver gives `{ rows }`). */
function rowsOf<T>(result: T[] | { rows: T[] }): T[] {
  return Array.isArray(result) ? result : result.rows;
}
