import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { cachedPublicRead } from '../../services/catalogue/edge-cache.ts';
import { listPublicEvents, publicListChangesAt } from '../../services/catalogue/list.ts';
import { cachedJson, publicReadHeaders } from './headers.ts';
import { PublicEventListQuerySchema, PublicEventListSchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/public/events',
  operationId: 'listPublicEvents',
  tags: ['Public'],
  summary: 'List public events',
  description:
    "The organization's published, public events, earliest start first (starts_at, id), with cursor pagination: " +
    'pass `nextCursor` as `cursor` for the next page. Without `from`, only events that have not ended yet. Filters: ' +
    '`from`/`to` (ISO 8601, on the start time; `to` exclusive), `category` (exact), `q` (case-insensitive text in ' +
    'the title), `seriesId` (the dates of one recurring series). Only these parameters exist; any other answers 400, as do a malformed cursor and a `limit` outside ' +
    '1..100. No authentication; rate limited per client address (429 with Retry-After). Cacheable for 30 seconds. ' +
    'One database round trip and one Redis round trip; none to the database when the edge cache holds the answer ' +
    '(then changes to events and ticket types show once published to the outbox).',
  request: { query: PublicEventListQuerySchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'A page of events.',
      content: { 'application/json': { schema: PublicEventListSchema } },
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const input = c.req.valid('query');
    const { outcome, body } = await cachedPublicRead(ctx, {
      resource: 'events',
      input,
      read: async () => responseBody(c, PublicEventListSchema, await listPublicEvents({ ctx, input })),
      changesAt: (page, now) => publicListChangesAt(page, input, now),
    });
    return cachedJson<typeof PublicEventListSchema>(c, body, publicReadHeaders(outcome));
  });
}
