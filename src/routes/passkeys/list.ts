import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { listPasskeys } from '../../services/auth/passkeys.ts';
import { responseBody } from '../response.ts';
import { ownPasskeys } from './access.ts';
import { PasskeyListSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/auth/passkeys',
  operationId: 'listPasskeys',
  tags: ['Passkeys'],
  summary: 'List your passkeys',
  description:
    'The signed-in user’s passkeys in this organization (a passkey belongs to one organization: its RP ID is this ' +
    'host), oldest first, with their names, kinds and last use. Public keys and credential ids are not shown.',
  security: [{ bearerAuth: [] }],
  middleware: ownPasskeys(),
  responses: {
    200: { description: 'Your passkeys here.', content: { 'application/json': { schema: PasskeyListSchema } } },
    ...errorResponses(401, 404, 503),
  },
});

export type PasskeyListResponse = z.infer<typeof PasskeyListSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(responseBody(c, PasskeyListSchema, { data: await listPasskeys({ ctx: serviceContext(c) }) }), 200),
  );
}
