import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import type { Answers } from '../../db/schema/questions.ts';
import {
  attendees,
  bookingItems,
  bookings,
  payments,
  refunds,
  type Attendee,
  type Booking,
  type Payment,
  type Refund,
} from '../../db/schema/index.ts';

/** A booking as staff see it (and, through its token, the buyer): everything but the token hash. */
export interface BookingView {
  id: string;
  eventId: string;
  status: Booking['status'];
  buyer: { name: string; email: string };
  total: number;
  currency: string;
  refundedAmount: number;
  /** The discount code applied at checkout and the amount it took off `total` (minor units); null without one. */
  discount: { code: string; amount: number } | null;
  provider: Booking['provider'];
  answers: Answers;
  expiresAt: string | null;
  confirmedAt: string | null;
  cancelledAt: string | null;
  createdAt: string;
  updatedAt: string;
  items: { ticketTypeId: string; quantity: number; unitPrice: number }[];
  attendees: AttendeeView[];
  payment: PaymentView | null;
  refunds: RefundView[];
  /** Invoices (issue #18 part 4): set by the single-booking views. */
  invoice?: { number: string; url: string } | null;
}

export interface AttendeeView {
  id: string;
  bookingId: string;
  ticketTypeId: string;
  name: string;
  email: string;
  ticketCode: string;
  status: Attendee['status'];
  answers: Answers;
  checkedInAt: string | null;
  cancelledAt: string | null;
}

export interface PaymentView {
  id: string;
  provider: Payment['provider'];
  status: Payment['status'];
  amount: number;
  currency: string;
  refundedAmount: number;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
}

export interface RefundView {
  id: string;
  amount: number;
  currency: string;
  status: Refund['status'];
  reason: string | null;
  attendeeIds: string[];
  createdAt: string;
  /** The refund's credit note (issue #18 part 4), where the query read it: null for a booking without invoice. */
  creditNote?: { number: string; url: string } | null;
}

/** A refund row with the number of its credit note (`refundColumns`). */
export type RefundRow = Refund & { creditNoteNumber?: string | null };

/** A refund's columns and the number of its credit note, or null (issue #18 part 4). */
export function refundColumns(organizationId: string) {
  return {
    ...getTableColumns(refunds),
    creditNoteNumber: sql<string | null>`(select cn.number from invoices cn where cn.organization_id = ${organizationId}
      and cn.refund_id = ${refunds}.id and cn.kind = 'credit_note')`,
  };
}

/** Where staff (or, with the Booking-Token header, the buyer) download a refund's credit note. */
export function creditNotePath(bookingId: string, refundId: string, audience: 'staff' | 'buyer' = 'staff'): string {
  return `/api/v1/${audience === 'buyer' ? 'public/' : ''}bookings/${bookingId}/refunds/${refundId}/credit-note`;
}

/**
 * The queries that load one booking with its items, attendees, payment and refunds: put them in one scoped batch
 * (one round trip), then pass the results to `toBookingView`.
 */
/** The number of a booking's invoice, or null (issue #18 part 4). */
export function invoiceNumberOf(organizationId: string, bookingId: string) {
  return sql<string | null>`(select i.number from invoices i where i.organization_id = ${organizationId}
    and i.booking_id = ${bookingId} and i.kind = 'invoice')`;
}

export function bookingQueries(db: Database, organizationId: string, bookingId: string) {
  return [
    db
      .select({ ...getTableColumns(bookings), invoiceNumber: invoiceNumberOf(organizationId, bookingId) })
      .from(bookings)
      .where(and(eq(bookings.organizationId, organizationId), eq(bookings.id, bookingId)))
      .limit(1),
    db
      .select()
      .from(bookingItems)
      .where(and(eq(bookingItems.organizationId, organizationId), eq(bookingItems.bookingId, bookingId)))
      .orderBy(asc(bookingItems.ticketTypeId)),
    db
      .select()
      .from(attendees)
      .where(and(eq(attendees.organizationId, organizationId), eq(attendees.bookingId, bookingId)))
      .orderBy(asc(attendees.position)),
    db
      .select()
      .from(payments)
      .where(and(eq(payments.organizationId, organizationId), eq(payments.bookingId, bookingId)))
      .limit(1),
    db
      .select(refundColumns(organizationId))
      .from(refunds)
      .where(and(eq(refunds.organizationId, organizationId), eq(refunds.bookingId, bookingId)))
      .orderBy(asc(refunds.createdAt), asc(refunds.id)),
  ] as const;
}

