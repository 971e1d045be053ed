import { z } from '@hono/zod-openapi';
import { WITHOUT_CONTROL_CHARACTERS } from '../../lib/text.ts';
import { int32, Uuid } from '../fields.ts';

export const MAX_REFUND_ATTENDEES = 100;
const EXAMPLE_ATTENDEE_ID = '3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7';

export const RefundRequestSchema = z
  .object({
    amount: int32(1)
      .optional()
      .openapi({
        description:
          'How much to refund, in integer minor units of the booking currency (at most `total - refundedAmount`). ' +
          "Default: the listed tickets' prices when `attendeeIds` is given, else everything not refunded yet (a " +
          'full refund).',
        example: 1500,
      }),
    attendeeIds: z
      .array(Uuid)
      .min(1)
      .max(MAX_REFUND_ATTENDEES)
      .optional()
      .openapi({
        description:
          'Tickets of this booking to cancel (each still valid, each listed once): they become `cancelled` and ' +
          'their seats go back on sale. Without it, a partial refund cancels no ticket.',
        example: [EXAMPLE_ATTENDEE_ID],
      }),
    reason: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .regex(WITHOUT_CONTROL_CHARACTERS, 'Must not contain control characters.')
      .optional()
      .openapi({
        description: 'Why the money is returned (up to 500 characters, no control characters); kept on the refund.',
        example: 'Guest cannot attend.',
      }),
  })
  .strict()
  .openapi('RefundRequest', {
    description:
      'A full or partial refund of a confirmed booking. Send `{}` to refund everything not refunded yet and cancel ' +
      'every ticket.',
    example: { amount: 1500, attendeeIds: [EXAMPLE_ATTENDEE_ID], reason: 'Guest cannot attend.' },
  });

export type RefundRequest = z.infer<typeof RefundRequestSchema>;
