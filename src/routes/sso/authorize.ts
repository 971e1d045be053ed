import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { startSsoSignIn } from '../../services/sso/sign-in.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { SsoAuthorizationSchema, SsoAuthorizeBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/sso/authorize',
  operationId: 'startSsoSignIn',
  tags: ['Single sign-on'],
  summary: 'Start signing in through an SSO connection',
  description:
    "Answers the identity provider's authorization URL for an enabled OIDC connection of this organization: send " +
    'the browser there. The IdP sends it back to GET /api/v1/sso/callback, which sends it on to `redirectUri` with ' +
    'a one-time `code` (or `error`) and your `state`; exchange the code with POST /api/v1/sso/token. The sign-in ' +
    'must finish within 10 minutes. Register `<this organization’s origin>/api/v1/sso/callback` as the redirect URI ' +
    'at the IdP. No authentication; counts against the client address’s sign-in limit shared with ' +
    'POST /api/v1/auth/login (30 per 15 minutes). 404 for a connection that is not an enabled OIDC connection of this ' +
    'organization; 503 when the IdP’s discovery document cannot be read. Needs the plan feature `sso`.',
  middleware: [tenantOnly(), requireFeature('sso')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: SsoAuthorizeBodySchema } } } },
  responses: {
    200: {
      description: 'Where to send the browser.',
      content: { 'application/json': { schema: SsoAuthorizationSchema } },
    },
    ...errorResponses(400, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const started = await startSsoSignIn({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, SsoAuthorizationSchema, started), 200);
  });
}
