import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { getFeatureFlag } from '../../services/flags/registry.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { FeatureFlagKeyParamsSchema, FeatureFlagSchema, FLAG_NOTE } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/platform/feature-flags/{key}',
  operationId: 'getFeatureFlag',
  tags: ['Platform'],
  summary: 'Get a feature flag',
  description: 'One feature flag definition; 404 for an unknown key. One database round trip.' + FLAG_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { params: FeatureFlagKeyParamsSchema },
  responses: {
    200: { description: 'The flag.', content: { 'application/json': { schema: FeatureFlagSchema } } },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const flag = await getFeatureFlag({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, FeatureFlagSchema, flag), 200);
  });
}
