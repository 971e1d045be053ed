import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { renamePasskey } from '../../services/auth/passkeys.ts';
import { responseBody } from '../response.ts';
import { ownPasskeys } from './access.ts';
import { PasskeyIdParamsSchema, PasskeySchema, RenamePasskeyBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'put',
  path: '/api/v1/auth/passkeys/{id}',
  operationId: 'renamePasskey',
  tags: ['Passkeys'],
  summary: 'Rename a passkey',
  description:
    'Sets the name of one of your passkeys here (the only field a passkey has to change). Another user’s passkey, ' +
    'or another organization’s, is a 404.',
  security: [{ bearerAuth: [] }],
  middleware: ownPasskeys(),
  request: {
    params: PasskeyIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: RenamePasskeyBodySchema } } },
  },
  responses: {
    200: { description: 'The renamed passkey.', content: { 'application/json': { schema: PasskeySchema } } },
    ...errorResponses(400, 401, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const passkey = await renamePasskey({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, name: c.req.valid('json').name },
    });
    return c.json(responseBody(c, PasskeySchema, passkey), 200);
  });
}
