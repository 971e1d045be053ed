import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireAuth, requireSession } from '../../middleware/auth.ts';
import { listSessions, revokeOwnSession } from '../../services/auth/self-service.ts';
import { tenantOnly } from '../organizations/host.ts';
import { responseBody } from '../response.ts';
import { OwnSessionListSchema, SessionIdParamsSchema } from './schema.ts';

export const listRoute = createRoute({
  method: 'get',
  path: '/api/v1/auth/sessions',
  operationId: 'listOwnSessions',
  tags: ['Authentication'],
  summary: 'List your sessions',
  description:
    'The signed-in user’s live sessions in this organization (one per sign-in, kept through refreshes), the most ' +
    'recently used first: a device label and the raw user agent, the address, when it signed in and was last used ' +
    '(sign-in or refresh), when it ends, and which one is calling. Never a token. A person’s own: API keys are ' +
    'refused (403). One database round trip and one Redis round trip (the authentication), side by side. ' +
    'Organization hosts only.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession()] as const,
  responses: {
    200: {
      description: 'The sessions.',
      content: {
        'application/json': {
          schema: OwnSessionListSchema,
          example: {
            data: [
              {
                id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
                device: 'Firefox on Windows',
                userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
                ip: '203.0.113.7',
                signedInAt: '2026-11-30T08:12:00.000Z',
                lastUsedAt: '2026-12-02T09:41:00.000Z',
                expiresAt: '2026-12-16T09:41:00.000Z',
                current: true,
              },
            ],
          },
        },
      },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

export const revokeRoute = createRoute({
  method: 'delete',
  path: '/api/v1/auth/sessions/{id}',
  operationId: 'revokeOwnSession',
  tags: ['Authentication'],
  summary: 'End one of your sessions',
  description:
    'Ends one of the signed-in user’s sessions in this organization at once: its refresh token is revoked and every ' +
    'access token of the session is refused from now on. Ending the calling session signs it out. A session that ' +
    'is not yours, is unknown or has ended answers 404 and nothing changes. Writes an `auth.session_revoked` audit ' +
    'row. A person’s own: API keys are refused (403). One database round trip, then one Redis round trip (beside ' +
    'the authentication’s). Organization hosts only.',
  security: [{ bearerAuth: [] }],
  middleware: [tenantOnly(), requireAuth(), requireSession()] as const,
  request: { params: SessionIdParamsSchema },
  responses: {
    204: { description: 'The session has ended.' },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export type OwnSessionListResponse = z.infer<typeof OwnSessionListSchema>;

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listRoute, async (c) => {
    const sessions = await listSessions({ ctx: serviceContext(c) });
    c.header('cache-control', 'no-store');
    return c.json(responseBody(c, OwnSessionListSchema, { data: sessions }), 200);
  });
  app.openapi(revokeRoute, async (c) => {
    await revokeOwnSession({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.body(null, 204);
  });
}
