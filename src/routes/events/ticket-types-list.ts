import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listTicketTypes } from '../../services/events/ticket-types.ts';
import { EXAMPLE_TICKET_TYPE, TicketTypeListSchema } from '../ticket-types/schema.ts';
import { EventIdParamsSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/ticket-types',
  operationId: 'listTicketTypes',
  tags: ['Ticket types'],
  summary: "List an event's ticket types",
  description:
    'Every ticket type of the event (hidden ones included, with their access codes), by `sortOrder`, with `sold` ' +
    "and `held` counts. Another organization's event answers 404. Needs `events:read`.",
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { params: EventIdParamsSchema },
  responses: {
    200: {
      description: "The event's ticket types.",
      content: { 'application/json': { schema: TicketTypeListSchema, example: { data: [EXAMPLE_TICKET_TYPE] } } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const data = await listTicketTypes({ ctx: serviceContext(c), input: { eventId: c.req.valid('param').id } });
    return c.json(responseBody(c, TicketTypeListSchema, { data }), 200);
  });
}
