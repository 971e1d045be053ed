import { z } from '@hono/zod-openapi';
import type { Venue } from '../../db/schema/index.ts';
import { formatEventTime, formatMoney } from './format.ts';
import { brandColor, emailLayout, markup, type Branding, type EmailMessage, type SafeHtml } from './messages.ts';

export const BOOKING_EMAIL_TYPES = ['booking.confirmed', 'booking.cancelled', 'booking.refunded'] as const;
export type BookingEmailType = (typeof BOOKING_EMAIL_TYPES)[number];

const AttendeeData = z.object({
  name: z.string(),
  email: z.string().optional(),
  ticketCode: z.string().min(1),
  status: z.string(),
  ticketTypeId: z.string(),
});

/**
 * The `email.event` payload for bookings: the outbox event `{ type, timestamp, data }` whose data is the booking
 * view after the change. Only what the emails show is required; other fields are ignored.
 */
export const BookingEmailPayloadSchema = z.object({
  type: z.enum(BOOKING_EMAIL_TYPES),
  timestamp: z.string(),
  data: z.object({
    id: z.string().min(1),
    eventId: z.guid(),
    status: z.string(),
    buyer: z.object({ name: z.string(), email: z.string().min(3).max(320).includes('@') }),
    total: z.number().int().nonnegative(),
    currency: z.string().min(3).max(3),
    refundedAmount: z.number().int().nonnegative().default(0),
    attendees: z.array(AttendeeData).default([]),
    refunds: z
      .array(
        z.object({
          id: z.string().optional(),
          amount: z.number().int().nonnegative(),
          status: z.string().optional(),
          // Invoices (issue #18 part 4): the refund's credit note, when the booking has an invoice.
          creditNote: z
            .object({ number: z.string().max(40) })
            .nullable()
            .optional(),
        }),
      )
      .optional(),
    // Invoices (issue #18 part 4): the number of the booking's invoice, when it has one.
    invoice: z
      .object({ number: z.string().max(40) })
      .nullable()
      .optional(),
  }),
});
export type BookingEmailPayload = z.infer<typeof BookingEmailPayloadSchema>;
type BookingData = BookingEmailPayload['data'];
export type AttendeeData = z.infer<typeof AttendeeData>;

/** The event a booking email talks about (null when it could not be loaded: the email still goes out). */
export interface BookingEmailEvent {
  title: string;
  startsAt: Date;
  timezone: string;
  venue: Venue | null;
  onlineUrl: string | null;
}

export interface BookingEmailInput {
  /** The message id: the queue envelope id, so a redelivered event sends one email. */
  id: string;
  type: BookingEmailType;
  booking: BookingData;
  event: BookingEmailEvent | null;
  /** Ticket type names by id, for the ticket list. */
  ticketTypeNames: ReadonlyMap<string, string>;
  branding: Branding;
  /**
   * The event's public iCalendar file (GET /api/v1/public/events/{slug}/calendar.ics on the organization's host), for
   * the confirmation's "Add to calendar"; null when the event has none (private, draft). Never a link with a secret.
   */
  calendarUrl?: string | null;
}

function venueLine(venue: Venue | null): string | null {
  if (!venue) return null;
  const parts = [venue.name, venue.address, venue.city, venue.country].filter(
    (part): part is string => typeof part === 'string' && part.length > 0,
  );
  return parts.length > 0 ? parts.join(', ') : null;
}

/** When / Where (/ Online, for ticket holders only) lines of the event, those it has. */
export function eventDetails(event: BookingEmailEvent | null, withOnline: boolean): [string, string][] {
  if (!event) return [];
  const rows: [string, string][] = [['When', `${formatEventTime(event.startsAt, event.timezone)} (${event.timezone})`]];
  const where = venueLine(event.venue);
  if (where) rows.push(['Where', where]);
  if (withOnline && event.onlineUrl) rows.push(['Online', event.onlineUrl]);
  return rows;
}

/** Longest buyer-provided name a booking email shows (the checkout allows more). */
export const BUYER_TEXT_MAX = 60;

