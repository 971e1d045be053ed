import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { confirmTotpForSignIn } from '../../services/auth/mfa.ts';
import { EnrolledSessionSchema, EnrolmentConfirmBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/mfa/enrollment/totp/confirm',
  operationId: 'confirmTotpForSignIn',
  tags: ['Authentication'],
  summary: 'Confirm the enrolled TOTP and complete the sign-in',
  description:
    'Confirms the TOTP enrolled with the `mfaToken` by its first code and completes the sign-in: the session ' +
    '(`amr` `["pwd","otp","mfa"]`) and the 10 recovery codes, shown once. Limits and errors as ' +
    'POST /api/v1/auth/mfa/verify.',
  middleware: [tenantOnly()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: EnrolmentConfirmBodySchema } } } },
  responses: {
    200: { description: 'Signed in.', content: { 'application/json': { schema: EnrolledSessionSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
  },
});

export type ConfirmTotpForSignInResponse = z.infer<typeof EnrolledSessionSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const signedIn = await confirmTotpForSignIn({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, EnrolledSessionSchema, signedIn), 200);
  });
}
