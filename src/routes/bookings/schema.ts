import { z } from '@hono/zod-openapi';
import { EmailSchema, int32, NameSchema, StoredCurrencyCode, storedLine, Timestamp, Uuid } from '../fields.ts';
import { MAX_PRICE } from '../ticket-types/schema.ts';
import { MAX_REFUNDS_PER_BOOKING } from '../../services/bookings/refund.ts';

import { MAX_MANUAL_INSTRUCTIONS } from '../payments/schema.ts';
import { AppliedDiscountSchema, DiscountCodeString } from '../discount-codes/schema.ts';

export const EXAMPLE_BOOKING_ID = '7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e';
const EXAMPLE_TICKET_TYPE_ID = '5d2e8c41-7a6b-4c3d-9e8f-0a1b2c3d4e5f';
const EXAMPLE_EVENT_ID = '0b9f6a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b';
export const MAX_TICKETS_PER_ORDER = 100;
export const MAX_ITEMS_PER_ORDER = 20;
const MAX_ANSWERS = 50;
export const MAX_ANSWER_LENGTH = 2000;
const ANSWER_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
// What NameSchema and EmailSchema (../auth/schema.ts) let in, trimmed: the longest name and address stored.
const MAX_NAME_LENGTH = 200;
const MAX_EMAIL_LENGTH = 254;
// Stripe documents its object ids as at most 255 characters.
const MAX_PROVIDER_ID_LENGTH = 255;
const MAX_REFUND_REASON_LENGTH = 500;

/**
 * The buyer's booking token (`bk_` and 43 base64url characters: 32 random bytes, see generateOpaqueToken). It is
 * the credential of the buyer's view and checkout: sent in the `Booking-Token` header, never in a URL.
 */
export const BOOKING_TOKEN_PATTERN = /^bk_[A-Za-z0-9_-]{43}$/;
export const EXAMPLE_BOOKING_TOKEN = 'bk_3q2-7wM0f1Yl4cX8v9aZk5nQe6rTt2uBb0sDd7gHh1J';
export const BookingToken = z.string().length(46).regex(BOOKING_TOKEN_PATTERN, 'Must be a booking token (bk_...).');

/**
 * A ticket code as the server writes it: 12 characters of Crockford's base32 alphabet without I, L, O and U
 * (newTicketCode in src/services/bookings/shared.ts).
 */
export const TICKET_CODE_PATTERN = /^[0-9A-HJKMNP-TV-Z]{12}$/;
export const TicketCode = z.string().length(12).regex(TICKET_CODE_PATTERN);

export const BOOKING_STATUSES = ['pending', 'confirmed', 'cancelled', 'refunded', 'expired'] as const;
export const PAYMENT_PROVIDERS = ['free', 'manual', 'stripe'] as const;
const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'] as const;

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

// Attendee questions (issue #18 part 3): an answer is a string, a number, a boolean or a list of strings; the
// checkout checks each against its question's type in SQL (src/services/questions/validate.ts).
export const MAX_CHOICES = 50;
export const AnswerValueSchema = z
  .union([
    z.string().max(MAX_ANSWER_LENGTH),
    z.number(),
    z.boolean(),
    z.array(z.string().max(MAX_ANSWER_LENGTH)).max(MAX_CHOICES),
  ])
  .openapi('AnswerValue', {
    description:
      'A string (text, long_text, choice, date YYYY-MM-DD, email, phone +E.164, country ISO 3166-1 alpha-2), a ' +
      'number, a boolean (checkbox) or a list of strings (multi_choice).',
  });