/**
 * Text a buyer typed (their name, attendee names), shown only as labelled data: on one line, without control or
 * format characters, at most BUYER_TEXT_MAX characters. Anyone can book a free ticket for any address, so such text
 * must never read as the organization's words: no greeting, no subject, no paragraph of its own.
 */
export function buyerText(value: string): string {
  const line = value
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const characters = Array.from(line);
  return characters.length > BUYER_TEXT_MAX ? `${characters.slice(0, BUYER_TEXT_MAX - 1).join('')}…` : line;
}

function ticketLabel(attendee: AttendeeData, names: ReadonlyMap<string, string>): string {
  const type = names.get(attendee.ticketTypeId);
  const holder = buyerText(attendee.name);
  return type ? `${holder} (${type})` : holder;
}

function ticketsText(title: string, attendees: readonly AttendeeData[], names: ReadonlyMap<string, string>): string[] {
  if (attendees.length === 0) return [];
  return ['', `${title}:`, ...attendees.map((attendee) => `- ${ticketLabel(attendee, names)}: ${attendee.ticketCode}`)];
}

function ticketsHtml(
  title: string,
  attendees: readonly AttendeeData[],
  names: ReadonlyMap<string, string>,
  color: string,
): SafeHtml[] {
  if (attendees.length === 0) return [];
  const rows = attendees.map(
    (attendee) =>
      markup`<tr><td style="padding:4px 12px 4px 0">${ticketLabel(attendee, names)}</td><td style="padding:4px 0;font-family:monospace;font-size:16px;font-weight:bold;color:${color}">${attendee.ticketCode}</td></tr>`,
  );
  return [
    markup`<h2 style="font-size:16px">${title}</h2>`,
    markup`<table style="border-collapse:collapse">${rows}</table>`,
  ];
}

function detailsHtml(rows: readonly [string, string][]): SafeHtml[] {
  if (rows.length === 0) return [];
  const cells = rows.map(
    ([label, value]) =>
      markup`<tr><td style="padding:2px 12px 2px 0;color:#666">${label}</td><td style="padding:2px 0">${value}</td></tr>`,
  );
  return [markup`<table style="border-collapse:collapse">${cells}</table>`];
}

/** What a ticket email says, before it is laid out as text and HTML (`composeTicketEmail`). */
export interface Content {
  subject: string;
  intro: string[];
  details: [string, string][];
  tickets: { title: string; attendees: AttendeeData[] }[];
  closing: string[];
}

function content(input: BookingEmailInput): Content {
  const { booking, event } = input;
  const title = event?.title ?? 'your event';
  const money = (amount: number): string => formatMoney(amount, booking.currency);
  const valid = booking.attendees.filter((attendee) => attendee.status !== 'cancelled');
  const cancelled = booking.attendees.filter((attendee) => attendee.status === 'cancelled');
  const reference: [string, string] = ['Booking', booking.id];
  const bookedAs: [string, string] = ['Name on the booking', buyerText(booking.buyer.name)];
  switch (input.type) {
    case 'booking.confirmed':
      return {
        subject: `Your tickets for ${title}`,
        intro: ['Hello,', `Your booking for ${title} is confirmed.`],
        details: [
          ...eventDetails(event, true),
          ['Total', booking.total === 0 ? 'Free' : money(booking.total)],
          reference,
          bookedAs,
          ...(booking.invoice ? [['Invoice', booking.invoice.number] as [string, string]] : []),
        ],
        tickets: [{ title: 'Your tickets', attendees: valid }],
        closing: [
          'Show the ticket code at the entrance.',
          // The link carries no secret: the invoice is downloaded with the booking token from checkout.
          ...(booking.invoice
            ? [
                `Your invoice ${booking.invoice.number} (PDF) can be downloaded with your booking token from ` +
                  `/api/v1/public/bookings/${booking.id}/invoice on the organizer's site.`,
              ]
            : []),
        ],
      };
    case 'booking.cancelled':
      return {
        subject: `Your booking for ${title} was cancelled`,
        intro: ['Hello,', `Your booking for ${title} was cancelled. Its tickets are no longer valid.`],
        details: [...eventDetails(event, false), reference, bookedAs],
        tickets: [{ title: 'Cancelled tickets', attendees: booking.attendees }],
        closing: [],
      };
    case 'booking.refunded': {
      // The refund this event is about: the latest one that did not fail (the view lists them oldest first).
      const refund = booking.refunds?.filter((entry) => entry.status !== 'failed').at(-1);
      const latest = refund?.amount ?? booking.refundedAmount;
      const creditNote = refund?.creditNote ?? null;
      const intro = ['Hello,', `We refunded ${money(latest)} of your booking for ${title}.`];
      if (latest !== booking.refundedAmount) {
        intro.push(`Refunded so far: ${money(booking.refundedAmount)} of ${money(booking.total)}.`);
      }
      return {
        subject: `Refund for your booking for ${title}`,
        intro,
        details: [
          ...eventDetails(event, false),
          ['Refunded', money(booking.refundedAmount)],
          ...(creditNote ? [['Credit note', creditNote.number] as [string, string]] : []),
          reference,
          bookedAs,
        ],
        tickets: [
          { title: 'Cancelled tickets', attendees: cancelled },
          { title: 'Your remaining tickets', attendees: valid },
        ],
        closing: [
          'The money goes back to the payment method you used; banks may take a few days to show it.',
          // The link carries no secret: the credit note is downloaded with the booking token from checkout.
          ...(creditNote && refund?.id
            ? [
                `Your credit note ${creditNote.number} (PDF) can be downloaded with your booking token from ` +
                  `/api/v1/public/bookings/${booking.id}/refunds/${refund.id}/credit-note on the organizer's site.`,
              ]
            : []),
        ],
      };
    }
  }
}

