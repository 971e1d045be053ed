import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { signInWithPasskey } from '../../services/auth/passkeys.ts';
import { SessionSchema } from '../auth/schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { PasskeyAssertionBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/passkeys/sign-in',
  operationId: 'signInWithPasskey',
  tags: ['Passkeys'],
  summary: 'Sign in with a passkey',
  description:
    'Finishes a passwordless sign-in: `response` is what `navigator.credentials.get()` answered to the options of ' +
    'POST /api/v1/auth/passkeys/sign-in-options. On success the answer is a new session like a password sign-in’s; ' +
    'its access token’s `amr` is `["hwk", "user", "mfa"]` (a passkey with user verification is two factors, so ' +
    'no second step follows).\n\n' +
    'An unknown passkey, one of another organization (a passkey signs in only on the host it was registered on), ' +
    'a wrong, used or expired challenge, a wrong origin or RP ID, a bad signature, a missing user verification, ' +
    'a disabled member and a signature counter that did not increase (a cloned authenticator: also audited as ' +
    '`auth.passkey_counter_regressed`) all answer the same 401 `invalid_credentials`. Client data that is not ' +
    'base64url JSON is a 400 `invalid_passkey`. Counts against the client address’s sign-in limit, shared with ' +
    'POST /api/v1/auth/login (429 with `Retry-After` beyond); the challenge is spent whatever the outcome. Where ' +
    'the organization enforces single sign-on for the account’s email domain, only an owner signs in with a ' +
    'passkey; anyone else gets 403 `sso_required` with the `connectionId`.',
  middleware: [tenantOnly()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: PasskeyAssertionBodySchema } } } },
  responses: {
    200: { description: 'Signed in.', content: { 'application/json': { schema: SessionSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

export type PasskeySignInResponse = z.infer<typeof SessionSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { response } = c.req.valid('json');
    const session = await signInWithPasskey({
      ctx: serviceContext(c),
      input: { response: response as AuthenticationResponseJSON },
    });
    return c.json(responseBody(c, SessionSchema, session), 200);
  });
}
