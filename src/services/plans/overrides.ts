import { eq, sql } from 'drizzle-orm';
import { databaseFor, SHARED_DATABASE, sharedDatabase, type Database } from '../../db/client.ts';
import { organizationDomains, organizations, tenantDirectory, type PlanOverrides } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { auditInsert } from '../audit/record.ts';
import { writeOrganizationCopy } from '../tenants/directory.ts';
import { forgetHosts } from '../tenants/resolve.ts';
import { FLAG_CACHE_TTL_MS, FLAG_DEFINITIONS, FLAG_REVISION, rememberFlags } from '../flags/cache.ts';
import { parseFlagDefinitions, registryOf, type FlagRegistry } from '../flags/evaluate.ts';
import { cleanOverrides, effectivePlan, evaluateFlags, isBuiltInFlag, type EffectivePlan } from './catalogue.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The effective plan of the organization on this host and every feature flag evaluated for it, read from its row
 * and the flag registry in one statement (one round trip), so it shows a change at once; enforcement uses the
 * isolate's caches, which follow within 30 s (TENANT_CACHE_TTL_MS, FLAG_CACHE_TTL_MS).
 */
export async function getPlanSummary({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<EffectivePlan & { flags: ReturnType<typeof evaluateFlags> }> {
  const tenant = requireTenant(ctx);
  // The control database's, whichever database serves the organization: the flag registry lives there only (a
  // dedicated database's `feature_flags` is never written), and so does the organization row the platform changes.
  const db = sharedDatabase(ctx.bindings);
  const [rows] = await scoped(db, { organizationId: tenant.id }, [organizationWithFlags(db, tenant.id)]);
  const row = rows[0];
  if (!row) throw new ApiError('not_found', { detail: 'No such organization.' });
  // Fresh definitions: this isolate keeps them, as the tenant lookup would.
  const flags = rememberFlags(parseFlagDefinitions(row.flags), Date.now() + FLAG_CACHE_TTL_MS, row.flagsRevision);
  return { ...effectivePlan(row, flags), flags: evaluateFlags(row, flags) };
}

/** The organization's plan and overrides with every flag definition, in one statement. */
function organizationWithFlags(db: Database, id: string) {
  return db
    .select({
      id: organizations.id,
      plan: organizations.plan,
      planOverrides: organizations.planOverrides,
      flags: FLAG_DEFINITIONS,
      flagsRevision: sql<string>`${FLAG_REVISION}`,
      database: tenantDirectory.database,
    })
    .from(organizations)
    .leftJoin(tenantDirectory, eq(tenantDirectory.organizationId, organizations.id))
    .where(eq(organizations.id, id))
    .limit(1);
}

/** 400 for an override of a flag the registry does not define (the plan features always are). */
function assertKnownFlags(overrides: PlanOverrides, flags: FlagRegistry): void {
  const unknown = Object.keys(overrides.features ?? {}).filter((key) => !flags.has(key) && !isBuiltInFlag(key));
  if (unknown.length === 0) return;
  throw new ApiError('validation_failed', {
    detail: 'Overrides may only name defined feature flags (GET /api/v1/platform/feature-flags).',
    errors: unknown.map((key) => ({ pointer: `/features/${key}`, message: 'No such feature flag.' })),
  });
}

/** Sorted keys, so two overrides with the same content compare equal. */
function canonical(value: PlanOverrides): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

/**
 * Platform administrators replace an organization's plan overrides (platform scope). `{}` removes them all. The
 * update and its `organization.plan_overrides_updated` audit row (before and after) are one batch; replacing the
 * overrides with the same content writes nothing. Takes effect at once in this isolate, elsewhere within the tenant
 * cache's 30 seconds.
 */
export async function setPlanOverrides({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; overrides: PlanOverrides };
}): Promise<EffectivePlan & { organizationId: string }> {
  if (!UUID.test(input.id)) throw new ApiError('not_found', { detail: 'No such organization.' });
  const id = input.id.toLowerCase();
  const overrides = cleanOverrides(input.overrides);
  const { db } = ctx.services;

  const [currentRows] = await scoped(db, { platform: true }, [organizationWithFlags(db, id)]);
  const current = currentRows[0];
  if (!current) throw new ApiError('not_found', { detail: 'No such organization.' });
  const flags = registryOf(current.flags);
  assertKnownFlags(input.overrides, flags);
  const before = cleanOverrides(current.planOverrides);
  if (canonical(before) === canonical(overrides)) return { organizationId: id, ...effectivePlan(current, flags) };

  const [updated, , domains] = await scoped(db, { platform: true }, [
    db
      .update(organizations)
      .set({ planOverrides: overrides, updatedAt: new Date() })
      .where(eq(organizations.id, id))
      .returning({
        id: organizations.id,
        slug: organizations.slug,
        plan: organizations.plan,
        planOverrides: organizations.planOverrides,
      }),
    auditInsert(db, ctx.client, {
      organizationId: id,
      actor: { type: 'platform_admin', userId: ctx.principal?.userId ?? null },
      action: 'organization.plan_overrides_updated',
      target: { type: 'organization', id },
      metadata: { before, after: overrides },
    }),
    db
      .select({ hostname: organizationDomains.hostname })
      .from(organizationDomains)
      .where(eq(organizationDomains.organizationId, id)),
  ]);
  const row = updated[0];
  if (!row) throw new ApiError('not_found', { detail: 'No such organization.' });
  if (current.database !== null && current.database !== SHARED_DATABASE) {
    // Its copy on its dedicated database, which its own host's reads of the plan use.
    await writeOrganizationCopy(databaseFor(ctx.bindings, current.database), id, { planOverrides: row.planOverrides });
  }
  await forgetHosts(ctx.bindings.ROOT_DOMAIN, [{ slug: row.slug }, ...domains.map(({ hostname }) => ({ hostname }))]);
  return { organizationId: id, ...effectivePlan(row, flags) };
}
