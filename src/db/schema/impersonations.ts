import { foreignKey, index, pgEnum, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { organizations } from './organizations.ts';
import { users } from './users.ts';

export const impersonationMode = pgEnum('impersonation_mode', ['read_only']);

/**
 * A platform administrator's impersonation of a member, for support (src/services/impersonations/): time-limited,
 * with a reason, visible to the organization. Its id is the `sid` of its one access token, so ending it early is the
 * ordinary session revocation (`revoked:sid:<id>` in Redis) that every authenticated request already checks; this
 * row is the durable record the organization lists and the platform ends by id.
 */
export const impersonations = pgTable(
  'impersonations',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    // The member acted as.
    userId: uuid().notNull(),
    // The platform administrator; their address is kept as it was (the organization cannot read platform accounts).
    actorUserId: uuid(),
    actorEmail: text().notNull(),
    reason: text().notNull(),
    mode: impersonationMode().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    // Ended early (by the platform or the organization's owner); null while it runs or once it simply expired.
    endedAt: timestamp({ withTimezone: true }),
    endedByUserId: uuid(),
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    foreignKey({ columns: [table.userId], foreignColumns: [users.id] }).onDelete('cascade'),
    foreignKey({ columns: [table.actorUserId], foreignColumns: [users.id] }).onDelete('set null'),
    unique('impersonations_organization_id_id_key').on(table.organizationId, table.id),
    // Serves the organization's list: WHERE organization_id = $1 ORDER BY created_at DESC, id DESC.
    index('impersonations_organization_id_created_at_idx').on(table.organizationId, table.createdAt, table.id),
  ],
);

export type ImpersonationRow = typeof impersonations.$inferSelect;
