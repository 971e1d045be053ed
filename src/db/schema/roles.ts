import { sql } from 'drizzle-orm';
import { boolean, check, foreignKey, pgTable, text, unique, uuid } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';

/**
 * Roles per organization: the built-in ones (owner, admin, organizer, staff, member) are created with the
 * organization and cannot be changed; custom ones are built from the permission catalogue.
 */
export const roles = pgTable(
  'roles',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    // Stable key: the built-in role names, or a slug for custom roles.
    key: text().notNull(),
    name: text().notNull(),
    description: text().notNull().default(''),
    permissions: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    builtIn: boolean().notNull().default(false),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    // Serves role lookup by key within an organization: WHERE organization_id = $1 AND key = $2 (and the role list).
    unique('roles_organization_id_key_key').on(table.organizationId, table.key),
    // Target of the composite foreign key from memberships: (organization_id, role_id).
    unique('roles_organization_id_id_key').on(table.organizationId, table.id),
    check('roles_key_format', sql`${table.key} ~ '^[a-z0-9][a-z0-9_-]{0,62}$'`),
    check('roles_name_length', sql`char_length(${table.name}) between 1 and 100`),
  ],
);

export type Role = typeof roles.$inferSelect;
