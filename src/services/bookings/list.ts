import { and, eq, sql, type SQL } from 'drizzle-orm';
import { bookingItems, bookings, type Booking } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { toBookingSummary, type BookingSummary } from './views.ts';

export interface ListBookingsInput {
  eventId?: string | undefined;
  status?: Booking['status'] | undefined;
  /** The buyer's email, exact and case-insensitive (emails are stored lowercased). */
  email?: string | undefined;
  limit: number;
  cursor?: string | undefined;
  /** `-createdAt` (default, newest first) or `createdAt`. */
  sort?: BookingSort | undefined;
}

export type BookingSort = '-createdAt' | 'createdAt';
const DEFAULT_SORT: BookingSort = '-createdAt';

export interface BookingPage {
  data: BookingSummary[];
  nextCursor: string | null;
}

type Item = BookingSummary['items'][number];

/**
 * One page of the organization's bookings, newest first by default: ordered by (created_at, id) descending (or
 * ascending with sort=createdAt), after the cursor (the last row's microsecond creation time and id, and the sort). Each row carries its items as JSON built in the same
 * query. One database round trip, served by bookings_organization_id_created_at_idx (or the event or buyer email
 * index when filtered).
 */
export async function listBookings({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListBookingsInput;
}): Promise<BookingPage> {
  const tenant = requireTenant(ctx);
  const sort = listSort(input.sort ?? DEFAULT_SORT);
  const after =
    input.cursor === undefined ? null : decodeCursor(input.cursor, { current: sort, defaultSort: DEFAULT_SORT });
  const conditions: SQL[] = [eq(bookings.organizationId, tenant.id)];
  if (input.eventId !== undefined) conditions.push(eq(bookings.eventId, input.eventId.toLowerCase()));
  if (input.status !== undefined) conditions.push(eq(bookings.status, input.status));
  if (input.email !== undefined) conditions.push(eq(bookings.buyerEmail, input.email.toLowerCase()));
  if (after !== null) conditions.push(keysetAfter(bookings.createdAt, bookings.id, after, sort));

  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        booking: bookings,
        items: sql<Item[]>`(select coalesce(jsonb_agg(jsonb_build_object('ticketTypeId', i.ticket_type_id,
            'quantity', i.quantity, 'unitPrice', i.unit_price) order by i.ticket_type_id), '[]'::jsonb)
          from ${bookingItems} i where i.organization_id = ${tenant.id} and i.booking_id = ${bookings.id})`,
        cursorAt: cursorTimestamp(bookings.createdAt),
      })
      .from(bookings)
      .where(and(...conditions))
      .orderBy(...keysetOrder(bookings.createdAt, bookings.id, sort))
      .limit(input.limit + 1),
  ]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map((row) => toBookingSummary(row.booking, row.items)),
    nextCursor:
      rows.length > input.limit && last !== undefined
        ? encodeCursor({ at: last.cursorAt, id: last.booking.id }, sort)
        : null,
  };
}
