import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { getEvent } from '../../services/events/write.ts';
import { EventIdParamsSchema, EventSchema, EXAMPLE_EVENT } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}',
  operationId: 'getEvent',
  tags: ['Events'],
  summary: 'Get an event',
  description:
    "One event of this organization, whatever its status. Another organization's event answers 404 like a " +
    'missing one; an id that is not a UUID answers 400. Needs `events:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { params: EventIdParamsSchema },
  responses: {
    200: {
      description: 'The event.',
      content: { 'application/json': { schema: EventSchema, example: EXAMPLE_EVENT } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const event = await getEvent({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, EventSchema, event), 200);
  });
}
