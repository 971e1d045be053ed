import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { MAX_IMPORT_BODY_BYTES } from '../../middleware/body-limit.ts';
import { importAttendees, MAX_APPLY_BOOKINGS, MAX_APPLY_TICKETS } from '../../services/imports/attendees.ts';
import { responseBody } from '../response.ts';
import {
  ATTENDEE_CSV_COLUMNS,
  ATTENDEE_CSV_REQUIRED,
  attendeeImportRows,
  AttendeeImportRowSchema,
  MAX_IMPORT_TICKETS,
} from './attendee-rows.ts';
import { AttendeeImportQuerySchema, AttendeeImportReportSchema } from './schema.ts';
import { importSource, MAX_APPLY_BYTES, MAX_DRY_RUN_ROWS } from './source.ts';

const CSV_EXAMPLE =
  `${ATTENDEE_CSV_COLUMNS.join(',')}\r\n` +
  'press-001,Grace Hopper,grace@example.com,Press,,\r\n' +
  'press-002,Alan Turing,alan@example.com,Press,Alan Turing,alan@example.com\r\n' +
  'press-002,,,VIP,Joan Clarke,joan@example.com\r\n';

const ImportAttendeesBodySchema = z
  .object({
    attendees: z
      .array(AttendeeImportRowSchema)
      .min(1)
      .max(MAX_DRY_RUN_ROWS)
      .openapi({
        description:
          'The bookings: each with `externalId` (1 to 200 characters, its key for re-runs), the `buyer` (`name`, ' +
          `\`email\`) and 1 to ${String(MAX_IMPORT_TICKETS)} \`tickets\`, each naming a ticket type of the event ` +
          '(its id or exact name) and optionally the attendee (`name`, `email`; the buyer by default). Each row is ' +
          'validated on its own: a bad row is reported, not a 400 of the request.',
      }),
  })
  .strict()
  .openapi('AttendeeImport', {
    description: 'Complimentary bookings to import into one event, as JSON.',
    example: {
      attendees: [
        {
          externalId: 'press-001',
          buyer: { name: 'Grace Hopper', email: 'grace@example.com' },
          tickets: [{ ticketType: 'Press' }],
        },
      ],
    },
  });

export const route = createRoute({
  method: 'post',
  path: '/api/v1/imports/attendees',
  operationId: 'importAttendees',
  tags: ['Imports'],
  summary: 'Import attendees as complimentary bookings (CSV or JSON)',
  description:
    'Imports complimentary (free) bookings into the event `eventId` from a `text/csv` or `application/json` body ' +
    '(UTF-8; a byte order mark is ignored; bytes that are not UTF-8 answer 400 naming the byte offset and line). Each ' +
    'row is one booking: a buyer and 1 to 50 tickets, each of a ticket type of the event (its id or exact name) in ' +
    "the attendee's name (the buyer's by default). The bookings are confirmed at once (provider `free`, total 0) and " +
    'take their seats as sold, at the ticket type, its capacity pools and the event, as a checkout does: a row that ' +
    'would oversell any of them is an error. `dryRun=true` (the default) writes nothing and reports every row (its ' +
    'CSV lines or JSON pointer, `create`, `skip_existing` or `error` with the field and message). `dryRun=false` ' +
    'applies the file all or nothing, in one transaction: any row error refuses it (422); seats taken by checkouts ' +
    'meanwhile refuse it (409, nothing written). Re-applying a file creates nothing twice (`externalId`). ' +
    '`notify=true` emails each buyer their tickets (`booking.confirmed`); by default only `booking.created` is ' +
    `emitted (webhooks, no email). Limits: bodies of ${String(MAX_IMPORT_BODY_BYTES)} bytes and ` +
    `${String(MAX_DRY_RUN_ROWS)} rows for a dry run, ${String(MAX_APPLY_BYTES)} bytes, ${String(MAX_APPLY_BOOKINGS)} ` +
    `bookings and ${String(MAX_APPLY_TICKETS)} tickets for an apply (413 beyond). 404 for an event of another ` +
    'organization or none, 409 for a cancelled or completed one. Free text starting like a spreadsheet formula is stored as ' +
    'given and reported as a warning. CSV columns: docs/API.md, "Imports". Needs `bookings:write`. A dry run costs ' +
    'one database round trip, an apply two (the same read, then one write batch). An apply writes one ' +
    '`import.attendees` audit row.',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:write')] as const,
  request: {
    query: AttendeeImportQuerySchema,
    body: {
      required: true,
      content: {
        // A reference, not the zod schema: the rows are validated one by one (see the events import).
        'application/json': { schema: { $ref: '#/components/schemas/AttendeeImport' } },
        'text/csv': {
          schema: z
            .string()
            .max(MAX_IMPORT_BODY_BYTES)
            .openapi({
              description: `CSV with a header row; columns: ${ATTENDEE_CSV_COLUMNS.join(', ')} (required: ${ATTENDEE_CSV_REQUIRED.join(', ')}). One line per ticket; lines with the same externalId are one booking (the buyer cells of further lines empty or the same).`,
              example: CSV_EXAMPLE,
            }),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The report: of a dry run (nothing written), or of the applied import.',
      content: { 'application/json': { schema: AttendeeImportReportSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.register('AttendeeImport', ImportAttendeesBodySchema);
  app.openapi(route, async (c) => {
    const query = c.req.valid('query');
    const dryRun = query.dryRun === 'true';
    const { format, rows: source } = await importSource(c, dryRun, {
      columns: ATTENDEE_CSV_COLUMNS,
      required: ATTENDEE_CSV_REQUIRED,
      key: 'attendees',
    });
    const report = await importAttendees({
      ctx: serviceContext(c),
      input: {
        eventId: query.eventId,
        format,
        dryRun,
        notify: query.notify === 'true',
        rows: attendeeImportRows(format, source),
      },
    });
    return c.json(responseBody(c, AttendeeImportReportSchema, report), 200);
  });
}
