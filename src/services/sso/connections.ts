import { createHash } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import { roles } from '../../db/schema/roles.ts';
import {
  ssoConnections,
  type OidcConnectionConfig,
  type SamlStoredConfig,
  type SocialConnectionConfig,
  type SocialProvider,
  type SsoConnection,
  type SsoConnectionConfig,
} from '../../db/schema/sso.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { encryptSecret } from '../../lib/crypto.ts';
import { fieldError } from '../events/shared.ts';
import { checkWebhookUrl } from '../webhooks/url.ts';
import { assertRedirectAllowed } from './redirects.ts';
import { actorOf, auditInsertWhen } from '../audit/record.ts';
import { callerOf } from '../roles/authority.ts';
import { isSocialProvider, platformOrigin, socialLabel, SSO_CALLBACK_PATH } from './social.ts';
// The SAML stack (node-saml, xml-crypto, xmldom) is imported where a SAML connection needs it, never at module
// evaluation: the connection routes and OIDC sign-ins do not load it.
import { SamlConnectionConfigSchema, samlServiceProvider, type SamlConnectionConfigInput } from './saml/config.ts';
import { samlCall } from './saml/consume.ts';
import { SamlError } from './saml/errors.ts';

/** How many SSO connections an organization may hold. */
export const MAX_SSO_CONNECTIONS = 20;

/** A SAML connection's settings as the API shows them, with this side's endpoints for the IdP administrator. */
export interface SamlConnectionView {
  idpEntityId: string;
  ssoUrl: string;
  /** SHA-256 fingerprints (hex, colon-separated) of the signing certificates, as IdP consoles show them. */
  signingCertificates: { sha256Fingerprint: string }[];
  allowIdpInitiated: boolean;
  idpInitiatedRedirectUri: string | null;
  emailVerifiedByIdp: boolean;
  nameIdFormat: string | null;
  attributes: { email: string; name: string; groups: string };
  serviceProvider: { entityId: string; acsUrl: string; metadataUrl: string };
}

/** A social connection's settings as the API shows them. */
export interface SocialConnectionView {
  provider: SocialProvider;
  /** The organization's own client, or null for the platform's. */
  clientId: string | null;
  clientSecretSet: boolean;
  tenant: string | null;
  /** The redirect URI the client must have registered at the provider. */
  redirectUri: string;
}

/** A connection as the API shows it: never its client secret, only whether one is set. */
export interface SsoConnectionView {
  id: string;
  type: SsoConnection['type'];
  name: string;
  enabled: boolean;
  jit: boolean;
  defaultRole: string;
  roleMapping: Record<string, string>;
  oidc: (OidcConnectionConfig & { clientSecretSet: boolean }) | null;
  saml: SamlConnectionView | null;
  social: SocialConnectionView | null;
  createdAt: string;
  updatedAt: string;
}

interface ConnectionFields {
  name: string;
  enabled: boolean;
  jit: boolean;
  defaultRole: string;
  roleMapping: Record<string, string>;
}

export type CreateSsoConnectionInput = ConnectionFields &
  (
    | { type: 'oidc'; oidc: OidcConnectionConfig & { clientSecret?: string | undefined } }
    | {
        type: SocialProvider;
        social?:
          { clientId?: string | undefined; clientSecret?: string | undefined; tenant?: string | undefined } | undefined;
      }
    | {
        type: 'saml';
        saml: Omit<SamlConnectionConfigInput, 'idpEntityId' | 'ssoUrl' | 'signingCertificates'> & {
          idpEntityId?: string | undefined;
          ssoUrl?: string | undefined;
          signingCertificates?: string[] | undefined;
          metadataXml?: string | undefined;
          metadataUrl?: string | undefined;
        };
      }
  );

export function isOidcConfig(type: SsoConnection['type'], config: SsoConnectionConfig): config is OidcConnectionConfig {
  return type === 'oidc' && 'issuer' in config;
}

function fingerprint(certificate: string): string {
  const der = Uint8Array.from(atob(certificate), (character) => character.charCodeAt(0));
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase();
  return hex.replace(/(..)(?!$)/g, '$1:');
}

function samlView(config: SamlStoredConfig, origin: string, connectionId: string): SamlConnectionView {
  const sp = samlServiceProvider(origin, connectionId);
  return {
    idpEntityId: config.idpEntityId,
    ssoUrl: config.ssoUrl,
    signingCertificates: config.signingCertificates.map((certificate) => ({
      sha256Fingerprint: fingerprint(certificate),
    })),
    allowIdpInitiated: config.allowIdpInitiated,
    idpInitiatedRedirectUri: config.idpInitiatedRedirectUri ?? null,
    emailVerifiedByIdp: config.emailVerifiedByIdp,
    nameIdFormat: config.nameIdFormat ?? null,
    attributes: config.attributes,
    serviceProvider: { entityId: sp.entityId, acsUrl: sp.acsUrl, metadataUrl: sp.entityId },
  };
}

