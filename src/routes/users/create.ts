import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { requireLiveKey, requirePermission, requireRecentAuth, requireVerifiedEmail } from '../../middleware/auth.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { INVITATION_LIMIT, inviteMember } from '../../services/users/invite.ts';
import { MemberCreateSchema, MemberSchema } from './schema.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/users',
  operationId: 'inviteMember',
  tags: ['Users'],
  summary: 'Invite a member',
  description:
    'Adds a person to this organization with a role and status `invited`, and emails them an invitation link ' +
    '(`/accept-invitation?token=inv_...` on the organization host, valid 7 days, single use). The link is redeemed ' +
    'with `POST /api/v1/auth/reset-password { token, password }`, which sets the password (an existing account ' +
    'gives its current one instead), verifies the email and activates the membership. A new email creates the account (no password yet) with `name` as its name; an ' +
    'existing account is reused unchanged. Either way `name` is the name this organization shows for the member, ' +
    'and the answer does not depend on whether the address already had an account: it never shows that account’s ' +
    'own name or verification (`emailVerified` is false and `lastLoginAt` null until the invitation is accepted). ' +
    'Already a member here: 409.\n\n' +
    'Needs `users:manage` and a verified email address. You can only give a role whose every permission you hold, ' +
    `and only an owner gives the owner role (403). At most ${INVITATION_LIMIT.limit} invitations per organization ` +
    "per hour (429 with Retry-After). A staff role (anything but `member`) takes a seat of the plan's `members` " +
    'quota (active and invited staff): beyond it 403 `plan_limit` naming the plan and the limit. Writes a ' +
    '`membership.invited` audit row.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [
    requirePermission('users:manage'),
    requireVerifiedEmail(),
    requireRecentAuth(),
    requireLiveKey(),
    location('/api/v1/users/{id}'),
    idempotent(),
  ] as const,
  request: {
    headers: IdempotencyHeadersSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: MemberCreateSchema,
          examples: {
            organizer: {
              summary: 'Invite an organizer',
              value: { email: 'grace@acme.com', name: 'Grace Hopper', role: 'organizer' },
            },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The invited member.',
      content: {
        'application/json': {
          schema: MemberSchema,
          example: {
            id: '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b',
            email: 'grace@acme.com',
            name: 'Grace Hopper',
            role: { key: 'organizer', name: 'Organizer' },
            status: 'invited',
            emailVerified: false,
            lastLoginAt: null,
            createdAt: '2026-01-15T12:00:00.000Z',
          },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const member = await inviteMember({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, MemberSchema, member), 201);
  });
}
