import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { Venue } from '../../db/schema/events.ts';
import { attendees, bookingItems, bookings, events, payments, refunds } from '../../db/schema/index.ts';
import type { Database } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { hashToken } from '../auth/tokens.ts';
import { bookingNotFound } from './shared.ts';
import { creditNotePath, invoiceNumberOf, refundColumns, toBookingView, type BookingView } from './views.ts';

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
    creditNote: { number: string; url: string } | null;
  }[];
  event: PublicBookingEvent;
} & SelfServiceView;

/** What the buyer may do with the booking now (buyer self-service), computed from the event's rules in the same read. */
export interface SelfServiceView {
  cancellation: {
    /** True when POST .../cancel would be accepted now (policy, cutoff, status, no ticket checked in). */
    allowed: boolean;
    /** The money a cancellation returns now: `stripe` automatic, `offline` by the organizer, `none`. */
    refund: 'stripe' | 'offline' | 'none';
    /** When buyer cancellation closes (the start minus the cutoff); null when the event does not offer it. */
    closesAt: string | null;
  };
  /** Until when the buyer may rename tickets; null when the event does not let buyers edit them. */
  attendeeEditsCloseAt: string | null;
}

/** The event's self-service rules and the database clock, selected beside the booking. */
export interface SelfServiceRules {
  buyerCancellation: 'none' | 'full_refund' | 'no_refund';
  buyerCancellationCutoffMinutes: number;
  attendeeEditCutoffMinutes: number | null;
  startsAt: Date;
  /** The database's `now()` in epoch milliseconds: the clock the writes check the cutoffs with. */
  nowMs: number;
}

const MINUTE_MS = 60_000;

/** The refund a buyer cancellation makes for this booking under this policy. */
export function cancellationRefund(
  policy: SelfServiceRules['buyerCancellation'],
  booking: { status: string; provider: string; total: number; refundedAmount: number },
): SelfServiceView['cancellation']['refund'] {
  if (policy !== 'full_refund' || booking.status !== 'confirmed') return 'none';
  if (booking.total - booking.refundedAmount <= 0) return 'none';
  if (booking.provider === 'stripe') return 'stripe';
  if (booking.provider === 'manual') return 'offline';
  return 'none';
}

export function selfServiceView(
  rules: SelfServiceRules,
  booking: { status: string; provider: string; total: number; refundedAmount: number },
  tickets: readonly { status: string; checkedInAt: Date | null }[],
): SelfServiceView {
  const start = rules.startsAt.getTime();
  const closesAt = rules.buyerCancellation === 'none' ? null : start - rules.buyerCancellationCutoffMinutes * MINUTE_MS;
  const checkedIn = tickets.some((ticket) => ticket.status === 'valid' && ticket.checkedInAt !== null);
  const live = booking.status === 'pending' || booking.status === 'confirmed';
  const allowed = closesAt !== null && rules.nowMs < closesAt && live && !checkedIn;
  return {
    cancellation: {
      allowed,
      refund: cancellationRefund(rules.buyerCancellation, booking),
      closesAt: closesAt === null ? null : new Date(closesAt).toISOString(),
    },
    attendeeEditsCloseAt:
      rules.attendeeEditCutoffMinutes === null
        ? null
        : new Date(start - rules.attendeeEditCutoffMinutes * MINUTE_MS).toISOString(),
  };
}

/**
 * The five queries of the buyer's view (booking with its event, items, tickets, payment, refunds), each gated by the
 * token's hash in SQL, to run alone or at the end of a write batch (the buyer self-service writes answer with it).
 */
export function publicBookingQueries(db: Database, organizationId: string, id: string, tokenHash: string) {
  const holder: SQL = sql`exists (select 1 from ${bookings} t where t.organization_id = ${organizationId}
    and t.id = ${id} and t.token_hash = ${tokenHash})`;
  return [
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
          buyerCancellation: events.buyerCancellation,
          buyerCancellationCutoffMinutes: events.buyerCancellationCutoffMinutes,
          attendeeEditCutoffMinutes: events.attendeeEditCutoffMinutes,
          nowMs: sql<string>`(extract(epoch from now()) * 1000)::bigint::text`,
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
      .select(refundColumns(organizationId))
      .from(refunds)
      .where(and(eq(refunds.organizationId, organizationId), eq(refunds.bookingId, id), holder))
      .orderBy(asc(refunds.createdAt), asc(refunds.id)),
  ] as const;
}

type PublicBookingRows = {
  [K in keyof ReturnType<typeof publicBookingQueries>]: Awaited<ReturnType<typeof publicBookingQueries>[K]>;
};

/** The buyer's view out of the results of `publicBookingQueries` (404 when the id or the token is wrong). */
export function toPublicBookingView(rows: PublicBookingRows): PublicBookingView {
  const [bookingRows, items, attendeeRows, paymentRows, refundRows] = rows;
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
        : { number: found.invoiceNumber, url: `/api/v1/public/bookings/${found.booking.id}/invoice` },
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
      creditNote:
        refund.creditNote == null
          ? null
          : { number: refund.creditNote.number, url: creditNotePath(found.booking.id, refund.id, 'buyer') },
    })),
    ...selfServiceView({ ...event, nowMs: Number(event.nowMs) }, found.booking, attendeeRows),
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
  const rows = await scoped(db, { organizationId }, [...publicBookingQueries(db, organizationId, id, tokenHash)]);
  return toPublicBookingView(rows as unknown as PublicBookingRows);
}
