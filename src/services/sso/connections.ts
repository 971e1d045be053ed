import { and, asc, eq, sql } from 'drizzle-orm';
import { roles } from '../../db/schema/roles.ts';
import { ssoConnections, type OidcConnectionConfig, type SsoConnection } from '../../db/schema/sso.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { encryptSecret } from '../../lib/crypto.ts';
import { actorOf, auditInsertWhen } from '../audit/record.ts';
import { callerOf } from '../roles/authority.ts';

/** How many SSO connections an organization may hold. */
export const MAX_SSO_CONNECTIONS = 20;

/** A connection as the API shows it: never its client secret, only whether one is set. */
export interface SsoConnectionView {
  id: string;
  type: 'oidc' | 'saml';
  name: string;
  enabled: boolean;
  jit: boolean;
  defaultRole: string;
  roleMapping: Record<string, string>;
  oidc: OidcConnectionConfig & { clientSecretSet: boolean };
  createdAt: string;
  updatedAt: string;
}

export interface CreateSsoConnectionInput {
  name: string;
  enabled: boolean;
  jit: boolean;
  defaultRole: string;
  roleMapping: Record<string, string>;
  oidc: OidcConnectionConfig & { clientSecret?: string | undefined };
}

export function toConnectionView(row: SsoConnection, defaultRole: string): SsoConnectionView {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    enabled: row.enabled,
    jit: row.jit,
    defaultRole,
    roleMapping: row.roleMapping,
    oidc: { ...row.config, clientSecretSet: row.clientSecretEncrypted !== null },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function connectionNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No SSO connection with this id.' });
}

/**
 * An issuer the Worker may fetch: https, or http on loopback in the local environment only (the tests' and dev's
 * local identity provider).
 */
export function assertIssuerAllowed(ctx: ServiceContext, issuer: string, pointer: string): void {
  const url = URL.parse(issuer);
  const loopback = url !== null && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  const allowed =
    url !== null &&
    url.search === '' &&
    url.hash === '' &&
    (url.protocol === 'https:' || (url.protocol === 'http:' && loopback && ctx.bindings.ENVIRONMENT === 'local'));
  if (!allowed) {
    throw new ApiError('validation_failed', {
      detail: 'The request does not match the schema.',
      errors: [{ pointer, message: 'Must be an https URL without query or fragment.' }],
    });
  }
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
  assertIssuerAllowed(ctx, input.oidc.issuer, '/body/oidc/issuer');
  const id = crypto.randomUUID();
  const { clientSecret, ...config } = input.oidc;
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
            type: sql`'oidc'::sso_connection_type`.as('type'),
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
          metadata: { type: 'oidc', issuer: config.issuer, name: input.name },
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
  return toConnectionView(row, input.defaultRole);
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
  return rows.map(({ row, defaultRole }) => toConnectionView(row, defaultRole));
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
  return toConnectionView(found.row, found.defaultRole);
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
