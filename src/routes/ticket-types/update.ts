import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { updateTicketType } from '../../services/events/ticket-types.ts';
import { EXAMPLE_TICKET_TYPE, TicketTypeIdParamsSchema, TicketTypeSchema, TicketTypeUpdateSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/ticket-types/{id}',
  operationId: 'updateTicketType',
  tags: ['Ticket types'],
  summary: 'Change a ticket type',
  description:
    'Changes the given fields (a partial update). 409: a quantity below `sold + held`, a new price or currency ' +
    'once tickets are sold or held, a ticket type of a cancelled or completed event, a concurrent change. The rules ' +
    'between fields are checked against the stored values too (400). Setting `hidden: false` drops the access code. ' +
    "Another organization's ticket type answers 404. Needs `events:write`. Writes a `ticket_type.updated` audit row.",
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: {
    params: TicketTypeIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: TicketTypeUpdateSchema,
          examples: { more: { summary: 'More seats', value: { quantity: 250 } } },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The ticket type after the change.',
      content: { 'application/json': { schema: TicketTypeSchema, example: EXAMPLE_TICKET_TYPE } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ticketType = await updateTicketType({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, TicketTypeSchema, ticketType), 200);
  });
}
