import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { me } from '../../services/auth/sessions.ts';
import { MeSchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/auth/me',
  operationId: 'getCurrentUser',
  tags: ['Authentication'],
  summary: 'The signed-in user',
  description:
    'The signed-in user, the role of their membership in this organization and its current permissions (none while ' +
    'the email address is not verified, unless the role is owner). Costs one ' +
    'database round trip and one Redis round trip (the revocation check). A member disabled or removed since the ' +
    'token was issued gets a 401. Served on organization hosts only (404 on the platform host).',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession({ impersonation: 'allowed' })] as const,
  responses: {
    200: { description: 'The user and their membership.', content: { 'application/json': { schema: MeSchema } } },
    ...errorResponses(401, 404, 503),
  },
});

export type MeResponse = z.infer<typeof MeSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => c.json(responseBody(c, MeSchema, await me({ ctx: serviceContext(c) })), 200));
}
