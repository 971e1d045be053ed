import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { endSeries } from '../../services/series/index.ts';
import { responseBody } from '../response.ts';
import { EXAMPLE_SERIES, SeriesEndedSchema, SeriesIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/event-series/{id}/end',
  operationId: 'endEventSeries',
  tags: ['Event series'],
  summary: 'End an event series',
  description:
    'Ends a series: no more dates are materialized, future draft dates are deleted, future published dates without ' +
    'seats sold or held are cancelled, and future dates with bookings are kept (`kept`; cancel them one by one with ' +
    '`POST /api/v1/events/{id}/cancel`). Past dates stay. A series already ended answers 409; another ' +
    "organization's 404. Needs `events:write`. Writes an `event_series.ended` audit row.",
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: { params: SeriesIdParamsSchema },
  responses: {
    200: {
      description: 'The ended series and what happened to its future dates.',
      content: {
        'application/json': {
          schema: SeriesEndedSchema,
          example: {
            series: { ...EXAMPLE_SERIES, endedAt: '2027-04-01T10:00:00.000Z' },
            deleted: 0,
            cancelled: 10,
            kept: 2,
          },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const result = await endSeries({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, SeriesEndedSchema, result), 200);
  });
}
