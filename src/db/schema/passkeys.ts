import {
  bigint,
  boolean,
  foreignKey,
  index,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { memberships } from './memberships.ts';

/**
 * WebAuthn credentials (passkeys), per (organization, user): each organization is its own relying party (RP ID = its
 * host), so a passkey registered on acme.eventra.app signs in only there. The public key is not a secret; the
 * signature counter detects cloned authenticators (0 for authenticators that keep none, e.g. synced passkeys).
 */
export const passkeys = pgTable(
  'passkeys',
  {
    organizationId: uuid().notNull(),
    id: uuid().notNull().defaultRandom(),
    userId: uuid().notNull(),
    /** The credential id as the authenticator gave it, base64url (at most 1023 bytes by WebAuthn L3). */
    credentialId: text().notNull(),
    /** The COSE public key, base64url. */
    publicKey: text().notNull(),
    counter: bigint({ mode: 'number' }).notNull().default(0),
    /** Transports the browser reported (`internal`, `hybrid`, `usb`, ...): hints for `allowCredentials`. */
    transports: text().array().notNull().default([]),
    /** `singleDevice` (a hardware key) or `multiDevice` (a synced passkey). */
    deviceType: text().notNull(),
    backedUp: boolean().notNull(),
    /** The user's own label ("MacBook Touch ID"). */
    name: text().notNull(),
    /** The authenticator model's AAGUID (all zeros with `none` attestation from most authenticators). */
    aaguid: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp({ withTimezone: true }),
  },
  (table) => [
    primaryKey({ columns: [table.organizationId, table.id] }),
    // Removing the membership removes its passkeys.
    foreignKey({
      columns: [table.organizationId, table.userId],
      foreignColumns: [memberships.organizationId, memberships.userId],
    }).onDelete('cascade'),
    // Serves sign-in with a passkey: WHERE organization_id = $1 AND credential_id = $2 (and one credential, one row).
    uniqueIndex('passkeys_organization_id_credential_id_key').on(table.organizationId, table.credentialId),
    // Serves the user's list and the registration options' excludeCredentials: WHERE organization_id = $1 AND user_id = $2.
    index('passkeys_organization_id_user_id_idx').on(table.organizationId, table.userId, table.createdAt),
  ],
);

export type Passkey = typeof passkeys.$inferSelect;
