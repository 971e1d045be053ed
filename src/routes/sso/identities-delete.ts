import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireRecentAuth, requireSession } from '../../middleware/auth.ts';
import { unlinkIdentity } from '../../services/sso/identities.ts';
import { tenantOnly } from '../organizations/host.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { LinkedIdentityIdParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/sso/identities/{id}',
  operationId: 'unlinkIdentity',
  tags: ['Single sign-on'],
  summary: 'Unlink one of my identities',
  description:
    'Removes the link between the caller’s account and an identity at an IdP: the next sign-in through that ' +
    'connection finds the account only by an email the IdP asserts as verified, or provisions a new one. Sessions ' +
    'already open stay. Someone else’s identity answers 404 like a missing one. Writes an `auth.identity_unlinked` ' +
    'audit row in the same statement.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession(), requireRecentAuth()] as const,
  request: { params: LinkedIdentityIdParamsSchema },
  responses: {
    204: { description: 'Unlinked.' },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await unlinkIdentity({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
