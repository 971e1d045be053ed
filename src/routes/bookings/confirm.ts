import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requireLiveKey, requirePermission } from '../../middleware/auth.ts';
import { confirmBooking } from '../../services/bookings/transitions.ts';
import { BookingIdParamsSchema, BookingSchema } from './schema.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/bookings/{id}/confirm',
  operationId: 'confirmBooking',
  tags: ['Bookings'],
  summary: 'Confirm a manual payment',
  description:
    'For a booking paid offline (provider `manual`) once the money has arrived: pending -> confirmed; sets ' +
    '`confirmedAt`, clears `expiresAt`, moves its seats from held to sold and marks the payment `succeeded`. A ' +
    'pending booking whose hold has lapsed but that has not been expired yet still holds its seats and can be ' +
    'confirmed. Stripe bookings (confirmed by the Stripe webhook) and free bookings (confirmed at checkout) answer ' +
    '409, as does any booking that is not pending, including one a concurrent request confirmed, cancelled or ' +
    "expired first. Another organization's booking answers 404. Needs `bookings:write`. Writes `booking.confirmed` " +
    'and `payment.succeeded` audit rows.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:write'), requireLiveKey()] as const,
  request: { params: BookingIdParamsSchema },
  responses: {
    200: {
      description: 'The confirmed booking.',
      content: { 'application/json': { schema: BookingSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const booking = await confirmBooking({ ctx: serviceContext(c), input: c.req.valid('param') });
    return c.json(responseBody(c, BookingSchema, booking), 200);
  });
}
