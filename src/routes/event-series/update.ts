import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { updateSeries } from '../../services/series/index.ts';
import { responseBody } from '../response.ts';
import { EXAMPLE_SERIES, SeriesIdParamsSchema, SeriesUpdatedSchema, SeriesUpdateSchema } from './schema.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/event-series/{id}',
  operationId: 'updateEventSeries',
  tags: ['Event series'],
  summary: 'Change all future dates of a series',
  description:
    '"All future dates": changes the given fields (a partial update) of the template and of the dates starting ' +
    'at or after `from` (default now) that are draft or published, have no seats sold or held, and were not edited ' +
    'on their own ("this date" is `PUT /api/v1/events/{id}` on the date, which detaches it from these edits). ' +
    'Dates left as they are are counted in `skipped`. Times and the rule cannot change: create a new series. ' +
    "Another organization's series answers 404. One database round trip. Needs `events:write`. Writes an " +
    '`event_series.updated` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: {
    params: SeriesIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: SeriesUpdateSchema,
          examples: {
            rename: { summary: 'Rename from April', value: { from: '2027-04-01T00:00:00Z', title: 'Jazz' } },
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The series after the change, and how many dates changed or were skipped.',
      content: {
        'application/json': {
          schema: SeriesUpdatedSchema,
          example: { series: EXAMPLE_SERIES, updated: 20, skipped: 2 },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const result = await updateSeries({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, SeriesUpdatedSchema, result), 200);
  });
}
