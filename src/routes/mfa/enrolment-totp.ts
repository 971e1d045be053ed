import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { enrolTotpForSignIn } from '../../services/auth/mfa.ts';
import { EnrolmentBodySchema, TotpEnrolmentSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/enrollment/totp',
  operationId: 'enrolTotpForSignIn',
  tags: ['Authentication'],
  summary: 'Enrol TOTP to complete a sign-in (required MFA)',
  description:
    'For a sign-in answered with `enrollmentRequired: true` (the organization requires MFA of this role): starts a ' +
    'TOTP enrolment with the `mfaToken` instead of a session. 403 for a token that is not an enrolment token, 401 ' +
    '`mfa_challenge_invalid` for an expired or foreign one. No Redis round trip, one database round trip.',
  middleware: [tenantOnly()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: EnrolmentBodySchema } } } },
  responses: {
    201: { description: 'Pending enrolment.', content: { 'application/json': { schema: TotpEnrolmentSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const enrolment = await enrolTotpForSignIn({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, TotpEnrolmentSchema, enrolment), 201);
  });
}
