import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listSeries } from '../../services/series/index.ts';
import { responseBody } from '../response.ts';
import { MAX_SERIES_PAGE_SIZE, SeriesListQuerySchema, SeriesPageSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/event-series',
  operationId: 'listEventSeries',
  tags: ['Event series'],
  summary: 'List event series',
  description:
    "The organization's recurring series, newest first, optionally only the running (`ended=false`) or the ended " +
    '(`ended=true`) ones, with cursor pagination: pass `nextCursor` as `cursor` for the next page. Any other ' +
    `parameter, a malformed cursor or a \`limit\` outside 1..${MAX_SERIES_PAGE_SIZE} answers 400. The dates of a ` +
    'series are listed by `GET /api/v1/event-series/{id}/dates`. Needs `events:read`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { query: SeriesListQuerySchema },
  responses: {
    200: { description: 'A page of series.', content: { 'application/json': { schema: SeriesPageSchema } } },
    ...errorResponses(400, 401, 403, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { ended, limit, cursor } = c.req.valid('query');
    const page = await listSeries({
      ctx: serviceContext(c),
      input: { limit, cursor, ended: ended === undefined ? undefined : ended === 'true' },
    });
    return c.json(responseBody(c, SeriesPageSchema, page), 200);
  });
}
