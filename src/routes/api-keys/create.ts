import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { location } from '../../middleware/location.ts';
import { createApiKey, MAX_ACTIVE_API_KEYS } from '../../services/auth/api-keys.ts';
import { responseBody } from '../response.ts';
import { ApiKeyCreateSchema, NewApiKeySchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/api-keys',
  operationId: 'createApiKey',
  tags: ['API keys'],
  summary: 'Create an API key',
  description:
    'Creates a key for an integration: `Authorization: Bearer evk_live_...` then works on every route an access ' +
    "token may use, with the key's own permissions (a subset of the caller's: more answers 403, so a key cannot " +
    'create a stronger key), its own rate-limit bucket, and audit rows with actor type `api_key`. The key is in ' +
    'this answer only; only its SHA-256 is stored. A `test` key is refused with 403 `live_key_required` by ' +
    'live-only operations, and may create only test keys. 409: the organization already has ' +
    `${MAX_ACTIVE_API_KEYS} active keys. No Idempotency-Key: a replay would have to store the key. Needs ` +
    '`api_keys:write`. Writes an `api_key.created` audit row.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('api_keys:write'), requireRecentAuth(), location('/api/v1/api-keys/{id}')] as const,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: ApiKeyCreateSchema,
          examples: {
            readOnly: {
              summary: 'A read-only live key',
              value: { name: 'CRM sync', permissions: ['events:read', 'bookings:read'] },
            },
            test: {
              summary: 'A test key that expires',
              value: {
                name: 'Staging',
                environment: 'test',
                permissions: ['events:read', 'events:write'],
                expiresAt: '2027-06-01T00:00:00Z',
              },
            },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The new key, with the key itself (shown only now).',
      content: { 'application/json': { schema: NewApiKeySchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const key = await createApiKey({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, NewApiKeySchema, key), 201, { 'cache-control': 'no-store' });
  });
}
