import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { publishEvent } from '../../services/events/lifecycle.ts';
import { EventIdParamsSchema, EventSchema, EXAMPLE_EVENT } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/events/{id}/publish',
  operationId: 'publishEvent',
  tags: ['Events'],
  summary: 'Publish an event',
  description:
    'draft -> published; sets `publishedAt`. A draft without a ticket type, or whose start is not in the future, ' +
    'answers 422; an event that is not a draft 409. The change is one conditional statement: of two concurrent ' +
    "publishes exactly one succeeds, the other answers 409. The plan's `publishedEvents` quota counts events in " +
    'the `published` status: beyond it 403 `plan_limit` naming the plan and the limit (checked after a ' +
    'per-organization lock, so concurrent publishes cannot exceed it). Needs `events:write`. Writes an ' +
    '`event.published` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: EventIdParamsSchema },
  responses: {
    200: {
      description: 'The published event.',
      content: {
        'application/json': {
          schema: EventSchema,
          example: { ...EXAMPLE_EVENT, status: 'published', publishedAt: '2026-05-01T09:00:00.000Z' },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 422, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const event = await publishEvent({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, EventSchema, event), 200);
  });
}
