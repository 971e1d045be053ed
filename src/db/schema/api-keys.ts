import { sql } from 'drizzle-orm';
import { foreignKey, index, pgEnum, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';
import { users } from './users.ts';

export const apiKeyEnvironment = pgEnum('api_key_environment', ['live', 'test']);

/**
 * An integration's API key (`evk_live_<id>_<secret>` / `evk_test_...`), stored as the SHA-256 of the whole key: the
 * key itself is shown once, at creation. This table is the durable copy; the request path verifies keys against a
 * Redis record written at creation and removed at revocation (src/services/auth/api-keys.ts), refilled from here
 * on a miss.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid().primaryKey(),
    organizationId: uuid().notNull(),
    name: text().notNull(),
    environment: apiKeyEnvironment().notNull(),
    // A subset of the creator's permissions at creation.
    permissions: text()
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    keyHash: text().notNull(),
    // The key's last four characters, to recognise it in a list.
    lastFour: text().notNull(),
    // The member who created it: the key acts on their behalf, within its own permissions.
    createdBy: uuid().notNull(),
    expiresAt: timestamp({ withTimezone: true }),
    // Written after the response, at most about once a minute per key.
    lastUsedAt: timestamp({ withTimezone: true }),
    lastUsedIp: text(),
    revokedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    foreignKey({ columns: [table.createdBy], foreignColumns: [users.id] }).onDelete('cascade'),
    unique('api_keys_organization_id_id_key').on(table.organizationId, table.id),
    // Serves the list (WHERE organization_id = $1 ORDER BY created_at, id) and the active-key count at creation.
    index('api_keys_organization_id_created_at_idx').on(table.organizationId, table.createdAt, table.id),
  ],
);

export type ApiKey = typeof apiKeys.$inferSelect;
