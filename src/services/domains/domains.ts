import { and, asc, eq, sql } from 'drizzle-orm';
import { SHARED_DATABASE } from '../../db/client.ts';
import { organizationDomains, type OrganizationDomain } from '../../db/schema/organization-domains.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { signMessage } from '../../lib/crypto.ts';
import { actorOf, auditInsert } from '../audit/record.ts';
import { isUniqueViolation } from '../organizations/database-errors.ts';
import { verifyTxt } from '../dns/verify-txt.ts';
import { forgetHosts } from '../tenants/resolve.ts';
import {
  cloudflareClient,
  createCustomHostname,
  deleteCustomHostname,
  findCustomHostname,
  type CustomHostname,
} from './cloudflare.ts';
import { challengeName, normalizeCustomHostname } from './hostname.ts';

export interface DnsRecord {
  type: 'CNAME' | 'TXT';
  name: string;
  value: string;
  /** What the record is for. */
  purpose: 'routing' | 'ownership' | 'cloudflare_ownership' | 'certificate';
}

export interface DomainView {
  domain: OrganizationDomain;
  records: DnsRecord[];
  cloudflare: { status: string; sslStatus: string; errors: string[] } | null;
}

function notFound(): ApiError {
  return new ApiError('not_found', { detail: 'No such domain.' });
}

function actor(ctx: ServiceContext) {
  return ctx.principal ? actorOf(ctx.principal) : { type: 'system' as const };
}

/**
 * The value of the organization's ownership TXT record: an HMAC of (organization, host name) under
 * DATA_ENCRYPTION_KEY, so it is stable (shown again on every read), different for every organization and
 * unguessable, and needs no column.
 */
export function challengeValue(ctx: ServiceContext, organizationId: string, hostname: string): Promise<string> {
  return ownershipValue(ctx, 'domain_verification', organizationId, hostname);
}

/**
 * An ownership TXT value: `<purpose with dashes>=` and an HMAC of (organization, name) under DATA_ENCRYPTION_KEY
 * for `purpose` (custom domains, SSO email domains).
 */
export async function ownershipValue(
  ctx: ServiceContext,
  purpose: 'domain_verification' | 'sso_domain_verification',
  organizationId: string,
  name: string,
): Promise<string> {
  const mac = await signMessage(ctx.bindings.DATA_ENCRYPTION_KEY, purpose, `${organizationId}:${name}`);
  return `eventra-${purpose === 'domain_verification' ? 'verification' : 'sso-verification'}=${mac}`;
}

function target(ctx: ServiceContext): string {
  const configured = ctx.bindings.CUSTOM_DOMAIN_TARGET;
  return configured ?? `customers.${ctx.bindings.ROOT_DOMAIN}`;
}

async function recordsOf(
  ctx: ServiceContext,
  domain: OrganizationDomain,
  cloudflare: CustomHostname | null,
): Promise<DnsRecord[]> {
  const records: DnsRecord[] = [
    { type: 'CNAME', name: domain.hostname, value: target(ctx), purpose: 'routing' },
    {
      type: 'TXT',
      name: challengeName(domain.hostname),
      value: await challengeValue(ctx, domain.organizationId, domain.hostname),
      purpose: 'ownership',
    },
  ];
  if (cloudflare?.ownershipVerification) {
    const { name, value } = cloudflare.ownershipVerification;
    records.push({ type: 'TXT', name, value, purpose: 'cloudflare_ownership' });
  }
  for (const record of cloudflare?.ssl.validationRecords ?? []) {
    records.push({ type: 'TXT', name: record.txtName, value: record.txtValue, purpose: 'certificate' });
  }
  return records;
}

function statusOf(cloudflare: CustomHostname | null): DomainView['cloudflare'] {
  return cloudflare
    ? { status: cloudflare.status, sslStatus: cloudflare.ssl.status, errors: cloudflare.verificationErrors }
    : null;
}

