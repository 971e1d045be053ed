import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { locationUrl } from '../../middleware/location.ts';
import { MAX_FEATURE_FLAGS } from '../../services/flags/evaluate.ts';
import { createFeatureFlag } from '../../services/flags/registry.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { FeatureFlagCreateSchema, FeatureFlagSchema, FLAG_NOTE } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/platform/feature-flags',
  operationId: 'createFeatureFlag',
  tags: ['Platform'],
  summary: 'Define a feature flag',
  description:
    'Defines a feature flag: a `key` (snake_case), a `description` shown to tenants, a `defaultValue`, optional ' +
    '`planValues` and an optional `rolloutPercentage`. A key in use answers 409 (so a retried create cannot make a ' +
    `second flag), as does a flag beyond the ${String(MAX_FEATURE_FLAGS)}th. Writes a ` +
    '`platform.feature_flag_created` row in the platform audit log. One database round trip.' +
    FLAG_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: FeatureFlagCreateSchema,
          examples: {
            rollout: {
              summary: 'A rollout to 30% of organizations',
              value: {
                key: 'new_checkout',
                description: 'The new one-page checkout.',
                defaultValue: false,
                planValues: { enterprise: true },
                rolloutPercentage: 30,
              },
            },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The new flag.',
      headers: {
        Location: {
          description: 'The new flag.',
          required: true,
          schema: { type: 'string', format: 'uri', maxLength: 2048 },
        },
      },
      content: { 'application/json': { schema: FeatureFlagSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const flag = await createFeatureFlag({ ctx: serviceContext(c), input: c.req.valid('json') });
    c.header('location', locationUrl(c, `/api/v1/platform/feature-flags/${flag.key}`));
    return c.json(responseBody(c, FeatureFlagSchema, flag), 201);
  });
}
