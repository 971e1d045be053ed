import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { requireAuth, requireRecentAuth, requireSession } from '../../middleware/auth.ts';
import { regenerateRecoveryCodes } from '../../services/auth/mfa.ts';
import { RecoveryCodesSchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/recovery-codes',
  operationId: 'regenerateRecoveryCodes',
  tags: ['Authentication'],
  summary: 'New recovery codes',
  description:
    'Replaces the recovery codes with 10 new ones, shown once; the old set stops working at once. Audited. 409 ' +
    'without TOTP.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession(), requireRecentAuth()] as const,
  responses: {
    200: { description: 'The new codes.', content: { 'application/json': { schema: RecoveryCodesSchema } } },
    ...errorResponses(401, 404, 409, 503),
  },
});

export type RegenerateRecoveryCodesResponse = z.infer<typeof RecoveryCodesSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(responseBody(c, RecoveryCodesSchema, await regenerateRecoveryCodes({ ctx: serviceContext(c) })), 200),
  );
}
