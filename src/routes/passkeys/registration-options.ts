import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { MAX_PASSKEYS_PER_USER, passkeyRegistrationOptions } from '../../services/auth/passkeys.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { passkeyChange } from './access.ts';
import { RegistrationOptionsSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/passkeys/registration-options',
  operationId: 'passkeyRegistrationOptions',
  tags: ['Passkeys'],
  summary: 'Start registering a passkey',
  description:
    'The options for `navigator.credentials.create()`: the relying party is this organization’s host (RP ID = the ' +
    'host, the expected origin its https origin), a discoverable credential with user verification, `none` ' +
    'attestation, and the user’s passkeys here excluded. The challenge is single use, valid 5 minutes and bound to ' +
    `this user and organization; finish with POST /api/v1/auth/passkeys. At most ${MAX_PASSKEYS_PER_USER} passkeys ` +
    `per user and organization (409 beyond).` +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: passkeyChange(),
  responses: {
    200: {
      description: 'Options for the browser.',
      content: { 'application/json': { schema: RegistrationOptionsSchema } },
    },
    ...errorResponses(401, 404, 409, 503),
  },
});

export type RegistrationOptionsResponse = z.infer<typeof RegistrationOptionsSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const options = await passkeyRegistrationOptions({ ctx: serviceContext(c) });
    return c.json(responseBody(c, RegistrationOptionsSchema, options), 200);
  });
}
