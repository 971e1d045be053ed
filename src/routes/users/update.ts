import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission, requireRecentAuth } from '../../middleware/auth.ts';
import { updateMember } from '../../services/users/update.ts';
import { MemberIdParamsSchema, MemberSchema, MemberUpdateSchema } from './schema.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/users/{id}',
  operationId: 'updateMember',
  tags: ['Users'],
  summary: 'Change a member',
  description:
    "Changes a member's `name`, `role` or `status` (`active` or `disabled`); nothing else is accepted (400). " +
    '`name` is the name this organization uses for the member: the account’s own name, shown by ' +
    '`GET /api/v1/auth/me` and to other organizations, does not change. ' +
    "A role change or a disable ends the member's sessions in this organization at once (their access tokens " +
    'answer 401 on the next request, their refresh tokens are revoked).\n\n' +
    'Needs `users:manage`. Refused with 403: changing your own role or status, changing a member whose role holds ' +
    'a permission you lack (only an owner changes an owner), giving such a role; 403 `email_not_verified`: giving a ' +
    'role with any permission (owner included) to an active or disabled member whose email address is not verified ' +
    '(an invited member verifies it by accepting). A change that makes the member take ' +
    "a staff seat of the plan's `members` quota (the `member` role becoming a staff role, a disabled staff member " +
    'enabled again) is refused beyond the quota with 403 `plan_limit` naming the plan and the limit; other changes ' +
    'work at the limit. Refused with 409: leaving the ' +
    'organization without an active owner, changing the status of an invited member. A user who is not a member ' +
    'here answers 404 and nothing changes. Writes a `membership.updated` audit row with before and after. If the ' +
    'ended sessions cannot be recorded (Redis unavailable), the change stays saved and the answer is 503.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('users:manage'), requireRecentAuth()] as const,
  request: {
    params: MemberIdParamsSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: MemberUpdateSchema,
          examples: {
            promote: { summary: 'Give another role', value: { role: 'admin' } },
            disable: { summary: 'Disable', value: { status: 'disabled' } },
          },
        },
      },
    },
  },
  responses: {
    200: { description: 'The member after the change.', content: { 'application/json': { schema: MemberSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const member = await updateMember({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, MemberSchema, member), 200);
  });
}
