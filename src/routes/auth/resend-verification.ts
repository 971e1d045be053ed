import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { resendVerification } from '../../services/auth/account.ts';
import { AcceptedSchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/resend-verification',
  operationId: 'resendVerification',
  tags: ['Authentication'],
  summary: 'Send a new verification link',
  description:
    "Sends a new verification link (valid 24 hours) to the signed-in user's address. 409 when the address is " +
    'verified already; at most 3 per user per hour (429 with `Retry-After`).',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession()] as const,
  responses: {
    202: { description: 'A link is on its way.', content: { 'application/json': { schema: AcceptedSchema } } },
    ...errorResponses(401, 404, 409, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await resendVerification({ ctx: serviceContext(c) });
    return c.json(
      responseBody(c, AcceptedSchema, { status: 'accepted', message: 'A new verification link is on its way.' }),
      202,
    );
  });
}
