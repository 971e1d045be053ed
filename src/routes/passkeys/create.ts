import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { registerPasskey } from '../../services/auth/passkeys.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { passkeyChange } from './access.ts';
import { PasskeySchema, RegisterPasskeyBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/passkeys',
  operationId: 'registerPasskey',
  tags: ['Passkeys'],
  summary: 'Register a passkey',
  description:
    'Finishes a registration: `response` is what `navigator.credentials.create()` answered (its JSON form), `name` ' +
    'the user’s label. The challenge must be one POST /api/v1/auth/passkeys/registration-options gave this user ' +
    'here (single use: any second attempt needs new options), the origin this host’s, the RP ID this host, and ' +
    'the user verified (biometrics or PIN). A response that fails any check, or is not well-formed base64url and ' +
    'CBOR, is a 400 `invalid_passkey` that says why; a credential registered here already is a 409. A "passkey ' +
    `added" email goes to the user, and an \`auth.passkey_added\` audit row is written.` +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: passkeyChange(),
  request: { body: { required: true, content: { 'application/json': { schema: RegisterPasskeyBodySchema } } } },
  responses: {
    201: { description: 'The passkey is registered.', content: { 'application/json': { schema: PasskeySchema } } },
    ...errorResponses(400, 401, 404, 409, 413, 415, 503),
  },
});

export type PasskeyResponse = z.infer<typeof PasskeySchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { name, response } = c.req.valid('json');
    const passkey = await registerPasskey({
      ctx: serviceContext(c),
      input: { name, response: response as RegistrationResponseJSON },
    });
    return c.json(responseBody(c, PasskeySchema, passkey), 201);
  });
}
