import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { getMember } from '../../services/users/get.ts';
import { MemberIdParamsSchema, MemberSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/users/{id}',
  operationId: 'getMember',
  tags: ['Users'],
  summary: 'Get a member',
  description:
    'One member of this organization. A user who is not a member here (including members of other ' +
    'organizations) answers 404. Needs `users:read`.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('users:read')] as const,
  request: { params: MemberIdParamsSchema },
  responses: {
    200: { description: 'The member.', content: { 'application/json': { schema: MemberSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const member = await getMember({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, MemberSchema, member), 200);
  });
}
