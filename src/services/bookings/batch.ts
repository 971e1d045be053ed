import { and, asc, eq, sql } from 'drizzle-orm';
import { attendees, payments, refunds } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { uuidArray } from '../../db/params.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { toAttendeeView, toPaymentView, toRefundView, type BookingView } from './views.ts';

/** What a booking's staff view holds beyond its summary: tickets, payment and refunds. */
export type BookingDetails = Pick<BookingView, 'attendees' | 'payment' | 'refunds'>;

/**
 * The attendees, payment and refunds of many bookings of the caller's organization at once (the GraphQL dataloader
 * of one nesting level), shaped as `getBooking` shapes them: one database round trip, three queries in one scoped
 * batch, whatever the number of bookings. Another tenant's booking ids get empty details.
 */
export async function bookingDetails({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { bookingIds: readonly string[] };
}): Promise<Map<string, BookingDetails>> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const ids = [...new Set(input.bookingIds.map((id) => id.toLowerCase()))];
  const details = new Map<string, BookingDetails>(ids.map((id) => [id, { attendees: [], payment: null, refunds: [] }]));
  if (ids.length === 0) return details;
  const ofBookings = uuidArray(ids);
  const [attendeeRows, paymentRows, refundRows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select()
      .from(attendees)
      .where(and(eq(attendees.organizationId, tenant.id), sql`${attendees.bookingId} = any(${ofBookings})`))
      .orderBy(asc(attendees.position)),
    db
      .select()
      .from(payments)
      .where(and(eq(payments.organizationId, tenant.id), sql`${payments.bookingId} = any(${ofBookings})`)),
    db
      .select()
      .from(refunds)
      .where(and(eq(refunds.organizationId, tenant.id), sql`${refunds.bookingId} = any(${ofBookings})`))
      .orderBy(asc(refunds.createdAt), asc(refunds.id)),
  ]);
  for (const id of ids) {
    const payment = paymentRows.find((row) => row.bookingId === id);
    details.set(id, {
      attendees: attendeeRows.filter((row) => row.bookingId === id).map(toAttendeeView),
      payment: payment === undefined ? null : toPaymentView(payment),
      refunds: refundRows.filter((row) => row.bookingId === id).map(toRefundView),
    });
  }
  return details;
}
