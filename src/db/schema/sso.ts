import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
  index,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';
import { roles } from './roles.ts';
import { users } from './users.ts';

export const ssoConnectionType = pgEnum('sso_connection_type', ['oidc', 'saml', 'google', 'microsoft', 'linkedin']);

/** The social login providers: OpenID Connect with the provider's endpoints built in (src/services/sso/social.ts). */
export type SocialProvider = 'google' | 'microsoft' | 'linkedin';

/**
 * A social connection's settings: the organization's own OAuth client at the provider (its secret encrypted in its
 * own column), or null for the platform's client (SOCIAL_LOGIN_CREDENTIALS). Microsoft only: which Entra ID tenants
 * may sign in (`organizations`, `common`, `consumers` or one tenant's id).
 */
export interface SocialConnectionConfig {
  clientId: string | null;
  tenant?: string | undefined;
}

/** An OIDC connection's settings (the client secret is not here: it is encrypted in its own column). */
export interface OidcConnectionConfig {
  /** The issuer; its discovery document is `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  scopes: string[];
  /**
   * Which ID-token claims carry the email, name and groups, and which one vouches for the email (absent in
   * connections made before it existed: `email_verified`).
   */
  claims: { email: string; name: string; groups: string; emailVerified?: string | undefined };
}

/**
 * A SAML connection's settings (the output of SamlConnectionConfigSchema in src/services/sso/saml/config.ts, which
 * reads them back): the IdP's entityID, its HTTP-Redirect SSO URL and signing certificates (bare base64 DER).
 */
export interface SamlStoredConfig {
  idpEntityId: string;
  ssoUrl: string;
  signingCertificates: string[];
  allowIdpInitiated: boolean;
  idpInitiatedRedirectUri?: string | undefined;
  emailVerifiedByIdp: boolean;
  nameIdFormat?: string | undefined;
  attributes: { email: string; name: string; groups: string };
}

/** `config` by `type`: OidcConnectionConfig for 'oidc', SamlStoredConfig for 'saml', else SocialConnectionConfig. */
export type SsoConnectionConfig = OidcConnectionConfig | SamlStoredConfig | SocialConnectionConfig;

/**
 * An organization's single sign-on connection (enterprise OIDC today; SAML adds its own `config` shape): who may
 * sign in through it, the role new members get (just-in-time provisioning) and the IdP group -> role mapping
 * re-applied at every sign-in.
 */
export const ssoConnections = pgTable(
  'sso_connections',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    type: ssoConnectionType().notNull(),
    name: text().notNull(),
    enabled: boolean().notNull().default(true),
    // Create the membership at the first sign-in (otherwise only existing members may sign in through it).
    jit: boolean().notNull().default(true),
    defaultRoleId: uuid().notNull(),
    // IdP group name -> role key of this organization; the first group (in the mapping's order) that matches wins.
    roleMapping: jsonb().$type<Record<string, string>>().notNull().default({}),
    config: jsonb().$type<SsoConnectionConfig>().notNull(),
    // encryptSecret(..., { purpose: 'sso_client_secret' }); never returned.
    clientSecretEncrypted: text(),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    foreignKey({
      columns: [table.organizationId, table.defaultRoleId],
      foreignColumns: [roles.organizationId, roles.id],
    }),
    unique('sso_connections_organization_id_id_key').on(table.organizationId, table.id),
    // Serves the list: WHERE organization_id = $1 ORDER BY created_at, id.
    index('sso_connections_organization_id_created_at_idx').on(table.organizationId, table.createdAt, table.id),
    check('sso_connections_name_length', sql`char_length(${table.name}) between 1 and 100`),
  ],
);

export type SsoConnection = typeof ssoConnections.$inferSelect;

/** A user's identity at an identity provider (an SSO connection): the provider's subject, linked to one user. */
export const userIdentities = pgTable(
  'user_identities',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    connectionId: uuid().notNull(),
    userId: uuid().notNull(),
    subject: text().notNull(),
    email: text(),
    lastSignInAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    foreignKey({
      columns: [table.organizationId, table.connectionId],
      foreignColumns: [ssoConnections.organizationId, ssoConnections.id],
    }).onDelete('cascade'),
    foreignKey({ columns: [table.userId], foreignColumns: [users.id] }).onDelete('cascade'),
    // Serves the sign-in lookup: WHERE connection_id = $1 AND subject = $2 (one user per subject).
    uniqueIndex('user_identities_connection_id_subject_key').on(table.connectionId, table.subject),
    // Serves a user's identities: WHERE organization_id = $1 AND user_id = $2.
    index('user_identities_organization_id_user_id_idx').on(table.organizationId, table.userId),
  ],
);

export type UserIdentity = typeof userIdentities.$inferSelect;

/**
 * An email domain an organization has proved it owns (DNS TXT), routed to one of its SSO connections: home-realm
 * discovery sends members with an address there to it, and with `enforce` password sign-in is refused for them
 * (owners excepted: the break-glass way in when the IdP is down).
 */
export const ssoDomains = pgTable(
  'sso_domains',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    // Lowercase, no trailing dot.
    domain: text().notNull(),
    connectionId: uuid().notNull(),
    enforce: boolean().notNull().default(false),
    verifiedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    foreignKey({
      columns: [table.organizationId, table.connectionId],
      foreignColumns: [ssoConnections.organizationId, ssoConnections.id],
    }).onDelete('cascade'),
    // Serves the sign-in's check and the discovery: WHERE organization_id = $1 AND domain = $2.
    unique('sso_domains_organization_id_domain_key').on(table.organizationId, table.domain),
    check('sso_domains_domain_format', sql`${table.domain} ~ '^[a-z0-9.-]{1,253}$'`),
  ],
);

export type SsoDomain = typeof ssoDomains.$inferSelect;
