import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { getEventCalendar, type EventCalendar } from '../../services/calendars/read.ts';
import { cachedPublicRead } from '../../services/catalogue/edge-cache.ts';
import { renderIcs } from '../../services/formats/client.ts';
import { tenantOnly } from '../organizations/host.ts';
import { publicReadHeaders } from '../public/headers.ts';
import { PublicEventParamsSchema } from '../public/schema.ts';
import { calendarContent, calendarResponse, dispositionHeader, MAX_EVENT_CALENDAR_LENGTH } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/public/events/{slug}/calendar.ics',
  operationId: 'getPublicEventCalendar',
  tags: ['Calendars'],
  summary: 'Download a public event as iCalendar',
  description:
    'The event as an iCalendar file (RFC 5545, `text/calendar`, a download named `<slug>.ics`) for "add to ' +
    'calendar": one VEVENT with a UID stable across hosts (`<event id>@<platform domain>`), SEQUENCE growing with ' +
    'every change of the event, DTSTAMP and LAST-MODIFIED at the last change, DTSTART/DTEND in UTC, SUMMARY, ' +
    'DESCRIPTION, LOCATION (and GEO) from the venue, CATEGORIES, and STATUS `CANCELLED` for a cancelled event. The ' +
    "event's IANA timezone is given as `X-WR-TIMEZONE`. Never the event's online link (ticket holders get it from " +
    'their booking). The same events as the public event detail: published, cancelled or completed, `public` or ' +
    '`unlisted`; drafts, private events and unknown slugs answer 404. No authentication; rate limited per client ' +
    'address (429 with Retry-After). Cacheable for 30 seconds, with an ETag (304 on `If-None-Match`). One database ' +
    'round trip and one Redis round trip; none to the database when the edge cache holds the answer.',
  request: { params: PublicEventParamsSchema },
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The event as an iCalendar file.',
      headers: dispositionHeader('spring-gala.ics'),
      content: calendarContent(MAX_EVENT_CALENDAR_LENGTH, 'An iCalendar object with one VEVENT.'),
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const input = c.req.valid('param');
    const { outcome, body } = await cachedPublicRead(ctx, {
      resource: 'event-calendar',
      input,
      read: () => getEventCalendar({ ctx, input }),
      changesAt: () => Number.POSITIVE_INFINITY,
    });
    // The edge cache keeps the entry as JSON (the value `getEventCalendar` answered); the file is made from it.
    const calendar = JSON.parse(body) as EventCalendar;
    const text = await renderIcs(ctx, { timezone: calendar.timezone, entries: [calendar.entry] });
    return calendarResponse(c, text, input.slug, publicReadHeaders(outcome));
  });
}
