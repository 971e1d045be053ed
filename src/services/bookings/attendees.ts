import { and, eq, ilike, isNotNull, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import {
  attendees,
  bookings,
  events,
  ticketTypes,
  type Answers,
  type Attendee,
  type Booking,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, listSort, type ListSort } from '../../lib/cursor.ts';
import { escapeLike } from '../../lib/text.ts';
import { eventNotFound } from '../events/shared.ts';
import { normalizeTicketCode, TICKET_CODE_LENGTH } from './shared.ts';

export type AttendeeSort = 'bookedAt' | '-bookedAt';
const DEFAULT_SORT: AttendeeSort = 'bookedAt';

export interface ListEventAttendeesInput {
  eventId: string;
  /** The bookings whose tickets are listed (default `confirmed`: the tickets that may enter). */
  bookingStatus?: Booking['status'] | undefined;
  ticketTypeId?: string | undefined;
  checkedIn?: boolean | undefined;
  /** Part of the name or email (case-insensitive), or a whole ticket code (case, spaces and dashes ignored). */
  q?: string | undefined;
  limit: number;
  cursor?: string | undefined;
  sort?: AttendeeSort | undefined;
}

/** One ticket of an event as the door sees it. */
export interface EventAttendee {
  id: string;
  name: string;
  email: string;
  ticketCode: string;
  status: Attendee['status'];
  ticketType: { id: string; name: string };
  booking: { id: string; status: Booking['status'] };
  checkedIn: boolean;
  checkedInAt: string | null;
  createdAt: string;
}

export interface EventAttendeePage {
  data: EventAttendee[];
  nextCursor: string | null;
}

// Crockford's base32 without I, L, O, U (newTicketCode): a search term that is not such a code matches no code.
const TICKET_CODE = new RegExp(`^[0-9A-HJKMNP-TV-Z]{${TICKET_CODE_LENGTH}}$`);

/** The list's filters (the page size and the cursor aside). */
export type AttendeeFilters = Pick<ListEventAttendeesInput, 'bookingStatus' | 'ticketTypeId' | 'checkedIn' | 'q'>;

/** Where a page starts: the last row of the page before (its booking's creation, as the cursor keeps it, and id). */
export interface AttendeeAfter {
  at: string;
  id: string;
}

/**
 * The statement of one page of an event's tickets in the `sort` order, after `after`, at most `limit` rows: the list's
 * page query, also read by the export (src/services/bookings/attendee-export.ts). Rows carry the tickets' and their
 * bookings' answers, which the list does not show.
 *
 * The page is served by bookings_organization_id_event_id_created_at_idx (the event's bookings in order, from the
 * cursor on) joined to attendees_organization_id_booking_id_idx; the filters and the search are applied to those
 * rows, so a page costs at most a walk over the event's tickets (no index can serve ILIKE under row-level security:
 * it is not leakproof; see docs/API.md).
 */
export function attendeePageQuery(
  db: Database,
  organizationId: string,
  eventId: string,
  filters: AttendeeFilters,
  sort: ListSort,
  after: AttendeeAfter | null,
  limit: number,
) {
  // The event's bookings (the outer side: the index range of the page, in order) ...
  const bookingConditions: SQL[] = [
    eq(bookings.organizationId, organizationId),
    eq(bookings.eventId, eventId),
    eq(bookings.status, filters.bookingStatus ?? 'confirmed'),
  ];
  // ... and the tickets of each (the inner side, with the ticket filters).
  const ticketConditions: SQL[] = [eq(attendees.organizationId, organizationId), eq(attendees.bookingId, bookings.id)];
  if (filters.ticketTypeId !== undefined) {
    ticketConditions.push(eq(attendees.ticketTypeId, filters.ticketTypeId.toLowerCase()));
  }
  if (filters.checkedIn !== undefined) {
    ticketConditions.push(filters.checkedIn ? isNotNull(attendees.checkedInAt) : isNull(attendees.checkedInAt));
  }
  if (filters.q !== undefined) {
    const pattern = `%${escapeLike(filters.q)}%`;
    const code = normalizeTicketCode(filters.q);
    const terms = [ilike(attendees.name, pattern), ilike(attendees.email, pattern)];
    if (TICKET_CODE.test(code)) terms.push(eq(attendees.ticketCode, code));
    ticketConditions.push(or(...terms) as SQL);
  }
  if (after !== null) {
    // The row comparison spans both tables; the bound on created_at alone is what the bookings index can use.
    bookingConditions.push(
      sort.descending
        ? sql`${bookings.createdAt} <= ${after.at}::timestamptz`
        : sql`${bookings.createdAt} >= ${after.at}::timestamptz`,
      sort.descending
        ? sql`(${bookings.createdAt}, ticket.id) < (${after.at}::timestamptz, ${after.id}::uuid)`
        : sql`(${bookings.createdAt}, ticket.id) > (${after.at}::timestamptz, ${after.id}::uuid)`,
    );
  }
  const direction = sort.descending ? sql`desc` : sql`asc`;

  // The tickets are a LATERAL subquery with OFFSET 0, which PostgreSQL never flattens into the join: the plan stays
  // "the event's bookings in order, then each one's tickets", bounded by the event. Flattened, the planner takes a
  // selective search for a reason to scan every ticket of the organization instead (measured on 600,000 tickets of
  // 20 events: a sequential scan of all of them rather than the 30,000 of the event).
  return db.execute<AttendeePageRow>(sql`
      select ticket.id, ticket.name, ticket.email, ticket.ticket_code, ticket.status, ticket.ticket_type_id,
        ${ticketTypes.name} as ticket_type_name, ${bookings.id} as booking_id, ${bookings.status} as booking_status,
        ${isoInstant(sql`ticket.checked_in_at`)} as checked_in_at, ${isoInstant(sql`ticket.created_at`)} as created_at,
        ${cursorTimestamp(bookings.createdAt)} as cursor_at, ticket.answers, ${bookings.answers} as booking_answers
      from ${bookings}
      cross join lateral (
        select ${attendees.id} as id, ${attendees.name} as name, ${attendees.email} as email,
          ${attendees.ticketCode} as ticket_code, ${attendees.status} as status,
          ${attendees.ticketTypeId} as ticket_type_id, ${attendees.checkedInAt} as checked_in_at,
          ${attendees.createdAt} as created_at, ${attendees.answers} as answers
        from ${attendees}
        where ${and(...ticketConditions)}
        offset 0
      ) ticket
      join ${ticketTypes} on ${ticketTypes.organizationId} = ${organizationId} and ${ticketTypes.id} = ticket.ticket_type_id
      where ${and(...bookingConditions)}
      order by ${bookings.createdAt} ${direction}, ticket.id ${direction}
      limit ${limit}`);
}

/** The door's view of a page row. */
export function toEventAttendee(row: AttendeePageRow): EventAttendee {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    ticketCode: row.ticket_code,
    status: row.status,
    ticketType: { id: row.ticket_type_id, name: row.ticket_type_name },
    booking: { id: row.booking_id, status: row.booking_status },
    checkedIn: row.checked_in_at !== null,
    checkedInAt: row.checked_in_at,
    createdAt: row.created_at,
  };
}

