import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant, serviceContext } from '../../lib/context.ts';
import type { CalendarEntry } from '../../services/calendars/entries.ts';
import {
  FEED_DESCRIPTION_MAX,
  FEED_MAX_EVENTS,
  FEED_REFRESH_SECONDS,
  getOrganizationCalendar,
  organizationCalendarChangesAt,
} from '../../services/calendars/read.ts';
import { cachedPublicRead } from '../../services/catalogue/edge-cache.ts';
import { renderIcs } from '../../services/formats/client.ts';
import { tenantOnly } from '../organizations/host.ts';
import { publicReadHeaders } from '../public/headers.ts';
import { calendarContent, calendarResponse, dispositionHeader, MAX_FEED_LENGTH } from './schema.ts';

export const route = createRoute({
  method: 'get',
  path: '/api/v1/public/calendar.ics',
  operationId: 'getPublicCalendar',
  tags: ['Calendars'],
  summary: "Subscribe to the organization's public events (iCalendar)",
  description:
    "The organization's public events as one iCalendar feed to subscribe to (webcal): those not ended yet, soonest " +
    `first, at most ${String(FEED_MAX_EVENTS)}: published events, and cancelled ones that had been published ` +
    '(STATUS `CANCELLED`, so subscribers learn of it). Each VEVENT as in the single event file (same UID, so a ' +
    `subscription and a downloaded event do not duplicate each other), its description cut to ` +
    `${String(FEED_DESCRIPTION_MAX)} characters. X-WR-CALNAME / NAME is the organization's name; ` +
    `REFRESH-INTERVAL and X-PUBLISHED-TTL ask clients to refresh every ${String(FEED_REFRESH_SECONDS / 60)} minutes. ` +
    'Unlisted, private and draft events are never in it. No authentication; rate limited per client address (429 ' +
    'with Retry-After). Cacheable for 30 seconds, with an ETag (304 on `If-None-Match`). One database round trip and ' +
    'one Redis round trip; none to the database when the edge cache holds the answer. Organization hosts only.',
  middleware: [tenantOnly()] as const,
  responses: {
    200: {
      description: 'The feed as an iCalendar file.',
      headers: dispositionHeader('acme.ics'),
      content: calendarContent(
        MAX_FEED_LENGTH,
        `An iCalendar object with up to ${String(FEED_MAX_EVENTS)} VEVENTs (none when nothing is coming up).`,
      ),
    },
    ...errorResponses(400, 404, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const ctx = serviceContext(c);
    const tenant = requireTenant(ctx);
    const { outcome, body } = await cachedPublicRead(ctx, {
      resource: 'calendar',
      input: {},
      read: () => getOrganizationCalendar({ ctx }),
      changesAt: organizationCalendarChangesAt,
    });
    // The edge cache keeps the entries as JSON; the name comes from the tenant, so a rename shows at once.
    const entries = JSON.parse(body) as CalendarEntry[];
    const text = await renderIcs(ctx, { name: tenant.name, refreshSeconds: FEED_REFRESH_SECONDS, entries });
    return calendarResponse(c, text, tenant.slug, publicReadHeaders(outcome));
  });
}
