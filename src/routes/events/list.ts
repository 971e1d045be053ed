import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listEvents } from '../../services/events/list.ts';
import { EventListQuerySchema, EventListSchema, EXAMPLE_EVENT } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events',
  operationId: 'listEvents',
  tags: ['Events'],
  summary: 'List events',
  description:
    "The organization's events of every status, earliest start first (then by id), with cursor pagination: pass " +
    '`nextCursor` as `cursor` for the next page. Filters: `status`, `visibility`, `from`/`to` (on the start), `q` ' +
    '(case-insensitive text in the title). Only these parameters exist; any other answers 400, as do a malformed ' +
    'cursor and a `limit` outside 1..100 (never clamped). Needs `events:read`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:read')] as const,
  request: { query: EventListQuerySchema },
  responses: {
    200: {
      description: 'A page of events.',
      content: {
        'application/json': { schema: EventListSchema, example: { data: [EXAMPLE_EVENT], nextCursor: null } },
      },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listEvents({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(responseBody(c, EventListSchema, page), 200);
  });
}
