import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireLiveKey, requirePermission } from '../../middleware/auth.ts';
import { transferTicket } from '../../services/bookings/transfer.ts';
import { TicketTransferParamsSchema, TicketTransferRequestSchema, TicketTransferSchema } from './transfer-schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/bookings/{id}/attendees/{attendeeId}/transfer',
  operationId: 'transferTicket',
  tags: ['Bookings'],
  summary: 'Transfer a ticket to another person (staff)',
  description:
    'Staff give a ticket of a booking to another name and email, as the buyer can through the public transfer, with ' +
    'the same effects: a NEW ticket code at once (the old one no longer checks in), the previous holder’s answers ' +
    'cleared, the new holder emailed the ticket and the previous holder a notice, a `ticket.transferred` event and ' +
    'an `attendee.transferred` audit row (actor: the member or API key). Staff set the event’s transfer rules and are ' +
    'not bound by them: `transfersAllowed`, `transferCutoffMinutes` and the per-ticket bound do not apply. Still ' +
    'refused, changing nothing: 409 `ticket_checked_in` (a concurrent check-in and transfer: exactly one succeeds); ' +
    '409 `conflict` with a `reason` for a booking that is not confirmed, a cancelled ticket, a cancelled or completed ' +
    'event, or the current holder’s email (`same_holder`). Another organization’s booking, an unknown ticket or a ' +
    'ticket of another booking answers 404. Needs `bookings:write` (and a live API key). One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:write'), requireLiveKey()] as const,
  request: {
    params: TicketTransferParamsSchema,
    body: { required: true, content: { 'application/json': { schema: TicketTransferRequestSchema } } },
  },
  responses: {
    200: {
      description: 'The ticket, now held by the new holder, with its new code.',
      content: { 'application/json': { schema: TicketTransferSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const params = c.req.valid('param');
    const body = c.req.valid('json');
    const result = await transferTicket({
      ctx: serviceContext(c),
      input: { bookingId: params.id, attendeeId: params.attendeeId, by: { staff: true }, ...body },
    });
    return c.json(responseBody(c, TicketTransferSchema, result), 200);
  });
}
