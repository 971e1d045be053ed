import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { removeMember } from '../../services/users/remove.ts';
import { MemberIdParamsSchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/users/{id}',
  operationId: 'removeMember',
  tags: ['Users'],
  summary: 'Remove a member',
  description:
    "Removes the membership (and cancels a pending invitation) and ends the member's sessions in this " +
    'organization at once. The account itself stays: it may belong to other organizations. Needs `users:manage`; ' +
    'a member whose role holds a permission you lack (an owner, unless you are one) is refused with 403; the last ' +
    'active owner with 409. A user who is not a member here answers 404. Writes a `membership.removed` audit row. ' +
    'If the ended sessions cannot be recorded (Redis unavailable), the removal stays done and the answer is 503.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('users:manage'), requireRecentAuth()] as const,
  request: { params: MemberIdParamsSchema },
  responses: {
    204: { description: 'The membership is gone.' },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await removeMember({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
