import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listImpersonations } from '../../services/impersonations/index.ts';
import { responseBody } from '../response.ts';
import { ImpersonationListQuerySchema, ImpersonationListSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/impersonations',
  operationId: 'listImpersonations',
  tags: ['Impersonations'],
  summary: "List the platform's impersonations of members",
  description:
    "Every impersonation of one of the organization's members by a platform administrator (support), newest " +
    'first, with cursor pagination: the member, the administrator, the reason, the mode, when it started and ends ' +
    'and whether it is `active`, `ended` (early) or `expired`. Their start and end are also in the audit log ' +
    '(`impersonation.started`, `impersonation.ended`). Needs `audit:read`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('audit:read')] as const,
  request: { query: ImpersonationListQuerySchema },
  responses: {
    200: {
      description: 'A page of impersonations.',
      content: { 'application/json': { schema: ImpersonationListSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listImpersonations({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(responseBody(c, ImpersonationListSchema, page), 200);
  });
}
