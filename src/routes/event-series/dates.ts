import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listSeriesDates } from '../../services/series/index.ts';
import { responseBody } from '../response.ts';
import { EXAMPLE_SERIES_DATE, SeriesDatesQuerySchema, SeriesDatesSchema, SeriesIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/event-series/{id}/dates',
  operationId: 'listEventSeriesDates',
  tags: ['Event series'],
  summary: "List a series' dates",
  description:
    'The materialized dates of a series (events, whatever their status), earliest first, at most 366, from `from` ' +
    "on when given. Each is an ordinary event: use the event routes on its id. Another organization's series " +
    'answers 404. Needs `events:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { params: SeriesIdParamsSchema, query: SeriesDatesQuerySchema },
  responses: {
    200: {
      description: 'The dates.',
      content: { 'application/json': { schema: SeriesDatesSchema, example: { data: [EXAMPLE_SERIES_DATE] } } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const data = await listSeriesDates({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, from: c.req.valid('query').from },
    });
    return c.json(responseBody(c, SeriesDatesSchema, { data }), 200);
  });
}
