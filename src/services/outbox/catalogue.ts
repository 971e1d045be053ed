/**
 * The event catalogue: every event type the outbox carries, as webhooks deliver it (`{ type, timestamp, data }`,
 * `data` being the full object after the change, versioned by `EVENT_PAYLOAD_VERSION`). Served by
 * `GET /api/v1/webhooks/event-types`; webhook endpoints filter on these names.
 */
export const EVENT_PAYLOAD_VERSION = '2026-11-01';

export const EVENT_TYPES = {
  'organization.updated': 'The organization (name, branding, settings) changed. data: the organization.',
  'membership.created': 'A member was invited or joined. data: the membership with its user and role.',
  'membership.updated': 'A membership changed (role, status, display name). data: the membership.',
  'membership.deleted': 'A member was removed. data: the membership as it was.',
  'event.created': 'An event was created (as a draft). data: the event.',
  'event.published': 'An event was published. data: the event.',
  'event.updated': 'An event changed. data: the event.',
  'event.cancelled': 'An event was cancelled. data: the event.',
  'ticket_type.created': 'A ticket type was created. data: the ticket type.',
  'ticket_type.updated': 'A ticket type changed. data: the ticket type.',
  'ticket_type.deleted': 'A ticket type was deleted. data: the ticket type as it was.',
  'booking.created': 'A booking was made (pending, or confirmed when free). data: the booking with its tickets.',
  'booking.confirmed': 'A booking was confirmed (paid, or free). data: the booking with its tickets.',
  'booking.cancelled': 'A booking was cancelled. data: the booking.',
  'booking.refunded': 'Money of a booking was refunded (in part or in full). data: the booking with its refunds.',
  'booking.expired': 'A pending booking expired unpaid; its seats are back on sale. data: the booking.',
  'ticket.transferred':
    'A ticket was transferred to another holder; its old code no longer works. data: the attendee, booking and ' +
    'event ids, the new and the previous holder (name, email); never the ticket code.',
  'attendee.updated':
    "A ticket's details changed: the buyer renamed it, or staff edited its answers. data: the booking with its tickets.",
  'checkin.created': 'A ticket was checked in (first scan only). data: the attendee and its event.',
  'payment.succeeded': 'A payment succeeded. data: the payment and its booking id.',
  'payment.failed': 'A payment attempt failed. data: the payment and its booking id.',
  // Waitlist (issue #18 part 2).
  'waitlist.offered':
    'Seats were offered to the next waitlist entry: a pending booking holds them until the offer expires. data: ' +
    'the waitlist entry (with its bookingId); never the offer token.',
  'waitlist.claimed':
    'A waitlist offer was claimed: its booking is confirmed (a free offer claimed, or a paid one paid). data: the ' +
    'waitlist entry.',
  'waitlist.expired':
    'A waitlist offer lapsed or its booking was cancelled: the seats pass on to the next entry. data: the waitlist ' +
    'entry.',
} as const satisfies Record<string, string>;

export type EventType = keyof typeof EVENT_TYPES;

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_TYPES, value);
}
