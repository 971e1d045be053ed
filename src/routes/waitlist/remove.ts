import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { removeWaitlistEntry } from '../../services/waitlist/staff.ts';
import { WaitlistEntryParamsSchema } from './schema.ts';

export const route = createRoute({
  method: 'delete',
  path: '/api/v1/events/{id}/waitlist/{entryId}',
  operationId: 'removeEventWaitlistEntry',
  tags: ['Bookings'],
  summary: 'Remove a waitlist entry',
  description:
    'Takes a waiting entry off the queue: it becomes `left` (kept and listed for the record, never offered), with a ' +
    '`waitlist.removed` audit row. 409 for an entry that is not waiting (offered: cancel the offer’s booking ' +
    'instead, which passes the seats on; claimed, expired, left). 404 for an unknown entry, one of another event or ' +
    "another organization's. Needs `bookings:write`. One database round trip (two when refused).",
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:write')] as const,
  request: { params: WaitlistEntryParamsSchema },
  responses: {
    204: { description: 'The entry left the queue.' },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const params = c.req.valid('param');
    await removeWaitlistEntry({ ctx: serviceContext(c), input: { eventId: params.id, entryId: params.entryId } });
    return c.body(null, 204);
  });
}
