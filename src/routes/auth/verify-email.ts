import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { verifyEmail } from '../../services/auth/account.ts';
import { EmailVerifiedSchema, VerifyEmailBodySchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/verify-email',
  operationId: 'verifyEmail',
  tags: ['Authentication'],
  summary: 'Verify an email address',
  description:
    'Redeems the token of a verification link (single use, valid 24 hours) and marks the address verified. ' +
    'Unknown, used and expired tokens answer the same 400 problem. Access tokens issued before keep ' +
    '`emailVerified: false` until the next refresh. Limited to 20 attempts per client address per 15 minutes.',
  request: { body: { required: true, content: { 'application/json': { schema: VerifyEmailBodySchema } } } },
  middleware: [tenantOnly()] as const,
  responses: {
    200: { description: 'Verified.', content: { 'application/json': { schema: EmailVerifiedSchema } } },
    ...errorResponses(400, 401, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await verifyEmail({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, EmailVerifiedSchema, { emailVerified: true }), 200);
  });
}
