import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { removePasskey } from '../../services/auth/passkeys.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { passkeyChange } from './access.ts';
import { PasskeyIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/auth/passkeys/{id}',
  operationId: 'deletePasskey',
  tags: ['Passkeys'],
  summary: 'Remove a passkey',
  description:
    'Removes one of your passkeys here: it cannot sign in or step up any more (sessions it started go on; sign ' +
    'out everywhere with POST /api/v1/auth/logout?all=true if the device is lost). Another user’s passkey, or ' +
    `another organization’s, is a 404 and nothing changes. Writes an \`auth.passkey_removed\` audit row.` +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: passkeyChange(),
  request: { params: PasskeyIdParamsSchema },
  responses: {
    204: { description: 'The passkey is removed.' },
    ...errorResponses(400, 401, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await removePasskey({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
