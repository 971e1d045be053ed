import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';
import { users } from './users.ts';

export const exportFormat = pgEnum('export_format', ['json', 'csv']);
export const exportStatus = pgEnum('export_status', ['queued', 'running', 'completed', 'failed']);

/** One finished file of an export (an R2 object under `exports/<organization>/<export>/<name>`). */
export interface ExportFile {
  name: string;
  /** The entity a CSV file holds; null for the JSON document, which holds them all. */
  entity: string | null;
  rows: number;
  sizeBytes: number;
  sha256: string;
}

/**
 * Where an export job stands between two queue steps (src/services/exports/job.ts): the entity being written, the
 * keyset cursor after its last row, and the R2 multipart upload of the file being written with its parts so far.
 */
export interface ExportState {
  entity: number;
  cursor: string[] | null;
  /** Rows of the current entity written so far. */
  entityRows: number;
  upload: { key: string; uploadId: string; parts: { partNumber: number; etag: string }[] } | null;
}

/**
 * An organization export (issue #16 part 2): everything the organization owns, written by the export queue in
 * bounded steps into R2. `step` numbers the queue messages: a message acts only when it carries the row's current
 * step and moves it on with a conditional update, so a redelivered or duplicated message changes nothing.
 */
export const organizationExports = pgTable(
  'organization_exports',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    format: exportFormat().notNull(),
    status: exportStatus().notNull().default('queued'),
    requestedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    step: integer().notNull().default(0),
    state: jsonb()
      .$type<ExportState>()
      .notNull()
      .default(sql`'{"entity":0,"cursor":null,"entityRows":0,"upload":null}'::jsonb`),
    entitiesDone: integer().notNull().default(0),
    rowsWritten: integer().notNull().default(0),
    files: jsonb().$type<ExportFile[]>().notNull().default([]),
    sizeBytes: bigint({ mode: 'number' }),
    error: text(),
    startedAt: timestamp({ withTimezone: true }),
    completedAt: timestamp({ withTimezone: true }),
    /** When the scheduled sweep deletes the files and the row (creation + the retention period). */
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    ...timestamps,
  },
  (table) => [
    // Serves the list, newest first: WHERE organization_id = $1 ORDER BY created_at DESC, id DESC.
    index('organization_exports_organization_id_created_at_idx').on(table.organizationId, table.createdAt, table.id),
    // One export at work per organization: the creation's insert conflicts on it (409).
    uniqueIndex('organization_exports_one_active_key')
      .on(table.organizationId)
      .where(sql`${table.status} in ('queued', 'running')`),
    // Serves the scheduled sweep's stalled jobs across tenants: WHERE status IN ('queued', 'running') AND updated_at < $1.
    index('organization_exports_active_updated_at_idx')
      .on(table.updatedAt)
      .where(sql`${table.status} in ('queued', 'running')`),
    // Serves the scheduled sweep's expired exports across tenants: WHERE expires_at < now().
    index('organization_exports_expires_at_idx').on(table.expiresAt),
    check('organization_exports_progress', sql`${table.entitiesDone} >= 0 and ${table.rowsWritten} >= 0`),
  ],
);

export type OrganizationExport = typeof organizationExports.$inferSelect;
