import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { checkIn } from '../../services/bookings/check-in.ts';
import { CheckInRequestSchema, CheckInResultSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/check-ins',
  operationId: 'checkIn',
  tags: ['Check-ins'],
  summary: 'Check a ticket in',
  description:
    'Checks in the ticket with this code (case, spaces and dashes ignored). The first scan sets `checkedInAt` and ' +
    'answers `alreadyCheckedIn: false`; every later scan answers 200 with `alreadyCheckedIn: true` and the first ' +
    "scan's time, so a repeated or concurrent scan never checks a ticket in twice. An unknown code (or another " +
    "organization's) answers 404. 409 when the ticket cannot enter: it was cancelled (refund or cancellation), its " +
    'booking is not confirmed (pending payment, cancelled, refunded, expired), or it is for another event than ' +
    '`eventId`; `detail` and `reason` say which. Needs `checkins:write`. The first scan writes an ' +
    '`attendee.checked_in` audit row. One database round trip.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('checkins:write')] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: CheckInRequestSchema } } },
  },
  responses: {
    200: {
      description: 'The ticket is checked in (now, or already before).',
      content: { 'application/json': { schema: CheckInResultSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const result = await checkIn({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, CheckInResultSchema, result), 200);
  });
}
