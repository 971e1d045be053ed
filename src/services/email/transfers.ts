import { z } from '@hono/zod-openapi';
import type { Branding, EmailMessage } from './messages.ts';
import { buyerText, composeTicketEmail, eventDetails, type BookingEmailEvent } from './bookings.ts';

const HolderData = z.object({ name: z.string(), email: z.string().min(3).max(320).includes('@') });

/**
 * The `email.event` payload of a transfer: the `ticket.transferred` outbox event. It carries no ticket code (webhooks
 * get the same payload); the new holder's email reads the code from the database when it is sent.
 */
export const TransferEmailPayloadSchema = z.object({
  type: z.literal('ticket.transferred'),
  timestamp: z.string(),
  data: z.object({
    attendeeId: z.guid(),
    bookingId: z.guid(),
    eventId: z.guid(),
    ticketTypeId: z.guid(),
    holder: HolderData,
    previousHolder: HolderData,
    by: z.enum(['buyer', 'staff']),
    transferredAt: z.string(),
  }),
});
export type TransferEmailPayload = z.infer<typeof TransferEmailPayloadSchema>;

export interface TransferEmailInput {
  /** The message id: `<envelope id>:holder` or `<envelope id>:previous`, so a redelivered event sends each once. */
  id: string;
  transfer: TransferEmailPayload['data'];
  event: BookingEmailEvent | null;
  ticketTypeName: string | null;
  branding: Branding;
}

/**
 * The new holder's ticket: the event, the ticket (their name and the type) and its code as it is now. Null when the
 * ticket has moved on since this transfer (a later transfer mails its own holder) or can no longer be used.
 */
export function transferredTicketEmail(
  input: TransferEmailInput,
  ticket: { ticketCode: string; status: string; email: string; name: string },
): EmailMessage | null {
  if (ticket.status !== 'valid' || ticket.email !== input.transfer.holder.email) return null;
  const title = input.event?.title ?? 'your event';
  const names = new Map(input.ticketTypeName === null ? [] : [[input.transfer.ticketTypeId, input.ticketTypeName]]);
  return composeTicketEmail({
    id: input.id,
    to: input.transfer.holder.email,
    branding: input.branding,
    ticketTypeNames: names,
    content: {
      subject: `Your ticket for ${title}`,
      intro: ['Hello,', `A ticket for ${title} was transferred to you.`],
      details: [...eventDetails(input.event, true), ['Booking', input.transfer.bookingId]],
      tickets: [
        {
          title: 'Your ticket',
          attendees: [
            {
              name: ticket.name,
              ticketCode: ticket.ticketCode,
              status: ticket.status,
              ticketTypeId: input.transfer.ticketTypeId,
            },
          ],
        },
      ],
      closing: ['Show the ticket code at the entrance.'],
    },
    links: input.event?.onlineUrl ? [input.event.onlineUrl] : [],
  });
}

/** The previous holder's notice: their ticket went to someone else and its old code no longer works. */
export function ticketTransferredAwayEmail(input: TransferEmailInput): EmailMessage {
  const title = input.event?.title ?? 'your event';
  return composeTicketEmail({
    id: input.id,
    to: input.transfer.previousHolder.email,
    branding: input.branding,
    ticketTypeNames: new Map(),
    content: {
      subject: `Your ticket for ${title} was transferred`,
      intro: [
        'Hello,',
        `A ticket for ${title} that was in your name was transferred to another person ` +
          `${input.transfer.by === 'staff' ? 'by the organizer' : 'at the request of the booking'}. ` +
          'Its previous code no longer works.',
      ],
      details: [
        ...eventDetails(input.event, false),
        ['Booking', input.transfer.bookingId],
        ['Previous name on the ticket', buyerText(input.transfer.previousHolder.name)],
      ],
      tickets: [],
      closing: ['If you did not expect this, contact the organizer.'],
    },
    links: [],
  });
}
