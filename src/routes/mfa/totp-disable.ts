import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { requireAuth, requireRecentAuth, requireSession } from '../../middleware/auth.ts';
import { disableTotp } from '../../services/auth/mfa.ts';
import { FactorBodySchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/totp/disable',
  operationId: 'disableTotp',
  tags: ['Authentication'],
  summary: 'Turn the authenticator app off',
  description:
    'Removes TOTP and every recovery code, proven by a current factor (a valid TOTP code or an unused recovery ' +
    'code); audited and emailed. 401 `invalid_mfa_code` for a wrong or reused code (limited like the sign-in ' +
    'second step), 409 when TOTP is not enabled.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession(), requireRecentAuth()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: FactorBodySchema } } } },
  responses: {
    204: { description: 'Turned off.' },
    ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    await disableTotp({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.body(null, 204);
  });
}
