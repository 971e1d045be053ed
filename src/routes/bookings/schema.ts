import { z } from '@hono/zod-openapi';
import { EmailSchema, NameSchema } from '../auth/schema.ts';

export const EXAMPLE_BOOKING_ID = '7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e';
const EXAMPLE_TICKET_TYPE_ID = '5d2e8c41-7a6b-4c3d-9e8f-0a1b2c3d4e5f';
const EXAMPLE_EVENT_ID = '0b9f6a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b';
export const MAX_TICKETS_PER_ORDER = 100;

export const BOOKING_STATUSES = ['pending', 'confirmed', 'cancelled', 'refunded', 'expired'] as const;
export const PAYMENT_PROVIDERS = ['free', 'manual', 'stripe'] as const;
const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'] as const;

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export const AnswersSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'Question keys are 1 to 64 letters, digits, _ . or -.'),
    z.string().max(2000),
  )
  .refine((answers) => Object.keys(answers).length <= 50, 'At most 50 answers.')
  .openapi('Answers', {
    description: "Answers to the organizer's questions, by question key (at most 50, each up to 2,000 characters).",
    example: { dietary: 'vegetarian' },
  });

const PersonSchema = z.object({ name: NameSchema, email: EmailSchema }).strict();

export const AttendeeInputSchema = PersonSchema.extend({ answers: AnswersSchema.optional() })
  .strict()
  .openapi('AttendeeInput', { description: 'The person a ticket is for.' });

export const BookingCreateSchema = z
  .object({
    buyer: PersonSchema.openapi({ description: 'Who buys (receives the confirmation).' }),
    items: z
      .array(
        z
          .object({
            ticketTypeId: z
              .uuid()
              .openapi({ description: 'A ticket type of this event.', example: EXAMPLE_TICKET_TYPE_ID }),
            quantity: z
              .int()
              .min(1)
              .max(MAX_TICKETS_PER_ORDER)
              .openapi({ description: 'How many tickets.', example: 2 }),
            attendees: z
              .array(AttendeeInputSchema)
              .max(MAX_TICKETS_PER_ORDER)
              .optional()
              .openapi({ description: "One per ticket; without it, every ticket is in the buyer's name." }),
          })
          .strict(),
      )
      .min(1)
      .max(20)
      .openapi({ description: 'Ticket types and quantities; each ticket type at most once.' }),
    accessCode: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: 'Unlocks hidden ticket types that have this code.', example: 'VIP2026' }),
    answers: AnswersSchema.optional(),
    paymentMethod: z
      .enum(['stripe', 'manual'])
      .optional()
      .openapi({
        description:
          'How a paid order is paid: `stripe` (card, through Stripe Checkout) or `manual` (offline, confirmed by the ' +
          'organizer). Default: Stripe when the organization has configured it, else manual. Ignored for free orders.',
      }),
  })
  .strict()
  .refine((body) => body.items.reduce((sum, item) => sum + item.quantity, 0) <= MAX_TICKETS_PER_ORDER, {
    message: `At most ${MAX_TICKETS_PER_ORDER} tickets per order.`,
    path: ['items'],
  })
  .openapi('BookingCreateRequest', {
    description: 'A checkout: the buyer, the tickets and who they are for.',
    example: {
      buyer: { name: 'Ada Lovelace', email: 'ada@example.com' },
      items: [{ ticketTypeId: EXAMPLE_TICKET_TYPE_ID, quantity: 2 }],
    },
  });

// Moved to ../idempotency.ts (shared by every creating POST); re-exported for existing imports.
export { IdempotencyHeadersSchema } from '../idempotency.ts';

export const BookingIdParamsSchema = z.object({
  id: z.uuid().openapi({
    param: { name: 'id', in: 'path' },
    description: 'The booking id (a UUID; anything else answers 400).',
    example: EXAMPLE_BOOKING_ID,
  }),
});

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

const isoOrNull = (description: string) => z.iso.datetime().nullable().openapi({ description });

