import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { createSeries } from '../../services/series/index.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { responseBody } from '../response.ts';
import { EXAMPLE_SERIES, SeriesCreatedSchema, SeriesCreateSchema } from './schema.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/event-series',
  operationId: 'createEventSeries',
  tags: ['Event series'],
  summary: 'Create a recurring event series',
  description:
    'Creates a series from an RFC 5545 RRULE and materializes its dates up to the horizon (default 180 days ahead) ' +
    "as ordinary events, each with its own copy of the template's ticket types (per-date inventory): checkout, " +
    'check-in, calendars and the attendee list work per date. The rule is expanded in `timezone`, so a weekly ' +
    '19:00 stays 19:00 local across DST. A rule with more than 366 dates within the horizon is refused (400 ' +
    '`/body/rrule`); a longer rule (COUNT=10000) only ever has its horizon materialized, and a cron run extends the ' +
    'horizon as time passes. With `publish: published` every date created must fit the `publishedEvents` quota ' +
    '(403 `plan_limit`, nothing written). One database round trip. Needs `events:write`. Writes an ' +
    '`event_series.created` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write'), idempotent()] as const,
  request: {
    headers: IdempotencyHeadersSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: SeriesCreateSchema,
          examples: {
            weekly: {
              summary: 'Every Tuesday at 19:00 Berlin time',
              value: {
                title: 'Tuesday Jazz',
                timezone: 'Europe/Berlin',
                rrule: 'FREQ=WEEKLY;BYDAY=TU',
                startLocal: '2027-03-02T19:00',
                durationMinutes: 120,
                ticketTypes: [{ name: 'Standard', price: 1500, currency: 'EUR', quantity: 80, maxPerOrder: 10 }],
                publish: 'published',
              },
            },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The series and the number of dates created.',
      content: { 'application/json': { schema: SeriesCreatedSchema, example: { series: EXAMPLE_SERIES, dates: 26 } } },
    },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const created = await createSeries({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, SeriesCreatedSchema, created), 201);
  });
}
