import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { verifyMfaWithPasskey } from '../../services/auth/passkeys.ts';
import { LoginSessionSchema } from '../auth/schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { MfaPasskeyVerifyBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/webauthn/verify',
  operationId: 'verifyMfaWithPasskey',
  tags: ['Passkeys'],
  summary: 'Complete a sign-in with a passkey as the second factor',
  description:
    'The second step of a sign-in answered with `mfaRequired`: the `mfaToken` and what `navigator.credentials.get()` ' +
    'answered to the options of POST /api/v1/auth/mfa/webauthn/options. Answers the session, with `amr` ' +
    '`["pwd","hwk","user","mfa"]`.\n\n' +
    'An assertion that does not answer this token’s challenge, of a passkey that is not the user’s here, with a ' +
    'wrong origin, RP ID or signature, without user verification, or whose counter did not increase (audited as a ' +
    'possible clone) is 401 `invalid_mfa_code`; an expired, altered or used token, or one of another organization, ' +
    '401 `mfa_challenge_invalid` (sign in again). Limited like POST /api/v1/auth/mfa/verify (per client address and ' +
    'per account; 429 with `Retry-After` beyond). One Redis and two database round trips.',
  middleware: [tenantOnly()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: MfaPasskeyVerifyBodySchema } } } },
  responses: {
    200: { description: 'Signed in.', content: { 'application/json': { schema: LoginSessionSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

export type VerifyMfaWithPasskeyResponse = z.infer<typeof LoginSessionSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { mfaToken, response } = c.req.valid('json');
    const session = await verifyMfaWithPasskey({
      ctx: serviceContext(c),
      input: { mfaToken, response: response as AuthenticationResponseJSON },
    });
    return c.json(responseBody(c, LoginSessionSchema, session), 200);
  });
}
