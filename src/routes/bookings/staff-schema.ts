import { z } from '@hono/zod-openapi';
import { EmailSchema, storedLine, Timestamp, Uuid } from '../fields.ts';
import { cursorPage, pageParams, sortParam } from '../pagination.ts';
import { MAX_REFUNDS_PER_BOOKING } from '../../services/bookings/refund.ts';
import {
  COUNTRY_PATTERN,
  MAX_SLUG_LENGTH,
  MAX_TIMEZONE_LENGTH,
  MAX_TITLE_LENGTH,
  MAX_URL_LENGTH,
  SLUG_PATTERN,
  VENUE_LIMITS,
} from '../events/schema.ts';
import { BOOKING_STATUSES, BookingSchema, BookingToken, EXAMPLE_BOOKING_TOKEN } from './schema.ts';

const EXAMPLE_EVENT_ID = '0b9f6a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b';

export const DEFAULT_BOOKING_PAGE_SIZE = 20;
export const MAX_BOOKING_PAGE_SIZE = 100;

export const BookingListQuerySchema = z
  .object({
    eventId: Uuid.optional().openapi({
      param: { name: 'eventId', in: 'query' },
      description: 'Only bookings of this event.',
      example: EXAMPLE_EVENT_ID,
    }),
    status: z
      .enum(BOOKING_STATUSES)
      .optional()
      .openapi({ param: { name: 'status', in: 'query' }, description: 'Only this status.', example: 'confirmed' }),
    email: EmailSchema.optional().openapi({
      param: { name: 'email', in: 'query' },
      description: 'Only bookings with this buyer email (exact match, case-insensitive).',
      example: 'ada@example.com',
    }),
    ...pageParams({
      defaultSize: DEFAULT_BOOKING_PAGE_SIZE,
      maxSize: MAX_BOOKING_PAGE_SIZE,
      cursorExample: 'WyIyMDI2LTA2LTAxVDA5OjAwOjAwLjAwMDAwMFoiLCI3YzFlMmQzZi00YTViLTRjNmQtOGU3Zi05MDFhMmIzYzRkNWUiXQ',
    }),
    sort: sortParam(['-createdAt', 'createdAt'] as const, 'Order of the bookings by creation, the id breaking ties.'),
  })
  // Only these filters exist: any other query parameter answers 400.
  .strict();

export const BookingSummarySchema = BookingSchema.omit({ attendees: true, payment: true, refunds: true }).openapi(
  'BookingSummary',
  { description: 'A booking in a list: the booking and its items (GET /api/v1/bookings/{id} has the rest).' },
);

export const BookingListSchema = cursorPage(BookingSummarySchema, {
  name: 'BookingList',
  items: 'Bookings, in the `sort` order (newest first by default).',
  cursorExample: 'WyIyMDI2LTA2LTAxVDA5OjAwOjAwLjAwMDAwMFoiLCI3YzFlMmQzZi00YTViLTRjNmQtOGU3Zi05MDFhMmIzYzRkNWUiXQ',
  description: 'A page of bookings.',
});

/**
 * The buyer's credential for the booking view: the booking token in a request header, so that it never lands in a
 * URL (browser history, proxy and server logs, the Referer of the next page). The `token` query parameter of old
 * answers 400 (the query takes no parameter).
 */
export const PublicBookingHeadersSchema = z.object({
  'booking-token': BookingToken.openapi({
    // The parameter's name is the object key: header names are matched case-insensitively (RFC 9110).
    param: { in: 'header' },
    description:
      'The booking token returned by the checkout (`token`). A malformed one answers 400; a well-formed wrong one ' +
      '404, like an unknown id.',
    example: EXAMPLE_BOOKING_TOKEN,
  }),
});

/** The booking view takes no query parameter: any (the `token` of old included) answers 400. */
export const PublicBookingQuerySchema = z.strictObject(
  {},
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? 'No query parameter is accepted: send the booking token in the Booking-Token header.'
        : undefined,
  },
);

