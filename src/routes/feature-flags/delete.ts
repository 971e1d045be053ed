import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { deleteFeatureFlag } from '../../services/flags/registry.ts';
import { platformOnly } from '../organizations/host.ts';
import { FeatureFlagKeyParamsSchema, FLAG_NOTE } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/platform/feature-flags/{key}',
  operationId: 'deleteFeatureFlag',
  tags: ['Platform'],
  summary: 'Delete a feature flag',
  description:
    "Deletes a flag and every organization's override of it. The built-in plan features (webhooks, " +
    'custom_domains, sso, custom_roles, exports) answer 409: the API checks them. An unknown key answers 404. ' +
    'Writes a `platform.feature_flag_deleted` row in the platform audit log. One database round trip.' +
    FLAG_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { params: FeatureFlagKeyParamsSchema },
  responses: {
    204: { description: 'The flag is gone.' },
    ...errorResponses(400, 401, 403, 404, 409, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await deleteFeatureFlag({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