function socialView(
  provider: SocialProvider,
  config: SocialConnectionConfig,
  clientSecretSet: boolean,
  origin: string,
  bindings: Pick<ServiceContext['bindings'], 'ENVIRONMENT' | 'ROOT_DOMAIN'>,
): SocialConnectionView {
  const own = config.clientId !== null;
  return {
    provider,
    clientId: config.clientId,
    clientSecretSet: own && clientSecretSet,
    tenant: provider === 'microsoft' ? (config.tenant ?? 'organizations') : null,
    redirectUri: `${own ? origin : platformOrigin(origin, bindings)}${SSO_CALLBACK_PATH}`,
  };
}

export function toConnectionView(
  row: SsoConnection,
  defaultRole: string,
  ctx: Pick<ServiceContext, 'origin' | 'bindings'>,
): SsoConnectionView {
  const config = row.config;
  const origin = ctx.origin ?? '';
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    enabled: row.enabled,
    jit: row.jit,
    defaultRole,
    roleMapping: row.roleMapping,
    oidc: isOidcConfig(row.type, config)
      ? {
          ...config,
          claims: { ...config.claims, emailVerified: config.claims.emailVerified ?? 'email_verified' },
          clientSecretSet: row.clientSecretEncrypted !== null,
        }
      : null,
    saml: row.type === 'saml' ? samlView(config as SamlStoredConfig, origin, row.id) : null,
    social: isSocialProvider(row.type)
      ? socialView(row.type, config as SocialConnectionConfig, row.clientSecretEncrypted !== null, origin, ctx.bindings)
      : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The most an IdP metadata document may weigh (as metadataXml in the body, or fetched from metadataUrl). */
const MAX_METADATA_CHARS = 512 * 1024;
/** How long the IdP's metadata URL is given. */
const METADATA_TIMEOUT_MS = 10_000;

function invalidSamlField(field: string, message: string): ApiError {
  return fieldError(`/body/saml/${field}`, message);
}

/**
 * The IdP's metadata from its URL (Okta's "Identity Provider metadata" link, Entra ID's "App Federation Metadata
 * Url"): a URL the platform may call (checkWebhookUrl), no redirects, 10 seconds, at most 512 KiB. Fetched once, when
 * the connection is created; a failure is a 400 naming the field, with the status, never the body.
 */
async function fetchMetadata(ctx: ServiceContext, url: string): Promise<string> {
  const check = checkWebhookUrl(url, ctx.bindings.ENVIRONMENT);
  if (!check.ok) throw invalidSamlField('metadataUrl', check.reason);
  let response: Response;
  try {
    response = await fetch(url, {
      redirect: 'manual',
      headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' },
      signal: AbortSignal.timeout(METADATA_TIMEOUT_MS),
    });
  } catch {
    throw invalidSamlField('metadataUrl', 'The metadata could not be fetched (no answer within 10 seconds).');
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw invalidSamlField('metadataUrl', `The metadata URL answered ${String(response.status)}, not 200.`);
  }
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > MAX_METADATA_CHARS) {
    await response.body?.cancel();
    throw invalidSamlField('metadataUrl', 'The metadata is larger than 512 KiB.');
  }
  const text = await response.text();
  if (text.length > MAX_METADATA_CHARS) throw invalidSamlField('metadataUrl', 'The metadata is larger than 512 KiB.');
  return text;
}

/**
 * A SAML connection's settings from the request: the IdP metadata, as XML or from its URL, supplies the entityID,
 * SSO URL and certificates (fields given beside it win); the result is normalized by SamlConnectionConfigSchema. 400
 * with the offending field's pointer otherwise.
 */
async function samlConfigOf(
  ctx: ServiceContext,
  input: Extract<CreateSsoConnectionInput, { type: 'saml' }>['saml'],
): Promise<SamlStoredConfig> {
  const { metadataXml, metadataUrl, ...fields } = input;
  if (metadataXml !== undefined && metadataUrl !== undefined) {
    throw invalidSamlField('metadataUrl', 'Give metadataXml or metadataUrl, not both.');
  }
  const source = metadataUrl === undefined ? 'metadataXml' : 'metadataUrl';
  const xml = metadataUrl === undefined ? metadataXml : await fetchMetadata(ctx, metadataUrl);
  let metadata = {};
  if (xml !== undefined) {
    try {
      metadata = await samlCall(ctx, (saml) => saml.parseIdpMetadata(xml));
    } catch (error) {
      if (!(error instanceof SamlError)) throw error;
      throw invalidSamlField(source, error.message);
    }
  }
  // The request's own fields win over the metadata's (absent ones are not keys: the body was parsed by zod).
  const parsed = SamlConnectionConfigSchema.safeParse({ ...metadata, ...fields });
  if (!parsed.success) {
    throw new ApiError('validation_failed', {
      detail: 'The request does not match the schema.',
      errors: parsed.error.issues.map((issue) => ({
        pointer: `/body/saml/${issue.path.map(String).join('/')}`,
        message: issue.message,
      })),
    });
  }
  return parsed.data;
}

