import type { BuiltInFeatureOverrides, Organization, PlanOverrides } from '../../db/schema/index.ts';
import {
  evaluateFlag,
  FLAG_KEY,
  type FlagDefinition,
  type FlagEvaluation,
  type FlagRegistry,
} from '../flags/evaluate.ts';

export type PlanName = Organization['plan'];
export const PLAN_NAMES = ['starter', 'pro', 'enterprise'] as const satisfies readonly PlanName[];

/**
 * What a plan may switch on, with what it unlocks: the built-in feature flags. Each is a row of `feature_flags`
 * (seeded with the plan values below; platform administrators may change them, never delete them) and the code
 * asks the flag evaluator for it (`effectivePlan(...).features`).
 */
export const FEATURES = {
  webhooks: 'Webhook endpoints (Standard Webhooks deliveries of the organization events)',
  custom_domains: 'Serving the organization on its own domain names',
  sso: 'Single sign-on for staff',
  custom_roles: 'Creating custom roles (POST /api/v1/roles)',
  exports: 'Exports, such as the audit log export',
} as const;

export type Feature = keyof typeof FEATURES;
export const FEATURE_NAMES = Object.keys(FEATURES) as Feature[];

/** What a plan counts, with what is counted. */
export const QUOTAS = {
  publishedEvents: 'Events in the `published` status at the same time (drafts, cancelled and completed ones are free)',
  members:
    'Staff seats: active and invited members, except those with the built-in `member` role (registered customers)',
  webhookEndpoints: 'Webhook endpoints',
} as const;

export type Quota = keyof typeof QUOTAS;
export const QUOTA_NAMES = Object.keys(QUOTAS) as Quota[];

export interface RateLimits {
  /** Authenticated requests per minute for the whole organization's staff (callers with at least one permission). */
  organizationPerMinute: number;
  /**
   * Authenticated requests per minute for all the organization's customers together (callers without any permission,
   * such as self-registered `member`s): their own budget, so a flood of customers never locks staff out.
   */
  customersPerMinute: number;
  /** Authenticated requests per minute for one caller (user) in the organization. */
  principalPerMinute: number;
}

export const RATE_LIMIT_NAMES = [
  'organizationPerMinute',
  'customersPerMinute',
  'principalPerMinute',
] as const satisfies readonly (keyof RateLimits)[];

export interface PlanLimits {
  rateLimits: RateLimits;
  /** null: unlimited. */
  quotas: Record<Quota, number | null>;
  features: Record<Feature, boolean>;
  /**
   * Bytes of uploaded images (organization logo, event covers) the organization may keep in R2 at once; null:
   * unlimited. Not overridable (overrides are capped at MAX_OVERRIDE, far below a useful byte count).
   */
  storageBytes: number | null;
}

// The override type (organizations.plan_overrides) and this catalogue must name the same things: a mismatch fails
// the type check here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends readonly true[]> = T;
export type OverridesMatchCatalogue = Assert<
  [
    Same<Feature, keyof BuiltInFeatureOverrides>,
    Same<Quota, keyof NonNullable<PlanOverrides['quotas']>>,
    Same<keyof RateLimits, keyof NonNullable<PlanOverrides['rateLimits']>>,
  ]
>;

/**
 * The plans. Platform administrators adjust single organizations with overrides (organizations.plan_overrides).
 * `features` here are the values the built-in flags were seeded with (`BUILT_IN_FLAGS`); what is enforced is the
 * flag registry's (src/services/flags).
 */
export const PLANS: Record<PlanName, PlanLimits> = {
  starter: {
    rateLimits: { organizationPerMinute: 100, customersPerMinute: 100, principalPerMinute: 60 },
    quotas: { publishedEvents: 5, members: 5, webhookEndpoints: 0 },
    features: { webhooks: false, custom_domains: false, sso: false, custom_roles: false, exports: false },
    storageBytes: 10 * 1024 * 1024,
  },
  pro: {
    rateLimits: { organizationPerMinute: 1_000, customersPerMinute: 1_000, principalPerMinute: 600 },
    quotas: { publishedEvents: 100, members: 50, webhookEndpoints: 10 },
    features: { webhooks: true, custom_domains: true, sso: false, custom_roles: true, exports: true },
    storageBytes: 1024 * 1024 * 1024,
  },
  enterprise: {
    rateLimits: { organizationPerMinute: 10_000, customersPerMinute: 10_000, principalPerMinute: 6_000 },
    quotas: { publishedEvents: null, members: null, webhookEndpoints: 100 },
    features: { webhooks: true, custom_domains: true, sso: true, custom_roles: true, exports: true },
    storageBytes: 10 * 1024 * 1024 * 1024,
  },
};

/** The largest number an override may set (rate limits and quotas alike). */
export const MAX_OVERRIDE = 1_000_000;

