import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { createEvent } from '../../services/events/write.ts';
import { EventCreateSchema, EventSchema, EXAMPLE_EVENT } from './schema.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { location } from '../../middleware/location.ts';
import { responseBody } from '../response.ts';

export const route = createRoute({
  method: 'post',
  path: '/api/v1/events',
  operationId: 'createEvent',
  tags: ['Events'],
  summary: 'Create an event',
  description:
    'Creates a `draft` event. Times are ISO 8601 (stored and returned in UTC); `timezone` (IANA) tells clients how ' +
    'to present them locally. Without `slug`, one is made from the title and made unique (`title`, `title-2`, ...); ' +
    'a given slug that another event uses answers 409. 400: an unknown timezone, `endsAt` not after `startsAt`, a ' +
    'non-https URL, more than 10 categories, and any field not listed (status, organizationId, publishedAt, ...). ' +
    'Needs `events:write`. Writes an `event.created` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write'), location('/api/v1/events/{id}'), idempotent()] as const,
  request: {
    headers: IdempotencyHeadersSchema,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: EventCreateSchema,
          examples: {
            venue: {
              summary: 'At a venue',
              value: {
                title: 'Summer Jazz Night',
                timezone: 'Europe/Berlin',
                startsAt: '2026-07-04T18:00:00Z',
                endsAt: '2026-07-04T22:00:00Z',
                venue: { name: 'Kulturhaus Nord', city: 'Hamburg', country: 'DE' },
                categories: ['music', 'jazz'],
                capacity: 300,
              },
            },
            online: {
              summary: 'Online',
              value: {
                title: 'Remote workshop',
                timezone: 'America/New_York',
                startsAt: '2026-09-01T15:00:00Z',
                endsAt: '2026-09-01T17:00:00Z',
                onlineUrl: 'https://meet.example.com/workshop',
              },
            },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The new draft event.',
      content: { 'application/json': { schema: EventSchema, example: EXAMPLE_EVENT } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const event = await createEvent({ ctx: serviceContext(c), input: c.req.valid('json') });
    return c.json(responseBody(c, EventSchema, event), 201);
  });
}
