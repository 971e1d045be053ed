/**
 * CPU cost of the audit export's serialization: `node bench/audit-export.ts` (100,000 rows, twice MAX_EXPORT_ROWS).
 *
 * Builds rows in pages of EXPORT_PAGE_SIZE (outside the timing, as the database would hand them over) and times what
 * the stream does with each page: the row's view (toAuditEntryView, which clips to the bounds), its CSV line or JSON,
 * and the UTF-8 encoding. Two kinds of rows: typical ones, and worst-case ones (every text column at its bound, full
 * of quotes, metadata at MAX_AUDIT_METADATA), which decide MAX_EXPORT_ROWS against the Worker's CPU limit. Runs in
 * Node, not workerd: the same V8, but a rough guide. Not part of `npm test`. Type-checked with the Worker's sources
 * (tsconfig.json), as it imports them.
 */
import { AUDIT_CELL_BOUNDS, MAX_AUDIT_METADATA } from '../src/services/audit/bounds.ts';
import type { AuditLog } from '../src/db/schema/index.ts';
import { csvLine, EXPORT_PAGE_SIZE } from '../src/services/audit/export.ts';
import { toAuditEntryView } from '../src/services/audit/list.ts';

const total = 100_000;

function row(id: number, worst: boolean): AuditLog {
  const quotes = (length: number) => '"'.repeat(length);
  return {
    id: BigInt(id),
    organizationId: crypto.randomUUID(),
    actorUserId: crypto.randomUUID(),
    actorApiKeyId: null,
    actorType: worst ? 'platform_admin' : 'user',
    action: worst ? 'a'.repeat(AUDIT_CELL_BOUNDS.action) : 'booking.cancelled',
    targetType: worst ? 'a'.repeat(AUDIT_CELL_BOUNDS.target_type) : 'booking',
    targetId: worst ? quotes(AUDIT_CELL_BOUNDS.target_id) : crypto.randomUUID(),
    ip: worst ? quotes(AUDIT_CELL_BOUNDS.ip) : '203.0.113.7',
    userAgent: worst ? quotes(AUDIT_CELL_BOUNDS.user_agent) : 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36',
    requestId: worst ? quotes(AUDIT_CELL_BOUNDS.request_id) : crypto.randomUUID(),
    correlationId: worst ? quotes(AUDIT_CELL_BOUNDS.correlation_id) : null,
    // {"a":"\"\"…"} is exactly MAX_AUDIT_METADATA characters as JSON.
    metadata: worst
      ? { a: quotes((MAX_AUDIT_METADATA - 8) / 2) }
      : { reason: 'customer request', from: 'pending', to: 'cancelled' },
    createdAt: new Date(),
  };
}

const encoder = new TextEncoder();
for (const worst of [false, true]) {
  for (const format of ['csv', 'json'] as const) {
    let spent = 0;
    let bytes = 0;
    for (let done = 0; done < total; done += EXPORT_PAGE_SIZE) {
      const rows = Array.from({ length: Math.min(EXPORT_PAGE_SIZE, total - done) }, (_, index) =>
        row(done + index + 1, worst),
      );
      const started = performance.now();
      let chunk = '';
      for (const stored of rows) {
        const entry = toAuditEntryView(stored);
        chunk += format === 'csv' ? csvLine(entry) : `,\n${JSON.stringify(entry)}`;
      }
      bytes += encoder.encode(chunk).length;
      spent += performance.now() - started;
    }
    console.log(
      `${worst ? 'worst-case' : 'typical'} ${format}: ${total} rows in ${spent.toFixed(0)} ms CPU, ` +
        `${(bytes / 1e6).toFixed(1)} MB`,
    );
  }
}
