import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { getPlanSummary } from '../../services/plans/overrides.ts';
import { tenantOnly } from '../organizations/host.ts';
import { PlanSummarySchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/organization/features',
  operationId: 'getOrganizationFeatures',
  tags: ['Organizations'],
  summary: 'Get the plan, features, quotas and rate limits',
  description:
    "The organization's effective plan: the plan (`starter`, `pro`, `enterprise`) with the platform's overrides " +
    'applied, exactly as enforced: `features` (a feature outside the plan answers 403 `feature_unavailable`), ' +
    '`quotas` (null = unlimited; a write beyond one answers 403 `plan_limit`), `rateLimits` (authenticated ' +
    'requests per minute: for all staff together, for all customers (callers without permissions) together, and ' +
    'per caller; over them 429 with `Retry-After` and the `RateLimit` ' +
    'headers), the stored `overrides`, and `flags`: every feature flag of the platform evaluated for the ' +
    'organization, with what decided its value (`source`: `override`, `rollout`, `plan` or `default`, in that ' +
    'order; the plan features are flags too). Read from the organization row and the flag registry in one ' +
    'statement, so a change shows at once; enforcement follows within 30 seconds (the tenant cache), 60 for flag ' +
    'definitions. ' +
    'Organization hosts only (404 on the platform host); needs `organization:read`. One database and one Redis ' +
    'round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('organization:read')] as const,
  responses: {
    200: {
      description: 'The effective plan.',
      content: {
        'application/json': {
          schema: PlanSummarySchema,
          example: {
            plan: 'pro',
            features: { webhooks: true, custom_domains: true, sso: true, custom_roles: true, exports: true },
            quotas: { publishedEvents: 250, members: 50, webhookEndpoints: 10 },
            rateLimits: { organizationPerMinute: 1000, customersPerMinute: 1000, principalPerMinute: 600 },
            storageBytes: 1_073_741_824,
            overrides: { quotas: { publishedEvents: 250 }, features: { sso: true } },
            flags: [
              {
                key: 'custom_domains',
                description: 'Serving the organization on its own domain names',
                value: true,
                source: 'plan',
              },
              { key: 'new_checkout', description: 'The new one-page checkout.', value: true, source: 'rollout' },
              { key: 'sso', description: 'Single sign-on for staff', value: true, source: 'override' },
            ],
          },
        },
      },
    },
    ...errorResponses(401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const plan = await getPlanSummary({ ctx: serviceContext(c) });
    return c.json(responseBody(c, PlanSummarySchema, plan), 200);
  });
}
