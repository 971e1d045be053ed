import type { AttendeeView, BookingSummary, PaymentView, RefundView } from '../../services/bookings/views.ts';
import { listBookings } from '../../services/bookings/list.ts';
import { getBooking } from '../../services/bookings/read.ts';
import { getEvent } from '../../services/events/write.ts';
import { BookingListQuerySchema, DEFAULT_BOOKING_PAGE_SIZE, MAX_BOOKING_PAGE_SIZE } from '../bookings/staff-schema.ts';
import { builder, given, need, orNull, parseArgs } from './builder.ts';
import { connection, pageArgs, restPage } from './connection.ts';
import { EventRef, uuidArg } from './events.ts';

const AttendeeRef = builder.objectRef<AttendeeView>('Attendee').implement({
  description: 'A ticket of a booking, with its holder (REST `Attendee`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    bookingId: t.exposeID('bookingId'),
    ticketTypeId: t.exposeID('ticketTypeId'),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    ticketCode: t.exposeString('ticketCode'),
    status: t.exposeString('status', { description: '`valid` or `cancelled`.' }),
    answers: t.expose('answers', { type: 'JSONObject' }),
    checkedInAt: t.expose('checkedInAt', { type: 'DateTime', nullable: true }),
    cancelledAt: t.expose('cancelledAt', { type: 'DateTime', nullable: true }),
  }),
});

const PaymentRef = builder.objectRef<PaymentView>('Payment').implement({
  description: 'How a booking is paid (REST `Payment`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    provider: t.exposeString('provider', { description: '`free`, `manual` or `stripe`.' }),
    status: t.exposeString('status', { description: '`pending`, `succeeded`, `failed` or `cancelled`.' }),
    amount: t.exposeInt('amount', { description: 'Minor units.' }),
    currency: t.exposeString('currency'),
    refundedAmount: t.exposeInt('refundedAmount'),
    checkoutSessionId: t.exposeString('checkoutSessionId', { nullable: true }),
    paymentIntentId: t.exposeString('paymentIntentId', { nullable: true }),
  }),
});

const AppliedDiscountRef = builder.objectRef<NonNullable<BookingSummary['discount']>>('AppliedDiscount').implement({
  description: 'The discount code a booking applied at checkout (REST `AppliedDiscount`).',
  fields: (t) => ({
    code: t.exposeString('code'),
    amount: t.exposeInt('amount', { description: 'Minor units taken off; `total` is after it.' }),
  }),
});

const RefundRef = builder.objectRef<RefundView>('Refund').implement({
  description: 'A refund of a booking, whole or of some tickets (REST `Refund`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    amount: t.exposeInt('amount'),
    currency: t.exposeString('currency'),
    status: t.exposeString('status'),
    reason: t.exposeString('reason', { nullable: true }),
    attendeeIds: t.exposeIDList('attendeeIds'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const BookingItemRef = builder.objectRef<BookingSummary['items'][number]>('BookingItem').implement({
  description: 'Tickets of one type in a booking.',
  fields: (t) => ({
    ticketTypeId: t.exposeID('ticketTypeId'),
    quantity: t.exposeInt('quantity'),
    unitPrice: t.exposeInt('unitPrice'),
  }),
});

const BuyerRef = builder.objectRef<BookingSummary['buyer']>('Buyer').implement({
  fields: (t) => ({ name: t.exposeString('name'), email: t.exposeString('email') }),
});

export const BookingRef = builder.objectRef<BookingSummary>('Booking').implement({
  description:
    'A booking as staff see it (REST `Booking`). Attendees, payment and refunds come from one dataloader: one ' +
    'database round trip for all the bookings of a level.',
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeID('eventId'),
    event: t.field({
      type: EventRef,
      nullable: true,
      description: 'The event (needs `events:read`; one database round trip per booking: prefer `eventId`).',
      resolve: (booking, _args, context) => {
        need(context, 'events:read');
        return orNull(getEvent({ ctx: context.service, input: { id: booking.eventId } }));
      },
    }),
    status: t.exposeString('status', {
      description: '`pending`, `confirmed`, `cancelled`, `refunded` or `expired`.',
    }),
    buyer: t.field({ type: BuyerRef, resolve: (booking) => booking.buyer }),
    total: t.exposeInt('total', { description: 'Minor units.' }),
    currency: t.exposeString('currency'),
    refundedAmount: t.exposeInt('refundedAmount'),
    discount: t.field({
      type: AppliedDiscountRef,
      nullable: true,
      description: 'The discount code applied at checkout; null without one.',
      resolve: (booking) => booking.discount,
    }),
    provider: t.exposeString('provider'),
    answers: t.expose('answers', { type: 'JSONObject' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    confirmedAt: t.expose('confirmedAt', { type: 'DateTime', nullable: true }),
    cancelledAt: t.expose('cancelledAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    items: t.field({ type: [BookingItemRef], resolve: (booking) => booking.items }),
    attendees: t.field({
      type: [AttendeeRef],
      resolve: async (booking, _args, context) => (await context.loaders.bookingDetails.load(booking.id)).attendees,
    }),
    payment: t.field({
      type: PaymentRef,
      nullable: true,
      resolve: async (booking, _args, context) => (await context.loaders.bookingDetails.load(booking.id)).payment,
    }),
    refunds: t.field({
      type: [RefundRef],
      resolve: async (booking, _args, context) => (await context.loaders.bookingDetails.load(booking.id)).refunds,
    }),
  }),
});

const BookingConnection = connection('Booking', BookingRef, 'A page of bookings (REST `GET /api/v1/bookings`).');

const BookingSort = builder.enumType('BookingSort', {
  values: { CREATED_AT_DESC: { value: '-createdAt' }, CREATED_AT: { value: 'createdAt' } } as const,
});

builder.queryFields((t) => ({
  bookings: t.field({
    type: BookingConnection,
    description: 'The organization’s bookings, newest first by default. Needs `bookings:read`. One round trip.',
    args: {
      ...pageArgs(t.arg, DEFAULT_BOOKING_PAGE_SIZE, MAX_BOOKING_PAGE_SIZE),
      eventId: t.arg.id(),
      status: t.arg.string({ description: 'Only this status.' }),
      email: t.arg.string({ description: 'The buyer’s email (exact, case-insensitive).' }),
      sort: t.arg({ type: BookingSort }),
    },
    resolve: (_root, args, context) => {
      need(context, 'bookings:read');
      const { first, after, ...filters } = args;
      const input = parseArgs(BookingListQuerySchema, { ...given(filters), ...restPage({ first, after }) });
      return listBookings({ ctx: context.service, input });
    },
  }),
  booking: t.field({
    type: BookingRef,
    nullable: true,
    description: 'One booking by id; null when this organization has none with that id. Needs `bookings:read`.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) => {
      need(context, 'bookings:read');
      return orNull(getBooking({ ctx: context.service, input: { id: uuidArg(args.id) } }));
    },
  }),
}));
