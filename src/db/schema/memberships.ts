import {
  foreignKey,
  index,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';
import { roles } from './roles.ts';
import { users } from './users.ts';

export const membershipStatus = pgEnum('membership_status', ['active', 'invited', 'disabled']);

/** A user's place in an organization: one role, a status. Removing it ends the user's sessions there. */
export const memberships = pgTable(
  'memberships',
  {
    organizationId: uuid().notNull(),
    userId: uuid().notNull(),
    roleId: uuid().notNull(),
    status: membershipStatus().notNull().default('active'),
    // The name this organization uses for the member (set at invitation, changed by PUT /users/:id). The global
    // users.name stays the person's own: one organization cannot rename someone for the others, and inviting an
    // existing account does not reveal the name it carries elsewhere.
    displayName: text(),
    invitedBy: uuid(),
    // The identity provider's own id for the member when it provisions them over SCIM (src/services/scim): shown back
    // as the SCIM `externalId`, unique per organization.
    scimExternalId: text(),
    lastLoginAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    // Serves every per-request membership lookup: WHERE organization_id = $1 AND user_id = $2.
    primaryKey({ columns: [table.organizationId, table.userId] }),
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    foreignKey({ columns: [table.userId], foreignColumns: [users.id] }).onDelete('cascade'),
    // The role must belong to the same organization.
    foreignKey({ columns: [table.organizationId, table.roleId], foreignColumns: [roles.organizationId, roles.id] }),
    // Serves the user list ordered by creation with a cursor: WHERE organization_id = $1 ORDER BY created_at, user_id.
    index('memberships_organization_id_created_at_idx').on(table.organizationId, table.createdAt, table.userId),
    // Serves "members with this role" (last-owner rule, role deletion, role edits): WHERE organization_id = $1 AND role_id = $2.
    index('memberships_organization_id_role_id_idx').on(table.organizationId, table.roleId),
    // Serves the users row-level security policy: EXISTS (... WHERE user_id = users.id AND organization_id = $tenant).
    index('memberships_user_id_organization_id_idx').on(table.userId, table.organizationId),
    // SCIM's `externalId eq "..."` filter, and one member per IdP id.
    uniqueIndex('memberships_organization_id_scim_external_id_key').on(table.organizationId, table.scimExternalId),
  ],
);

export type Membership = typeof memberships.$inferSelect;
