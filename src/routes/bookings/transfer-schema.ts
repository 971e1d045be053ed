import { z } from '@hono/zod-openapi';
import { EmailSchema, NameSchema, Timestamp, Uuid } from '../fields.ts';
import { AttendeeSchema, EXAMPLE_BOOKING_ID } from './schema.ts';

// Ticket transfer, shared by the buyer's route (public/transfer-ticket.ts) and the staff route (transfer-ticket.ts).

const EXAMPLE_ATTENDEE_ID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

export const TicketTransferParamsSchema = z.object({
  id: Uuid.openapi({
    param: { name: 'id', in: 'path' },
    description: 'The booking id (a UUID; anything else answers 400).',
    example: EXAMPLE_BOOKING_ID,
  }),
  attendeeId: Uuid.openapi({
    param: { name: 'attendeeId', in: 'path' },
    description: 'The ticket (attendee) id, from the booking view (a UUID; anything else answers 400).',
    example: EXAMPLE_ATTENDEE_ID,
  }),
});

export const TicketTransferRequestSchema = z
  .object({
    name: NameSchema.openapi({ description: 'The new holder: name, 1 to 200 characters.', example: 'Grace Hopper' }),
    email: EmailSchema.openapi({
      description: 'The new holder: email address (trimmed, lowercased); the ticket is emailed there.',
      example: 'grace@example.com',
    }),
  })
  .strict()
  .openapi('TicketTransferRequest', { description: 'Who the ticket goes to. Nothing else is accepted.' });

export const TicketTransferSchema = z
  .object({
    attendee: AttendeeSchema.openapi({
      description: 'The ticket now: the new holder, no answers (they were the previous holder’s) and a NEW code.',
    }),
    transferredAt: Timestamp.openapi({
      description: 'When the transfer happened.',
      example: '2026-06-01T09:00:00.000Z',
    }),
  })
  .openapi('TicketTransfer', { description: 'A transferred ticket.' });

export type TicketTransferResponse = z.infer<typeof TicketTransferSchema>;
