import { and, asc, eq, isNotNull, sql } from 'drizzle-orm';
import { ssoConnections, ssoDomains, type SsoDomain } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { normalizeEmail } from '../auth/account.ts';
import { AUTH_LIMITS, clientBucket, enforceLimits } from '../auth/limits.ts';
import { actorOf, auditInsertWhen } from '../audit/record.ts';
import { verifyTxt } from '../dns/verify-txt.ts';
import { ownershipValue } from '../domains/domains.ts';
import { normalizeCustomHostname } from '../domains/hostname.ts';
import { callerOf } from '../roles/authority.ts';
import { emailDomain } from './enforcement.ts';

/*
 * Email domains of an organization's SSO (issue #15 part 3): the organization proves it owns a domain with a DNS TXT
 * record (checked over DNS over HTTPS, like custom domains), routes it to one of its connections, and may enforce SSO
 * for it: then password sign-in is refused for addresses of that domain (owners excepted, the break-glass way in), with
 * a problem that names the connection to sign in with. POST /api/v1/sso/discover tells an app which connection an
 * address belongs to (home-realm discovery).
 */

/** How many SSO domains an organization may hold. */
export const MAX_SSO_DOMAINS = 50;

export interface SsoDomainView {
  id: string;
  domain: string;
  connectionId: string;
  enforce: boolean;
  verified: boolean;
  verifiedAt: string | null;
  /** The TXT record that proves ownership. */
  record: { type: 'TXT'; name: string; value: string };
  createdAt: string;
  updatedAt: string;
}

/** The TXT record's name: `_eventra-sso.<domain>`. */
export function ssoDomainRecordName(domain: string): string {
  return `_eventra-sso.${domain}`;
}

/** The TXT record's value: an HMAC of (organization, domain), stable and different for every organization. */
function recordValue(ctx: ServiceContext, organizationId: string, domain: string): Promise<string> {
  return ownershipValue(ctx, 'sso_domain_verification', organizationId, domain);
}

async function view(ctx: ServiceContext, row: SsoDomain): Promise<SsoDomainView> {
  return {
    id: row.id,
    domain: row.domain,
    connectionId: row.connectionId,
    enforce: row.enforce,
    verified: row.verifiedAt !== null,
    verifiedAt: row.verifiedAt?.toISOString() ?? null,
    record: {
      type: 'TXT',
      name: ssoDomainRecordName(row.domain),
      value: await recordValue(ctx, row.organizationId, row.domain),
    },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function notFound(): ApiError {
  return new ApiError('not_found', { detail: 'No SSO domain with this id.' });
}

/** The organization's SSO domains, by name. One database round trip. */
export async function listSsoDomains({ ctx }: { ctx: ServiceContext }): Promise<SsoDomainView[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db.select().from(ssoDomains).where(eq(ssoDomains.organizationId, tenant.id)).orderBy(asc(ssoDomains.domain)),
  ]);
  return Promise.all(rows.map((row) => view(ctx, row)));
}

/**
 * Adds an unverified domain routed to a connection of this organization, audited in the same statement. 400 for a
 * name that is not a public host name or is the platform's own, or a connection that is not this organization's;
 * 409 when the domain is here already or the organization holds MAX_SSO_DOMAINS. One database round trip.
 */