export const AnswersSchema = z
  .record(
    z.string().regex(ANSWER_KEY_PATTERN, 'Question keys are 1 to 64 letters, digits, _ . or -.'),
    AnswerValueSchema,
  )
  .refine((answers) => Object.keys(answers).length <= MAX_ANSWERS, 'At most 50 answers.')
  .openapi('Answers', {
    description:
      "Answers to the event's questions, by question key (at most 50). Every key must be a question the event " +
      'asks of this ticket (or of the booking); required questions must be answered. A refusal is a 400 pointing ' +
      'at the answer.',
    example: { dietary: 'vegetarian', tshirt: 'M', newsletter: true },
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
            ticketTypeId: Uuid.openapi({
              description: 'A ticket type of this event.',
              example: EXAMPLE_TICKET_TYPE_ID,
            }),
            quantity: int32(1, MAX_TICKETS_PER_ORDER).openapi({
              description: "How many tickets (also within the ticket type's minPerOrder..maxPerOrder).",
              example: 2,
            }),
            attendees: z
              .array(AttendeeInputSchema)
              .max(MAX_TICKETS_PER_ORDER)
              .optional()
              .openapi({ description: "One per ticket; without it, every ticket is in the buyer's name." }),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_ITEMS_PER_ORDER)
      .openapi({
        description:
          `Ticket types and quantities, 1 to ${MAX_ITEMS_PER_ORDER}; each ticket type at most once, at most ` +
          `${MAX_TICKETS_PER_ORDER} tickets in all, and a total (price times quantity, summed) of at most ` +
          '2,147,483,647 minor units.',
      }),
    accessCode: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: 'Unlocks hidden ticket types that have this code.', example: 'VIP2026' }),
    discountCode: DiscountCodeString.optional().openapi({
      description:
        'A discount code of the event (case-insensitive). One that does not apply answers 422 ' +
        '`discount_code_invalid`, whatever the reason.',
    }),
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
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The booking id (a UUID; anything else answers 400).',
    example: EXAMPLE_BOOKING_ID,
  }),
});

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

const isoOrNull = (description: string) => Timestamp.nullable().openapi({ description });

const PersonView = z
  .object({
    name: storedLine(MAX_NAME_LENGTH).openapi({ example: 'Ada Lovelace' }),
    email: z.email().max(MAX_EMAIL_LENGTH).openapi({ example: 'ada@example.com' }),
  })
  .openapi({ description: 'Name and email address (lowercased).' });

const StoredAnswers = z
  .record(z.string().regex(ANSWER_KEY_PATTERN), AnswerValueSchema)
  .openapi({ description: 'Answers by question key.', example: { dietary: 'vegetarian' } });

const ItemView = z.object({
  ticketTypeId: Uuid,
  quantity: int32(1, MAX_TICKETS_PER_ORDER),
  unitPrice: int32(0, MAX_PRICE).openapi({ description: 'Integer minor units, as charged.' }),
});

const items = z.array(ItemView).max(MAX_ITEMS_PER_ORDER);

