import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { deleteCapacityPool } from '../../services/events/capacity-pools.ts';
import { CapacityPoolIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/capacity-pools/{id}',
  operationId: 'deleteCapacityPool',
  tags: ['Capacity pools'],
  summary: 'Delete a capacity pool',
  description:
    'Deletes a capacity pool of a draft or published event (409 otherwise); its ticket types stay, with their ' +
    "sold and held tickets, and are no longer limited by it. Another organization's pool answers 404. Needs " +
    '`events:write`. Writes a `capacity_pool.deleted` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: CapacityPoolIdParamsSchema },
  responses: {
    204: { description: 'The capacity pool is gone.' },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await deleteCapacityPool({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
