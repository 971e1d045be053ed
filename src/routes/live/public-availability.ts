import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { publicRead } from '../../services/catalogue/limits.ts';
import { snapshotId } from '../../services/realtime/messages.ts';
import { openPublicAvailability } from '../../services/realtime/snapshots.ts';
import { tenantOnly } from '../organizations/host.ts';
import { PublicEventParamsSchema } from '../public/schema.ts';
import { streamFor } from './open.ts';
import { AVAILABILITY_EXAMPLE, eventStream, LiveHeadersSchema, STREAM_CONVENTIONS } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/public/events/{slug}/live',
  operationId: 'streamPublicAvailability',
  tags: ['Live'],
  summary: 'Stream the seats left of a public event',
  description:
    'Live seats left of a published, public or unlisted event, for an on-sale page: an `availability` message ' +
    'at once and after every change of seats (a booking made, confirmed, cancelled, refunded or expired): ' +
    '`{ eventId, at, ticketTypes: [{ id, remaining, onSale }] }` for the ticket types shown without an access code, ' +
    'in display order; `at` is the time of the read (ms) and the message id. No authentication; the same ' +
    'per-address read limit as the public catalogue (429 with Retry-After). Drafts, private, cancelled and ' +
    'completed events and unknown slugs answer 404. ' +
    STREAM_CONVENTIONS +
    ' Connecting costs one database round trip and one Redis round trip.',
  middleware: [tenantOnly()] as const,
  request: { params: PublicEventParamsSchema, headers: LiveHeadersSchema },
  responses: {
    200: {
      description: 'The stream of availability messages.',
      content: eventStream(
        'Server-Sent Events: `availability` messages, heartbeats, a final `end`.',
        AVAILABILITY_EXAMPLE,
      ),
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const { slug } = c.req.valid('param');
    const { outcome, result } = await publicRead(ctx, () => openPublicAvailability(ctx.services.db, tenant.id, slug));
    const response = await streamFor(
      c,
      {
        organizationId: tenant.id,
        eventId: result.eventId,
        channel: 'availability',
        first: { event: 'availability', id: snapshotId('a', result), data: result },
      },
      'public',
    );
    if (outcome !== null) {
      for (const [name, value] of Object.entries(rateLimitHeaders(outcome))) response.headers.set(name, value);
    }
    return response;
  });
}
