import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { createTicketType, MAX_TICKET_TYPES_PER_EVENT } from '../../services/events/ticket-types.ts';
import { EXAMPLE_TICKET_TYPE, TicketTypeCreateSchema, TicketTypeSchema } from '../ticket-types/schema.ts';
import { EventIdParamsSchema } from './schema.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/events/{id}/ticket-types',
  operationId: 'createTicketType',
  tags: ['Ticket types'],
  summary: 'Add a ticket type',
  description:
    'Adds a ticket type to a draft or published event (a cancelled or completed event answers 409). `price` is ' +
    'an integer in minor units of `currency` (ISO 4217). 400: `salesEndAt` not after `salesStartAt`, ' +
    '`maxPerOrder` below `minPerOrder`, a hidden ticket type without `accessCode`, and any unlisted field (`sold`, ' +
    '`held`, ids). An event has at most ' +
    `${MAX_TICKET_TYPES_PER_EVENT} ticket types: one more answers 409 \`conflict\` naming the limit (extension ` +
    'member `limit`), checked under a lock on the event, so concurrent creates never pass it. Needs `events:write`. ' +
    'Writes a `ticket_type.created` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write'), location('/api/v1/ticket-types/{id}'), idempotent()] as const,
  request: {
    params: EventIdParamsSchema,
    headers: IdempotencyHeadersSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: TicketTypeCreateSchema,
          examples: {
            paid: { summary: 'Paid', value: { name: 'Standard', price: 2500, currency: 'EUR', quantity: 200 } },
            hidden: {
              summary: 'Hidden, with an access code',
              value: { name: 'Press', price: 0, currency: 'EUR', quantity: 20, hidden: true, accessCode: 'PRESS26' },
            },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The new ticket type.',
      content: { 'application/json': { schema: TicketTypeSchema, example: EXAMPLE_TICKET_TYPE } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ticketType = await createTicketType({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), eventId: c.req.valid('param').id },
    });
    return c.json(responseBody(c, TicketTypeSchema, ticketType), 201);
  });
}
