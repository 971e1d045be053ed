import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { updateCapacityPool } from '../../services/events/capacity-pools.ts';
import {
  CapacityPoolIdParamsSchema,
  CapacityPoolSchema,
  CapacityPoolUpdateSchema,
  EXAMPLE_CAPACITY_POOL,
} from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/capacity-pools/{id}',
  operationId: 'updateCapacityPool',
  tags: ['Capacity pools'],
  summary: 'Change a capacity pool',
  description:
    'Changes the given fields (a partial update). `ticketTypeIds` replaces the list, and `sold` and `held` are ' +
    'recomputed from the new ticket types. The capacity may not go below what the ticket types have sold or held ' +
    '(409), checked again at write time, so a sale that lands in between also answers 409. 400: an id listed twice ' +
    "or that is not a ticket type of the pool's event. A pool of a cancelled or completed event answers 409; " +
    "another organization's pool 404. Needs `events:write`. Writes a `capacity_pool.updated` audit row with the " +
    'values before.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: {
    params: CapacityPoolIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: CapacityPoolUpdateSchema,
          examples: { more: { summary: 'More seats', value: { capacity: 350 } } },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The capacity pool after the change.',
      content: { 'application/json': { schema: CapacityPoolSchema, example: EXAMPLE_CAPACITY_POOL } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const pool = await updateCapacityPool({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, CapacityPoolSchema, pool), 200);
  });
}
