import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { verifySignIn } from '../../services/auth/mfa.ts';
import { LoginSessionSchema } from '../auth/schema.ts';
import { MfaVerifyBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/verify',
  operationId: 'verifyMfa',
  tags: ['Authentication'],
  summary: 'Complete a sign-in with a second factor',
  description:
    'The second step of a sign-in answered with `mfaRequired`: the `mfaToken` and a TOTP code (the current, previous ' +
    'or next 30-second step, each code once) or an unused recovery code (single use; its use is audited and emailed). ' +
    'Answers the session, with `amr` `["pwd","otp","mfa"]` or `["pwd","rcode","mfa"]`.\n\n' +
    'A wrong, reused or malformed code is 401 `invalid_mfa_code`; an expired, altered or used token, or one of ' +
    'another organization, 401 `mfa_challenge_invalid` (sign in again). Attempts are limited per client address (30 ' +
    'per 15 minutes) and per account (5 failures per 15 minutes, 20 per 24 hours): 429 with `Retry-After` beyond. ' +
    'One Redis and one database round trip.',
  middleware: [tenantOnly()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: MfaVerifyBodySchema } } } },
  responses: {
    200: { description: 'Signed in.', content: { 'application/json': { schema: LoginSessionSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

export type VerifyMfaResponse = z.infer<typeof LoginSessionSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const session = await verifySignIn({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, LoginSessionSchema, session), 200);
  });
}
