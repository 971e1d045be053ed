import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { importKeys } from '../../db/schema/index.ts';

/*
 * The import keys of both imports (events, comp bookings): an external id maps to what its first apply created, so a
 * re-run of the same file creates nothing twice.
 */

/** What `externalIds` of `kind` created before (a query for the import's read batch). */
export function knownImportKeys(db: Database, organizationId: string, kind: string, externalIds: readonly string[]) {
  return db
    .select({ externalId: importKeys.externalId, entityId: importKeys.entityId })
    .from(importKeys)
    .where(
      and(
        eq(importKeys.organizationId, organizationId),
        eq(importKeys.kind, kind),
        sql`${importKeys.externalId} in (select jsonb_array_elements_text(${JSON.stringify(externalIds)}::jsonb))`,
      ),
    );
}

/** The keys of an apply's created entities (a statement for the apply's write batch). */
export function insertImportKeys(
  db: Database,
  organizationId: string,
  kind: string,
  planned: readonly { source: { externalId?: string | null }; report: { entityId?: string | null } }[],
) {
  return db.insert(importKeys).values(
    planned.map((entry) => ({
      organizationId,
      kind,
      externalId: entry.source.externalId ?? '',
      entityId: entry.report.entityId as string,
    })),
  );
}
