import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { reauthenticateWithPasskey } from '../../services/auth/passkeys.ts';
import { ReauthenticatedSchema } from '../mfa/schema.ts';
import { responseBody } from '../response.ts';
import { ownPasskeys } from './access.ts';
import { PasskeyAssertionBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/reauthenticate/passkey',
  operationId: 'reauthenticateWithPasskey',
  tags: ['Passkeys'],
  summary: 'Re-authenticate with a passkey (step-up)',
  description:
    'The passkey variant of POST /api/v1/auth/reauthenticate: a passkey assertion alone (user verification ' +
    'required, so it is two factors) answering the options of POST /api/v1/auth/reauthenticate/passkey-options. ' +
    'Sets the session\'s `auth_time` to now and its `amr` to `["hwk","user","mfa"]` (its refresh tokens keep ' +
    'them) and answers a new access token of the same session. A wrong, used or other session’s challenge, another ' +
    'user’s passkey, a wrong origin, RP ID or signature, a missing user verification or a counter that did not ' +
    'increase is 401 `invalid_credentials`. Limited per client address with sign-in (429 with `Retry-After`).',
  security: [{ bearerAuth: [] }],
  middleware: ownPasskeys(),
  request: { body: { required: true, content: { 'application/json': { schema: PasskeyAssertionBodySchema } } } },
  responses: {
    200: { description: 'Proved again.', content: { 'application/json': { schema: ReauthenticatedSchema } } },
    ...errorResponses(400, 401, 404, 413, 415, 429, 503),
  },
});

export type ReauthenticateWithPasskeyResponse = z.infer<typeof ReauthenticatedSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const answer = await reauthenticateWithPasskey({
      ctx: serviceContext(c),
      input: { response: c.req.valid('json').response as AuthenticationResponseJSON },
    });
    return c.json(responseBody(c, ReauthenticatedSchema, answer), 200);
  });
}
