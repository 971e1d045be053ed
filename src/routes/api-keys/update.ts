import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { renameApiKey } from '../../services/auth/api-keys.ts';
import { responseBody } from '../response.ts';
import { ApiKeyIdParamsSchema, ApiKeySchema, ApiKeyUpdateSchema, EXAMPLE_API_KEY } from './schema.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/api-keys/{id}',
  operationId: 'updateApiKey',
  tags: ['API keys'],
  summary: 'Rename an API key',
  description:
    'Changes the name. Permissions, environment and expiry are fixed at creation: for others, create a new key and ' +
    "revoke this one. Another organization's key answers 404. Needs `api_keys:write`. Writes an `api_key.updated` " +
    'audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('api_keys:write')] as const,
  request: {
    params: ApiKeyIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: ApiKeyUpdateSchema,
          examples: { rename: { summary: 'A clearer name', value: { name: 'CRM sync (production)' } } },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The key.',
      content: {
        'application/json': { schema: ApiKeySchema, example: { ...EXAMPLE_API_KEY, name: 'CRM sync (production)' } },
      },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const key = await renameApiKey({
      ctx: serviceContext(c),
      input: { ...c.req.valid('param'), ...c.req.valid('json') },
    });
    return c.json(responseBody(c, ApiKeySchema, key), 200);
  });
}
