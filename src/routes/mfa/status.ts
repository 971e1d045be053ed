import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { mfaStatus } from '../../services/auth/mfa.ts';
import { MfaStatusSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/auth/mfa',
  operationId: 'getMfaStatus',
  tags: ['Authentication'],
  summary: 'Your second factors',
  description:
    'Which second factors the signed-in member has in this organization (factors are per organization), how many ' +
    'recovery codes are left, and whether the organization requires MFA. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession()] as const,
  responses: {
    200: { description: 'The factors.', content: { 'application/json': { schema: MfaStatusSchema } } },
    ...errorResponses(401, 404, 503),
  },
});

export type MfaStatusResponse = z.infer<typeof MfaStatusSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(responseBody(c, MfaStatusSchema, await mfaStatus({ ctx: serviceContext(c) })), 200),
  );
}
