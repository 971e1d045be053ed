import { bigint, foreignKey, index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { memberships } from './memberships.ts';

/**
 * A member's TOTP factor (RFC 6238) in one organization: second factors are per (organization, user), like the
 * organization's host that brands them. The secret is encrypted at rest (src/lib/crypto.ts, purpose `totp_secret`).
 * A row with `confirmedAt` null is an enrolment waiting for its first valid code; it does not count as a factor.
 */
export const mfaTotp = pgTable(
  'mfa_totp',
  {
    organizationId: uuid().notNull(),
    userId: uuid().notNull(),
    secretCiphertext: text().notNull(),
    confirmedAt: timestamp({ withTimezone: true }),
    /** The last time step whose code was accepted: a code is refused in a step at or before it (replay). */
    lastUsedStep: bigint({ mode: 'number' }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Serves every read and update of a member's factor: WHERE organization_id = $1 AND user_id = $2.
    primaryKey({ columns: [table.organizationId, table.userId] }),
    // Ending the membership ends its factors.
    foreignKey({
      columns: [table.organizationId, table.userId],
      foreignColumns: [memberships.organizationId, memberships.userId],
    }).onDelete('cascade'),
  ],
);

/** Single-use recovery codes, stored as SHA-256 hashes (the codes are 50 random bits: no slow hash needed). */
export const mfaRecoveryCodes = pgTable(
  'mfa_recovery_codes',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    userId: uuid().notNull(),
    codeHash: text().notNull(),
    usedAt: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    foreignKey({
      columns: [table.organizationId, table.userId],
      foreignColumns: [memberships.organizationId, memberships.userId],
    }).onDelete('cascade'),
    // Serves redemption (WHERE organization_id = $1 AND user_id = $2 AND code_hash = $3) and the count of codes left.
    index('mfa_recovery_codes_organization_id_user_id_code_hash_idx').on(
      table.organizationId,
      table.userId,
      table.codeHash,
    ),
  ],
);
