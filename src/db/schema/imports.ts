import { foreignKey, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { organizations } from './organizations.ts';

/**
 * The ledger of imports (issue #16 part 3): one row per imported entity, keyed by the organization, the kind of row
 * (`event`, `attendee`) and the row's `externalId` from the file, so re-running the same file creates nothing twice.
 * `entity_id` is what the row created (the event, the comp booking). Written in the same batch as the entity; a
 * concurrent import of the same key fails on the primary key and rolls its whole batch back.
 */
export const importKeys = pgTable(
  'import_keys',
  {
    organizationId: uuid().notNull(),
    kind: text().notNull(),
    externalId: text().notNull(),
    entityId: uuid().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Serves the lookup of a file's keys: WHERE organization_id = $1 AND kind = $2 AND external_id = any($3).
    primaryKey({ columns: [table.organizationId, table.kind, table.externalId] }),
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
  ],
);
