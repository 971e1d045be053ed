import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { endImpersonation } from '../../services/impersonations/index.ts';
import { END_IMPERSONATION_RESPONSES, ImpersonationIdParamsSchema } from '../impersonations/schema.ts';
import { platformOnly } from '../organizations/host.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/platform/impersonations/{id}',
  operationId: 'endPlatformImpersonation',
  tags: ['Platform'],
  summary: 'End an impersonation',
  description:
    "Ends an impersonation at once: the next request with its token answers 401. Written to the platform's and " +
    "the organization's audit log (`impersonation.ended`). Ending one that already ended or expired answers 204 " +
    'again and writes nothing. 404 for an unknown id. Platform host and platform administrators only. One database ' +
    'and one Redis round trip beside the authentication’s; 503: ended in the database but the token is not revoked ' +
    'yet: repeat the request.',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { params: ImpersonationIdParamsSchema },
  responses: END_IMPERSONATION_RESPONSES,
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await endImpersonation({ ctx: serviceContext(c), input: { id: c.req.valid('param').id, organizationId: null } });
    return c.body(null, 204);
  });
}
