import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { errorResponses } from '../../errors/problem.ts';
import { serviceContext } from '../../lib/context.ts';
import { requirePermission } from '../../middleware/auth.ts';
import { requireFeature } from '../../middleware/plan-limits.ts';
import {
  ATTENDEE_CSV_COLUMNS,
  ATTENDEE_EXPORT_PAGE_SIZE,
  exportEventAttendees,
  MAX_ATTENDEE_EXPORT_ROWS,
} from '../../services/bookings/attendee-export.ts';
import { MAX_QUESTIONS_PER_EVENT } from '../../services/questions/manage.ts';
import { maxCsvCell } from '../../lib/csv.ts';
import { MAX_ANSWER_LENGTH, MAX_CHOICES } from '../bookings/schema.ts';
import { EventIdParamsSchema } from '../events/schema.ts';
import { MAX_NAME_LENGTH as MAX_TICKET_TYPE_NAME_LENGTH } from '../ticket-types/schema.ts';
import { AttendeeExportQuerySchema, ExportedAttendeeSchema } from './schema.ts';

// The longest value of each fixed column (ids and timestamps as written, names and emails as stored) and of an answer
// cell (a multi-choice of MAX_CHOICES answers of MAX_ANSWER_LENGTH joined with "; "): the CSV's true upper bound.
const FIXED_CELL_BOUNDS = [36, 200, 254, 12, 9, 36, MAX_TICKET_TYPE_NAME_LENGTH, 36, 9, 24, 24];
const MAX_ANSWER_CELL = MAX_CHOICES * MAX_ANSWER_LENGTH + (MAX_CHOICES - 1) * 2;
const MAX_CSV_ROW =
  FIXED_CELL_BOUNDS.reduce((total, bound) => total + maxCsvCell(bound), 0) +
  MAX_QUESTIONS_PER_EVENT * maxCsvCell(MAX_ANSWER_CELL) +
  (FIXED_CELL_BOUNDS.length + MAX_QUESTIONS_PER_EVENT - 1) +
  2;
const MAX_CSV_EXPORT = (MAX_ATTENDEE_EXPORT_ROWS + 1) * MAX_CSV_ROW;

export const route = createRoute({
  method: 'get',
  path: '/api/v1/events/{id}/attendees/export',
  operationId: 'exportEventAttendees',
  tags: ['Attendees'],
  summary: "Export an event's attendees (the door list, with answers)",
  description:
    "The event's tickets as the door list shows them, with every answer to the event's questions, as a download " +
    '(`Content-Disposition: attachment`): `format=csv` (default; RFC 4180 with a header row ' +
    `\`${ATTENDEE_CSV_COLUMNS.join(',')}\` followed by one column per question, \`answer:<key>\` for attendee ` +
    'questions and `booking_answer:<key>` for booking questions, archived questions included; multi-choice answers ' +
    'joined with "; "; CRLF line ends; a cell starting with =, +, -, @, a tab or a carriage return is prefixed with ' +
    'an apostrophe so spreadsheets show it as text) or `format=json` (one array of door-list entries with ' +
    '`answers` and `bookingAnswers`). Filters as the list: `bookingStatus` (default `confirmed`), `ticketTypeId`, ' +
    `\`checkedIn\`. Streamed in booking order, read in pages of ${String(ATTENDEE_EXPORT_PAGE_SIZE)} as the client ` +
    `downloads. At most ${String(MAX_ATTENDEE_EXPORT_ROWS)} tickets: when more match, the answer is 422 ` +
    '`unprocessable` (pointer `/query/ticketTypeId`) before anything is sent; export per ticket type. Writes an ' +
    "`attendees.exported` audit row. An unknown event or another organization's answers 404. Needs `bookings:read` " +
    'and the `exports` feature of the plan (403 `feature_unavailable` otherwise).',
  security: [{ bearerAuth: [] }],
  middleware: [requirePermission('bookings:read'), requireFeature('exports')] as const,
  request: { params: EventIdParamsSchema, query: AttendeeExportQuerySchema },
  responses: {
    200: {
      description: 'The export, streamed.',
      headers: z.object({
        'content-disposition': z
          .string()
          .max(140)
          .regex(/^attachment; filename="attendees-[a-z0-9-]{1,100}-\d{8}T\d{6}Z\.(?:csv|json)"$/)
          .openapi({
            description: 'attachment; filename="attendees-<event slug>-<UTC timestamp>.<csv|json>"',
            example: 'attachment; filename="attendees-summer-gala-20260501T090000Z.csv"',
          }),
      }),
      content: {
        'text/csv': {
          schema: z.string().openapi({
            maxLength: MAX_CSV_EXPORT,
            description:
              `CSV with a header row and at most ${String(MAX_ATTENDEE_EXPORT_ROWS)} rows; at most ` +
              `${String(ATTENDEE_CSV_COLUMNS.length + MAX_QUESTIONS_PER_EVENT)} columns (the event has at most ` +
              `${String(MAX_QUESTIONS_PER_EVENT)} questions).`,
            example:
              `${ATTENDEE_CSV_COLUMNS.join(',')},answer:tshirt\r\n` +
              '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d,Ada Lovelace,ada@example.com,7K3M9QX2TB,valid,' +
              '5d2e8c41-7a6b-4c3d-9e8f-0a1b2c3d4e5f,General admission,5f7d0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f,confirmed,,' +
              '2026-05-01T09:00:00.000Z,L\r\n',
          }),
        },
        'application/json': {
          schema: z
            .array(ExportedAttendeeSchema)
            .max(MAX_ATTENDEE_EXPORT_ROWS)
            .openapi({ description: `The tickets, in booking order (at most ${String(MAX_ATTENDEE_EXPORT_ROWS)}).` }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 422, 429, 503),
  },
});

export function register(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const { format, checkedIn, ...filters } = c.req.valid('query');
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const { stream, eventSlug } = await exportEventAttendees({
      ctx: serviceContext(c),
      input: {
        eventId: c.req.valid('param').id,
        format,
        filters: { ...filters, ...(checkedIn === undefined ? {} : { checkedIn: checkedIn === 'true' }) },
      },
    });
    return new Response(stream, {
      status: 200,
      headers: {
        'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
        'content-disposition': `attachment; filename="attendees-${eventSlug}-${stamp}.${format}"`,
      },
    });
  });
}
