import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { listFeatureFlags } from '../../services/flags/registry.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { FeatureFlagListSchema, FLAG_NOTE } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/platform/feature-flags',
  operationId: 'listFeatureFlags',
  tags: ['Platform'],
  summary: 'List the feature flags',
  description:
    'Every feature flag definition, by key, the built-in plan features (`builtIn: true`) included. One database ' +
    'round trip.' +
    FLAG_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  responses: {
    200: { description: 'The flags.', content: { 'application/json': { schema: FeatureFlagListSchema } } },
    ...errorResponses(401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const list = await listFeatureFlags({ ctx: serviceContext(c) });
    return c.json(responseBody(c, FeatureFlagListSchema, list), 200);
  });
}