export type BookingRows = [Booking[], (typeof bookingItems.$inferSelect)[], Attendee[], Payment[], RefundRow[]];

const iso = (value: Date | null): string | null => value?.toISOString() ?? null;

export function toAttendeeView(row: Attendee): AttendeeView {
  return {
    id: row.id,
    bookingId: row.bookingId,
    ticketTypeId: row.ticketTypeId,
    name: row.name,
    email: row.email,
    ticketCode: row.ticketCode,
    status: row.status,
    answers: row.answers,
    checkedInAt: iso(row.checkedInAt),
    cancelledAt: iso(row.cancelledAt),
  };
}

export type BookingSummary = Omit<BookingView, 'attendees' | 'payment' | 'refunds'>;

/** A booking with its items, without tickets, payment and refunds (the staff list). */
export function toBookingSummary(
  booking: Booking,
  items: readonly { ticketTypeId: string; quantity: number; unitPrice: number }[],
): BookingSummary {
  return {
    id: booking.id,
    eventId: booking.eventId,
    status: booking.status,
    buyer: { name: booking.buyerName, email: booking.buyerEmail },
    total: booking.total,
    currency: booking.currency,
    refundedAmount: booking.refundedAmount,
    discount: booking.discountCode === null ? null : { code: booking.discountCode, amount: booking.discountAmount },
    provider: booking.provider,
    answers: booking.answers,
    expiresAt: iso(booking.expiresAt),
    confirmedAt: iso(booking.confirmedAt),
    cancelledAt: iso(booking.cancelledAt),
    createdAt: booking.createdAt.toISOString(),
    updatedAt: booking.updatedAt.toISOString(),
    items: items.map((item) => ({
      ticketTypeId: item.ticketTypeId,
      quantity: item.quantity,
      unitPrice: item.unitPrice,
    })),
  };
}

/** The view of a loaded booking, or null when the booking row is missing (not found, or another tenant's). */
export function toBookingView([
  bookingRows,
  items,
  attendeeRows,
  paymentRows,
  refundRows,
]: BookingRows): BookingView | null {
  const booking = bookingRows[0];
  if (booking === undefined) return null;
  const payment = paymentRows[0];
  const view: BookingView = {
    ...toBookingSummary(booking, items),
    attendees: attendeeRows.map(toAttendeeView),
    payment: payment === undefined ? null : toPaymentView(payment),
    refunds: refundRows.map(toRefundView),
  };
  // Rows from `bookingQueries` carry the invoice number (issue #18 part 4).
  const invoiceNumber = (booking as Booking & { invoiceNumber?: string | null }).invoiceNumber;
  if (invoiceNumber !== undefined) {
    view.invoice =
      invoiceNumber === null ? null : { number: invoiceNumber, url: `/api/v1/bookings/${booking.id}/invoice` };
  }
  return view;
}

export function toPaymentView(payment: Payment): PaymentView {
  return {
    id: payment.id,
    provider: payment.provider,
    status: payment.status,
    amount: payment.amount,
    currency: payment.currency,
    refundedAmount: payment.refundedAmount,
    checkoutSessionId: payment.checkoutSessionId,
    paymentIntentId: payment.paymentIntentId,
  };
}

export function toRefundView(refund: RefundRow): RefundView {
  const view: RefundView = {
    id: refund.id,
    amount: refund.amount,
    currency: refund.currency,
    status: refund.status,
    reason: refund.reason,
    attendeeIds: refund.attendeeIds,
    createdAt: refund.createdAt.toISOString(),
  };
  if (refund.creditNoteNumber !== undefined) {
    view.creditNote =
      refund.creditNoteNumber === null
        ? null
        : { number: refund.creditNoteNumber, url: creditNotePath(refund.bookingId, refund.id) };
  }
  return view;
}
