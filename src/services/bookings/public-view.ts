import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { Venue } from '../../db/schema/events.ts';
import { attendees, bookingItems, bookings, events, payments, refunds } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { hashToken } from '../auth/tokens.ts';
import { bookingNotFound } from './shared.ts';
import { invoiceNumberOf, toBookingView, type BookingView } from './views.ts';

/** The event as its ticket holders see it; `onlineUrl` only while the booking is confirmed. */
export interface PublicBookingEvent {
  id: string;
  slug: string;
  title: string;
  status: 'draft' | 'published' | 'cancelled' | 'completed';
  timezone: string;
  startsAt: string;
  endsAt: string;
  venue: Venue | null;
  onlineUrl: string | null;
  /** When ticket transfers close (the cutoff before the start); null when the organizer does not allow them. */
  transfersCloseAt: string | null;
}

/** The buyer's view of a booking: no internal payment or provider ids, no refund reasons, plus its event. */
export type PublicBookingView = Omit<BookingView, 'payment' | 'refunds'> & {
  payment: {
    provider: NonNullable<BookingView['payment']>['provider'];
    status: NonNullable<BookingView['payment']>['status'];
    amount: number;
    currency: string;
    refundedAmount: number;
  } | null;
  refunds: {
    amount: number;
    currency: string;
    status: BookingView['refunds'][number]['status'];
    attendeeIds: string[];
    createdAt: string;
  }[];
  event: PublicBookingEvent;
};

/**
 * A booking as its buyer sees it through the secret token from checkout. The token's SHA-256 is compared in SQL, in
 * the WHERE clause of every query of the batch, so a wrong token and an unknown id are the same 404 and no row of
 * the booking leaves the database without the right token. The event's `onlineUrl` is selected only when the
 * booking is confirmed (revealed to ticket holders only). One round trip (one scoped batch).
 */
export async function getPublicBooking({
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
  const holder: SQL = sql`exists (select 1 from ${bookings} t where t.organization_id = ${organizationId}
    and t.id = ${id} and t.token_hash = ${tokenHash})`;

  const [bookingRows, items, attendeeRows, paymentRows, refundRows] = await scoped(db, { organizationId }, [
    db
      .select({
        booking: bookings,
        invoiceNumber: invoiceNumberOf(organizationId, id),
        event: {
          id: events.id,
          slug: events.slug,
          title: events.title,
          status: events.status,
          timezone: events.timezone,
          startsAt: events.startsAt,
          endsAt: events.endsAt,
          venue: events.venue,
          onlineUrl: sql<string | null>`(case when ${bookings.status} = 'confirmed' then ${events.onlineUrl} end)`,
          transfersAllowed: events.transfersAllowed,
          transferCutoffMinutes: events.transferCutoffMinutes,
        },
      })
      .from(bookings)
      .innerJoin(events, and(eq(events.organizationId, bookings.organizationId), eq(events.id, bookings.eventId)))
      .where(and(eq(bookings.organizationId, organizationId), eq(bookings.id, id), eq(bookings.tokenHash, tokenHash)))
      .limit(1),
    db
      .select()
      .from(bookingItems)
      .where(and(eq(bookingItems.organizationId, organizationId), eq(bookingItems.bookingId, id), holder))
      .orderBy(asc(bookingItems.ticketTypeId)),
    db
      .select()
      .from(attendees)
      .where(and(eq(attendees.organizationId, organizationId), eq(attendees.bookingId, id), holder))
      .orderBy(asc(attendees.position)),
    db
      .select()
      .from(payments)
      .where(and(eq(payments.organizationId, organizationId), eq(payments.bookingId, id), holder))
      .limit(1),
    db
      .select()
      .from(refunds)
      .where(and(eq(refunds.organizationId, organizationId), eq(refunds.bookingId, id), holder))
      .orderBy(asc(refunds.createdAt), asc(refunds.id)),
  ]);

  const found = bookingRows[0];
  const view = toBookingView([bookingRows.map((row) => row.booking), items, attendeeRows, paymentRows, refundRows]);
  if (found === undefined || view === null) throw bookingNotFound();
  const { payment, refunds: refundViews, ...rest } = view;
  const event = found.event;
  return {
    ...rest,
    invoice:
      found.invoiceNumber === null
        ? null
        : { number: found.invoiceNumber, url: `/api/v1/public/bookings/${id}/invoice` },
    payment:
      payment === null
        ? null
        : {
            provider: payment.provider,
            status: payment.status,
            amount: payment.amount,
            currency: payment.currency,
            refundedAmount: payment.refundedAmount,
          },
    refunds: refundViews.map((refund) => ({
      amount: refund.amount,
      currency: refund.currency,
      status: refund.status,
      attendeeIds: refund.attendeeIds,
      createdAt: refund.createdAt,
    })),
    event: {
      id: event.id,
      slug: event.slug,
      title: event.title,
      status: event.status,
      timezone: event.timezone,
      startsAt: event.startsAt.toISOString(),
      endsAt: event.endsAt.toISOString(),
      venue: event.venue ?? null,
      onlineUrl: event.onlineUrl,
      transfersCloseAt: event.transfersAllowed
        ? new Date(event.startsAt.getTime() - event.transferCutoffMinutes * 60_000).toISOString()
        : null,
    },
  };
}
