import { z } from '@hono/zod-openapi';
import { normalizeTicketCode } from '../../services/bookings/shared.ts';
import { AttendeeSchema } from '../bookings/schema.ts';

const EXAMPLE_EVENT_ID = '0b9f6a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b';

function isTicketCode(value: string): boolean {
  const code = normalizeTicketCode(value);
  return code.length >= 4 && code.length <= 64 && /^[0-9A-Z]+$/.test(code);
}

export const CheckInRequestSchema = z
  .object({
    ticketCode: z
      .string()
      .max(100)
      .refine(isTicketCode, 'Must be 4 to 64 letters or digits (case, spaces and dashes are ignored).')
      .openapi({
        description:
          'The code on the ticket, as scanned or typed: case, spaces and dashes are ignored (`k7q2-m9xp-4hjd` is ' +
          '`K7Q2M9XP4HJD`).',
        example: 'K7Q2M9XP4HJD',
      }),
    eventId: z.uuid().optional().openapi({
      description: 'The event this entrance serves: a ticket of any other event answers 409.',
      example: EXAMPLE_EVENT_ID,
    }),
  })
  .strict()
  .openapi('CheckInRequest', { description: 'A scanned ticket.' });

export const CheckInResultSchema = z
  .object({
    attendee: AttendeeSchema.extend({
      eventId: z.uuid().openapi({ description: 'The event of the ticket.', example: EXAMPLE_EVENT_ID }),
      ticketTypeName: z.string().openapi({ description: 'The name of the ticket type.', example: 'VIP' }),
    }),
    checkedInAt: z.iso.datetime().openapi({
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