/** The buyer's email for a booking event: confirmation with the tickets, cancellation or refund. */
export function bookingEmail(input: BookingEmailInput): EmailMessage {
  const confirmed = input.type === 'booking.confirmed';
  const calendar = confirmed && input.calendarUrl ? { label: 'Add to calendar', url: input.calendarUrl } : undefined;
  const links = [
    ...(input.event?.onlineUrl && confirmed ? [input.event.onlineUrl] : []),
    ...(calendar ? [calendar.url] : []),
  ];
  return composeTicketEmail({
    id: input.id,
    to: input.booking.buyer.email,
    branding: input.branding,
    ticketTypeNames: input.ticketTypeNames,
    content: content(input),
    links,
    calendar,
  });
}

/** Lays out a ticket email (booking and transfer emails): intro, details, ticket lists and closing, text and HTML. */
export function composeTicketEmail(input: {
  id: string;
  to: string;
  branding: Branding;
  ticketTypeNames: ReadonlyMap<string, string>;
  content: Content;
  links: string[];
  /** The "Add to calendar" button and text line (the confirmation of a booking for a public event). */
  calendar?: { label: string; url: string } | undefined;
}): EmailMessage {
  const { branding, ticketTypeNames } = input;
  const parts = input.content;
  // A title is the organizer's text: no line breaks in a header.
  const subject = parts.subject.replace(/[\r\n]+/g, ' ');
  const color = brandColor(branding);
  const { calendar } = input;
  const text = [
    ...parts.intro.flatMap((line, index) => (index === 0 ? [line] : ['', line])),
    ...(parts.details.length > 0 ? ['', ...parts.details.map(([label, value]) => `${label}: ${value}`)] : []),
    ...parts.tickets.flatMap((list) => ticketsText(list.title, list.attendees, ticketTypeNames)),
    ...parts.closing.flatMap((line) => ['', line]),
    ...(calendar ? ['', `${calendar.label}: ${calendar.url}`] : []),
    '',
    `-- ${branding.displayName}`,
  ].join('\n');
  const body = [
    ...parts.intro.map((line) => markup`<p>${line}</p>`),
    ...detailsHtml(parts.details),
    ...parts.tickets.flatMap((list) => ticketsHtml(list.title, list.attendees, ticketTypeNames, color)),
    ...parts.closing.map((line) => markup`<p>${line}</p>`),
  ];
  return {
    id: input.id,
    to: input.to,
    fromName: branding.senderName,
    subject,
    text,
    html: emailLayout(branding, subject, body, calendar),
    links: input.links,
  };
}
