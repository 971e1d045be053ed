import { z } from '@hono/zod-openapi';
import { EmailSchema } from '../auth/schema.ts';
import { cursorPage, pageParams, sortParam } from '../pagination.ts';
import { BOOKING_STATUSES, BookingSchema } from './schema.ts';

const EXAMPLE_EVENT_ID = '0b9f6a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b';

const DEFAULT_BOOKING_PAGE_SIZE = 20;
const MAX_BOOKING_PAGE_SIZE = 100;

export const BookingListQuerySchema = z
  .object({
    eventId: z
      .uuid()
      .optional()
      .openapi({
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

export const PublicBookingQuerySchema = z
  .object({
    token: z
      .string()
      .min(1)
      .max(200)
      .openapi({
        param: { name: 'token', in: 'query' },
        description: 'The booking token returned by the checkout.',
        example: 'bk_3q2-7wM0f1Yl4cX8v9aZk5nQe6rTt2uBb0sDd7gHh1J',
      }),
  })
  .strict();

export const PublicBookingSchema = BookingSchema.omit({ payment: true, refunds: true })
  .extend({
    payment: BookingSchema.shape.payment
      .unwrap()
      .omit({ id: true, checkoutSessionId: true, paymentIntentId: true })
      .nullable()
      .openapi({ description: 'The payment, without internal and provider ids.' }),
    refunds: z
      .array(BookingSchema.shape.refunds.element.omit({ id: true, reason: true }))
      .openapi({ description: 'Refunds (amount, status, the tickets each cancelled), without internal ids.' }),
    event: z
      .object({
        id: z.uuid().openapi({ example: EXAMPLE_EVENT_ID }),
        slug: z.string().openapi({ example: 'summer-jazz-night' }),
        title: z.string().openapi({ example: 'Summer Jazz Night' }),
        status: z.enum(['draft', 'published', 'cancelled', 'completed']).openapi({
          description: '`cancelled` when the organizer called the event off.',
        }),
        timezone: z.string().openapi({ description: 'IANA timezone of the event.', example: 'Europe/Berlin' }),
        startsAt: z.iso.datetime(),
        endsAt: z.iso.datetime(),
        venue: z
          .object({
            name: z.string(),
            address: z.string().optional(),
            city: z.string().optional(),
            country: z.string().optional(),
            latitude: z.number().optional(),
            longitude: z.number().optional(),
          })
          .nullable()
          .openapi({ description: 'Where the event takes place; null for an online-only event.' }),
        onlineUrl: z.string().nullable().openapi({
          description: 'Join URL of an online event: shown only while the booking is confirmed, else null.',
          example: 'https://meet.example.com/jazz',
        }),
      })
      .openapi({ description: 'The event booked.' }),
  })
  .openapi('PublicBooking', {
    description: 'A booking as its buyer sees it: tickets, payment status and the event, without internal ids.',
  });

export type BookingSummaryResponse = z.infer<typeof BookingSummarySchema>;
export type BookingListResponse = z.infer<typeof BookingListSchema>;
export type PublicBookingResponse = z.infer<typeof PublicBookingSchema>;