export const CreatedBookingSchema = z
  .object({
    id: z.uuid().openapi({ example: EXAMPLE_BOOKING_ID }),
    status: z.enum(['pending', 'confirmed']).openapi({
      description: '`confirmed` for a free order; `pending` (seats held until `expiresAt`) while payment is due.',
    }),
    token: z.string().openapi({
      description:
        "The buyer's secret for `GET /api/v1/public/bookings/{id}?token=...` and the checkout. Shown only in this " +
        'response (and its idempotent replays); keep it like a password.',
      example: 'bk_3q2-7wM0f1Yl4cX8v9aZk5nQe6rTt2uBb0sDd7gHh1J',
    }),
    eventId: z.uuid().openapi({ example: EXAMPLE_EVENT_ID }),
    buyer: z.object({ name: z.string(), email: z.string() }),
    total: z.int().openapi({ description: 'Integer minor units, computed by the server.', example: 5000 }),
    currency: z.string().openapi({ example: 'EUR' }),
    expiresAt: isoOrNull('When the hold lapses and the seats go back on sale; null once confirmed.'),
    createdAt: z.iso.datetime(),
    items: z.array(z.object({ ticketTypeId: z.uuid(), quantity: z.int(), unitPrice: z.int() })),
    attendees: z.array(
      z.object({
        id: z.uuid(),
        ticketTypeId: z.uuid(),
        name: z.string(),
        email: z.string(),
        ticketCode: z.string().openapi({ description: 'Unique code for check-in.', example: 'K7Q2M9XP4HJD' }),
      }),
    ),
    payment: z
      .object({
        provider: z.enum(PAYMENT_PROVIDERS),
        status: z.enum(PAYMENT_STATUSES),
        amount: z.int(),
        currency: z.string(),
        instructions: z
          .string()
          .nullable()
          .openapi({ description: "Manual payments: the organizer's instructions (bank details, ...)." }),
        checkout: z
          .object({ method: z.literal('POST'), href: z.string() })
          .nullable()
          .openapi({
            description:
              'Stripe: where to POST `{ "token": ... }` to get the Stripe Checkout URL to send the buyer to.',
          }),
      })
      .openapi({ description: 'The next payment step.' }),
  })
  .openapi('CreatedBooking', { description: 'A new booking and what to do next to pay for it.' });

export const AttendeeSchema = z
  .object({
    id: z.uuid(),
    bookingId: z.uuid(),
    ticketTypeId: z.uuid(),
    name: z.string(),
    email: z.string(),
    ticketCode: z.string().openapi({ example: 'K7Q2M9XP4HJD' }),
    status: z.enum(['valid', 'cancelled']),
    answers: z.record(z.string(), z.string()),
    checkedInAt: isoOrNull('When the ticket was checked in; null until then.'),
    cancelledAt: isoOrNull('When the ticket was cancelled (by a refund or a cancellation).'),
  })
  .openapi('Attendee', { description: 'One ticket and the person it is for.' });

export const BookingSchema = z
  .object({
    id: z.uuid().openapi({ example: EXAMPLE_BOOKING_ID }),
    eventId: z.uuid(),
    status: z.enum(BOOKING_STATUSES),
    buyer: z.object({ name: z.string(), email: z.string() }),
    total: z.int().openapi({ description: 'Integer minor units.' }),
    currency: z.string(),
    refundedAmount: z.int().openapi({ description: 'Refunded so far, integer minor units.' }),
    provider: z.enum(PAYMENT_PROVIDERS),
    answers: z.record(z.string(), z.string()),
    expiresAt: isoOrNull('While pending: when the hold lapses.'),
    confirmedAt: isoOrNull('When the booking was confirmed.'),
    cancelledAt: isoOrNull('When the booking was cancelled.'),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    items: z.array(z.object({ ticketTypeId: z.uuid(), quantity: z.int(), unitPrice: z.int() })),
    attendees: z.array(AttendeeSchema),
    payment: z
      .object({
        id: z.uuid(),
        provider: z.enum(PAYMENT_PROVIDERS),
        status: z.enum(PAYMENT_STATUSES),
        amount: z.int(),
        currency: z.string(),
        refundedAmount: z.int(),
        checkoutSessionId: z.string().nullable(),
        paymentIntentId: z.string().nullable(),
      })
      .nullable(),
    refunds: z.array(
      z.object({
        id: z.uuid(),
        amount: z.int(),
        currency: z.string(),
        status: z.enum(['pending', 'succeeded', 'failed']),
        reason: z.string().nullable(),
        attendeeIds: z.array(z.uuid()),
        createdAt: z.iso.datetime(),
      }),
    ),
  })
  .openapi('Booking', { description: 'A booking with its items, tickets, payment and refunds.' });

export type CreatedBookingResponse = z.infer<typeof CreatedBookingSchema>;
export type BookingResponse = z.infer<typeof BookingSchema>;
