import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePlatformAdmin, requireRecentAuth } from '../../middleware/auth.ts';
import { revokePlatformUserSessions } from '../../services/platform/users.ts';
import { platformOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { STEP_UP_NOTE } from '../step-up.ts';
import { PlatformUserIdParamsSchema, RevokedSessionsSchema, RevokeSessionsBodySchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/platform/users/{id}/revoke-sessions',
  operationId: 'revokePlatformUserSessions',
  tags: ['Platform'],
  summary: 'End every session of an account',
  description:
    'Ends every session of the account everywhere, for support (a lost device, a compromised account): every ' +
    'refresh token in every organization and on the platform host is revoked, and every access token ends at once. ' +
    'The password stays (send a reset if it must change). `reason` is kept in the platform audit log ' +
    '(`platform.user_sessions_revoked`). 404 for an unknown account. Platform host and platform administrators only. ' +
    'One database and one Redis round trip beside the authentication’s, plus one database round trip per dedicated ' +
    'database (organizations moved to one keep their sessions there; side by side).' +
    STEP_UP_NOTE,
  security: [{ bearerAuth: [] }],
  middleware: [platformOnly(), requirePlatformAdmin(), requireRecentAuth()] as const,
  request: {
    params: PlatformUserIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: RevokeSessionsBodySchema } } },
  },
  responses: {
    200: { description: 'The sessions ended.', content: { 'application/json': { schema: RevokedSessionsSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const revoked = await revokePlatformUserSessions({
      ctx: serviceContext(c),
      input: { id: c.req.valid('param').id, reason: c.req.valid('json').reason },
    });
    return c.json(responseBody(c, RevokedSessionsSchema, revoked), 200);
  });
}
