import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { cachedPublicRead } from '../../services/catalogue/edge-cache.ts';
import { getPublicEvent, publicEventChangesAt } from '../../services/catalogue/get.ts';
import { cachedJson, publicReadHeaders } from './headers.ts';
import { PublicEventDetailSchema, PublicEventParamsSchema, PublicEventQuerySchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/public/events/{slug}',
  operationId: 'getPublicEvent',
  tags: ['Public'],
  summary: 'Get a public event',
  description:
    'A published event that is `public` or `unlisted` (reachable by its link), with its ticket types in display ' +
    'order: those not hidden, plus hidden ones whose access code is given as `accessCode` (a code that matches ' +
    'nothing shows nothing more). Cancelled and completed events stay reachable with their `status` and no ticket ' +
    'types; drafts, private events and unknown slugs answer 404. No authentication; rate limited per client ' +
    'address (429 with Retry-After). Cacheable for 30 seconds. One database round trip and one Redis round trip; ' +
    'none to the database when the edge cache holds the answer (then changes to the event and its ticket types ' +
    'show once published to the outbox, seat counts within a second).',
  request: { params: PublicEventParamsSchema, query: PublicEventQuerySchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The event and its ticket types.',
      content: { 'application/json': { schema: PublicEventDetailSchema } },
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const input = { ...c.req.valid('param'), ...c.req.valid('query') };
    const { outcome, body } = await cachedPublicRead(ctx, {
      resource: 'event',
      input,
      read: async () => responseBody(c, PublicEventDetailSchema, await getPublicEvent({ ctx, input })),
      changesAt: publicEventChangesAt,
    });
    return cachedJson<typeof PublicEventDetailSchema>(c, body, publicReadHeaders(outcome));
  });
}
