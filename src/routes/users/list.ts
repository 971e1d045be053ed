import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listMembers } from '../../services/users/list.ts';
import { MemberListQuerySchema, MemberListSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/users',
  operationId: 'listMembers',
  tags: ['Users'],
  summary: 'List members',
  description:
    "The organization's members, oldest membership first, with cursor pagination: pass `nextCursor` as `cursor` " +
    'for the next page. Filters: `q` (case-insensitive prefix of the email or of the name shown), `role` (role ' +
    'key), `status`. `name` is the name this organization uses for the member (else the account’s own); invited ' +
    'members show `emailVerified: false` and `lastLoginAt: null` until they accept. ' +
    'Only these parameters exist; any other answers 400, as do a malformed cursor and a `limit` outside 1..100 ' +
    '(never clamped). Needs `users:read`. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('users:read')] as const,
  request: { query: MemberListQuerySchema },
  responses: {
    200: {
      description: 'A page of members.',
      content: {
        'application/json': {
          schema: MemberListSchema,
          example: {
            data: [
              {
                id: '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b',
                email: 'ada@acme.com',
                name: 'Ada Lovelace',
                role: { key: 'owner', name: 'Owner' },
                status: 'active',
                emailVerified: true,
                lastLoginAt: '2026-03-01T09:30:00.000Z',
                createdAt: '2026-01-15T12:00:00.000Z',
              },
            ],
            nextCursor: null,
          },
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const page = await listMembers({ ctx: serviceContext(c), input: c.req.valid('query') });
    return c.json(responseBody(c, MemberListSchema, page), 200);
  });
}
