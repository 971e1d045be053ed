import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { bounceSsoCallback, completeSsoSignIn } from '../../services/sso/sign-in.ts';
import { byHost } from '../organizations/host.ts';
import { SsoCallbackQuerySchema, SsoRedirectResponse } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/sso/callback',
  operationId: 'ssoCallback',
  tags: ['Single sign-on'],
  summary: 'The identity provider’s redirect back (browser only)',
  description:
    'Where the IdP sends the browser after the user signed in there; not called by apps. Takes the sign-in started by ' +
    'POST /api/v1/sso/authorize (single use), exchanges the code, validates the ID token (issuer, audience, expiry, ' +
    'nonce, signature from the IdP’s JWKS), then signs the user in: the account linked to the IdP subject, else the ' +
    'account of the email the IdP asserts as verified (linked now; an unverified email never links), else a new ' +
    'one when the connection provisions just in time; the membership is created (JIT) or its role re-mapped from the ' +
    'IdP groups. Answers 303 to the app’s `redirectUri` with `code` and `state`, or with `error` ' +
    '(`access_denied`, `server_error`, `temporarily_unavailable`) and `error_description`. An unknown, expired or ' +
    'used `state` is a 400 problem. Audited as `auth.sso_login`. On the platform host it is the redirect URI of the ' +
    'platform’s social login clients (Google, Microsoft, LinkedIn) for every organization: it answers 303 to the ' +
    'callback of the organization the sign-in started on, with the same parameters.',
  middleware: [byHost({ platform: (_c, next) => next(), tenant: requireFeature('sso') })] as const,
  request: { query: SsoCallbackQuerySchema },
  responses: {
    303: SsoRedirectResponse,
    ...errorResponses(400, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const callbackUrl = new URL(c.req.url);
    const location =
      ctx.tenant === null
        ? await bounceSsoCallback({ ctx, callbackUrl })
        : await completeSsoSignIn({ ctx, callbackUrl });
    c.header('cache-control', 'no-store');
    c.header('referrer-policy', 'no-referrer');
    return c.redirect(location, 303);
  });
}
