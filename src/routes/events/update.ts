import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { updateEvent } from '../../services/events/write.ts';
import { EventIdParamsSchema, EventSchema, EventUpdateSchema, EXAMPLE_EVENT } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/events/{id}',
  operationId: 'updateEvent',
  tags: ['Events'],
  summary: 'Change an event',
  description:
    'Changes the given fields of a draft or published event (a partial update; `null` clears `venue`, ' +
    '`onlineUrl`, `coverImageUrl`, `capacity`). The status changes only through publish and cancel: `status` and ' +
    'every other unlisted field answer 400. `endsAt` must stay after `startsAt`, checked against the stored value ' +
    'of the one not given (400). A cancelled or completed event answers 409, as does a slug another event uses, a ' +
    '`capacity` below the seats already sold or held (also checked at write time) and a concurrent change. Needs ' +
    '`events:write`. Writes an `event.updated` audit row with the values before.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: {
    params: EventIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: EventUpdateSchema,
          examples: {
            move: {
              summary: 'Move by a day',
              value: { startsAt: '2026-07-05T18:00:00Z', endsAt: '2026-07-05T22:00:00Z' },
            },
            retitle: { summary: 'Retitle', value: { title: 'Summer Jazz Night (sold-out edition)' } },
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The event after the change.',
      content: { 'application/json': { schema: EventSchema, example: EXAMPLE_EVENT } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const event = await updateEvent({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, EventSchema, event), 200);
  });
}
