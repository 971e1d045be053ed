import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import {
  attendees,
  auditLogs,
  bookings,
  eventQuestions,
  events,
  type AnswerValue,
  type Answers,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { csvRow } from '../../lib/csv.ts';
import { listSort } from '../../lib/cursor.ts';
import { actorMetadata, auditClient, auditMetadata } from '../audit/record.ts';
import { actorOf, eventNotFound } from '../events/shared.ts';
import {
  attendeePageQuery,
  toEventAttendee,
  type AttendeeAfter,
  type AttendeeFilters,
  type AttendeePageRow,
  type EventAttendee,
} from './attendees.ts';

export type AttendeeExportFormat = 'csv' | 'json';

/** Tickets per database round trip while streaming. */
export const ATTENDEE_EXPORT_PAGE_SIZE = 1_000;

/**
 * The most tickets one export sends; more matching tickets are refused before anything is streamed (422: export per
 * ticket type or booking status). 50,000 tickets are 50 pages, 51 database round trips (subrequests) with the first
 * batch, as the audit log export's bound (src/services/audit/export.ts) and for the same CPU reason.
 */
export const MAX_ATTENDEE_EXPORT_ROWS = 50_000;

/** The CSV columns before the answers: the door list's fields, flat. */
export const ATTENDEE_CSV_COLUMNS = [
  'ticket_id',
  'name',
  'email',
  'ticket_code',
  'ticket_status',
  'ticket_type_id',
  'ticket_type',
  'booking_id',
  'booking_status',
  'checked_in_at',
  'created_at',
] as const;

/** A question as the export names its column: `answer:<key>` (attendee) or `booking_answer:<key>` (booking). */
interface ExportQuestion {
  key: string;
  level: 'attendee' | 'booking';
}

/** One exported ticket (JSON): the door list's entry with the ticket's and its booking's answers. */
export interface ExportedAttendee extends EventAttendee {
  answers: Answers;
  bookingAnswers: Answers;
}

/** An answer as one CSV cell: multi-choice joined with "; ", checkboxes `true`/`false`, numbers as written. */
export function answerCell(value: AnswerValue | undefined): string | null {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.join('; ');
  return String(value);
}

function headerRow(questions: readonly ExportQuestion[]): string {
  return csvRow([
    ...ATTENDEE_CSV_COLUMNS,
    ...questions.map((question) => `${question.level === 'attendee' ? 'answer' : 'booking_answer'}:${question.key}`),
  ]);
}

function csvLine(row: AttendeePageRow, questions: readonly ExportQuestion[]): string {
  const ticket = toEventAttendee(row);
  return csvRow([
    ticket.id,
    ticket.name,
    ticket.email,
    ticket.ticketCode,
    ticket.status,
    ticket.ticketType.id,
    ticket.ticketType.name,
    ticket.booking.id,
    ticket.booking.status,
    ticket.checkedInAt,
    ticket.createdAt,
    ...questions.map((question) =>
      answerCell((question.level === 'attendee' ? row.answers : row.booking_answers)[question.key]),
    ),
  ]);
}

function jsonEntry(row: AttendeePageRow): ExportedAttendee {
  return { ...toEventAttendee(row), answers: row.answers, bookingAnswers: row.booking_answers };
}

/**
 * How many tickets match, counted no further than `limit`: the list's filters (no search), as the page query
 * applies them.
 */
function boundedCount(db: Database, organizationId: string, eventId: string, filters: AttendeeFilters, limit: number) {
  const matching = db
    .select({ one: sql<number>`1`.as('one') })
    .from(bookings)
    .innerJoin(
      attendees,
      and(eq(attendees.organizationId, bookings.organizationId), eq(attendees.bookingId, bookings.id)),
    )
    .where(
      and(
        eq(bookings.organizationId, organizationId),
        eq(bookings.eventId, eventId),
        eq(bookings.status, filters.bookingStatus ?? 'confirmed'),
        filters.ticketTypeId === undefined ? undefined : eq(attendees.ticketTypeId, filters.ticketTypeId),
        filters.checkedIn === undefined
          ? undefined
          : filters.checkedIn
            ? sql`${attendees.checkedInAt} is not null`
            : sql`${attendees.checkedInAt} is null`,
      ),
    )
    .limit(limit)
    .as('matching');
  return db.select({ rows: count() }).from(matching);
}

/**
 * An event's tickets (the door list: `bookingStatus` confirmed by default, `ticketTypeId`, `checkedIn`) as a stream,
 * in booking order, with one column (CSV) or key (JSON) per question of the event, archived ones included (their
 * answers stay). The event, its questions, the first page and a bounded count are read in one batch with the export's
 * audit row (`attendees.exported`) before anything is sent: an unknown event is 404, more than
 * MAX_ATTENDEE_EXPORT_ROWS matching tickets 422. Then pages of ATTENDEE_EXPORT_PAGE_SIZE (one round trip each) are read
 * as the client takes them, so memory stays flat. A database failure midway aborts the stream (a truncated download)
 * and is logged.
 */
export async function exportEventAttendees({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { eventId: string; format: AttendeeExportFormat; filters: AttendeeFilters };
}): Promise<{ stream: ReadableStream<Uint8Array>; eventSlug: string }> {
  const tenant = requireTenant(ctx);
  const { db } = ctx.services;
  const organizationId = tenant.id;
  const eventId = input.eventId.toLowerCase();
  const filters: AttendeeFilters = {
    ...input.filters,
    ...(input.filters.ticketTypeId === undefined ? {} : { ticketTypeId: input.filters.ticketTypeId.toLowerCase() }),
  };
  const { format } = input;
  const sort = listSort('bookedAt');
  const scope = { organizationId };
  const actor = actorOf(ctx);
  const client = auditClient(ctx.client);
  const metadata = auditMetadata(ctx.client, 'attendees.exported', { format, ...filters, ...actorMetadata(actor) });

  const [event, questions, first, [counted]] = await scoped(db, scope, [
    db
      .select({ id: events.id, slug: events.slug })
      .from(events)
      .where(and(eq(events.organizationId, organizationId), eq(events.id, eventId)))
      .limit(1),
    db
      .select({ key: eventQuestions.key, level: eventQuestions.level })
      .from(eventQuestions)
      .where(and(eq(eventQuestions.organizationId, organizationId), eq(eventQuestions.eventId, eventId)))
      .orderBy(asc(eventQuestions.level), asc(eventQuestions.position), asc(eventQuestions.key)),
    attendeePageQuery(db, organizationId, eventId, filters, sort, null, ATTENDEE_EXPORT_PAGE_SIZE),
    boundedCount(db, organizationId, eventId, filters, MAX_ATTENDEE_EXPORT_ROWS + 1),
    // Written with the reads, only when the export goes ahead (the event is the organization's and within the
    // bound): an export of personal data is audited whether or not the client reads it to the end.
    db.execute(sql`insert into ${auditLogs} (organization_id, actor_type, actor_user_id, actor_api_key_id, action,
        target_type, target_id, ip, user_agent, request_id, correlation_id, metadata)
      select ${organizationId}, ${actor.type}, ${actor.userId ?? null}::uuid, ${actor.apiKeyId ?? null}::uuid,
        'attendees.exported', 'event', ${eventId}::text,
        ${client.ip}::text, ${client.userAgent}::text, ${client.requestId}::text, ${client.correlationId}::text,
        ${JSON.stringify(metadata)}::jsonb
      where exists (select 1 from ${events} where ${events.organizationId} = ${organizationId} and ${events.id} = ${eventId})
        and (${boundedCount(db, organizationId, eventId, filters, MAX_ATTENDEE_EXPORT_ROWS + 1)}) <= ${MAX_ATTENDEE_EXPORT_ROWS}`),
  ]);
  const found = event[0];
  if (found === undefined) throw eventNotFound();
  if ((counted?.rows ?? 0) > MAX_ATTENDEE_EXPORT_ROWS) {
    throw new ApiError('unprocessable', {
      detail:
        `More than ${String(MAX_ATTENDEE_EXPORT_ROWS)} tickets match; an export holds at most ` +
        `${String(MAX_ATTENDEE_EXPORT_ROWS)}. Export per ticket type (\`ticketTypeId\`) or check-in state and join the parts.`,
      errors: [
        { pointer: '/query/ticketTypeId', message: `Matches more than ${String(MAX_ATTENDEE_EXPORT_ROWS)} tickets` },
      ],
      extensions: { maxRows: MAX_ATTENDEE_EXPORT_ROWS },
    });
  }

  const encoder = new TextEncoder();
  let pending: AttendeePageRow[] | null = first.rows;
  let after: AttendeeAfter | null = null;
  let written = 0;

  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode(format === 'csv' ? headerRow(questions) : '['));
      },
      async pull(controller) {
        const size = Math.min(ATTENDEE_EXPORT_PAGE_SIZE, MAX_ATTENDEE_EXPORT_ROWS - written);
        let rows: AttendeePageRow[];
        if (pending) {
          rows = pending;
          pending = null;
        } else {
          try {
            const [page] = await scoped(db, scope, [
              attendeePageQuery(db, organizationId, eventId, filters, sort, after, size),
            ]);
            rows = page.rows;
          } catch (error) {
            ctx.logger.error('attendee export failed', { error, written });
            controller.error(error);
            return;
          }
        }
        rows = rows.slice(0, size);
        let chunk = '';
        for (const row of rows) {
          chunk +=
            format === 'csv'
              ? csvLine(row, questions)
              : `${written === 0 ? '' : ','}\n${JSON.stringify(jsonEntry(row))}`;
          written += 1;
        }
        const last = rows.at(-1);
        if (last) after = { at: last.cursor_at, id: last.id };
        if (rows.length < ATTENDEE_EXPORT_PAGE_SIZE || written >= MAX_ATTENDEE_EXPORT_ROWS) {
          if (format === 'json') chunk += written === 0 ? ']' : '\n]';
          if (chunk) controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(chunk));
      },
    },
    // One page at a time: the next page is read only once the client has taken this one.
    { highWaterMark: 1 },
  );
  return { stream, eventSlug: found.slug };
}
