import { sql } from 'drizzle-orm';
import {
  check,
  foreignKey,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { events } from './events.ts';
import { organizations } from './organizations.ts';

/** logo: the organization's logo (one per organization); cover: an event's cover image (one per event). */
export const fileKind = pgEnum('file_kind', ['logo', 'cover']);

/**
 * Uploaded images kept in R2 (issue #16 part 4): one row per stored object, the metadata the Worker checked when it
 * was uploaded (type sniffed from the bytes, dimensions) and the R2 key it lives under. The key is made by the Worker
 * (`images/<organization>/<kind>/<random uuid>`), never from user input. The sum of `size_bytes` of an organization is
 * what its plan's `storageBytes` limit counts.
 */
export const files = pgTable(
  'files',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    kind: fileKind().notNull(),
    /** The event of a cover; null for the logo. */
    eventId: uuid(),
    /** Where the image is: `logo`, or `cover:<event id>` (one image per place). */
    slot: text().notNull(),
    objectKey: text().notNull(),
    contentType: text().notNull(),
    sizeBytes: integer().notNull(),
    width: integer().notNull(),
    height: integer().notNull(),
    /** The R2 etag of the object (served as the download's ETag). */
    etag: text().notNull(),
    createdBy: uuid(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Safety net: deleting the event removes the row (the event delete removes the R2 object in its own batch).
    foreignKey({
      columns: [table.organizationId, table.eventId],
      foreignColumns: [events.organizationId, events.id],
    }).onDelete('cascade'),
    check('files_cover_has_event', sql`(${table.kind} = 'cover') = (${table.eventId} is not null)`),
    check('files_size_positive', sql`${table.sizeBytes} > 0`),
    check(
      'files_slot_matches',
      sql`${table.slot} = (case when ${table.kind} = 'logo' then 'logo' else 'cover:' || ${table.eventId}::text end)`,
    ),
    // One image per place: the upload's upsert and the download's lookup.
    uniqueIndex('files_slot_idx').on(table.organizationId, table.slot),
    // The storage quota: the sum of an organization's sizes.
    index('files_organization_idx').on(table.organizationId, table.sizeBytes),
    // Deleting an event looks up its cover.
    index('files_event_idx').on(table.organizationId, table.eventId),
  ],
);

export type StoredFile = typeof files.$inferSelect;
