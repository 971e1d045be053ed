import { z } from '@hono/zod-openapi';
import { AttendeeSchema } from '../bookings/schema.ts';
import { storedLine, Timestamp, Uuid } from '../fields.ts';
import { MAX_NAME_LENGTH as MAX_TICKET_TYPE_NAME_LENGTH } from '../ticket-types/schema.ts';

const EXAMPLE_EVENT_ID = '0b9f6a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b';

/**
 * A ticket code as scanned or typed: the 12 characters of a code (TICKET_CODE_PATTERN in ../bookings/schema.ts) in
 * either case, with any spaces and dashes around or between them (normalizeTicketCode removes those and upper-cases
 * the rest). Anything else can never match a ticket, so it answers 400 rather than 404.
 */
export const SCANNED_TICKET_CODE_PATTERN = /^[\s-]*(?:[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z][\s-]*){12}$/;

export const CheckInRequestSchema = z
  .object({
    ticketCode: z
      .string()
      .max(100)
      .regex(
        SCANNED_TICKET_CODE_PATTERN,
        'Must be a ticket code: 12 letters (not I, L, O or U) or digits; case, spaces and dashes are ignored.',
      )
      .openapi({
        description:
          'The code on the ticket, as scanned or typed: 12 characters of `0-9` and `A-Z` without `I`, `L`, `O` ' +
          'and `U`; case, spaces and dashes are ignored (`k7q2-m9xp-4hjd` is `K7Q2M9XP4HJD`). At most 100 ' +
          'characters in all.',
        example: 'K7Q2M9XP4HJD',
      }),
    eventId: Uuid.optional().openapi({
      description: 'The event this entrance serves: a ticket of any other event answers 409.',
      example: EXAMPLE_EVENT_ID,
    }),
  })
  .strict()
  .openapi('CheckInRequest', { description: 'A scanned ticket.' });

export const CheckInResultSchema = z
  .object({
    attendee: AttendeeSchema.extend({
      eventId: Uuid.openapi({ description: 'The event of the ticket.', example: EXAMPLE_EVENT_ID }),
      ticketTypeName: storedLine(MAX_TICKET_TYPE_NAME_LENGTH).openapi({
        description: 'The name of the ticket type.',
        example: 'VIP',
      }),
    }),
    checkedInAt: Timestamp.openapi({
      description: 'When the ticket was checked in: now on the first scan, the first scan’s time on a repeat.',
      example: '2026-07-04T17:42:10.123Z',
    }),
    alreadyCheckedIn: z.boolean().openapi({
      description: 'True when the ticket had been checked in before this scan (show it to the door staff).',
      example: false,
    }),
  })
  .openapi('CheckInResult', { description: 'The checked-in ticket.' });

export type CheckInResultResponse = z.infer<typeof CheckInResultSchema>;
