import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { events, memberships, organizations, roles, webhookEndpoints } from '../../db/schema/index.ts';
import { ApiError } from '../../errors/api-error.ts';
import { SELF_REGISTRATION_ROLE } from '../auth/permissions.ts';
import type { Tenant } from '../tenants/types.ts';
import { abortLabel, GUARD_LABEL_PREFIX } from '../events/shared.ts';
import { effectivePlan, flagValue, type Feature, type Quota } from './catalogue.ts';
import { knownFlags } from '../flags/cache.ts';

const PLAN_LIMIT_LABEL = 'plan_limit';

/** What counts against each quota, at write time (the tenant's own rows only). */
function usedCount(quota: Quota, organizationId: string): SQL {
  switch (quota) {
    case 'publishedEvents':
      return sql`(select count(*) from ${events} where ${events.organizationId} = ${organizationId} and ${events.status} = 'published')`;
    case 'members':
      return sql`(select count(*) from ${memberships} join ${roles} on ${roles.organizationId} = ${memberships.organizationId} and ${roles.id} = ${memberships.roleId} where ${memberships.organizationId} = ${organizationId} and ${memberships.status} in ('active', 'invited') and ${roles.key} <> ${SELF_REGISTRATION_ROLE})`;
    case 'webhookEndpoints':
      return sql`(select count(*) from ${webhookEndpoints} where ${webhookEndpoints.organizationId} = ${organizationId})`;
  }
}

/**
 * Whether a membership takes a seat of the `members` quota: the JS twin of the `members` count above (active or
 * invited, any role but the built-in `member` of registered customers). A change that makes this true for a
 * membership that did not take a seat must run under `quotaGuard(db, tenant, 'members')`.
 */
export function takesMemberSeat(membership: { role: string; status: string }): boolean {
  return (
    membership.role !== SELF_REGISTRATION_ROLE && (membership.status === 'active' || membership.status === 'invited')
  );
}

/** The organization's limit for a quota under its effective plan; null when unlimited. */
export function quotaLimit(tenant: Tenant, quota: Quota): number | null {
  return effectivePlan(tenant, knownFlags()).quotas[quota];
}

/**
 * Two batch statements that make a write respect a quota; put them FIRST in the batch that creates (or publishes)
 * the counted thing. The first locks the organization's row (FOR NO KEY UPDATE), so concurrent quota writers of
 * the organization queue up; the second (a new statement, hence a fresh READ COMMITTED snapshot that sees
 * what the writer before committed) aborts the whole batch with the `plan_limit` guard when the count has reached
 * the limit. Catch it with `isPlanLimit(error)` and answer `planLimitError(tenant, quota)`.
 *
 * With `enforce: false` (or an unlimited quota) both statements do nothing, so the batch keeps its shape. `adding`
 * (default 1): how many counted things the batch creates (an import publishing several events).
 *
 * @example
 * const [, , [endpoint]] = await scoped(db, { organizationId: tenant.id }, [
 *   ...quotaGuard(db, tenant, 'webhookEndpoints'),
 *   db.insert(webhookEndpoints).values({ ... }).returning(),
 *   auditInsert(db, ctx.client, { ... }),
 * ]);
 */
export function quotaGuard(
  db: Database,
  tenant: Tenant,
  quota: Quota,
  options: { enforce?: boolean; adding?: number } = {},
) {
  const adding = options.adding ?? 1;
  const limit = quotaLimit(tenant, quota);
  if (limit === null || options.enforce === false) {
    return [db.execute(sql`select 0 as quota_lock`), db.execute(sql`select 0 as guard`)] as const;
  }
  return [
    // The organization's row, locked FOR NO KEY UPDATE: quota writers of one organization queue up, while foreign-key
    // checks (FOR KEY SHARE) of ordinary inserts are not blocked. No advisory locks anywhere.
    db.execute(sql`select 1 as quota_lock from ${organizations} where id = ${tenant.id} for no key update`),
    db.execute(
      sql`select (case when ${usedCount(quota, tenant.id)} + ${adding}::int <= ${limit} then '0' else ${GUARD_LABEL_PREFIX + PLAN_LIMIT_LABEL} end)::int as guard`,
    ),
  ] as const;
}

/** Whether a batch failed because a `quotaGuard` found the quota used up. */
export function isPlanLimit(error: unknown): boolean {
  return abortLabel(error) === PLAN_LIMIT_LABEL;
}

/** The 403 `plan_limit` problem, naming the plan, the quota and its limit (extension members `plan`, `quota`, `limit`). */
export function planLimitError(tenant: Tenant, quota: Quota): ApiError {
  const { plan, quotas } = effectivePlan(tenant, knownFlags());
  const limit = quotas[quota];
  return new ApiError('plan_limit', {
    detail: `The ${plan} plan allows ${String(limit)} ${QUOTA_WORDS[quota]}; upgrade the plan for more.`,
    extensions: { plan, quota, limit },
  });
}

/** The 403 `feature_unavailable` problem, naming the plan and the feature (extension members `plan`, `feature`). */
export function featureUnavailable(tenant: Tenant, feature: Feature): ApiError {
  const { plan } = effectivePlan(tenant, knownFlags());
  return new ApiError('feature_unavailable', {
    detail: `The ${plan} plan does not include ${feature.replaceAll('_', ' ')}; upgrade the plan to use it.`,
    extensions: { plan, feature },
  });
}

/**
 * Refuses with `featureUnavailable` unless the organization has the feature: the flag evaluator's answer from the
 * isolate's flag registry and the cached tenant's overrides (no I/O).
 */
export function assertFeature(tenant: Tenant, feature: Feature): void {
  if (!hasFeature(tenant, feature)) throw featureUnavailable(tenant, feature);
}

/** Whether the organization's plan (and its overrides) include `feature`, from the isolate's cache. */
export function hasFeature(tenant: Tenant, feature: Feature): boolean {
  return flagValue(tenant, knownFlags(), feature).value;
}

const QUOTA_WORDS: Record<Quota, string> = {
  publishedEvents: 'published events at a time',
  members: 'staff members (active or invited)',
  webhookEndpoints: 'webhook endpoints',
};
