import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import { SAML_RESPONSE_MAX_CHARS } from '../../services/sso/saml/config.ts';
import { consumeSamlSignIn } from '../../services/sso/sign-in.ts';
import { tenantOnly } from '../organizations/host.ts';
import { SsoConnectionIdParamsSchema, SsoRedirectResponse } from './schema.ts';

const AcsFormSchema = z
  .object({
    SAMLResponse: z.string().min(1).max(SAML_RESPONSE_MAX_CHARS).openapi({
      description: "The IdP's signed Response, base64 (HTTP-POST binding).",
      example: 'PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FNTDoyLjA6cHJvdG9jb2wi...',
    }),
    RelayState: z.string().max(100).optional().openapi({
      description: 'The RelayState this API sent with the AuthnRequest.',
      example: 'mR3kq7WbN0xJc2sYtV5uZa8dLfHgEiPoQw1rTy6uIo9',
    }),
  })
  .openapi('SamlAcsForm');

export const route = createRoute({
  method: 'post',
  path: '/api/v1/sso/saml/{id}/acs',
  operationId: 'samlAssertionConsumerService',
  tags: ['Single sign-on'],
  summary: 'SAML Assertion Consumer Service (browser only)',
  description:
    "Where the IdP posts the browser's SAMLResponse (HTTP-POST binding) for a sign-in started with " +
    'POST /api/v1/sso/authorize; not called by apps. The response must be signed by one of the connection’s ' +
    'certificates, name this connection as audience and recipient, be within its validity window (60 s skew), ' +
    'answer this sign-in’s AuthnRequest and never have been used before (docs/SAML.md lists every check). Then the ' +
    'same sign-in as an OIDC callback: 303 to the app’s `redirectUri` with `code` and `state`, or with `error` and ' +
    '`error_description` (a refused response is `access_denied` with its refusal code). A used or other connection’s ' +
    'sign-in is a 400 problem. A response without this API’s RelayState is a sign-in started at the IdP: taken only ' +
    'when the connection has `allowIdpInitiated` (it must answer no AuthnRequest; the browser lands on the ' +
    'RelayState when it is an allowed redirect, else on `idpInitiatedRedirectUri`, with `code` and no `state`), a ' +
    '400 problem otherwise.',
  middleware: [tenantOnly(), requireFeature('sso')] as const,
  request: {
    params: SsoConnectionIdParamsSchema,
    body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: AcsFormSchema } } },
  },
  responses: {
    303: SsoRedirectResponse,
    ...errorResponses(400, 403, 404, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const form = c.req.valid('form');
    const location = await consumeSamlSignIn({
      ctx: serviceContext(c),
      input: { connectionId: c.req.valid('param').id, samlResponse: form.SAMLResponse, relayState: form.RelayState },
    });
    c.header('cache-control', 'no-store');
    c.header('referrer-policy', 'no-referrer');
    return c.redirect(location, 303);
  });
}
