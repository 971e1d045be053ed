import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { MAX_TRANSFERS_PER_TICKET, transferTicket } from '../../services/bookings/transfer.ts';
import { takePublicBooking } from '../../services/catalogue/limits.ts';
import { PublicBookingHeadersSchema } from '../bookings/staff-schema.ts';
import {
  TicketTransferParamsSchema,
  TicketTransferRequestSchema,
  TicketTransferSchema,
} from '../bookings/transfer-schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/public/bookings/{id}/attendees/{attendeeId}/transfer',
  operationId: 'transferPublicTicket',
  tags: ['Public'],
  summary: 'Transfer a ticket to another person',
  description:
    'The buyer (the booking token in the `Booking-Token` header, as for the booking view) gives one ticket to another ' +
    'name and email. The ticket gets a NEW code at once: the old code no longer checks in (404 at the door). The ' +
    "previous holder's answers are cleared. The new holder is emailed the ticket and the previous holder a notice " +
    '(through the email queue, after the response); a `ticket.transferred` webhook event (without the code) and an ' +
    '`attendee.transferred` audit row are written with the change, in the same transaction. ' +
    'Refusals change nothing: 409 `ticket_checked_in` for a ticket already checked in (a concurrent check-in and ' +
    'transfer of one ticket: exactly one of them succeeds); 409 `transfers_disabled` when the organizer does not ' +
    "allow transfers for the event; 409 `transfer_closed` from the event's `transferCutoffMinutes` before its start " +
    '(and once it started); 409 `conflict` with a `reason` for a booking that is not confirmed (`booking_pending`, ' +
    '`booking_cancelled`, ...), a cancelled ticket (`ticket_cancelled`), an event that is cancelled or completed, a ' +
    'new email equal to the current holder’s (`same_holder`: nothing to do, so a retried transfer cannot issue a ' +
    `second code), or a ticket already transferred ${MAX_TRANSFERS_PER_TICKET} times (\`transfer_limit\`). A missing ` +
    'or malformed token and invalid input answer 400 (with the JSON pointer); a wrong token, an unknown booking or ' +
    "ticket (or another organization's) 404, indistinguishably. No account; rate limited per client address with " +
    'the checkout limit (429 with Retry-After). One database round trip and one Redis round trip.',
  security: [{ bookingToken: [] }],
  request: {
    params: TicketTransferParamsSchema,
    headers: PublicBookingHeadersSchema,
    body: { required: true, content: { 'application/json': { schema: TicketTransferRequestSchema } } },
  },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The ticket, now held by the new holder, with its new code.',
      content: { 'application/json': { schema: TicketTransferSchema } },
    },
    ...errorResponses(400, 404, 409, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const outcome = await takePublicBooking(ctx);
    const params = c.req.valid('param');
    const body = c.req.valid('json');
    const result = await transferTicket({
      ctx,
      input: {
        bookingId: params.id,
        attendeeId: params.attendeeId,
        by: { buyer: { token: c.req.valid('header')['booking-token'] } },
        name: body.name,
        email: body.email,
      },
    });
    return c.json(responseBody(c, TicketTransferSchema, result), 200, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
