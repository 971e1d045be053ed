import { z } from '@hono/zod-openapi';
import { MAX_IMPORT_BODY_BYTES } from '../../middleware/body-limit.ts';
import { int32, Uuid } from '../fields.ts';
import { MAX_TICKET_TYPES_PER_EVENT } from '../../services/events/ticket-types.ts';
import { MAX_REPORT_ROWS } from '../../services/imports/report.ts';
import { MAX_IMPORT_TICKETS } from './attendee-rows.ts';
import { MAX_DRY_RUN_ROWS } from './source.ts';

export const ImportQuerySchema = z
  .object({
    dryRun: z
      .enum(['true', 'false'])
      .default('true')
      .openapi({
        param: { name: 'dryRun', in: 'query' },
        description: '`true` (the default): report what would happen and write nothing. `false`: apply the file.',
        example: 'true',
      }),
  })
  .strict();

/** The last line a file can have: every line but the last ends with a byte of the body. */
const MAX_LINES = MAX_IMPORT_BODY_BYTES + 1;

const IssueSchema = z
  .object({
    line: int32(1, MAX_LINES).nullable().openapi({ description: 'CSV: the 1-based line; JSON: null.', example: 3 }),
    field: z.string().max(1000).openapi({
      description: 'CSV: the column; JSON: the JSON pointer of the field in the body.',
      example: 'startsAt',
    }),
    message: z.string().max(1000).openapi({ description: 'What is wrong.', example: 'Invalid ISO datetime' }),
  })
  .openapi('ImportIssue', { description: 'A problem or warning of one row.' });

const ReportRowSchema = z
  .object({
    row: int32(1, MAX_DRY_RUN_ROWS).openapi({
      description: '1-based position of the row (an event, or a booking) in the file.',
      example: 1,
    }),
    lines: z
      .array(int32(1, MAX_LINES))
      .max(MAX_DRY_RUN_ROWS + 1)
      .openapi({
        description:
          'CSV: the lines of the row (an event and its further ticket types, or a booking and its tickets); JSON: ' +
          'empty.',
        example: [2, 3],
      }),
    pointer: z.string().max(100).nullable().openapi({
      description: 'JSON: the JSON pointer of the row in the body; CSV: null.',
      example: null,
    }),
    externalId: z
      .string()
      .max(1000)
      .nullable()
      .openapi({ description: "The row's externalId.", example: 'ev-2026-001' }),
    outcome: z.enum(['create', 'skip_existing', 'error']).openapi({
      description:
        '`create`: created (apply) or would be created (dry run); `skip_existing`: an earlier import created this ' +
        'externalId; `error`: see `errors`.',
      example: 'create',
    }),
    entityId: Uuid.nullable().openapi({
      description: 'The event or booking created (apply) or created earlier (skip_existing); null otherwise.',
      example: null,
    }),
    errors: z.array(IssueSchema).max(1000).openapi({ description: "The row's problems." }),
    warnings: z.array(IssueSchema).max(1000).openapi({
      description: 'Accepted but noteworthy: free text that starts like a spreadsheet formula (stored as given).',
    }),
  })
  .openapi('ImportReportRow', { description: 'What the import does with one row.' });

export const ImportReportSchema = z
  .object({
    kind: z.enum(['events']).openapi({ description: 'What was imported.', example: 'events' }),
    format: z.enum(['csv', 'json']).openapi({ description: 'The format of the body.', example: 'csv' }),
    dryRun: z.boolean().openapi({ description: 'True when nothing was written.', example: true }),
    totals: z
      .object({
        rows: int32(0, MAX_DRY_RUN_ROWS).openapi({ description: 'Rows (events) in the file.', example: 2 }),
        create: int32(0, MAX_DRY_RUN_ROWS).openapi({ description: 'Events created (or to create).', example: 1 }),
        skipExisting: int32(0, MAX_DRY_RUN_ROWS).openapi({
          description: 'Rows an earlier import created.',
          example: 1,
        }),
        error: int32(0, MAX_DRY_RUN_ROWS).openapi({ description: 'Rows with errors.', example: 0 }),
        ticketTypes: int32(0, MAX_DRY_RUN_ROWS * MAX_TICKET_TYPES_PER_EVENT).openapi({
          description: 'Ticket types created (or to create).',
          example: 2,
        }),
        publish: int32(0, MAX_DRY_RUN_ROWS).openapi({ description: 'Events created published.', example: 0 }),
      })
      .openapi({ description: 'Counts over the whole file.' }),
    rows: z
      .array(ReportRowSchema)
      .max(MAX_REPORT_ROWS)
      .openapi({
        description: `Every row when the file has at most ${String(MAX_REPORT_ROWS)}; beyond, only rows with errors or warnings, at most ${String(MAX_REPORT_ROWS)}.`,
      }),
    truncated: z.boolean().openapi({ description: 'True when `rows` does not list every row.', example: false }),
  })
  .openapi('ImportReport', { description: 'The report of an import, dry run or apply.' });

export type ImportReportResponse = z.infer<typeof ImportReportSchema>;

export const AttendeeImportQuerySchema = ImportQuerySchema.extend({
  eventId: Uuid.openapi({
    param: { name: 'eventId', in: 'query' },
    description: 'The event the bookings are for.',
    example: '7d4e9c62-1b3a-4f5e-9a8b-0c1d2e3f4a5b',
  }),
  notify: z
    .enum(['true', 'false'])
    .default('false')
    .openapi({
      param: { name: 'notify', in: 'query' },
      description:
        '`true`: an apply also emits `booking.confirmed` for each booking created, which emails the buyer their ' +
        'tickets (and reaches webhooks). `false` (the default): only `booking.created` (webhooks, no email).',
      example: 'false',
    }),
}).strict();

export const AttendeeImportReportSchema = z
  .object({
    kind: z.enum(['attendees']).openapi({ description: 'What was imported.', example: 'attendees' }),
    format: z.enum(['csv', 'json']).openapi({ description: 'The format of the body.', example: 'csv' }),
    dryRun: z.boolean().openapi({ description: 'True when nothing was written.', example: true }),
    eventId: Uuid.openapi({ description: 'The event.', example: '7d4e9c62-1b3a-4f5e-9a8b-0c1d2e3f4a5b' }),
    totals: z
      .object({
        rows: int32(0, MAX_DRY_RUN_ROWS).openapi({ description: 'Rows (bookings) in the file.', example: 2 }),
        create: int32(0, MAX_DRY_RUN_ROWS).openapi({ description: 'Bookings created (or to create).', example: 1 }),
        skipExisting: int32(0, MAX_DRY_RUN_ROWS).openapi({
          description: 'Rows an earlier import created.',
          example: 1,
        }),
        error: int32(0, MAX_DRY_RUN_ROWS).openapi({ description: 'Rows with errors.', example: 0 }),
        tickets: int32(0, MAX_DRY_RUN_ROWS * MAX_IMPORT_TICKETS).openapi({
          description: 'Tickets of the bookings created (or to create).',
          example: 3,
        }),
      })
      .openapi({ description: 'Counts over the whole file.' }),
    rows: z
      .array(ReportRowSchema)
      .max(MAX_REPORT_ROWS)
      .openapi({
        description: `Every row when the file has at most ${String(MAX_REPORT_ROWS)}; beyond, only rows with errors or warnings, at most ${String(MAX_REPORT_ROWS)}.`,
      }),
    truncated: z.boolean().openapi({ description: 'True when `rows` does not list every row.', example: false }),
  })
  .openapi('AttendeeImportReport', { description: 'The report of an attendee import, dry run or apply.' });
