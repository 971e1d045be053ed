import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { listLinkedIdentities } from '../../services/sso/identities.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { LinkedIdentityListSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/sso/identities',
  operationId: 'listLinkedIdentities',
  tags: ['Single sign-on'],
  summary: 'List my linked identities',
  description:
    "The caller's identities at this organization's identity providers (one per SSO connection they signed in " +
    'through), oldest first: the connection, the IdP subject, the email it last sent and the last sign-in. Any ' +
    'signed-in member, for their own account.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession()] as const,
  responses: {
    200: {
      description: 'The identities.',
      content: { 'application/json': { schema: LinkedIdentityListSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const items = await listLinkedIdentities({ ctx: serviceContext(c) });
    return c.json(responseBody(c, LinkedIdentityListSchema, { items }), 200);
  });
}