export const CreatedBookingSchema = z
  .object({
    id: Uuid.openapi({ example: EXAMPLE_BOOKING_ID }),
    status: z.enum(['pending', 'confirmed']).openapi({
      description: '`confirmed` for a free order; `pending` (seats held until `expiresAt`) while payment is due.',
    }),
    token: BookingToken.openapi({
      description:
        "The buyer's secret for `GET /api/v1/public/bookings/{id}` and the checkout, sent in the `Booking-Token` " +
        'header. Shown only in this response (and its idempotent replays); keep it like a password.',
      example: EXAMPLE_BOOKING_TOKEN,
    }),
    eventId: Uuid.openapi({ example: EXAMPLE_EVENT_ID }),
    buyer: PersonView,
    total: int32(0).openapi({ description: 'Integer minor units, computed by the server.', example: 5000 }),
    currency: StoredCurrencyCode.openapi({ example: 'EUR' }),
    discount: AppliedDiscountSchema,
    expiresAt: isoOrNull('When the hold lapses and the seats go back on sale; null once confirmed.'),
    createdAt: Timestamp,
    items,
    attendees: z
      .array(
        z.object({
          id: Uuid,
          ticketTypeId: Uuid,
          name: storedLine(MAX_NAME_LENGTH),
          email: z.email().max(MAX_EMAIL_LENGTH),
          ticketCode: TicketCode.openapi({ description: 'Unique code for check-in.', example: 'K7Q2M9XP4HJD' }),
        }),
      )
      .max(MAX_TICKETS_PER_ORDER),
    payment: z
      .object({
        provider: z.enum(PAYMENT_PROVIDERS),
        status: z.enum(PAYMENT_STATUSES),
        amount: int32(0),
        currency: StoredCurrencyCode,
        instructions: z
          .string()
          .max(MAX_MANUAL_INSTRUCTIONS)
          .nullable()
          .openapi({ description: "Manual payments: the organizer's instructions (bank details, ...)." }),
        checkout: z
          .object({
            method: z.literal('POST'),
            href: z
              .string()
              .length(69)
              .regex(/^\/api\/v1\/public\/bookings\/[0-9a-f-]{36}\/checkout$/)
              .openapi({ example: `/api/v1/public/bookings/${EXAMPLE_BOOKING_ID}/checkout` }),
          })
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
    id: Uuid,
    bookingId: Uuid,
    ticketTypeId: Uuid,
    name: storedLine(MAX_NAME_LENGTH),
    email: z.email().max(MAX_EMAIL_LENGTH),
    ticketCode: TicketCode.openapi({ example: 'K7Q2M9XP4HJD' }),
    status: z.enum(['valid', 'cancelled']),
    answers: StoredAnswers,
    checkedInAt: isoOrNull('When the ticket was checked in; null until then.'),
    cancelledAt: isoOrNull('When the ticket was cancelled (by a refund or a cancellation).'),
  })
  .openapi('Attendee', { description: 'One ticket and the person it is for.' });

export const BookingSchema = z
  .object({
    id: Uuid.openapi({ example: EXAMPLE_BOOKING_ID }),
    eventId: Uuid,
    status: z.enum(BOOKING_STATUSES),
    buyer: PersonView,
    total: int32(0).openapi({ description: 'Integer minor units.' }),
    currency: StoredCurrencyCode,
    refundedAmount: int32(0).openapi({ description: 'Refunded so far, integer minor units.' }),
    discount: AppliedDiscountSchema,
    provider: z.enum(PAYMENT_PROVIDERS),
    answers: StoredAnswers,
    expiresAt: isoOrNull('While pending: when the hold lapses.'),
    confirmedAt: isoOrNull('When the booking was confirmed.'),
    cancelledAt: isoOrNull('When the booking was cancelled.'),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    items,
    attendees: z.array(AttendeeSchema).max(MAX_TICKETS_PER_ORDER),
    payment: z
      .object({
        id: Uuid,
        provider: z.enum(PAYMENT_PROVIDERS),
        status: z.enum(PAYMENT_STATUSES),
        amount: int32(0),
        currency: StoredCurrencyCode,
        refundedAmount: int32(0),
        checkoutSessionId: z.string().max(MAX_PROVIDER_ID_LENGTH).nullable(),
        paymentIntentId: z.string().max(MAX_PROVIDER_ID_LENGTH).nullable(),
      })
      .nullable(),
    refunds: z
      .array(
        z.object({
          id: Uuid,
          amount: int32(1),
          currency: StoredCurrencyCode,
          status: z.enum(['pending', 'succeeded', 'failed']),
          reason: storedLine(MAX_REFUND_REASON_LENGTH).nullable(),
          attendeeIds: z.array(Uuid).max(MAX_TICKETS_PER_ORDER),
          createdAt: Timestamp,
          creditNote: z
            .object({
              number: z.string().max(40).openapi({ example: 'INV-000043' }),
              url: z
                .string()
                .max(200)
                .openapi({
                  description:
                    'Where the PDF is downloaded (staff: bookings:read; buyer: the /api/v1/public/... path with the ' +
                    'Booking-Token header).',
                  example:
                    '/api/v1/bookings/9b2f4c1e-7a3d-4e8b-9c0f-1a2b3c4d5e6f/refunds/4d3c2b1a-0f9e-4d8c-b7a6-5e4f3a2b1c0d/credit-note',
                }),
            })
            .nullable()
            .optional()
            .openapi({
              description:
                "The refund's credit note against the booking's invoice, numbered in the invoices' sequence; null " +
                'when the booking has no invoice (free) or a Stripe refund is still unanswered.',
            }),
        }),
      )
      .max(MAX_REFUNDS_PER_BOOKING)
      .openapi({
        description: `Its refunds, oldest first, failed ones included (a booking has at most ${MAX_REFUNDS_PER_BOOKING}).`,
      }),
    // Invoices (issue #18 part 4).
    invoice: z
      .object({
        number: z.string().max(40).openapi({ example: 'INV-000042' }),
        url: z.string().max(200).openapi({
          description: 'Where the PDF is downloaded (staff: bookings:read; buyer: with the Booking-Token header).',
          example: '/api/v1/bookings/9b2f4c1e-7a3d-4e8b-9c0f-1a2b3c4d5e6f/invoice',
        }),
      })
      .nullable()
      .optional()
      .openapi({
        description:
          'The invoice of a paid, confirmed booking (issued when it was confirmed); null without one (free, unpaid). ' +
          'Only in the single-booking views.',
      }),
  })
  .openapi('Booking', { description: 'A booking with its items, tickets, payment and refunds.' });

export type CreatedBookingResponse = z.infer<typeof CreatedBookingSchema>;
export type BookingResponse = z.infer<typeof BookingSchema>;
