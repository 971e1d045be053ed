import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { exchangeSsoCode } from '../../services/sso/sign-in.ts';
import { SessionSchema } from '../auth/schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { SsoTokenBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/sso/token',
  operationId: 'exchangeSsoCode',
  tags: ['Single sign-on'],
  summary: 'Exchange the SSO one-time code for a session',
  description:
    'The `code` from the redirect to your `redirectUri` for the session: an access token (`amr` `["fed"]`) and a ' +
    'refresh token, as POST /api/v1/auth/login answers. The code is single use and valid 60 seconds; send ' +
    '`codeVerifier` when the sign-in was started with a `codeChallenge` (and only then). 400 for anything else. ' +
    'Counts against the client address’s sign-in limit (30 per 15 minutes).',
  middleware: [tenantOnly()] as const,
  request: { body: { required: true, content: { 'application/json': { schema: SsoTokenBodySchema } } } },
  responses: {
    200: { description: 'Signed in.', content: { 'application/json': { schema: SessionSchema } } },
    ...errorResponses(400, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const session = await exchangeSsoCode({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, SessionSchema, session), 200);
  });
}
