import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { setPlanOverrides } from '../../services/plans/overrides.ts';
import { PlanOverridesResultSchema, PlanOverridesSchema } from '../organization-features/schema.ts';
import { platformOnly } from './host.ts';
import { OrganizationIdParamsSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/organizations/{id}/plan-overrides',
  operationId: 'setPlanOverrides',
  tags: ['Organizations'],
  summary: "Replace an organization's plan overrides",
  description:
    'Platform host only (404 on organization hosts, where the path does not exist); platform administrators only. ' +
    "Replaces the organization's overrides of its plan: `rateLimits` (1 to 1,000,000 per minute), `quotas` (0 to " +
    '1,000,000) and `features` (true grants a feature outside the plan, false withholds one). Absent keys follow ' +
    'the plan; `{}` removes every override; unknown keys and out-of-range values answer 400. Writes an ' +
    '`organization.plan_overrides_updated` audit row with the overrides before and after (nothing when they do not ' +
    'change). Applies at once on the instance that served the change, everywhere within 30 seconds (the tenant ' +
    'cache). Answers the stored overrides and the effective plan.',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: {
    params: OrganizationIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: PlanOverridesSchema } } },
  },
  responses: {
    200: {
      description: 'The stored overrides and the effective plan.',
      content: { 'application/json': { schema: PlanOverridesResultSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const result = await setPlanOverrides({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, overrides: c.req.valid('json') },
    });
    return c.json(responseBody(c, PlanOverridesResultSchema, result), 200);
  });
}
