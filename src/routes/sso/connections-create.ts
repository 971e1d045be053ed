import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { location } from '../../middleware/location.ts';
import { createSsoConnection } from '../../services/sso/connections.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { ssoWriteAccess } from './access.ts';
import { SsoConnectionCreateSchema, SsoConnectionSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/sso/connections',
  operationId: 'createSsoConnection',
  tags: ['Single sign-on'],
  summary: 'Create an SSO connection',
  description:
    'Adds an OpenID Connect connection to any compliant IdP (Okta, Entra ID, Google Workspace, Keycloak...): its ' +
    'issuer (https), client id and secret (stored encrypted, never shown again), scopes, claim names, the role ' +
    'new members get (`jit`) and the group -> role mapping. Register `https://<your host>/api/v1/sso/callback` as ' +
    'the redirect URI at the IdP; members sign in through POST /api/v1/sso/authorize. 400: unknown default role or ' +
    'the organization holds the maximum of ' +
    'connections. Needs `sso:manage` and the plan feature `sso`. Writes an `sso_connection.created` audit row.' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [...ssoWriteAccess(), location('/api/v1/sso/connections/{id}')],
  request: {
    body: { required: true, content: { 'application/json': { schema: SsoConnectionCreateSchema } } },
  },
  responses: {
    201: {
      description: 'The new connection (without its secret).',
      content: { 'application/json': { schema: SsoConnectionSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const connection = await createSsoConnection({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, SsoConnectionSchema, connection), 201);
  });
}
