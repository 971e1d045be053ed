import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { refresh, REFRESH_REUSE_LEEWAY_SECONDS } from '../../services/auth/sessions.ts';
import { REFRESH_TOKEN_TTL_SECONDS, SESSION_LIFETIME_SECONDS } from '../../services/auth/tokens.ts';
import { RefreshBodySchema, SessionSchema } from './schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/auth/refresh-token',
  operationId: 'refreshToken',
  tags: ['Authentication'],
  summary: 'Refresh a session',
  description:
    'Exchanges a refresh token for a new access token and a new refresh token; the presented one is spent. The ' +
    'new access token reflects the current role, permissions and verification state, and a disabled member cannot ' +
    'refresh.\n\n' +
    `**Lifetime.** A refresh token expires after ${REFRESH_TOKEN_TTL_SECONDS / 86_400} days unused (idle ` +
    "timeout); each rotation starts that again, but never beyond the session's absolute end " +
    `${SESSION_LIFETIME_SECONDS / 86_400} days after sign-in, which no rotation extends. After it, refresh ` +
    'answers 401 and the user signs in again.\n\n' +
    `Rotation follows Auth0's model: presenting a spent token within ${REFRESH_REUSE_LEEWAY_SECONDS} seconds of ` +
    'its first use (concurrent refreshes) also succeeds; presenting it later is treated as theft: the whole ' +
    "session family is revoked and every access token of that session ends (the user's other sessions go on). " +
    'Unknown, expired, revoked and replayed tokens all answer the same 401.',
  request: { body: { required: true, content: { 'application/json': { schema: RefreshBodySchema } } } },
  middleware: [tenantOnly()] as const,
  responses: {
    200: { description: 'A new session pair.', content: { 'application/json': { schema: SessionSchema } } },
    ...errorResponses(400, 401, 404, 413, 415, 503),
  },
});

export type RefreshResponse = z.infer<typeof SessionSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const session = await refresh({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, SessionSchema, session), 200);
  });
}
