import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { snapshotId } from '../../services/realtime/messages.ts';
import { openCheckIns } from '../../services/realtime/snapshots.ts';
import { streamFor } from './open.ts';
import { CHECK_INS_EXAMPLE, staffStreamRoute } from './schema.ts';

export const route = staffStreamRoute({
  kind: 'check-ins',
  operationId: 'streamCheckIns',
  summary: 'Stream the check-in counts of an event',
  description:
    'Live check-in counts for the door: a `check-ins` message at once and after every check-in (and every ' +
    'confirmation, cancellation or refund, which change the total): `{ eventId, at, checkedIn, total }`, `total` ' +
    'being the valid tickets of confirmed bookings; `at` is the time of the read (ms). The permission is the one ' +
    '`POST /api/v1/check-ins` needs.',
  permission: 'checkins:write',
  example: CHECK_INS_EXAMPLE,
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const { id } = c.req.valid('param');
    const counts = await openCheckIns(ctx.services.db, tenant.id, id);
    const first = { event: 'check-ins', id: snapshotId('c', counts), data: counts } as const;
    return streamFor(c, { organizationId: tenant.id, eventId: id, channel: 'check-ins', first }, 'staff');
  });
}
