import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listApiKeys } from '../../services/auth/api-keys.ts';
import { responseBody } from '../response.ts';
import { ApiKeyListQuerySchema, ApiKeyListSchema, EXAMPLE_API_KEY } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/api-keys',
  operationId: 'listApiKeys',
  tags: ['API keys'],
  summary: 'List API keys',
  description:
    "The organization's API keys (active, expired and revoked; filter with `status`), newest first, with cursor " +
    'pagination. Never the keys themselves: each shows its `prefix` and `lastFour`. Needs `api_keys:read`. One ' +
    'database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('api_keys:read')] as const,
  request: { query: ApiKeyListQuerySchema },
  responses: {
    200: {
      description: 'A page of keys.',
      content: {
        'application/json': { schema: ApiKeyListSchema, example: { data: [EXAMPLE_API_KEY], nextCursor: null } },
      },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listApiKeys({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(responseBody(c, ApiKeyListSchema, page), 200);
  });
}
