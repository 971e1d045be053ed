import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { resetPassword } from '../../services/auth/account.ts';
import { ResetPasswordBodySchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/reset-password',
  operationId: 'resetPassword',
  tags: ['Authentication'],
  summary: 'Set a new password from a link, or accept an invitation',
  description:
    'Redeems the token of a password-reset link (`pr_...`, valid 1 hour) or of an invitation (`inv_...`). Both ' +
    'are single use; unknown, used and expired tokens answer the same 400 problem. The link proves the mailbox, ' +
    'so the address counts as verified afterwards; an invitation also activates the membership.\n\n' +
    '**A reset, or an invitation to a new account** (one without a password yet): `password` is the new ' +
    'password (the password policy: 8 to 128 characters, not a common one, strong by zxcvbn and not built from the ' +
    "account's email address or name, the organization or the product name; 400 otherwise, and the token stays " +
    'usable). The password ' +
    "is the account's everywhere, so **every session of the user ends in every organization**: all refresh " +
    "tokens are revoked and all access tokens stop working at once. The user's other outstanding reset and " +
    'invitation links here stop working too.\n\n' +
    '**An invitation to an existing account** (an account that already has a password, invited to this ' +
    "organization): an invitation never replaces a password, so `password` must be the account's **current** " +
    'password. When it matches, the membership becomes active and the address verified; the password and the ' +
    "account's sessions elsewhere stay as they are. When it does not, the answer is the same 401 " +
    '`invalid_credentials` problem as a failed sign-in and nothing changes: the invitation stays unused. These ' +
    "attempts count against the account's sign-in limit (10 per 15 minutes, shared with `POST /auth/login`).\n\n" +
    'Limited to 10 attempts per client address per 15 minutes (429 with `Retry-After`).',
  request: { body: { required: true, content: { 'application/json': { schema: ResetPasswordBodySchema } } } },
  middleware: [tenantOnly()] as const,
  responses: {
    204: { description: 'The password is set (or, for an existing account, the invitation accepted); sign in.' },
    ...errorResponses(400, 401, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await resetPassword({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.body(null, 204);
  });
}
