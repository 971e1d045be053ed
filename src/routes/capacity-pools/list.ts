import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listCapacityPools } from '../../services/events/capacity-pools.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { CapacityPoolListSchema, EXAMPLE_CAPACITY_POOL } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/capacity-pools',
  operationId: 'listCapacityPools',
  tags: ['Capacity pools'],
  summary: "List an event's capacity pools",
  description:
    'Every capacity pool of the event, oldest first, with its ticket types and its `sold`, `held` and `remaining` ' +
    "seats. Another organization's event answers 404. Needs `events:read`. One database round trip.",
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { params: EventIdParamsSchema },
  responses: {
    200: {
      description: "The event's capacity pools.",
      content: {
        'application/json': { schema: CapacityPoolListSchema, example: { data: [EXAMPLE_CAPACITY_POOL] } },
      },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const data = await listCapacityPools({ ctx: serviceContext(c), input: { eventId: c.req.valid('param').id } });
    return c.json(responseBody(c, CapacityPoolListSchema, { data }), 200);
  });
}
