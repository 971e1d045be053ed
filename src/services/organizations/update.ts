import { eq, sql } from 'drizzle-orm';
import {
  organizationDomains,
  organizations,
  type Organization,
  type OrganizationBranding,
  type OrganizationSettings,
} from '../../db/schema/index.ts';
import { databaseFor, SHARED_DATABASE, sharedDatabase } from '../../db/client.ts';
import { tenantDirectory } from '../../db/schema/tenant-directory.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { organizationData } from '../outbox/views.ts';
import { writeOrganizationCopy } from '../tenants/directory.ts';
import { forgetHosts } from '../tenants/resolve.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Patch<T> = { [K in keyof T]?: T[K] | null };

/** What an organization's administrators may change. Branding and settings merge key by key; null removes a key. */
export interface OrganizationPatch {
  name?: string | undefined;
  branding?: Patch<OrganizationBranding> | undefined;
  settings?: Patch<OrganizationSettings> | undefined;
}

/** What platform administrators may change. */
export interface PlatformOrganizationPatch {
  status?: Organization['status'] | undefined;
  plan?: Organization['plan'] | undefined;
}

function notFound(): ApiError {
  return new ApiError('not_found', { detail: 'No such organization.' });
}

function nothingToChange(fields: string): ApiError {
  const message = `Send at least one of ${fields}.`;
  return new ApiError('validation_failed', { detail: message, errors: [{ pointer: '/body', message }] });
}

/**
 * Drops the cached host resolutions of an organization (its subdomain and its custom domains) in this isolate and
 * in this location's shared tier, so the next request here sees the new status, plan or CORS origins. Other
 * isolates and locations keep their entry until it expires (TENANT_CACHE_TTL_MS, 30 s): a suspension takes effect
 * everywhere within 30 seconds.
 */
async function forgetOrganizationHosts(
  ctx: ServiceContext,
  slug: string,
  domains: readonly { hostname: string }[],
): Promise<void> {
  await forgetHosts(ctx.bindings.ROOT_DOMAIN, [{ slug }, ...domains.map(({ hostname }) => ({ hostname }))]);
}

/** `name`, `branding.logoUrl`, ...: the fields a patch sets, for the audit row. */
function changedFields(patch: OrganizationPatch): string[] {
  const fields: string[] = [];
  if (patch.name !== undefined) fields.push('name');
  for (const group of ['branding', 'settings'] as const) {
    for (const key of Object.keys(patch[group] ?? {})) fields.push(`${group}.${key}`);
  }
  return fields;
}

/**
 * An organization's administrators change its name, branding and settings, on its own host only: any other id (a
 * missing one, or another organization's) answers 404 and changes nothing. The merge happens in the UPDATE itself
 * (`jsonb_strip_nulls(current || patch)`), so concurrent edits of different keys do not overwrite each other; the
 * update, its audit row and the `organization.updated` event (outbox) are one batch.
 */
export async function updateOwnOrganization({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; patch: OrganizationPatch };
}): Promise<Organization> {
  const tenant = requireTenant(ctx);
  if (input.id.toLowerCase() !== tenant.id) throw notFound();
  const fields = changedFields(input.patch);
  if (fields.length === 0) throw nothingToChange('name, branding, settings');
  const { name, branding, settings } = input.patch;
  const { db } = ctx.services;

  const [updated, , domains] = await scoped(db, { organizationId: tenant.id }, [
    db
      .update(organizations)
      .set({
        ...(name === undefined ? {} : { name }),
        ...(branding === undefined
          ? {}
          : { branding: sql`jsonb_strip_nulls(${organizations.branding} || ${JSON.stringify(branding)}::jsonb)` }),
        ...(settings === undefined
          ? {}
          : { settings: sql`jsonb_strip_nulls(${organizations.settings} || ${JSON.stringify(settings)}::jsonb)` }),
        updatedAt: new Date(),
      })
      .where(eq(organizations.id, tenant.id))
      .returning(),
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: { type: 'user', userId: ctx.principal?.userId ?? null },
      action: 'organization.updated',
      target: { type: 'organization', id: tenant.id },
      metadata: { fields },
    }),
    db
      .select({ hostname: organizationDomains.hostname })
      .from(organizationDomains)
      .where(eq(organizationDomains.organizationId, tenant.id)),
    outboxInsertSelect(db, {
      organizationId: tenant.id,
      type: 'organization.updated',
      data: organizationData(tenant.id),
    }),
  ]);
  const row = updated[0];
  if (!row) throw notFound();
  if (tenant.database !== undefined && tenant.database !== SHARED_DATABASE) {
    // The row tenant resolution reads is the control database's: it gets the same name, branding and settings.
    await writeOrganizationCopy(sharedDatabase(ctx.bindings), row.id, {
      name: row.name,
      branding: row.branding,
      settings: row.settings,
    });
  }
  await forgetOrganizationHosts(ctx, row.slug, domains);
  notifyOutbox(ctx, tenant.id);
  return row;
}

/**
 * Platform administrators change an organization's status and plan (platform scope). Suspension takes the
 * organization offline: its hosts answer 404 at once in this isolate, within the tenant cache's 30 s elsewhere.
 * A patch that changes nothing writes nothing (no audit row, no `organization.updated` event).
 */
export async function updateOrganizationAsPlatform({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; patch: PlatformOrganizationPatch };
}): Promise<Organization> {
  const { status, plan } = input.patch;
  if (status === undefined && plan === undefined) throw nothingToChange('status, plan');
  if (!UUID.test(input.id)) throw notFound();
  const id = input.id.toLowerCase();
  const { db } = ctx.services;

  const [currentRows] = await scoped(db, { platform: true }, [
    db
      .select({ organization: organizations, database: tenantDirectory.database })
      .from(organizations)
      .leftJoin(tenantDirectory, eq(tenantDirectory.organizationId, organizations.id))
      .where(eq(organizations.id, id))
      .limit(1),
  ]);
  const current = currentRows[0]?.organization;
  if (!current) throw notFound();
  const database = currentRows[0]?.database ?? SHARED_DATABASE;
  const changes: Record<string, { from: string; to: string }> = {};
  if (status !== undefined && status !== current.status) changes.status = { from: current.status, to: status };
  if (plan !== undefined && plan !== current.plan) changes.plan = { from: current.plan, to: plan };
  if (Object.keys(changes).length === 0) return current;

  const [updated, , domains] = await scoped(db, { platform: true }, [
    db
      .update(organizations)
      .set({
        ...(status === undefined ? {} : { status }),
        ...(plan === undefined ? {} : { plan }),
        updatedAt: new Date(),
      })
      .where(eq(organizations.id, id))
      .returning(),
    auditInsert(db, ctx.client, {
      organizationId: id,
      actor: { type: 'platform_admin', userId: ctx.principal?.userId ?? null },
      action: 'organization.updated',
      target: { type: 'organization', id },
      metadata: { changes },
    }),
    db
      .select({ hostname: organizationDomains.hostname })
      .from(organizationDomains)
      .where(eq(organizationDomains.organizationId, id)),
    outboxInsertSelect(db, { organizationId: id, type: 'organization.updated', data: organizationData(id) }),
  ]);
  const row = updated[0];
  if (!row) throw notFound();
  if (database !== SHARED_DATABASE) {
    // Its copy on its dedicated database, which its own host's reads (plan limits, webhooks) use.
    await writeOrganizationCopy(databaseFor(ctx.bindings, database), id, { status: row.status, plan: row.plan });
  }
  await forgetOrganizationHosts(ctx, row.slug, domains);
  notifyOutbox(ctx, id);
  return row;
}
