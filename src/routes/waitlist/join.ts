import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { takePublicBooking } from '../../services/catalogue/limits.ts';
import { OFFER_MINUTES } from '../../services/waitlist/offer.ts';
import { joinWaitlist } from '../../services/waitlist/join.ts';
import { tenantOnly } from '../organizations/host.ts';
import { PublicEventParamsSchema } from '../public/schema.ts';
import { responseBody } from '../response.ts';
import { WaitlistJoinedSchema, WaitlistJoinSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/public/events/{slug}/waitlist',
  operationId: 'joinPublicWaitlist',
  tags: ['Public'],
  summary: 'Join the waitlist of a sold-out ticket type',
  description:
    'Puts a name and email on the waitlist of a ticket type whose free seats (at the ticket type and the event) are ' +
    'fewer than `groupSize`. Waiting entries are served first come, first served per ticket type: when seats are ' +
    'released (a cancellation, an expired hold, a refund, a raised quantity or capacity), the oldest entry whose ' +
    `group fits is offered exactly \`groupSize\` seats, held for it by a pending booking for ${OFFER_MINUTES / 60} ` +
    'hours and emailed with a claim link; an unclaimed offer expires and passes to the next entry. The queue is ' +
    'strict: an entry whose group does not fit yet is not overtaken. One live entry per email and ticket type: ' +
    'joining again answers the same 202 and changes nothing, so the answer never tells who else is waiting. ' +
    '404 for an unknown event; 409 when it is not on sale or when seats for the group are available (book them); ' +
    '400 (with the JSON pointer) for a ticket type of another event, a hidden one, or a group above its ' +
    '`maxPerOrder`. No authentication; rate limited per client address with the checkout limit (429 with ' +
    'Retry-After). One database round trip and one Redis round trip.',
  request: {
    params: PublicEventParamsSchema,
    body: { required: true, content: { 'application/json': { schema: WaitlistJoinSchema } } },
  },
  middleware: [tenantOnly()] as const,
  responses: {
    202: {
      description: 'On the waitlist (or already on it).',
      content: { 'application/json': { schema: WaitlistJoinedSchema } },
    },
    ...errorResponses(400, 404, 409, 413, 415, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const outcome = await takePublicBooking(ctx);
    const body = c.req.valid('json');
    await joinWaitlist({ ctx, input: { ...body, slug: c.req.valid('param').slug } });
    return c.json(responseBody(c, WaitlistJoinedSchema, { status: 'waiting' as const }), 202, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
