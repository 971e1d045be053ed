import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditPageQuery, toAuditEntryView, type AuditCursor, type AuditEntryView, type AuditFilters } from './list.ts';

export type AuditExportFormat = 'csv' | 'json';

/** Rows per database round trip while streaming. */
export const EXPORT_PAGE_SIZE = 500;

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

// A cell a spreadsheet would run as a formula: =, +, -, @ first (also after leading blanks), or a tab or carriage
// return first (OWASP CSV injection).
const FORMULA = /^(?:[=+\-@\t\r]|\s+[=+\-@])/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled. A cell that a
 * spreadsheet would evaluate gets a leading apostrophe and quotes, so it shows as text.
 */
export function csvCell(value: string | null): string {
  if (value === null) return '';
  if (FORMULA.test(value)) return `"'${value.replaceAll('"', '""')}"`;
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function csvRow(cells: readonly (string | null)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

function csvLine(entry: AuditEntryView): string {
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
 * The organization's audit log as a stream, newest first, with the list's filters: pages of EXPORT_PAGE_SIZE rows
 * (one round trip each, under the tenant scope) fetched as the client reads, so memory stays flat however long the
 * log is. CSV has a header row and CRLF line ends; JSON is one array of the list's entries. A database failure
 * midway aborts the stream (the client sees a truncated download) and is logged.
 */
export function exportAuditLog({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { format: AuditExportFormat; filters: AuditFilters };
}): ReadableStream<Uint8Array> {
  const tenant = requireTenant(ctx);
  const { db } = ctx.services;
  const encoder = new TextEncoder();
  const { format, filters } = input;
  let after: AuditCursor | null = null;
  let written = 0;

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode(format === 'csv' ? csvRow(CSV_COLUMNS) : '['));
      },
      async pull(controller) {
        let rows: Awaited<ReturnType<typeof auditPageQuery>>;
        try {
          [rows] = await scoped(db, { organizationId: tenant.id }, [
            auditPageQuery(db, tenant.id, filters, after, EXPORT_PAGE_SIZE),
          ]);
        } catch (error) {
          ctx.logger.error('audit export failed', { error, written });
          controller.error(error);
          return;
        }
        let chunk = '';
        for (const { row } of rows) {
          const entry = toAuditEntryView(row);
          chunk += format === 'csv' ? csvLine(entry) : `${written === 0 ? '' : ','}\n${JSON.stringify(entry)}`;
          written += 1;
        }
        const last = rows.at(-1);
        if (last) after = { at: last.cursorAt, id: last.row.id.toString() };
        if (rows.length < EXPORT_PAGE_SIZE) {
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
