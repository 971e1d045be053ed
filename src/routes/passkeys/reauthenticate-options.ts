import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { reauthenticationPasskeyOptions } from '../../services/auth/passkeys.ts';
import { responseBody } from '../response.ts';
import { ownPasskeys } from './access.ts';
import { AuthenticationOptionsSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/reauthenticate/passkey-options',
  operationId: 'reauthenticationPasskeyOptions',
  tags: ['Passkeys'],
  summary: 'Start re-authenticating with a passkey',
  description:
    'Step-up with a passkey instead of the password: the options for `navigator.credentials.get()` listing your ' +
    'passkeys here, user verification required, the challenge single use, valid 5 minutes and bound to this ' +
    'session. Finish with POST /api/v1/auth/reauthenticate/passkey. 400 when you have no passkey here.',
  security: [{ bearerAuth: [] }],
  middleware: ownPasskeys(),
  responses: {
    200: {
      description: 'Options for the browser.',
      content: { 'application/json': { schema: AuthenticationOptionsSchema } },
    },
    ...errorResponses(400, 401, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const options = await reauthenticationPasskeyOptions({ ctx: serviceContext(c) });
    return c.json(responseBody(c, AuthenticationOptionsSchema, options), 200);
  });
}
