import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { reauthenticate } from '../../services/auth/mfa.ts';
import { ReauthenticateBodySchema, ReauthenticatedSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/reauthenticate',
  operationId: 'reauthenticate',
  tags: ['Authentication'],
  summary: 'Prove it is you again (step-up)',
  description:
    'For operations that answer 401 `reauthentication_required`: the password, plus `method` and `code` (a TOTP ' +
    "or recovery code) when the account has TOTP here. Sets the session's `auth_time` to now (its refresh tokens " +
    'keep it) and answers a new access token of the same session. Limited like sign-in (per client address and per ' +
    'account); 401 `invalid_credentials` for a wrong password, `invalid_mfa_code` for a missing or wrong code. One ' +
    'Redis and two database round trips.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: ReauthenticateBodySchema } } } },
  responses: {
    200: { description: 'Proved again.', content: { 'application/json': { schema: ReauthenticatedSchema } } },
    ...errorResponses(400, 401, 404, 413, 415, 429, 503),
  },
});

export type ReauthenticateResponse = z.infer<typeof ReauthenticatedSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const answer = await reauthenticate({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, ReauthenticatedSchema, answer), 200);
  });
}
