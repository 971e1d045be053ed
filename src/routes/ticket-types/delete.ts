import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { deleteTicketType } from '../../services/events/ticket-types.ts';
import { TicketTypeIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/ticket-types/{id}',
  operationId: 'deleteTicketType',
  tags: ['Ticket types'],
  summary: 'Delete a ticket type',
  description:
    'Deletes a ticket type nothing was sold or held from (409 otherwise: lower its quantity instead), of a draft ' +
    "or published event. Another organization's ticket type answers 404 and nothing changes. Needs " +
    '`events:write`. Writes a `ticket_type.deleted` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: TicketTypeIdParamsSchema },
  responses: {
    204: { description: 'The ticket type is gone.' },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await deleteTicketType({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
