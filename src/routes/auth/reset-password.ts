import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { resetPassword } from '../../services/auth/account.ts';
import { ResetPasswordBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/reset-password',
  tags: ['Authentication'],
  summary: 'Set a new password from a link',
  description:
    'Sets a new password with the token of a password-reset link (`pr_...`, valid 1 hour) or of an invitation ' +
    '(`inv_...`). Both are single use; unknown, used and expired tokens answer the same 400 problem. The link ' +
    'proves the mailbox, so the address counts as verified afterwards; an invitation also activates the ' +
    "membership. Every session of the user in this organization ends, and the user's other outstanding reset " +
    'and invitation links here stop working. Limited to 10 attempts per client address per 15 minutes.',
  request: { body: { required: true, content: { 'application/json': { schema: ResetPasswordBodySchema } } } },
  responses: {
    204: { description: 'The password is set; sign in with it.' },
    ...errorResponses(400, 401, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await resetPassword({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.body(null, 204);
  });
}
