import { and, count, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { auditLogs } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { csvRow, maxCsvCell } from '../../lib/csv.ts';
import { AUDIT_CELL_BOUNDS } from './bounds.ts';
import {
  auditConditions,
  auditPageQuery,
  toAuditEntryView,
  type AuditCursor,
  type AuditEntryView,
  type AuditFilters,
} from './list.ts';

export type AuditExportFormat = 'csv' | 'json';

/** Rows per database round trip while streaming. */
export const EXPORT_PAGE_SIZE = 500;

/**
 * The most rows one export sends. More matching rows are refused before anything is streamed (422, narrow
 * `from`/`to`). 50,000 rows are 100 pages of EXPORT_PAGE_SIZE, so 101 database round trips (subrequests) with the
 * first page's batch: well inside the 1,000 subrequests a Worker invocation may make on Workers Paid. CPU
 * (bench/audit-export.ts: building, serializing and encoding the rows, in Node on the 2-core development machine):
 * 100,000 typical rows cost under 1 s as CSV, but 100,000 worst-case rows (every column at its bound and full of
 * quotes, 837 MB of CSV) 15 to 22 s, too close to a request's 30 s CPU limit; 50,000 keeps the worst case near 11 s
 * at most. The wall time is the client's download, which a Worker does not limit while the client reads.
 */
export const MAX_EXPORT_ROWS = 50_000;

export const CSV_COLUMNS = [
  'id',
  'created_at',
  'actor_type',
  'actor_user_id',
  'action',
  'target_type',
  'target_id',
  'ip',
  'user_agent',
  'request_id',
  'correlation_id',
  'metadata',
] as const;

/** The longest CSV line of one audit row, CRLF included: every cell at its bound and worst quoting, and the commas. */
export const MAX_CSV_ROW =
  CSV_COLUMNS.reduce((total, column) => total + maxCsvCell(AUDIT_CELL_BOUNDS[column]), 0) +
  (CSV_COLUMNS.length - 1) +
  2;

/** A true upper bound of the CSV export's length: the header line and MAX_EXPORT_ROWS rows of MAX_CSV_ROW. */
export const MAX_CSV_EXPORT = CSV_COLUMNS.join(',').length + 2 + MAX_EXPORT_ROWS * MAX_CSV_ROW;

/** The CSV line of one entry (exported for the bound's test). */
export function csvLine(entry: AuditEntryView): string {
  return csvRow([
    entry.id,
    entry.createdAt,
    entry.actor.type,
    entry.actor.userId,
    entry.action,
    entry.target?.type ?? null,
    entry.target?.id ?? null,
    entry.ip,
    entry.userAgent,
    entry.requestId,
    entry.correlationId,
    JSON.stringify(entry.metadata),
  ]);
}

/**
 * How many rows match, counted no further than `limit` (`select count(*) from (select 1 ... limit n)`): it reads at
 * most `limit` index entries however long the log is.
 */
function boundedCount(db: Database, organizationId: string, filters: AuditFilters, limit: number) {
  const matching = db
    .select({ one: sql<number>`1`.as('one') })
    .from(auditLogs)
    .where(and(...auditConditions(organizationId, filters)))
    .limit(limit)
    .as('matching');
  return db.select({ rows: count() }).from(matching);
}

/**
 * The organization's audit log as a stream, newest first, with the list's filters, at most MAX_EXPORT_ROWS rows.
 * The first page and a count of the matching rows (bounded at MAX_EXPORT_ROWS + 1) are read in one batch (one round
 * trip) before anything is sent: more rows than MAX_EXPORT_ROWS is a 422 problem asking for a narrower `from`/`to`,
 * and a database failure is the usual error response. Then pages of EXPORT_PAGE_SIZE rows (one round trip each,
 * under the tenant scope) are fetched as the client reads, so memory stays flat. CSV has a header row and CRLF line
 * ends; JSON is one array of the list's entries. A database failure midway aborts the stream (the client sees a
 * truncated download) and is logged. The stream never goes past MAX_EXPORT_ROWS rows, even when rows committed
 * after the count would fall into the pages still to come.
 */
export async function exportAuditLog({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { format: AuditExportFormat; filters: AuditFilters };
}): Promise<ReadableStream<Uint8Array>> {
  const tenant = requireTenant(ctx);
  const { db } = ctx.services;
  const encoder = new TextEncoder();
  const { format, filters } = input;
  const scope = { organizationId: tenant.id };
  const [first, [counted]] = await scoped(db, scope, [
    auditPageQuery(db, tenant.id, filters, null, EXPORT_PAGE_SIZE),
    boundedCount(db, tenant.id, filters, MAX_EXPORT_ROWS + 1),
  ]);
  if ((counted?.rows ?? 0) > MAX_EXPORT_ROWS) {
    throw new ApiError('unprocessable', {
      detail:
        `More than ${String(MAX_EXPORT_ROWS)} entries match; an export holds at most ${String(MAX_EXPORT_ROWS)}. ` +
        'Narrow the time range with `from` and `to` (or the other filters) and export the parts one by one.',
      errors: [{ pointer: '/query/from', message: `Matches more than ${String(MAX_EXPORT_ROWS)} entries` }],
      extensions: { maxRows: MAX_EXPORT_ROWS },
    });
  }

  type Page = typeof first;
  let pending: Page | null = first;
  let after: AuditCursor | null = null;
  let written = 0;

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode(format === 'csv' ? csvRow(CSV_COLUMNS) : '['));
      },
      async pull(controller) {
        const size = Math.min(EXPORT_PAGE_SIZE, MAX_EXPORT_ROWS - written);
        let rows: Page;
        if (pending) {
          rows = pending;
          pending = null;
        } else {
          try {
            [rows] = await scoped(db, scope, [auditPageQuery(db, tenant.id, filters, after, size)]);
          } catch (error) {
            ctx.logger.error('audit export failed', { error, written });
            controller.error(error);
            return;
          }
        }
        rows = rows.slice(0, size);
        let chunk = '';
        for (const { row } of rows) {
          const entry = toAuditEntryView(row);
          chunk += format === 'csv' ? csvLine(entry) : `${written === 0 ? '' : ','}\n${JSON.stringify(entry)}`;
          written += 1;
        }
        const last = rows.at(-1);
        if (last) after = { at: last.cursorAt, id: last.row.id.toString() };
        if (rows.length < EXPORT_PAGE_SIZE || written >= MAX_EXPORT_ROWS) {
          if (format === 'json') chunk += written === 0 ? ']' : '\n]';
          if (chunk) controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(chunk));
      },
    },
    // One page at a time: the next page is read only once the client has taken this one.
    { highWaterMark: 1 },
  );
}
