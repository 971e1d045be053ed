import { z } from 'zod';
import type { FeatureFlag } from '../../db/schema/feature-flags.ts';
import type { Organization } from '../../db/schema/organizations.ts';

/**
 * Feature flags (issue #16 part 7): pure evaluation, no I/O. The definitions come from the isolate's cache
 * (src/services/flags/cache.ts); the organization's overrides from its cached tenant (`plan_overrides.features`).
 */

/** What the evaluator needs of a flag: its row without the timestamps. */
export type FlagDefinition = Pick<
  FeatureFlag,
  'key' | 'description' | 'defaultValue' | 'planValues' | 'rolloutPercentage'
>;

/** The flags known to an isolate, by key. */
export type FlagRegistry = ReadonlyMap<string, FlagDefinition>;

/** What decided an organization's value, in evaluation order. */
export const FLAG_SOURCES = ['override', 'rollout', 'plan', 'default'] as const;
export type FlagSource = (typeof FLAG_SOURCES)[number];

export interface FlagEvaluation {
  value: boolean;
  source: FlagSource;
}

/** At most this many flags: the registry is read whole into every isolate with the tenant lookup. */
export const MAX_FEATURE_FLAGS = 200;

/** A flag key: snake_case, 3 to 64 characters (the table's check constraint says the same). */
export const FLAG_KEY = /^[a-z][a-z0-9_]{1,62}[a-z0-9]$/;

/**
 * The organization's rollout bucket for a flag, 0..99: a hash (FNV-1a, 32 bits, with MurmurHash3's finalizer for
 * avalanche) of the flag key and the organization id. Deterministic, so an organization in the rollout at p% is in
 * at every percentage above p (in = bucket < p): growing a rollout only adds organizations. Hashing the key too
 * puts a given organization in different buckets for different flags, so the same early tenants are not always
 * the first ones in.
 */
export function rolloutBucket(flagKey: string, organizationId: string): number {
  const input = `${flagKey}:${organizationId.toLowerCase()}`;
  let hash = 0x811c9dc5;
  for (let index = 0; index < input.length; index += 1) {
    hash ^= input.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % 100;
}

/** Whether the organization is in a rollout of `percentage` (0..100) of the flag. */
export function inRollout(flagKey: string, organizationId: string, percentage: number): boolean {
  return rolloutBucket(flagKey, organizationId) < percentage;
}

/**
 * An organization's value of a flag: its override (when it has one), else the rollout (when the flag has one: in or
 * out of it decides), else its plan's value (when the flag names the plan), else the flag's default.
 */
export function evaluateFlag(
  flag: FlagDefinition,
  organization: { id: string; plan: Organization['plan']; override: boolean | undefined },
): FlagEvaluation {
  if (organization.override !== undefined) return { value: organization.override, source: 'override' };
  if (flag.rolloutPercentage !== null) {
    return { value: inRollout(flag.key, organization.id, flag.rolloutPercentage), source: 'rollout' };
  }
  const planValue = flag.planValues[organization.plan];
  if (planValue !== undefined) return { value: planValue, source: 'plan' };
  return { value: flag.defaultValue, source: 'default' };
}

const PlanValuesShape = z
  .object({ starter: z.boolean().optional(), pro: z.boolean().optional(), enterprise: z.boolean().optional() })
  .strip();

const StoredFlag = z.object({
  key: z.string().regex(FLAG_KEY),
  description: z.string(),
  defaultValue: z.boolean(),
  planValues: PlanValuesShape.catch({}),
  rolloutPercentage: z.number().int().min(0).max(100).nullable(),
});

/**
 * The flag definitions as the tenant lookup reads them (a JSON array, see `FLAG_DEFINITIONS` in cache.ts); a row
 * that is not well formed is left out, never evaluated.
 */
export function parseFlagDefinitions(raw: unknown): FlagDefinition[] {
  const list = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry) => {
    const parsed = StoredFlag.safeParse(entry);
    return parsed.success ? [parsed.data] : [];
  });
}

/** A registry of the definitions read in a statement of the caller's own (`FLAG_DEFINITIONS`). */
export function registryOf(raw: unknown): FlagRegistry {
  return new Map(parseFlagDefinitions(raw).map((flag) => [flag.key, flag]));
}
