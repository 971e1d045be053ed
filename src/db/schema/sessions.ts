import { sql } from 'drizzle-orm';
import { foreignKey, index, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { memberships } from './memberships.ts';

/**
 * Refresh tokens, stored as SHA-256 hashes. A family is one login; each refresh spends its token and adds a child.
 * Presenting a spent token after the leeway revokes the whole family (reuse detection).
 */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    userId: uuid().notNull(),
    familyId: uuid().notNull(),
    parentId: uuid(),
    tokenHash: text().notNull(),
    /** This token's own expiry: the idle timeout, never past `sessionExpiresAt`. */
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    /**
     * The family's absolute deadline (sign-in + the session lifetime), copied unchanged to every child, so rotation
     * never extends a session. Every insert sets it; the default only fills the rows that predate the column.
     */
    sessionExpiresAt: timestamp({ withTimezone: true })
      .notNull()
      .default(sql`now() + interval '30 days'`),
    usedAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
    /**
     * When the user last proved who they are in this session (sign-in, re-authentication): the access tokens'
     * `auth_time`. Copied unchanged to every child, like `sessionExpiresAt`, so refreshing never counts as signing in.
     */
    authTime: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** How (RFC 8176 `amr` values): the access tokens' `amr`, copied to every child. */
    amr: text()
      .array()
      .notNull()
      .default(sql`'{pwd}'::text[]`),
    ip: text(),
    userAgent: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Ending the membership ends its sessions.
    foreignKey({
      columns: [table.organizationId, table.userId],
      foreignColumns: [memberships.organizationId, memberships.userId],
    }).onDelete('cascade'),
    // Serves refresh: WHERE organization_id = $1 AND token_hash = $2.
    uniqueIndex('refresh_tokens_organization_id_token_hash_key').on(table.organizationId, table.tokenHash),
    // Serves family revocation: WHERE organization_id = $1 AND family_id = $2.
    index('refresh_tokens_organization_id_family_id_idx').on(table.organizationId, table.familyId),
    // One root per family: an MFA challenge names the family it may start, so a challenge completes at most once
    // (INSERT ... ON CONFLICT (organization_id, family_id) WHERE parent_id IS NULL DO NOTHING).
    uniqueIndex('refresh_tokens_family_root_key')
      .on(table.organizationId, table.familyId)
      .where(sql`${table.parentId} is null`),
    // Serves the platform metrics' active users of a day across organizations: WHERE created_at >= $1 AND
    // created_at < $2 (a sign-in or a refresh adds a row). BRIN: the rows arrive in created_at order and every
    // refresh adds one, so a B-tree would cost every refresh a write for a query that runs every few minutes.
    index('refresh_tokens_created_at_brin').using('brin', table.createdAt),
    // Serves "end every session of a user everywhere" after a password change: WHERE user_id = $1 AND revoked_at IS NULL.
    index('refresh_tokens_user_id_live_idx')
      .on(table.userId)
      .where(sql`${table.revokedAt} is null`),
    // Serves "end every session of a user": WHERE organization_id = $1 AND user_id = $2 AND revoked_at IS NULL.
    index('refresh_tokens_organization_id_user_id_idx')
      .on(table.organizationId, table.userId)
      .where(sql`${table.revokedAt} is null`),
  ],
);

export const userTokenPurpose = pgEnum('user_token_purpose', ['verify_email', 'reset_password', 'invitation']);

/** One-time tokens sent by email (verification, password reset, invitation): hashed, single use, expiring. */
export const userTokens = pgTable(
  'user_tokens',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    userId: uuid().notNull(),
    purpose: userTokenPurpose().notNull(),
    tokenHash: text().notNull(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    usedAt: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.userId],
      foreignColumns: [memberships.organizationId, memberships.userId],
    }).onDelete('cascade'),
    // Serves redemption: WHERE organization_id = $1 AND purpose = $2 AND token_hash = $3.
    uniqueIndex('user_tokens_organization_id_purpose_token_hash_key').on(
      table.organizationId,
      table.purpose,
      table.tokenHash,
    ),
    // Serves "invalidate the user's outstanding tokens of a purpose": WHERE organization_id = $1 AND user_id = $2 AND purpose = $3.
    index('user_tokens_organization_id_user_id_purpose_idx').on(table.organizationId, table.userId, table.purpose),
  ],
);