/** The domain rows live in the shared (control) database, where tenant resolution reads them. */
function onSharedDatabase(ctx: ServiceContext): void {
  const tenant = requireTenant(ctx);
  if (tenant.database !== undefined && tenant.database !== SHARED_DATABASE) {
    throw new ApiError('unprocessable', {
      detail: 'Custom domains are not yet available to organizations on a dedicated database.',
    });
  }
}

/**
 * Adds a custom domain: creates the custom hostname at Cloudflare first (no row when Cloudflare refuses), then the
 * row and its audit row in one batch. Cloudflare's create is idempotent here (an existing hostname is adopted), so a
 * retry after a failed insert succeeds. When the insert fails after Cloudflare created the hostname, it is deleted
 * at Cloudflare again; when the name is another organization's (409), a hostname this call did not create is left
 * alone.
 */
export async function addDomain(ctx: ServiceContext, input: { hostname: string }): Promise<DomainView> {
  const tenant = requireTenant(ctx);
  onSharedDatabase(ctx);
  const hostname = normalizeCustomHostname(input.hostname, ctx.bindings.ROOT_DOMAIN);
  const client = cloudflareClient(ctx.bindings, ctx.logger);
  const created = await createCustomHostname(client, hostname);
  const { db } = ctx.services;
  const id = crypto.randomUUID();
  let inserted: OrganizationDomain[];
  try {
    // A name already registered (by any organization) fails the insert on the unique constraint, and with it the
    // whole batch: no audit row of a refused add.
    [inserted] = await scoped(db, { organizationId: tenant.id }, [
      db.insert(organizationDomains).values({ id, organizationId: tenant.id, hostname }).returning(),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actor(ctx),
        action: 'domain.added',
        target: { type: 'domain', id },
        metadata: { hostname },
      }),
    ]);
  } catch (error) {
    // Ours to undo only if this call created it: an adopted hostname may be the registered owner's.
    if (created.created) await undoCreate(ctx, client, created.hostname.id);
    if (isUniqueViolation(error, 'organization_domains_hostname_unique')) {
      throw new ApiError('conflict', {
        detail: `${hostname} is already registered on this platform.`,
        errors: [{ pointer: '/hostname', message: 'Already registered.' }],
      });
    }
    throw error;
  }
  const row = inserted[0];
  if (!row) throw notFound();
  return { domain: row, records: await recordsOf(ctx, row, created.hostname), cloudflare: statusOf(created.hostname) };
}

async function undoCreate(
  ctx: ServiceContext,
  client: ReturnType<typeof cloudflareClient>,
  cloudflareId: string,
): Promise<void> {
  try {
    await deleteCustomHostname(client, cloudflareId);
  } catch (error) {
    ctx.logger.error('custom hostname left at Cloudflare after a failed insert', { cloudflareId, error });
  }
}

/** The organization's domains, oldest first (at most MAX_DOMAINS: no pagination). */
export async function listDomains(ctx: ServiceContext): Promise<OrganizationDomain[]> {
  const tenant = requireTenant(ctx);
  const { db } = ctx.services;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select()
      .from(organizationDomains)
      .where(eq(organizationDomains.organizationId, tenant.id))
      .orderBy(asc(organizationDomains.createdAt), asc(organizationDomains.id)),
  ]);
  return rows;
}

async function readDomain(ctx: ServiceContext, id: string): Promise<OrganizationDomain> {
  const tenant = requireTenant(ctx);
  const { db } = ctx.services;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select()
      .from(organizationDomains)
      .where(and(eq(organizationDomains.id, id), eq(organizationDomains.organizationId, tenant.id))),
  ]);
  const row = rows[0];
  if (!row) throw notFound();
  return row;
}

/** One domain with the DNS records to create (ours; Cloudflare's are shown by `verify` and on creation). */
export async function getDomain(ctx: ServiceContext, id: string): Promise<DomainView> {
  const domain = await readDomain(ctx, id);
  return { domain, records: await recordsOf(ctx, domain, null), cloudflare: null };
}

