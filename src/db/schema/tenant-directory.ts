import { check, foreignKey, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';

/**
 * Which database serves each organization. Every organization starts on the shared database; a large tenant can be
 * moved to a dedicated Neon project (`npm run db:move-org`, docs/OPERATIONS.md "Sharding: moving an organization"),
 * and requests then pick their client from here: tenant resolution joins this row, so the key travels in the cached
 * tenant at no extra round trip. Lives on the shared (control) database only.
 */
export const tenantDirectory = pgTable(
  'tenant_directory',
  {
    // The primary key serves the lookup: WHERE organization_id = $1.
    organizationId: uuid().primaryKey(),
    // 'shared' (DATABASE_URL), or a key of the DATABASE_URLS secret naming a dedicated database's connection string.
    database: text().notNull().default('shared'),
    // Set while the organization is being moved: the Worker refuses its writes (503 organization_read_only with
    // Retry-After), reads keep working. Null otherwise.
    readOnlySince: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    check('tenant_directory_database_key', sql`${table.database} ~ '^[a-z0-9][a-z0-9-]{0,39}$'`),
  ],
);