/**
 * A social connection's stored settings: the organization's own client (id and secret together) or, without one, the
 * platform's, which must exist; Microsoft's tenant. 400 with the field's pointer otherwise.
 */
function socialConfigOf(
  ctx: ServiceContext,
  provider: SocialProvider,
  input: NonNullable<Extract<CreateSsoConnectionInput, { type: SocialProvider }>['social']>,
): SocialConnectionConfig {
  const invalid = (field: string, message: string) => fieldError(`/body/social/${field}`, message);
  if ((input.clientId === undefined) !== (input.clientSecret === undefined)) {
    throw invalid(
      input.clientId === undefined ? 'clientId' : 'clientSecret',
      'Give clientId and clientSecret together.',
    );
  }
  if (input.clientId === undefined && ctx.bindings.SOCIAL_LOGIN_CREDENTIALS?.[provider] === undefined) {
    throw invalid('clientId', `The platform offers no ${socialLabel(provider)} client: give your own.`);
  }
  if (input.tenant !== undefined && provider !== 'microsoft') throw invalid('tenant', 'Microsoft connections only.');
  return {
    clientId: input.clientId ?? null,
    ...(provider === 'microsoft' ? { tenant: input.tenant ?? 'organizations' } : {}),
  };
}

export function connectionNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No SSO connection with this id.' });
}

/**
 * An issuer the Worker may fetch: a URL the platform may call (checkWebhookUrl: https on the default port, no
 * credentials, no private, loopback or internal host; loopback over http in the local environment only, for the
 * tests' and dev's identity provider), without query or fragment.
 */
export function assertIssuerAllowed(ctx: ServiceContext, issuer: string, pointer: string): void {
  const check = checkWebhookUrl(issuer, ctx.bindings.ENVIRONMENT);
  if (!check.ok) throw fieldError(pointer, check.reason);
  if (check.url.search !== '' || check.url.hash !== '') throw fieldError(pointer, 'Must have no query or fragment.');
}

const roleKeyOf = sql<string>`(select ${roles.key} from ${roles} where ${roles.organizationId} = ${ssoConnections.organizationId} and ${roles.id} = ${ssoConnections.defaultRoleId})`;

/**
 * Creates a connection: the row (client secret encrypted) and its `sso_connection.created` audit row in one
 * database round trip; 400 when the default role does not exist, 409 past MAX_SSO_CONNECTIONS.
 */
