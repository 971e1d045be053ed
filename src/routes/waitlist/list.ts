import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { listWaitlist } from '../../services/waitlist/staff.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { responseBody } from '../response.ts';
import { MAX_WAITLIST_PAGE_SIZE, WaitlistListQuerySchema, WaitlistPageSchema } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/waitlist',
  operationId: 'listEventWaitlist',
  tags: ['Bookings'],
  summary: "List an event's waitlist",
  description:
    "The event's waitlist entries in queue order (oldest first; each ticket type's queue is served in this order), " +
    'optionally only one `status`, with cursor pagination: pass `nextCursor` as `cursor` for the next page. An ' +
    "unknown event or another organization's answers 404; any other parameter, a malformed cursor or a `limit` " +
    `outside 1..${MAX_WAITLIST_PAGE_SIZE} answers 400. Needs \`bookings:read\`. One database round trip.`,
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:read')] as const,
  request: { params: EventIdParamsSchema, query: WaitlistListQuerySchema },
  responses: {
    200: {
      description: "A page of the event's waitlist.",
      content: { 'application/json': { schema: WaitlistPageSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const query = c.req.valid('query');
    const page = await listWaitlist({
      ctx: serviceContext(c),
      input: { eventId: c.req.valid('param').id, status: query.status, limit: query.limit, cursor: query.cursor },
    });
    return c.json(responseBody(c, WaitlistPageSchema, page), 200);
  });
}
