import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin } from '../../middleware/auth.ts';
import { getImpersonation } from '../../services/impersonations/index.ts';
import { ImpersonationIdParamsSchema, ImpersonationSchema } from '../impersonations/schema.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/platform/impersonations/{id}',
  operationId: 'getPlatformImpersonation',
  tags: ['Platform'],
  summary: 'Get an impersonation',
  description:
    'One impersonation of any organization (what `POST /api/v1/platform/impersonations` started, its `Location`): ' +
    'the member, the administrator, the reason, the mode, the times and the status (`active`, `ended`, `expired`). ' +
    'Never its token. 404 for an unknown id. Platform host and platform administrators only. One database round ' +
    'trip.',
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin()] as const,
  request: { params: ImpersonationIdParamsSchema },
  responses: {
    200: { description: 'The impersonation.', content: { 'application/json': { schema: ImpersonationSchema } } },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const impersonation = await getImpersonation({ ctx: serviceContext(c), input: c.req.valid('param') });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, ImpersonationSchema, impersonation), 200);
  });
}
