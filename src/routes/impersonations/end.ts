import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { endImpersonation } from '../../services/impersonations/index.ts';
import { END_IMPERSONATION_RESPONSES, ImpersonationIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/impersonations/{id}',
  operationId: 'endImpersonation',
  tags: ['Impersonations'],
  summary: 'End an impersonation of a member',
  description:
    "Ends a platform administrator's impersonation of one of the organization's members at once: the next " +
    "request with its token answers 401. Written to the organization's and the platform's audit log " +
    '(`impersonation.ended`, the owner as actor). Ending one that already ended or expired answers 204 again and ' +
    "writes nothing. Another organization's impersonation answers 404. The organization's owner only (other " +
    'members 403). One database and one Redis round trip beside the authentication’s; 503: ended in the database ' +
    'but the token is not revoked yet: repeat the request.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('audit:read')] as const,
  request: { params: ImpersonationIdParamsSchema },
  responses: END_IMPERSONATION_RESPONSES,
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await endImpersonation({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, organizationId: requireTenant(c.var).id },
    });
    return c.body(null, 204);
  });
}
