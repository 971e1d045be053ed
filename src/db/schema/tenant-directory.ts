import { foreignKey, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';

/**
 * Which database serves each organization. Every organization starts on the shared database; a large tenant can be
 * moved to a dedicated Neon project, and requests then pick their client from here.
 */
export const tenantDirectory = pgTable(
  'tenant_directory',
  {
    // The primary key serves the lookup: WHERE organization_id = $1.
    organizationId: uuid().primaryKey(),
    // 'shared', or the name of a Worker secret holding the dedicated database's connection string.
    database: text().notNull().default('shared'),
    ...timestamps,
  },
  (table) => [foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade')],
);
