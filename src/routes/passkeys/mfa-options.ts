import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { mfaPasskeyOptions } from '../../services/auth/passkeys.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { AuthenticationOptionsSchema, MfaPasskeyOptionsBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/webauthn/options',
  operationId: 'mfaPasskeyOptions',
  tags: ['Passkeys'],
  summary: 'Start the second step of a sign-in with a passkey',
  description:
    'For a sign-in answered with `mfaRequired` whose `methods` include `webauthn`: the options for ' +
    '`navigator.credentials.get()`, bound to the `mfaToken` (its challenge is the MFA challenge’s own, so nothing ' +
    'more is stored and it is spent with the MFA challenge), listing the user’s passkeys here in ' +
    '`allowCredentials`, user verification required. Finish with POST /api/v1/auth/mfa/webauthn/verify. An ' +
    'expired, altered or used token, or one of another organization, is 401 `mfa_challenge_invalid`; an account ' +
    'without a passkey here, 400. Counts against the client address’s sign-in limit (429 with `Retry-After`).',
  middleware: [tenantOnly()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: MfaPasskeyOptionsBodySchema } } } },
  responses: {
    200: {
      description: 'Options for the browser.',
      content: { 'application/json': { schema: AuthenticationOptionsSchema } },
    },
    ...errorResponses(400, 401, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const options = await mfaPasskeyOptions({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, AuthenticationOptionsSchema, options), 200);
  });
}
