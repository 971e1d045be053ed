import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { rateLimitHeaders } from '../../lib/rate-limit.ts';
import { getBookingCalendar } from '../../services/calendars/read.ts';
import { publicRead } from '../../services/catalogue/limits.ts';
import { renderIcs } from '../../services/formats/client.ts';
import { BookingIdParamsSchema } from '../bookings/schema.ts';
import { PublicBookingHeadersSchema, PublicBookingQuerySchema } from '../bookings/staff-schema.ts';
import { tenantOnly } from '../organizations/host.ts';
import { calendarContent, calendarResponse, dispositionHeader, MAX_BOOKING_CALENDAR_LENGTH } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/public/bookings/{id}/calendar.ics',
  operationId: 'getPublicBookingCalendar',
  tags: ['Calendars'],
  summary: "Download a booking's event as iCalendar (the buyer's file)",
  description:
    "The buyer's calendar entry of a booking as an iCalendar file (`text/calendar`, a download named " +
    '`booking-<id>.ics`), reached like the booking view with the secret `token` from the checkout in the ' +
    '`Booking-Token` request header (never in the URL: a query parameter answers 400; there is no subscription URL, ' +
    "see docs/API.md). One VEVENT with its own UID (`booking-<id>@<platform domain>`), the event's times (UTC), " +
    'title, venue and description, and in the description the booking reference, its status and the number of ' +
    "valid tickets per ticket type; the event's online link (URL) only while the booking is confirmed. Never " +
    'ticket codes nor the token. STATUS is TENTATIVE while payment is pending, CANCELLED when the booking is ' +
    'cancelled, refunded or expired or the event is cancelled, else CONFIRMED; SEQUENCE grows with every change of ' +
    'the booking or the event. A missing or malformed token answers 400; a well-formed wrong token and an unknown ' +
    'id both answer 404, indistinguishably. No authentication; rate limited per client address (429 with ' +
    'Retry-After). Never cached (`Cache-Control: no-store`); ETag and 304 on `If-None-Match`. One database round ' +
    'trip and one Redis round trip.',
  security: [{ bookingToken: [] }],
  request: { params: BookingIdParamsSchema, headers: PublicBookingHeadersSchema, query: PublicBookingQuerySchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: "The booking's event as an iCalendar file.",
      headers: dispositionHeader('booking-5f7d0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f.ics'),
      content: calendarContent(MAX_BOOKING_CALENDAR_LENGTH, 'An iCalendar object with one VEVENT.'),
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const input = { id: c.req.valid('param').id, token: c.req.valid('header')['booking-token'] };
    const { outcome, result } = await publicRead(ctx, () => getBookingCalendar({ ctx, input }));
    const text = await renderIcs(ctx, { timezone: result.timezone, entries: [result.entry] });
    return calendarResponse(c, text, `booking-${input.id}`, {
      'cache-control': 'no-store',
      ...(outcome === null ? {} : rateLimitHeaders(outcome)),
    });
  });
}