/**
 * Checks the domain: our TXT challenge over DNS over HTTPS and the custom hostname's status at Cloudflare (created
 * again if Cloudflare no longer has it). Verified (served) only when the TXT record holds our value and Cloudflare
 * says the hostname and its certificate are `active`; otherwise 422 `domain_not_verified` with what is missing and
 * the records to create. Verifying a verified domain checks again and keeps it verified.
 */
export async function verifyDomain(ctx: ServiceContext, id: string): Promise<DomainView> {
  const tenant = requireTenant(ctx);
  const domain = await readDomain(ctx, id);
  const client = cloudflareClient(ctx.bindings, ctx.logger);
  const expected = await challengeValue(ctx, domain.organizationId, domain.hostname);
  const [txt, found] = await Promise.all([
    verifyTxt(ctx.bindings, challengeName(domain.hostname), expected),
    findCustomHostname(client, domain.hostname),
  ]);
  const cloudflare = found ?? (await createCustomHostname(client, domain.hostname)).hostname;
  const cloudflareActive = cloudflare.status === 'active' && cloudflare.ssl.status === 'active';
  const records = await recordsOf(ctx, domain, cloudflare);
  if (!txt.verified || !cloudflareActive) {
    const missing = [
      ...(txt.verified ? [] : [`the TXT record ${challengeName(domain.hostname)}`]),
      ...(cloudflareActive
        ? []
        : [`Cloudflare's activation (hostname ${cloudflare.status}, certificate ${cloudflare.ssl.status})`]),
    ];
    throw new ApiError('domain_not_verified', {
      detail: `Not verified yet: missing ${missing.join(' and ')}. DNS changes can take a few minutes.`,
      headers: { 'retry-after': String(Math.min(Math.max(txt.ttl ?? 60, 30), 3600)) },
      extensions: { records, ownershipVerified: txt.verified, cloudflare: statusOf(cloudflare) },
    });
  }
  if (domain.verifiedAt !== null) return { domain, records, cloudflare: statusOf(cloudflare) };
  const { db } = ctx.services;
  const [updated] = await scoped(db, { organizationId: tenant.id }, [
    db
      .update(organizationDomains)
      .set({ verifiedAt: sql`coalesce(${organizationDomains.verifiedAt}, now())`, updatedAt: new Date() })
      .where(and(eq(organizationDomains.id, id), eq(organizationDomains.organizationId, tenant.id)))
      .returning(),
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: actor(ctx),
      action: 'domain.verified',
      target: { type: 'domain', id },
      metadata: { hostname: domain.hostname },
    }),
  ]);
  const row = updated[0];
  if (!row) throw notFound();
  // An unknown-host answer for it may be cached (5 s): drop it so the host is served at once here.
  await forgetHosts(ctx.bindings.ROOT_DOMAIN, [{ hostname: row.hostname }]);
  return { domain: row, records, cloudflare: statusOf(cloudflare) };
}

/**
 * Removes a domain: at Cloudflare first (a failure there answers 502 and keeps the row, so a retry finishes the
 * job; a hostname Cloudflare no longer has counts as removed), then the row and its audit row in one batch, then
 * the host's cached resolution here: it stops being served at once on this instance, within 30 s everywhere.
 */
export async function removeDomain(ctx: ServiceContext, id: string): Promise<void> {
  const tenant = requireTenant(ctx);
  const domain = await readDomain(ctx, id);
  const client = cloudflareClient(ctx.bindings, ctx.logger);
  const cloudflare = await findCustomHostname(client, domain.hostname);
  if (cloudflare) await deleteCustomHostname(client, cloudflare.id);
  const { db } = ctx.services;
  const [deleted] = await scoped(db, { organizationId: tenant.id }, [
    db
      .delete(organizationDomains)
      .where(and(eq(organizationDomains.id, id), eq(organizationDomains.organizationId, tenant.id)))
      .returning({ hostname: organizationDomains.hostname }),
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: actor(ctx),
      action: 'domain.removed',
      target: { type: 'domain', id },
      metadata: { hostname: domain.hostname },
    }),
  ]);
  await forgetHosts(ctx.bindings.ROOT_DOMAIN, [{ hostname: domain.hostname }]);
  if (deleted.length === 0) throw notFound();
}
