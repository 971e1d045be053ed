import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireRecentAuth, requireSession } from '../../middleware/auth.ts';
import { changePassword } from '../../services/auth/self-service.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { ChangePasswordBodySchema, SessionTokenSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/change-password',
  operationId: 'changePassword',
  tags: ['Authentication'],
  summary: 'Change your password',
  description:
    'Changes the signed-in user’s password: `currentPassword` must be right (a wrong one answers 400 at ' +
    '`/body/currentPassword`, counts against the account’s sign-in limit, 10 failures in 15 minutes shared with ' +
    'sign-in, then 429) and `newPassword` must differ from it and pass the password policy (400 at ' +
    '`/body/newPassword`). The password belongs to the account, so the change **ends every other session of the ' +
    'user in every organization** at once (refresh tokens revoked, access tokens refused from now on) and spends ' +
    'outstanding password-reset links. The calling session stays: its refresh token keeps working, and because ' +
    'every access token issued before the change ends with it, the answer carries a new access token to use ' +
    'instead. A “your password was changed” email goes to the account’s address. Writes `auth.password_changed` ' +
    '(a wrong current password `auth.password_change_failed`). 409 when the password changed meanwhile. A person’s ' +
    'own: API keys are refused (403). Two database and two Redis round trips beside the authentication’s (the ' +
    'account and the limit before the check, the change and the revocation after it), plus one database round ' +
    'trip per other database (the account’s copies for organizations on dedicated databases take the new password ' +
    'and their sessions end). Organization hosts only.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession(), requireRecentAuth()] as const,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: ChangePasswordBodySchema,
          example: { currentPassword: 'violet-anchor-meadow-42', newPassword: 'copper-lantern-harbor-77' },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The password is changed; use this access token from now on.',
      content: { 'application/json': { schema: SessionTokenSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
  },
});

export type ChangePasswordResponse = z.infer<typeof SessionTokenSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const token = await changePassword({ ctx: serviceContext(c), input: c.req.valid('json') });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, SessionTokenSchema, token), 200);
  });
}
