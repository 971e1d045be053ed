import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { passkeySignInOptions } from '../../services/auth/passkeys.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { AuthenticationOptionsSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/passkeys/sign-in-options',
  operationId: 'passkeySignInOptions',
  tags: ['Passkeys'],
  summary: 'Start signing in with a passkey',
  description:
    'The options for `navigator.credentials.get()` for a passwordless sign-in on this host: no `allowCredentials` ' +
    '(the browser offers the passkeys it holds for this RP ID, i.e. discoverable credentials) and user ' +
    'verification required. The challenge is single use and valid 5 minutes; finish with ' +
    'POST /api/v1/auth/passkeys/sign-in. Counts against the client address’s sign-in limit, shared with ' +
    'POST /api/v1/auth/login (30 per 15 minutes; 429 with `Retry-After` beyond, 503 when the limiter is down).',
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'Options for the browser.',
      content: { 'application/json': { schema: AuthenticationOptionsSchema } },
    },
    ...errorResponses(404, 429, 503),
  },
});

export type AuthenticationOptionsResponse = z.infer<typeof AuthenticationOptionsSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const options = await passkeySignInOptions({ ctx: serviceContext(c) });
    return c.json(responseBody(c, AuthenticationOptionsSchema, options), 200);
  });
}
