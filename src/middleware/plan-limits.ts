import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { requireTenant } from '../lib/context.ts';
import { recordOutcomes, refuseIfKnownClosed, requestToken, settleToken, type LimitRule } from '../lib/rate-limit.ts';
import { RedisBatch } from '../lib/redis-batch.ts';
import { apiKeyRecordKey } from '../services/auth/api-key-credentials.ts';
import { isRevoked } from '../services/auth/revocation.ts';
import type { Principal } from '../services/auth/tokens.ts';
import { effectivePlan, type EffectivePlan, type Feature } from '../services/plans/catalogue.ts';
import { assertFeature } from '../services/plans/quotas.ts';
import { queueUsage } from '../services/plans/usage.ts';
import type { Tenant } from '../services/tenants/types.ts';
import { knownFlags } from '../services/flags/cache.ts';

/**
 * The limits of the organization's plan on authenticated requests (fixed one-minute windows in Upstash): the staff
 * budget of the whole organization, the customers' budget of the whole organization, and each caller's own.
 */
export function planRules(plan: Pick<EffectivePlan, 'rateLimits'>): {
  organization: LimitRule;
  customers: LimitRule;
  principal: LimitRule;
} {
  return {
    organization: { name: 'api-organization', limit: plan.rateLimits.organizationPerMinute, window: '1 m' },
    customers: { name: 'api-customers', limit: plan.rateLimits.customersPerMinute, window: '1 m' },
    principal: { name: 'api-principal', limit: plan.rateLimits.principalPerMinute, window: '1 m' },
  };
}

/**
 * The limit of a platform administrator on the platform host (no plan there): generous for a console, a bound on a
 * leaked token or a runaway script.
 */
export const PLATFORM_PRINCIPAL_LIMIT = {
  name: 'api-platform-principal',
  limit: 600,
  window: '1 m',
} as const satisfies LimitRule;

export interface Admission {
  /** Whether the access token was revoked; rejects when Redis cannot answer (the caller fails closed). */
  revoked: Promise<boolean>;
  /**
   * Settles the plan's limits: rejects with the 429 problem when the organization or the caller is over its limit.
   * A limiter that fails (Redis error, timeout) lets the request through (fail open) and is logged.
   */
  limits: Promise<void>;
}

/**
 * The one Redis round trip of an authenticated request: the revocation MGET, on an organization host also the
 * plan's two rate limits (the organization-wide budget of the caller's kind, then the caller's own) and the
 * `api_calls` usage counter, in one pipeline. Callers without any permission (customers, such as self-registered
 * members) share the customers' budget (`api-customers`) and staff the organization's (`api-organization`), so any
 * number of customer accounts cannot lock staff out. On the platform host the revocation MGET goes out with the
 * administrator's own limit (`api-platform-principal`). A bucket this isolate already saw closed refuses with 429 at
 * once, before any Redis command. `units` is what the request costs in both limits (one for a REST request; a GraphQL
 * operation's computed cost, src/routes/graphql/cost.ts).
 */
export function admit(c: Context<AppEnv>, principal: Principal, units = 1): Admission {
  const tenant = c.var.tenant;
  let checks: readonly (readonly [LimitRule, string])[];
  if (tenant) {
    const rules = planRules(effectivePlan(tenant, knownFlags()));
    const shared = principal.permissions.size === 0 ? rules.customers : rules.organization;
    checks = [
      [shared, tenant.id],
      [rules.principal, `${tenant.id}:${principal.userId}`],
    ];
  } else {
    checks = [[PLATFORM_PRINCIPAL_LIMIT, principal.userId]];
  }
  const { answer, limits } = admission(c, checks, (batch) => isRevoked(batch, principal), units);
  return { revoked: answer, limits };
}

/** The limit of one API key: its own bucket, at the plan's per-caller rate. */
export function apiKeyRule(plan: Pick<EffectivePlan, 'rateLimits'>): LimitRule {
  return { name: 'api-key', limit: plan.rateLimits.principalPerMinute, window: '1 m' };
}

export interface ApiKeyAdmission {
  /** The key's Redis record as stored (null when absent); rejects when Redis cannot answer (fail closed). */
  record: Promise<unknown>;
  /** As `Admission.limits`: the key's own limit. */
  limits: Promise<void>;
}

/**
 * The one Redis round trip of a request with an API key (on an organization host): the key's record (GET
 * `apikey:<id>`, see src/services/auth/api-key-credentials.ts), the key's own rate limit (`api-key`, keyed by the key
 * id: a key is its own caller, apart from its creator's sessions) and the `api_calls` usage counter. A key does not
 * draw on the organization-wide staff budget: its record is read in this same round trip, so the budget would be
 * charged before the key is known to be valid.
 */
export function admitApiKey(c: Context<AppEnv>, tenant: Tenant, keyId: string, units = 1): ApiKeyAdmission {
  const checks = [[apiKeyRule(effectivePlan(tenant, knownFlags())), `${tenant.id}:${keyId}`]] as const;
  const { answer, limits } = admission(
    c,
    checks,
    (batch) => batch.command<unknown>((pipeline) => pipeline.get(apiKeyRecordKey(keyId))),
    units,
  );
  return { record: answer, limits };
}

/**
 * Queues the caller's own check (`check`), the rate limits and the usage counter in one pipeline and sends it. A
 * bucket this isolate already saw closed refuses with 429 at once, before any Redis command.
 */
function admission<T>(
  c: Context<AppEnv>,
  checks: readonly (readonly [LimitRule, string])[],
  check: (batch: RedisBatch) => Promise<T>,
  units: number,
): { answer: Promise<T>; limits: Promise<void> } {
  const tenant = c.var.tenant;
  for (const [rule, identifier] of checks) refuseIfKnownClosed(rule, identifier);
  const batch = new RedisBatch(c.var.services.redis);

  const answer = check(batch);
  const answers = checks.map(([rule, identifier]) => requestToken(batch, rule, identifier, units));
  if (tenant) queueUsage(batch, c.var.logger, tenant.id, 'api_calls');
  batch.send();

  const limits = Promise.allSettled(
    checks.map(([rule], index) =>
      settleToken(answers[index] as (typeof answers)[number], c.var.logger, rule, { failClosed: false }),
    ),
  ).then((results) => {
    const refusal = results.find((result) => result.status === 'rejected');
    if (refusal) throw refusal.reason;
    const outcomes = results.flatMap((result) =>
      result.status === 'fulfilled' && result.value !== null ? [result.value] : [],
    );
    recordOutcomes(c.req.raw, outcomes);
  });
  // Awaited only when the caller is valid: a revoked token's 401 must not leave an unhandled rejection behind.
  limits.catch(() => undefined);
  return { answer, limits };
}

/**
 * Route middleware: refuses with 403 `feature_unavailable` (naming the plan) unless the organization's effective
 * plan includes the feature. Put it after the authentication guard, so anonymous callers still get 401 first.
 *
 * @example
 * createRoute({ ..., middleware: [requirePermission('webhooks:manage'), requireFeature('webhooks')] as const })
 */
export function requireFeature(feature: Feature) {
  return createMiddleware<AppEnv>(async function requireFeatureMiddleware(c, next) {
    assertFeature(requireTenant(c.var), feature);
    await next();
  });
}