export async function createSsoConnection({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateSsoConnectionInput;
}): Promise<SsoConnectionView> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const id = crypto.randomUUID();
  let config: SsoConnectionConfig;
  let clientSecret: string | undefined;
  if (input.type === 'oidc') {
    assertIssuerAllowed(ctx, input.oidc.issuer, '/body/oidc/issuer');
    const { clientSecret: secret, ...oidc } = input.oidc;
    config = oidc;
    clientSecret = secret;
  } else if (input.type !== 'saml') {
    config = socialConfigOf(ctx, input.type, input.social ?? {});
    clientSecret = input.social?.clientSecret;
  } else {
    config = await samlConfigOf(ctx, input.saml);
    // A sign-in started at the IdP has no app request to come back to: it lands on this page of the organization's.
    if (config.allowIdpInitiated && config.idpInitiatedRedirectUri === undefined) {
      throw invalidSamlField('idpInitiatedRedirectUri', 'Required with allowIdpInitiated.');
    }
    if (config.idpInitiatedRedirectUri !== undefined) {
      assertRedirectAllowed(ctx, config.idpInitiatedRedirectUri, '/body/saml/idpInitiatedRedirectUri');
    }
  }
  const clientSecretEncrypted =
    clientSecret === undefined
      ? null
      : await encryptSecret(
          ctx.bindings.DATA_ENCRYPTION_KEY,
          { organizationId: tenant.id, purpose: 'sso_client_secret' },
          clientSecret,
        );
  const db = ctx.services.db;
  const count = sql`(select count(*) from ${ssoConnections} where ${ssoConnections.organizationId} = ${tenant.id})`;
  const [inserted] = await scoped(db, { organizationId: tenant.id }, [
    db
      .insert(ssoConnections)
      .select(
        db
          .select({
            id: sql`${id}::uuid`.as('id'),
            organizationId: sql`${tenant.id}::uuid`.as('organization_id'),
            type: sql`${input.type}::sso_connection_type`.as('type'),
            name: sql`${input.name}::text`.as('name'),
            enabled: sql`${input.enabled}::boolean`.as('enabled'),
            jit: sql`${input.jit}::boolean`.as('jit'),
            defaultRoleId: roles.id,
            roleMapping: sql`${JSON.stringify(input.roleMapping)}::jsonb`.as('role_mapping'),
            config: sql`${JSON.stringify(config)}::jsonb`.as('config'),
            clientSecretEncrypted: sql`${clientSecretEncrypted}::text`.as('client_secret_encrypted'),
            createdAt: sql`now()`.as('created_at'),
            updatedAt: sql`now()`.as('updated_at'),
          })
          .from(roles)
          .where(
            and(
              eq(roles.organizationId, tenant.id),
              eq(roles.key, input.defaultRole),
              sql`${count} < ${MAX_SSO_CONNECTIONS}`,
            ),
          ),
      )
      .returning(),
    db.execute(
      auditInsertWhen(
        ctx.client,
        {
          organizationId: tenant.id,
          actor: actorOf(caller),
          action: 'sso_connection.created',
          target: { type: 'sso_connection', id },
          metadata: {
            type: input.type,
            ...('issuer' in config ? { issuer: config.issuer } : {}),
            ...('idpEntityId' in config ? { idpEntityId: config.idpEntityId } : {}),
            ...('clientId' in config && !('issuer' in config) ? { platformClient: config.clientId === null } : {}),
            name: input.name,
          },
        },
        sql`exists (select 1 from ${ssoConnections} where ${ssoConnections.id} = ${id})`,
      ),
    ),
  ]);
  const row = inserted[0];
  if (row === undefined) {
    throw new ApiError('validation_failed', {
      detail: `No role "${input.defaultRole}" in this organization, or it already has ${MAX_SSO_CONNECTIONS} SSO connections.`,
      errors: [{ pointer: '/body/defaultRole', message: 'Must be the key of a role of this organization.' }],
    });
  }
  return toConnectionView(row, input.defaultRole, ctx);
}

/** The organization's connections, oldest first (at most MAX_SSO_CONNECTIONS): one database round trip. */
export async function listSsoConnections({ ctx }: { ctx: ServiceContext }): Promise<SsoConnectionView[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ row: ssoConnections, defaultRole: roleKeyOf })
      .from(ssoConnections)
      .where(eq(ssoConnections.organizationId, tenant.id))
      .orderBy(asc(ssoConnections.createdAt), asc(ssoConnections.id)),
  ]);
  return rows.map(({ row, defaultRole }) => toConnectionView(row, defaultRole, ctx));
}

/** One connection; another organization's answers 404. One database round trip. */
export async function getSsoConnection({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<SsoConnectionView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ row: ssoConnections, defaultRole: roleKeyOf })
      .from(ssoConnections)
      .where(and(eq(ssoConnections.organizationId, tenant.id), eq(ssoConnections.id, input.id))),
  ]);
  const found = rows[0];
  if (found === undefined) throw connectionNotFound();
  return toConnectionView(found.row, found.defaultRole, ctx);
}

/**
 * Deletes a connection and the identities linked through it (the members keep their memberships and other ways to
 * sign in), with its `sso_connection.deleted` audit row: one database round trip.
 */
export async function deleteSsoConnection({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<void> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const db = ctx.services.db;
  const audit = auditInsertWhen(
    ctx.client,
    {
      organizationId: tenant.id,
      actor: actorOf(caller),
      action: 'sso_connection.deleted',
      target: { type: 'sso_connection', id: input.id },
    },
    sql`true`,
    sql`deleted`,
  );
  // The delete and its audit row in one statement: the audit row exists exactly when a connection was deleted.
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute<{ id: string }>(sql`with deleted as (
        delete from ${ssoConnections}
         where ${ssoConnections.organizationId} = ${tenant.id} and ${ssoConnections.id} = ${input.id}
        returning id)
      ${audit} returning id`),
  ]);
  const rows = result.rows;
  if (rows.length === 0) throw connectionNotFound();
}

/** The SP metadata XML of a SAML connection of this organization (404 otherwise). One database round trip. */
export async function samlMetadataOf({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<string> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ type: ssoConnections.type, config: ssoConnections.config })
      .from(ssoConnections)
      .where(and(eq(ssoConnections.organizationId, tenant.id), eq(ssoConnections.id, input.id))),
  ]);
  const found = rows[0];
  if (found?.type !== 'saml') throw connectionNotFound();
  const sp = samlServiceProvider(ctx.origin ?? '', input.id);
  const config = found.config as SamlStoredConfig;
  return samlCall(ctx, (saml) => saml.serviceProviderMetadata(sp, { nameIdFormat: config.nameIdFormat }));
}
