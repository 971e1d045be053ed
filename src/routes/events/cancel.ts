import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { cancelEvent } from '../../services/events/lifecycle.ts';
import { EventIdParamsSchema, EventSchema, EXAMPLE_EVENT } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/events/{id}/cancel',
  operationId: 'cancelEvent',
  tags: ['Events'],
  summary: 'Cancel an event',
  description:
    'draft | published -> cancelled; sets `cancelledAt`. A cancelled or completed event answers 409. A cancelled ' +
    'event and its ticket types can no longer be changed. Needs `events:write`. Writes an `event.cancelled` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: EventIdParamsSchema },
  responses: {
    200: {
      description: 'The cancelled event.',
      content: {
        'application/json': {
          schema: EventSchema,
          example: { ...EXAMPLE_EVENT, status: 'cancelled', cancelledAt: '2026-06-01T09:00:00.000Z' },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const event = await cancelEvent({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, EventSchema, event), 200);
  });
}
