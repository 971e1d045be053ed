import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { requireAuth, requireRecentAuth, requireSession } from '../../middleware/auth.ts';
import { confirmTotp } from '../../services/auth/mfa.ts';
import { RecoveryCodesSchema, TotpCodeBodySchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/totp/confirm',
  operationId: 'confirmTotp',
  tags: ['Authentication'],
  summary: 'Confirm the authenticator app',
  description:
    'Confirms the pending TOTP with a first valid code, turning two-step verification on (audited, emailed), and ' +
    'answers 10 recovery codes, shown once. A wrong code is 401 `invalid_mfa_code` and confirms nothing; 409 ' +
    'without a pending enrolment.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession(), requireRecentAuth()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: TotpCodeBodySchema } } } },
  responses: {
    200: { description: 'Enabled.', content: { 'application/json': { schema: RecoveryCodesSchema } } },
    ...errorResponses(400, 401, 404, 409, 413, 415, 503),
  },
});

export type ConfirmTotpResponse = z.infer<typeof RecoveryCodesSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const codes = await confirmTotp({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, RecoveryCodesSchema, codes), 200);
  });
}