export async function addSsoDomain({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { domain: string; connectionId: string };
}): Promise<SsoDomainView> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const domain = normalizeCustomHostname(input.domain, ctx.bindings.ROOT_DOMAIN, '/body/domain');
  const db = ctx.services.db;
  const id = crypto.randomUUID();
  const [inserted, known] = await scoped(db, { organizationId: tenant.id }, [
    db.execute<{ id: string }>(sql`with added as (
        insert into ${ssoDomains} (id, organization_id, domain, connection_id)
        select ${id}::uuid, ${tenant.id}::uuid, ${domain}::text, c.id
          from ${ssoConnections} c
         where c.organization_id = ${tenant.id} and c.id = ${input.connectionId}
           and (select count(*) from ${ssoDomains} d where d.organization_id = ${tenant.id}) < ${MAX_SSO_DOMAINS}
        on conflict (organization_id, domain) do nothing
        returning id)
      ${auditInsertWhen(
        ctx.client,
        {
          organizationId: tenant.id,
          actor: actorOf(caller),
          action: 'sso_domain.added',
          target: { type: 'sso_domain', id },
          metadata: { domain, connectionId: input.connectionId },
        },
        sql`true`,
        sql`added`,
      )} returning id`),
    db
      .select({
        connection: ssoConnections.id,
        domain: sql<string | null>`(select ${ssoDomains.domain} from ${ssoDomains}
          where ${ssoDomains.organizationId} = ${tenant.id} and ${ssoDomains.domain} = ${domain})`,
      })
      .from(ssoConnections)
      .where(and(eq(ssoConnections.organizationId, tenant.id), eq(ssoConnections.id, input.connectionId))),
  ]);
  if (inserted.rows.length === 0) {
    if (known[0] === undefined) {
      throw new ApiError('validation_failed', {
        detail: 'The request does not match the schema.',
        errors: [{ pointer: '/body/connectionId', message: 'Must be an SSO connection of this organization.' }],
      });
    }
    throw new ApiError('conflict', {
      detail:
        known[0].domain === null
          ? `This organization holds ${MAX_SSO_DOMAINS} SSO domains already.`
          : 'This domain is added already.',
    });
  }
  return getSsoDomain({ ctx, input: { id } });
}

async function rowOf(ctx: ServiceContext, id: string): Promise<SsoDomain> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select()
      .from(ssoDomains)
      .where(and(eq(ssoDomains.organizationId, tenant.id), eq(ssoDomains.id, id))),
  ]);
  if (row === undefined) throw notFound();
  return row;
}

/** One domain with its TXT record. One database round trip. */
export async function getSsoDomain({ ctx, input }: { ctx: ServiceContext; input: { id: string } }) {
  return view(ctx, await rowOf(ctx, input.id));
}

/**
 * Checks the TXT record over DNS over HTTPS and marks the domain verified (audited); 422 `domain_not_verified` while
 * the record is missing or wrong, 502 when the resolver fails. Verifying a verified domain again re-checks the record
 * (a removed record leaves the domain verified: removing the domain is the way to give it up).
 */
export async function verifySsoDomain({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<SsoDomainView> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const row = await rowOf(ctx, input.id);
  const expected = await recordValue(ctx, tenant.id, row.domain);
  const { verified } = await verifyTxt(ctx.bindings, ssoDomainRecordName(row.domain), expected);
  if (!verified) {
    throw new ApiError('domain_not_verified', {
      detail: `No TXT record ${ssoDomainRecordName(row.domain)} with the expected value yet (DNS changes can take a while).`,
    });
  }
  if (row.verifiedAt !== null) return view(ctx, row);
  const db = ctx.services.db;
  const [[updated]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .update(ssoDomains)
      .set({ verifiedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(ssoDomains.organizationId, tenant.id), eq(ssoDomains.id, row.id)))
      .returning(),
    db.execute(
      auditInsertWhen(
        ctx.client,
        {
          organizationId: tenant.id,
          actor: actorOf(caller),
          action: 'sso_domain.verified',
          target: { type: 'sso_domain', id: row.id },
          metadata: { domain: row.domain },
        },
        sql`exists (select 1 from ${ssoDomains} where ${ssoDomains.id} = ${row.id})`,
      ),
    ),
  ]);
  if (updated === undefined) throw notFound();
  return view(ctx, updated);
}

/**
 * Changes the connection a domain is routed to and whether SSO is enforced for it (enforcing needs a verified
 * domain: 422 otherwise), audited in the same statement. One database round trip.
 */
