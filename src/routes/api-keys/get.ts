import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { getApiKey } from '../../services/auth/api-keys.ts';
import { responseBody } from '../response.ts';
import { ApiKeyIdParamsSchema, ApiKeySchema, EXAMPLE_API_KEY } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/api-keys/{id}',
  operationId: 'getApiKey',
  tags: ['API keys'],
  summary: 'Get an API key',
  description:
    "One key, without the key itself: its permissions, status, expiry and last use. Another organization's key " +
    'answers 404 like a missing one. Needs `api_keys:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('api_keys:read')] as const,
  request: { params: ApiKeyIdParamsSchema },
  responses: {
    200: {
      description: 'The key.',
      content: { 'application/json': { schema: ApiKeySchema, example: EXAMPLE_API_KEY } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const key = await getApiKey({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, ApiKeySchema, key), 200);
  });
}
