import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { MAX_IMPORT_BODY_BYTES } from '../../middleware/body-limit.ts';
import { importEvents, MAX_APPLY_EVENTS, MAX_APPLY_TICKET_TYPES } from '../../services/imports/events.ts';
import { responseBody } from '../response.ts';
import { EVENT_CSV_COLUMNS, EVENT_CSV_REQUIRED, eventImportRows } from './event-rows.ts';
import { ImportQuerySchema, ImportReportSchema } from './schema.ts';
import { importSource, MAX_APPLY_BYTES, MAX_DRY_RUN_ROWS } from './source.ts';

/** The largest body an apply takes: its rows travel to the database in one batch (Neon: 10 MiB a request). */

const CSV_EXAMPLE =
  `${EVENT_CSV_COLUMNS.join(',')}\r\n` +
  'jazz-2026,Summer Jazz Night,Europe/Berlin,2026-07-04T18:00:00Z,2026-07-04T22:00:00Z,,Live jazz.,public,' +
  'Kulturhaus Nord,,Hamburg,DE,,music;jazz,,300,true,Early bird,,1900,EUR,100,,,1,\r\n' +
  'jazz-2026,,,,,,,,,,,,,,,,,Regular,,2500,EUR,200,,,,\r\n';

const ImportEventsBodySchema = z
  .object({
    events: z
      .array(z.unknown())
      .min(1)
      .max(MAX_DRY_RUN_ROWS)
      .openapi({
        description:
          'The events. Each is an object with the fields of POST /api/v1/events (`EventCreate`) plus `externalId` ' +
          '(required: 1 to 200 characters, its key for re-runs), `publish` (boolean, default false) and ' +
          '`ticketTypes` (up to 100 `TicketTypeCreate` objects). Each row is validated on its own: a bad row is ' +
          'reported, not a 400 of the request.',
        example: [
          {
            externalId: 'jazz-2026',
            title: 'Summer Jazz Night',
            timezone: 'Europe/Berlin',
            startsAt: '2026-07-04T18:00:00Z',
            endsAt: '2026-07-04T22:00:00Z',
            capacity: 300,
            publish: true,
            ticketTypes: [{ name: 'Early bird', price: 1900, currency: 'EUR', quantity: 100 }],
          },
        ],
      }),
  })
  .strict()
  .openapi('EventImport', { description: 'Events to import, as JSON.' });

export const route = createRoute({
  method: 'post',
  path: '/api/v1/imports/events',
  operationId: 'importEvents',
  tags: ['Imports'],
  summary: 'Import events with their ticket types (CSV or JSON)',
  description:
    'Imports events and their ticket types from a `text/csv` or `application/json` body (UTF-8; a byte order mark ' +
    'is ignored; bytes that are not UTF-8 answer 400 naming the byte offset and line). Each row is validated as ' +
    'POST /api/v1/events and POST /api/v1/events/{id}/ticket-types validate. `dryRun=true` (the default) writes ' +
    'nothing and reports every row: its line (CSV) or JSON pointer, `create`, `skip_existing` (its `externalId` was ' +
    'imported before) or `error` with the field and message, and totals. `dryRun=false` applies the file: all or ' +
    'nothing, in one transaction; any row error refuses the whole file (422, naming up to 100 fields: ' +
    '`/body/events/3/title` or `/body/line/7/title`). Re-applying a file creates nothing twice. An import whose ' +
    "published events would exceed the plan's `publishedEvents` quota is refused as a whole (403 `plan_limit`). " +
    `Limits: bodies of ${String(MAX_IMPORT_BODY_BYTES)} bytes and ${String(MAX_DRY_RUN_ROWS)} rows for a dry run, ` +
    `${String(MAX_APPLY_BYTES)} bytes, ${String(MAX_APPLY_EVENTS)} events and ${String(MAX_APPLY_TICKET_TYPES)} ` +
    'ticket types for an apply (413 beyond). Free text starting like a spreadsheet formula is stored as given and ' +
    'reported as a warning. CSV columns: docs/API.md, "Imports". Needs `events:write`. A dry run costs one database ' +
    'round trip, an apply two (the same read, then one write batch). An apply writes one `import.events` audit ' +
    'row and the `event.created`, `event.published` and `ticket_type.created` events of what it creates.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('events:write')] as const,
  request: {
    query: ImportQuerySchema,
    body: {
      required: true,
      content: {
        // A reference, not the zod schema: the rows are validated one by one (a bad row is reported, not a 400 of
        // the request), so no request validator runs; `register` adds the schema to the document.
        'application/json': {
          schema: { $ref: '#/components/schemas/EventImport' },
          example: {
            events: [
              {
                externalId: 'jazz-2026',
                title: 'Summer Jazz Night',
                timezone: 'Europe/Berlin',
                startsAt: '2026-07-04T18:00:00Z',
                endsAt: '2026-07-04T22:00:00Z',
                ticketTypes: [{ name: 'Early bird', price: 1900, currency: 'EUR', quantity: 100 }],
              },
            ],
          },
        },
        'text/csv': {
          schema: z
            .string()
            .max(MAX_IMPORT_BODY_BYTES)
            .openapi({
              description: `CSV with a header row; columns: ${EVENT_CSV_COLUMNS.join(', ')} (required: ${EVENT_CSV_REQUIRED.join(', ')}). Lines with the same externalId are one event, each adding a ticket type.`,
              example: CSV_EXAMPLE,
            }),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The report: of a dry run (nothing written), or of the applied import.',
      content: { 'application/json': { schema: ImportReportSchema } },
    },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.register('EventImport', ImportEventsBodySchema);
  app.openapi(route, async (c) => {
    const dryRun = c.req.valid('query').dryRun === 'true';
    const { format, rows: source } = await importSource(c, dryRun, {
      columns: EVENT_CSV_COLUMNS,
      required: EVENT_CSV_REQUIRED,
      key: 'events',
    });
    const report = await importEvents({
      ctx: serviceContext(c),
      input: { format, dryRun, rows: eventImportRows(format, source) },
    });
    return c.json(responseBody(c, ImportReportSchema, report), 200);
  });
}
