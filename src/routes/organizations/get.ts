import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { getOwnOrganization } from '../../services/organizations/read.ts';
import { tenantOnly } from './host.ts';
import { OrganizationSchema, presentOrganization } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/organization',
  operationId: 'getCurrentOrganization',
  tags: ['Organizations'],
  summary: 'Get this organization',
  description:
    'The organization served on this host, with its branding and settings. Organization hosts only (404 on the ' +
    'platform host); needs `organization:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requirePermission('organization:read')] as const,
  responses: {
    200: { description: 'The organization.', content: { 'application/json': { schema: OrganizationSchema } } },
    ...errorResponses(401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const organization = await getOwnOrganization({ ctx: serviceContext(c) });
    return c.json(presentOrganization(organization), 200);
  });
}
