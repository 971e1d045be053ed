import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { revokeApiKey } from '../../services/auth/api-keys.ts';
import { ApiKeyIdParamsSchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/api-keys/{id}',
  operationId: 'revokeApiKey',
  tags: ['API keys'],
  summary: 'Revoke an API key',
  description:
    'Revokes the key, effective at once: the next request with it answers 401 (its Redis record is replaced by a ' +
    'tombstone). The key stays listed with status `revoked`. Revoking a revoked key answers 204 again. 503: revoked ' +
    "in the database but the record could not be replaced: repeat the request. Another organization's key answers " +
    '404 and nothing changes. Needs `api_keys:write`. Writes an `api_key.revoked` ' +
    'audit row.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('api_keys:write'), requireRecentAuth()] as const,
  request: { params: ApiKeyIdParamsSchema },
  responses: {
    204: { description: 'The key is revoked.' },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await revokeApiKey({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