export async function updateSsoDomain({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; enforce?: boolean | undefined; connectionId?: string | undefined };
}): Promise<SsoDomainView> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const db = ctx.services.db;
  const connection =
    input.connectionId === undefined
      ? sql`${ssoDomains.connectionId}`
      : sql`(select c.id from ${ssoConnections} c where c.organization_id = ${tenant.id} and c.id = ${input.connectionId})`;
  const [[updated], [current]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .update(ssoDomains)
      .set({
        ...(input.enforce === undefined ? {} : { enforce: input.enforce }),
        connectionId: sql`coalesce(${connection}, ${ssoDomains.connectionId})`,
        updatedAt: sql`now()`,
      })
      .where(
        and(
          eq(ssoDomains.organizationId, tenant.id),
          eq(ssoDomains.id, input.id),
          input.enforce === true ? isNotNull(ssoDomains.verifiedAt) : sql`true`,
          input.connectionId === undefined ? sql`true` : sql`${connection} is not null`,
        ),
      )
      .returning(),
    db
      .select({ verifiedAt: ssoDomains.verifiedAt })
      .from(ssoDomains)
      .where(and(eq(ssoDomains.organizationId, tenant.id), eq(ssoDomains.id, input.id))),
    // Written when the update above changed the row (in this transaction, now() is the update's own time).
    db.execute(
      auditInsertWhen(
        ctx.client,
        {
          organizationId: tenant.id,
          actor: actorOf(caller),
          action: 'sso_domain.updated',
          target: { type: 'sso_domain', id: input.id },
          metadata: {
            ...(input.enforce === undefined ? {} : { enforce: input.enforce }),
            ...(input.connectionId === undefined ? {} : { connectionId: input.connectionId }),
          },
        },
        sql`exists (select 1 from ${ssoDomains} where ${ssoDomains.id} = ${input.id} and ${ssoDomains.updatedAt} = now())`,
      ),
    ),
  ]);
  if (updated === undefined) {
    if (current === undefined) throw notFound();
    if (input.enforce === true && current.verifiedAt === null) {
      throw new ApiError('domain_not_verified', { detail: 'Verify the domain before enforcing SSO for it.' });
    }
    throw new ApiError('validation_failed', {
      detail: 'The request does not match the schema.',
      errors: [{ pointer: '/body/connectionId', message: 'Must be an SSO connection of this organization.' }],
    });
  }
  return view(ctx, updated);
}

/** Removes a domain (and with it any enforcement), audited in the same statement. One database round trip. */
export async function removeSsoDomain({ ctx, input }: { ctx: ServiceContext; input: { id: string } }) {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const db = ctx.services.db;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute<{ id: string }>(sql`with removed as (
        delete from ${ssoDomains}
         where ${ssoDomains.organizationId} = ${tenant.id} and ${ssoDomains.id} = ${input.id}
        returning id, domain)
      ${auditInsertWhen(
        ctx.client,
        {
          organizationId: tenant.id,
          actor: actorOf(caller),
          action: 'sso_domain.removed',
          target: { type: 'sso_domain', id: input.id },
        },
        sql`true`,
        sql`removed`,
      )} returning id`),
  ]);
  if (result.rows.length === 0) throw notFound();
}

/**
 * Home-realm discovery: the enabled connection a verified domain of this organization routes `email` to, and whether
 * SSO is enforced for it; 404 when there is none (the address signs in with a password). Depends only on the
 * address's domain, never on whether an account exists. One Redis round trip (the sign-in limit of the client address)
 * and one database round trip.
 */
export async function discoverSso({ ctx, input }: { ctx: ServiceContext; input: { email: string } }) {
  const tenant = requireTenant(ctx);
  await enforceLimits(ctx, [[AUTH_LIMITS.loginClient, clientBucket(ctx)]]);
  const domain = emailDomain(normalizeEmail(input.email));
  const db = ctx.services.db;
  const [[found]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        connectionId: ssoConnections.id,
        name: ssoConnections.name,
        type: ssoConnections.type,
        enforced: ssoDomains.enforce,
      })
      .from(ssoDomains)
      .innerJoin(
        ssoConnections,
        and(
          eq(ssoConnections.organizationId, ssoDomains.organizationId),
          eq(ssoConnections.id, ssoDomains.connectionId),
        ),
      )
      .where(
        and(
          eq(ssoDomains.organizationId, tenant.id),
          eq(ssoDomains.domain, domain),
          isNotNull(ssoDomains.verifiedAt),
          eq(ssoConnections.enabled, true),
        ),
      ),
  ]);
  if (found === undefined) throw new ApiError('not_found', { detail: 'No SSO connection for this address here.' });
  return found;
}
