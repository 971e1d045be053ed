import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { getSeries } from '../../services/series/index.ts';
import { responseBody } from '../response.ts';
import { EXAMPLE_SERIES, SeriesIdParamsSchema, SeriesSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/event-series/{id}',
  operationId: 'getEventSeries',
  tags: ['Event series'],
  summary: 'Get an event series',
  description:
    "A series of this organization: its template, rule and horizon. Another organization's series answers 404. " +
    'Needs `events:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { params: SeriesIdParamsSchema },
  responses: {
    200: {
      description: 'The series.',
      content: { 'application/json': { schema: SeriesSchema, example: EXAMPLE_SERIES } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const series = await getSeries({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, SeriesSchema, series), 200);
  });
}
