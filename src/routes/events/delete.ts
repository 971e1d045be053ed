import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { deleteEvent } from '../../services/events/write.ts';
import { EventIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/events/{id}',
  operationId: 'deleteEvent',
  tags: ['Events'],
  summary: 'Delete a draft event',
  description:
    'Deletes a draft event and its ticket types. A published, cancelled or completed event answers 409: cancel ' +
    "it instead. Another organization's event answers 404 and nothing changes. Needs `events:write`. Writes an " +
    '`event.deleted` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: EventIdParamsSchema },
  responses: {
    204: { description: 'The event is gone.' },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await deleteEvent({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
