import { listEventAttendees, type EventAttendee } from '../../services/bookings/attendees.ts';
import {
  ATTENDEE_SORTS,
  DEFAULT_ATTENDEE_PAGE_SIZE,
  eventAttendeeListInput,
  EventAttendeeListQuerySchema,
  MAX_ATTENDEE_PAGE_SIZE,
} from '../attendees/schema.ts';
import { builder, given, need, orNull, parseArgs } from './builder.ts';
import { connection, pageArgs, restPage } from './connection.ts';
import { uuidArg } from './events.ts';

const AttendeeTicketTypeRef = builder.objectRef<EventAttendee['ticketType']>('AttendeeTicketType').implement({
  fields: (t) => ({ id: t.exposeID('id'), name: t.exposeString('name') }),
});

const AttendeeBookingRef = builder.objectRef<EventAttendee['booking']>('AttendeeBooking').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.exposeString('status', { description: '`pending`, `confirmed`, `cancelled`, `refunded` or `expired`.' }),
  }),
});

const EventAttendeeRef = builder.objectRef<EventAttendee>('EventAttendee').implement({
  description: 'A ticket of an event and its check-in state: the door list (REST `EventAttendee`).',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    ticketCode: t.exposeString('ticketCode'),
    status: t.exposeString('status', { description: '`valid` or `cancelled`.' }),
    ticketType: t.field({ type: AttendeeTicketTypeRef, resolve: (attendee) => attendee.ticketType }),
    booking: t.field({ type: AttendeeBookingRef, resolve: (attendee) => attendee.booking }),
    checkedIn: t.exposeBoolean('checkedIn'),
    checkedInAt: t.expose('checkedInAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const EventAttendeeConnection = connection(
  'EventAttendee',
  EventAttendeeRef,
  'A page of an event’s tickets (REST `GET /api/v1/events/{id}/attendees`).',
);

const AttendeeSort = builder.enumType('AttendeeSort', {
  description: 'By the booking’s creation, oldest first (default) or newest first; the ticket id breaks ties.',
  values: { BOOKED_AT: { value: ATTENDEE_SORTS[0] }, BOOKED_AT_DESC: { value: ATTENDEE_SORTS[1] } } as const,
});

builder.queryFields((t) => ({
  eventAttendees: t.field({
    type: EventAttendeeConnection,
    nullable: true,
    description:
      'An event’s tickets with their check-in state (the door list), with the REST list’s search, filters and ' +
      'sorts; null when this organization has no event with that id. Needs `bookings:read`. One database round trip.',
    args: {
      eventId: t.arg.id({ required: true }),
      ...pageArgs(t.arg, DEFAULT_ATTENDEE_PAGE_SIZE, MAX_ATTENDEE_PAGE_SIZE),
      q: t.arg.string({ description: 'Part of the name or email (case-insensitive), or a whole ticket code.' }),
      ticketTypeId: t.arg.id(),
      checkedIn: t.arg.boolean(),
      bookingStatus: t.arg.string({ description: 'Only tickets of bookings in this status (default `confirmed`).' }),
      sort: t.arg({ type: AttendeeSort }),
    },
    resolve: (_root, args, context) => {
      need(context, 'bookings:read');
      const { eventId, first, after, checkedIn, ...filters } = args;
      const query = parseArgs(EventAttendeeListQuerySchema, {
        ...given(filters),
        ...(checkedIn === null || checkedIn === undefined ? {} : { checkedIn: String(checkedIn) }),
        ...restPage({ first, after }),
      });
      return orNull(
        listEventAttendees({ ctx: context.service, input: eventAttendeeListInput(uuidArg(eventId), query) }),
      );
    },
  }),
}));
