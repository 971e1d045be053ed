import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { requireAuth, requireRecentAuth, requireSession } from '../../middleware/auth.ts';
import { enrolTotp } from '../../services/auth/mfa.ts';
import { TotpEnrolmentSchema } from './schema.ts';
import { STEP_UP_NOTE } from '../step-up.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/totp',
  operationId: 'enrolTotp',
  tags: ['Authentication'],
  summary: 'Enrol an authenticator app (TOTP)',
  description:
    'Starts a TOTP enrolment: a new secret, shown once as an `otpauth://` URI (for a QR code) and in base32. It ' +
    'counts only once POST /api/v1/auth/mfa/totp/confirm receives a first valid code; enrolling again before that ' +
    'replaces the pending secret. 409 when TOTP is already enabled. The secret is stored encrypted.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession(), requireRecentAuth()] as const,
  responses: {
    201: { description: 'Pending enrolment.', content: { 'application/json': { schema: TotpEnrolmentSchema } } },
    ...errorResponses(401, 404, 409, 503),
  },
});

export type EnrolTotpResponse = z.infer<typeof TotpEnrolmentSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) =>
    c.json(responseBody(c, TotpEnrolmentSchema, await enrolTotp({ ctx: serviceContext(c) })), 201),
  );
}