/**
 * The built-in flags as the migration seeded them (default off, the plan values of PLANS, no rollout): what an
 * isolate evaluates before it has read the registry (outside requests only: a request's tenant lookup loads it), and
 * for a built-in missing from a registry read.
 */
export const BUILT_IN_FLAGS: readonly FlagDefinition[] = FEATURE_NAMES.map((key) => ({
  key,
  description: FEATURES[key],
  defaultValue: false,
  planValues: Object.fromEntries(PLAN_NAMES.map((plan) => [plan, PLANS[plan].features[key]])),
  rolloutPercentage: null,
}));

const BUILT_IN_REGISTRY: FlagRegistry = new Map(BUILT_IN_FLAGS.map((flag) => [flag.key, flag]));

/** Whether code references the flag (a built-in plan feature): it can be changed, never deleted. */
export function isBuiltInFlag(key: string): key is Feature {
  return BUILT_IN_REGISTRY.has(key);
}

export interface EffectivePlan extends PlanLimits {
  plan: PlanName;
  /** The organization's overrides as stored (only valid entries). */
  overrides: PlanOverrides;
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= MAX_OVERRIDE;
}

/** Keeps only the well-formed entries of stored overrides (the column is jsonb: never trust its shape blindly). */
export function cleanOverrides(raw: unknown): PlanOverrides {
  const source = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const group = (name: string): Record<string, unknown> => {
    const value = source[name];
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  };
  const clean: PlanOverrides = {};
  const rateLimits = Object.fromEntries(
    RATE_LIMIT_NAMES.flatMap((name) =>
      isCount(group('rateLimits')[name], 1) ? [[name, group('rateLimits')[name]]] : [],
    ),
  ) as PlanOverrides['rateLimits'];
  const quotas = Object.fromEntries(
    QUOTA_NAMES.flatMap((name) => (isCount(group('quotas')[name], 0) ? [[name, group('quotas')[name]]] : [])),
  ) as PlanOverrides['quotas'];
  // The plan features and any other flag key (whether the flag exists is checked where overrides are written).
  const features = Object.fromEntries(
    Object.entries(group('features')).filter(([name, value]) => FLAG_KEY.test(name) && typeof value === 'boolean'),
  ) as PlanOverrides['features'];
  if (rateLimits && Object.keys(rateLimits).length > 0) clean.rateLimits = rateLimits;
  if (quotas && Object.keys(quotas).length > 0) clean.quotas = quotas;
  if (features && Object.keys(features).length > 0) clean.features = features;
  return clean;
}

/** The organization whose plan and flags are evaluated (a tenant, or its row). */
export interface PlanHolder {
  id: string;
  plan: PlanName;
  planOverrides?: unknown;
}

/**
 * The plan of an organization with its overrides applied: what is enforced. Its `features` are the built-in flags
 * evaluated from `flags` (the isolate's registry, `knownFlags()`, on the request path: no I/O).
 */
export function effectivePlan(organization: PlanHolder, flags: FlagRegistry): EffectivePlan {
  const base = PLANS[organization.plan];
  const overrides = cleanOverrides(organization.planOverrides);
  const features = Object.fromEntries(
    FEATURE_NAMES.map((name) => [name, flagOf(organization, overrides, flags, name).value]),
  ) as Record<Feature, boolean>;
  return {
    plan: organization.plan,
    rateLimits: { ...base.rateLimits, ...overrides.rateLimits },
    quotas: { ...base.quotas, ...overrides.quotas },
    features,
    storageBytes: base.storageBytes,
    overrides,
  };
}

function flagOf(
  organization: PlanHolder,
  overrides: PlanOverrides,
  flags: FlagRegistry,
  key: string,
): FlagEvaluation & { flag: FlagDefinition } {
  const flag = flags.get(key) ?? BUILT_IN_REGISTRY.get(key);
  if (flag === undefined) return { flag: unknownFlag(key), value: false, source: 'default' };
  const override = overrides.features?.[key];
  return { flag, ...evaluateFlag(flag, { id: organization.id, plan: organization.plan, override }) };
}

function unknownFlag(key: string): FlagDefinition {
  return { key, description: '', defaultValue: false, planValues: {}, rolloutPercentage: null };
}

/** An organization's value of one flag (false for a flag the registry does not know). */
export function flagValue(organization: PlanHolder, flags: FlagRegistry, key: string): FlagEvaluation {
  const { value, source } = flagOf(organization, cleanOverrides(organization.planOverrides), flags, key);
  return { value, source };
}

/** Every flag of the registry evaluated for the organization, by key. */
export function evaluateFlags(
  organization: PlanHolder,
  flags: FlagRegistry,
): (FlagEvaluation & { key: string; description: string })[] {
  const overrides = cleanOverrides(organization.planOverrides);
  return [...flags.keys()].sort().map((key) => {
    const { flag, value, source } = flagOf(organization, overrides, flags, key);
    return { key, description: flag.description, value, source };
  });
}
