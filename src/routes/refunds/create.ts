import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireLiveKey, requirePermission } from '../../middleware/auth.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { MAX_REFUNDS_PER_BOOKING, refundBooking } from '../../services/bookings/refund.ts';
import { BookingIdParamsSchema, BookingSchema } from '../bookings/schema.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { RefundRequestSchema } from './schema.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/bookings/{id}/refund',
  operationId: 'refundBooking',
  tags: ['Bookings'],
  summary: 'Refund a booking',
  description:
    'Returns money of a `confirmed` booking whose payment succeeded, in full or in part (also of a `cancelled` one ' +
    "that was paid: cancelling moves no money). `amount` (minor units) defaults to the listed tickets' prices " +
    'when `attendeeIds` is given, else to everything not refunded yet, and may not exceed `total - refundedAmount` ' +
    '(409, with the ' +
    '`refundable` amount in the problem). `attendeeIds` cancel those tickets and put only their seats back on sale; ' +
    'a partial refund without them cancels nothing. A refund that reaches the total makes the booking `refunded` ' +
    'and cancels every ticket still valid, releasing its seat; a partially refunded booking stays `confirmed`. ' +
    'Free and manual bookings: the organizer returns the money outside Eventra and the refund is recorded as ' +
    '`succeeded`. Stripe bookings: the amount is reserved as a `pending` refund before Stripe is called, then ' +
    "Stripe's answer is recorded: `succeeded` or, while Stripe processes it, `pending`. 502 " +
    '`payment_provider_error` when Stripe refuses (the reservation is released, the refund becomes `failed`) or ' +
    'cannot be reached (the refund stays `pending`, its amount not refundable again, until the scheduled ' +
    'pending-refund sweep asks Stripe again with the same idempotency key and records the answer or releases it). ' +
    '409 for a pending, expired or refunded booking, for a ' +
    'free booking (total 0: cancel it instead), and when the booking changed meanwhile (of two concurrent refunds ' +
    `only one succeeds), and beyond ${MAX_REFUNDS_PER_BOOKING} refunds of one booking (failed ones included, counted ` +
    'under a lock on the booking: 409 `conflict` naming the limit, extension member `limit`). 400 (pointer ' +
    '`/body/attendeeIds/<i>`) for a ticket of another booking, an already cancelled ticket, or one listed twice. Needs `bookings:write`. Writes a `booking.refunded` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [
    requirePermission('bookings:write'),
    requireLiveKey(),
    location('/api/v1/bookings/{id}'),
    idempotent(),
  ] as const,
  request: {
    params: BookingIdParamsSchema,
    headers: IdempotencyHeadersSchema,
    body: { required: true, content: { 'application/json': { schema: RefundRequestSchema } } },
  },
  responses: {
    201: {
      description:
        'The booking after the refund, with its tickets, payment and refunds (the new refund is the last entry of ' +
        '`refunds`).',
      content: { 'application/json': { schema: BookingSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const booking = await refundBooking({
      ctx: serviceContext(c),
      input: { ...c.req.valid('json'), id: c.req.valid('param').id },
    });
    return c.json(responseBody(c, BookingSchema, booking), 201);
  });
}