export const PublicBookingSchema = BookingSchema.omit({ payment: true, refunds: true })
  .extend({
    payment: BookingSchema.shape.payment
      .unwrap()
      .omit({ id: true, checkoutSessionId: true, paymentIntentId: true })
      .nullable()
      .openapi({ description: 'The payment, without internal and provider ids.' }),
    refunds: z
      .array(BookingSchema.shape.refunds.element.omit({ id: true, reason: true }))
      .max(MAX_REFUNDS_PER_BOOKING)
      .openapi({
        description:
          'Refunds (amount, status, the tickets each cancelled), without internal ids; at most ' +
          `${MAX_REFUNDS_PER_BOOKING}.`,
      }),
    event: z
      .object({
        id: Uuid.openapi({ example: EXAMPLE_EVENT_ID }),
        slug: z.string().max(MAX_SLUG_LENGTH).regex(SLUG_PATTERN).openapi({ example: 'summer-jazz-night' }),
        title: storedLine(MAX_TITLE_LENGTH).openapi({ example: 'Summer Jazz Night' }),
        status: z.enum(['draft', 'published', 'cancelled', 'completed']).openapi({
          description: '`cancelled` when the organizer called the event off.',
        }),
        timezone: z
          .string()
          .max(MAX_TIMEZONE_LENGTH)
          .openapi({ description: 'IANA timezone of the event.', example: 'Europe/Berlin' }),
        startsAt: Timestamp,
        endsAt: Timestamp,
        venue: z
          .object({
            name: storedLine(VENUE_LIMITS.name),
            address: storedLine(VENUE_LIMITS.address).optional(),
            city: storedLine(VENUE_LIMITS.city).optional(),
            country: z.string().max(2).regex(COUNTRY_PATTERN).optional(),
            latitude: z.number().min(-90).max(90).optional(),
            longitude: z.number().min(-180).max(180).optional(),
          })
          .nullable()
          .openapi({ description: 'Where the event takes place; null for an online-only event.' }),
        onlineUrl: z
          .string()
          .max(MAX_URL_LENGTH)
          .regex(/^https:\/\//)
          .nullable()
          .openapi({
            description: 'Join URL of an online event: shown only while the booking is confirmed, else null.',
            example: 'https://meet.example.com/jazz',
          }),
        transfersCloseAt: Timestamp.nullable().openapi({
          description:
            'Until when a ticket may be transferred to another person (POST .../attendees/{attendeeId}/transfer): ' +
            "the organizer's cutoff before the start; null when the organizer does not allow transfers.",
          example: '2026-07-04T17:00:00.000Z',
        }),
      })
      .openapi({ description: 'The event booked.' }),
    cancellation: z
      .object({
        allowed: z.boolean().openapi({
          description:
            'True when POST /api/v1/public/bookings/{id}/cancel would be accepted now: the event offers buyer ' +
            'cancellation, its cutoff has not passed, the booking is pending or confirmed and no ticket is checked in.',
          example: true,
        }),
        refund: z.enum(['stripe', 'offline', 'none']).openapi({
          description:
            'What a cancellation now returns: `stripe` (everything not refunded yet, refunded through Stripe in the ' +
            'same request), `offline` (a manual payment: the organizer returns it outside Eventra), `none` (free, ' +
            'unpaid, or a `no_refund` policy).',
          example: 'stripe',
        }),
        closesAt: Timestamp.nullable().openapi({
          description: "When buyer cancellation closes (the event's start minus its cutoff); null when not offered.",
          example: '2026-07-02T18:00:00.000Z',
        }),
      })
      .openapi({ description: "Buyer cancellation under the event's refund policy." }),
    attendeeEditsCloseAt: Timestamp.nullable().openapi({
      description:
        'Until when the buyer may rename tickets (PATCH /api/v1/public/bookings/{id}/attendees/{attendeeId}); null ' +
        'when the event does not let buyers edit them.',
      example: '2026-07-04T17:00:00.000Z',
    }),
  })
  .openapi('PublicBooking', {
    description: 'A booking as its buyer sees it: tickets, payment status and the event, without internal ids.',
  });

export type BookingSummaryResponse = z.infer<typeof BookingSummarySchema>;
export type BookingListResponse = z.infer<typeof BookingListSchema>;
export type PublicBookingResponse = z.infer<typeof PublicBookingSchema>;
