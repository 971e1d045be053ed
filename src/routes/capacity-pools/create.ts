import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { createCapacityPool, MAX_CAPACITY_POOLS_PER_EVENT } from '../../services/events/capacity-pools.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { CapacityPoolCreateSchema, CapacityPoolSchema, EXAMPLE_CAPACITY_POOL } from './schema.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/events/{id}/capacity-pools',
  operationId: 'createCapacityPool',
  tags: ['Capacity pools'],
  summary: 'Add a capacity pool',
  description:
    'Adds a capacity shared by some ticket types of a draft or published event (pretix calls it a quota): from ' +
    'then on, checkout sells a ticket only if it fits every pool its ticket type belongs to (409 `sold_out` ' +
    'otherwise), besides the ticket type quantity and the event capacity. A ticket type may be in several pools. ' +
    'The pool starts with the seats its ticket types have already sold and held, and `capacity` must hold them ' +
    '(409). 400: an id listed twice or that is not a ticket type of this event (the pointer names it), and any ' +
    "unlisted field. A cancelled or completed event answers 409; another organization's event 404. An event has " +
    `at most ${MAX_CAPACITY_POOLS_PER_EVENT} pools: one more answers 409 \`conflict\` naming the limit (extension ` +
    'member `limit`), checked under a lock on the event, so concurrent creates never pass it. Needs ' +
    '`events:write`. Writes a `capacity_pool.created` audit row. Send an `Idempotency-Key` to make retries safe.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write'), location('/api/v1/capacity-pools/{id}'), idempotent()] as const,
  request: {
    params: EventIdParamsSchema,
    headers: IdempotencyHeadersSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: CapacityPoolCreateSchema,
          examples: {
            hall: {
              summary: 'Two ticket types sharing a hall',
              value: {
                name: EXAMPLE_CAPACITY_POOL.name,
                capacity: EXAMPLE_CAPACITY_POOL.capacity,
                ticketTypeIds: EXAMPLE_CAPACITY_POOL.ticketTypeIds,
              },
            },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The new capacity pool.',
      content: { 'application/json': { schema: CapacityPoolSchema, example: EXAMPLE_CAPACITY_POOL } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const pool = await createCapacityPool({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), eventId: c.req.valid('param').id },
    });
    return c.json(responseBody(c, CapacityPoolSchema, pool), 201);
  });
}