/**
 * One page of an event's tickets (the door's list), in booking order: by the booking's creation time, then the
 * ticket id (`-bookedAt`: the reverse), after the cursor. A ticket is created with its booking, so this is also the
 * order of the tickets' creation; new bookings land after the pages already read and never shift them.
 *
 * One database round trip: the event's existence (404 for an unknown or another organization's event) and the page
 * (attendeePageQuery) are two statements of one scoped batch.
 */
export async function listEventAttendees({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListEventAttendeesInput;
}): Promise<EventAttendeePage> {
  const tenant = requireTenant(ctx);
  const organizationId = tenant.id;
  const eventId = input.eventId.toLowerCase();
  const sort = listSort(input.sort ?? DEFAULT_SORT);
  const after =
    input.cursor === undefined ? null : decodeCursor(input.cursor, { current: sort, defaultSort: DEFAULT_SORT });

  const db = ctx.services.db;
  const [event, page] = await scoped(db, { organizationId }, [
    db
      .select({ id: events.id })
      .from(events)
      .where(and(eq(events.organizationId, organizationId), eq(events.id, eventId)))
      .limit(1),
    attendeePageQuery(db, organizationId, eventId, input, sort, after, input.limit + 1),
  ]);
  if (event.length === 0) throw eventNotFound();

  const rows = page.rows;
  const shown = rows.slice(0, input.limit);
  const last = shown.at(-1);
  return {
    data: shown.map(toEventAttendee),
    nextCursor:
      rows.length > input.limit && last !== undefined ? encodeCursor({ at: last.cursor_at, id: last.id }, sort) : null,
  };
}

/** A row of the page query, as PostgreSQL text (timestamps already in the API's ISO form). */
export interface AttendeePageRow extends Record<string, unknown> {
  id: string;
  name: string;
  email: string;
  ticket_code: string;
  status: Attendee['status'];
  ticket_type_id: string;
  ticket_type_name: string;
  booking_id: string;
  booking_status: Booking['status'];
  checked_in_at: string | null;
  created_at: string;
  cursor_at: string;
  answers: Answers;
  booking_answers: Answers;
}

/** An instant as the API writes it (JavaScript's toISOString: UTC, milliseconds), computed by PostgreSQL. */
function isoInstant(value: SQL): SQL<string | null> {
  return sql<string | null>`to_char(${value} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}
