import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { snapshotId } from '../../services/realtime/messages.ts';
import { openStaffStream } from '../../services/realtime/snapshots.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { streamFor } from './open.ts';
import { CHECK_INS_EXAMPLE, eventStream, LiveHeadersSchema, STREAM_CONVENTIONS } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/live/check-ins',
  operationId: 'streamCheckIns',
  tags: ['Live'],
  summary: 'Stream the check-in counts of an event',
  description:
    'Live check-in counts for the door: a `check-ins` message at once and after every check-in (and every ' +
    'confirmation, cancellation or refund, which change the total): `{ eventId, at, checkedIn, total }`, `total` ' +
    'being the valid tickets of confirmed bookings. Needs `checkins:write` (as `POST /api/v1/check-ins`); the ' +
    'session is checked at connect time and again at every heartbeat, and the stream ends (`end` with reason ' +
    "`session_ended`) once it is revoked (logout, role change, member removed). Another organization's event or " +
    'an unknown id answers 404. ' +
    STREAM_CONVENTIONS +
    ' Connecting costs one database round trip and one Redis round trip; every heartbeat one Redis round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('checkins:write')] as const,
  request: { params: EventIdParamsSchema, headers: LiveHeadersSchema },
  responses: {
    200: {
      description: 'The stream of check-in counts.',
      content: eventStream('Server-Sent Events: `check-ins` messages, heartbeats, a final `end`.', CHECK_INS_EXAMPLE),
    },
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const { id } = c.req.valid('param');
    const counts = await openStaffStream(ctx.services.db, tenant.id, id, true);
    if (counts === null) throw new Error('check-in counts expected');
    return streamFor(
      c,
      {
        organizationId: tenant.id,
        eventId: id,
        channel: 'check-ins',
        first: { event: 'check-ins', id: snapshotId('c', counts), data: counts },
      },
      'staff',
    );
  });
}
