import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { updateFeatureFlag } from '../../services/flags/registry.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { FeatureFlagKeyParamsSchema, FeatureFlagSchema, FeatureFlagUpdateSchema, FLAG_NOTE } from './schema.ts';

export const route = createRoute({
  method: 'patch',
  path: '/api/v1/platform/feature-flags/{key}',
  operationId: 'updateFeatureFlag',
  tags: ['Platform'],
  summary: 'Change a feature flag',
  description:
    'Changes the given fields of a flag, the built-in plan features included (their `planValues` are what each ' +
    'plan gets): `planValues` replaces the plan values, `rolloutPercentage: null` ends a rollout. An empty body or ' +
    'an unknown field answers 400, an unknown key 404. Writes a `platform.feature_flag_updated` row (the changes) ' +
    'in the platform audit log. One database round trip.' +
    FLAG_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: {
    params: FeatureFlagKeyParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: FeatureFlagUpdateSchema,
          examples: {
            widen: { summary: 'Widen a rollout', value: { rolloutPercentage: 60 } },
            plans: {
              summary: 'Change the plan values and description',
              value: {
                description: 'The new one-page checkout.',
                defaultValue: false,
                planValues: { pro: true, enterprise: true },
                rolloutPercentage: null,
              },
            },
          },
        },
      },
    },
  },
  responses: {
    200: { description: 'The changed flag.', content: { 'application/json': { schema: FeatureFlagSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { key } = c.req.valid('param');
    const flag = await updateFeatureFlag({ ctx: serviceContext(c), input: { key, changes: c.req.valid('json') } });
    return c.json(responseBody(c, FeatureFlagSchema, flag), 200);
  });
}
