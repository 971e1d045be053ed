import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { login } from '../../services/auth/sessions.ts';
import { LoginBodySchema, LoginSessionSchema } from './schema.ts';
import { MfaRequiredSchema } from '../mfa/schema.ts';

import { responseBody } from '../response.ts';

const LoginAnswerSchema = z.union([LoginSessionSchema, MfaRequiredSchema]).openapi('LoginAnswer', {
  description: 'A session, or the MFA challenge of an account with a second factor (discriminated by `mfaRequired`).',
});

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/login',
  operationId: 'login',
  tags: ['Authentication'],
  summary: 'Sign in',
  description:
    'Signs in with email and password and returns a new session (a 15-minute access token and a single-use ' +
    'refresh token). Works before the address is verified; `user.emailVerified` reports it.\n\n' +
    'An unknown address, a wrong password, an account without a membership here, an invited member who has not ' +
    'chosen a password yet and a disabled member all get the same 401 `invalid_credentials` problem, in comparable ' +
    'time. Attempts are limited per client address (30 per 15 minutes) and per account (10 failed password checks ' +
    'per 15 minutes, shared with sign-up and invitations; a successful sign-in does not count); beyond that the ' +
    'answer is 429 with `Retry-After`, the right password included, and 503 when the limiter cannot be reached.\n\n' +
    'Where the organization enforces single sign-on for the address’s email domain (POST /api/v1/sso/discover ' +
    'tells), every attempt for that domain but an owner’s right password answers 403 `sso_required` with the ' +
    '`connectionId` to sign in with.\n\n' +
    '**On the platform host** only platform administrators can sign in. Their access token carries the tenant ' +
    '`platform`, the role `platform_admin` and no permissions, and the response has **no `refreshToken`**: ' +
    'platform sessions are not stored and end with the access token. Their sign-ins, and failed attempts on their ' +
    'accounts, are recorded in the platform audit log (no organization).\n\n' +
    '**With a second factor** (TOTP enabled here, or the organization requires MFA of this role) the right password ' +
    'answers 200 `{ mfaRequired: true, mfaToken, expiresIn, methods, enrollmentRequired }` instead of a session: ' +
    'complete it with POST /api/v1/auth/mfa/verify (or enrol first when `enrollmentRequired`).',
  request: { body: { required: true, content: { 'application/json': { schema: LoginBodySchema } } } },
  responses: {
    200: {
      description: 'Signed in, or (`mfaRequired: true`) a second factor is due: POST /api/v1/auth/mfa/verify.',
      content: { 'application/json': { schema: LoginAnswerSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

export type LoginResponse = z.infer<typeof LoginSessionSchema>;
export type LoginAnswer = z.infer<typeof LoginAnswerSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const session = await login({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, LoginAnswerSchema, session), 200);
  });
}
