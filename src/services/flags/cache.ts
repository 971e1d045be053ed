import { sql, type SQL } from 'drizzle-orm';
// The table, not the schema's index: the tenant lookup (loaded in every isolate at start-up) imports this module.
import { featureFlags } from '../../db/schema/feature-flags.ts';
import { BUILT_IN_FLAGS } from '../plans/catalogue.ts';
import type { FlagDefinition, FlagRegistry } from './evaluate.ts';

/**
 * How long an isolate trusts the flag definitions it read before its next tenant lookup reads them again: as long as
 * a tenant (TENANT_CACHE_TTL_MS). A change of a flag takes effect everywhere within 60 seconds (`flagsUsable`), and
 * at once in the location that made it (`forgetFlagDefinitions` in src/services/tenants/resolve.ts).
 */
export const FLAG_CACHE_TTL_MS = 30_000;

const BUILT_IN_REGISTRY: FlagRegistry = new Map(BUILT_IN_FLAGS.map((flag) => [flag.key, flag]));

// The flag definitions for the life of the isolate (global, a few rows): the tenant lookup reads them in its own
// statement when they are older than FLAG_CACHE_TTL_MS, so evaluating a flag on a warm isolate costs no round trip.
// `revision` is the definitions' `FLAG_REVISION` when the statement that read them selected it (the tenant lookup):
// a request that uses them past their freshness has them checked in its own round trip (src/services/tenants/check.ts).
let loaded: { registry: FlagRegistry; expiresAt: number; revision?: string } | null = null;

/** Whether the isolate's definitions are younger than FLAG_CACHE_TTL_MS (else the tenant lookup reads them). */
export function flagsFresh(now: number): boolean {
  return loaded !== null && loaded.expiresAt > now;
}

/**
 * Whether a tenant-cache hit may use the isolate's definitions as they are: younger than twice FLAG_CACHE_TTL_MS.
 * A tenant entry lives TENANT_CACHE_TTL_MS and its lookup refreshed definitions older than FLAG_CACHE_TTL_MS, so on
 * a hit they are always younger than that: a warm request never pays a round trip for flags (the suite's round-trip
 * assertions caught the hits that did when definitions and tenant entries expired at different moments). A change
 * thus reaches every isolate within 60 seconds; `expireFlags` makes them unusable at once.
 */
export function flagsUsable(now: number): boolean {
  return loaded !== null && loaded.expiresAt + FLAG_CACHE_TTL_MS > now;
}

/**
 * The isolate's flag definitions: the last ones read, even past their TTL (a request's tenant lookup refreshes
 * them before its route runs). Before any read in this isolate (queue consumers, scheduled jobs), the built-in
 * flags as seeded.
 */
export function knownFlags(): FlagRegistry {
  return loaded?.registry ?? BUILT_IN_REGISTRY;
}

/**
 * Keeps definitions read from the database until `expiresAt` (and their `FLAG_REVISION` when the statement selected
 * it); returns them as a registry.
 */
export function rememberFlags(
  definitions: readonly FlagDefinition[],
  expiresAt: number,
  revision?: string,
): FlagRegistry {
  const registry: FlagRegistry = new Map(definitions.map((flag) => [flag.key, flag]));
  loaded = revision === undefined ? { registry, expiresAt } : { registry, expiresAt, revision };
  return registry;
}

/** The isolate's definitions as last read, with their revision (null before any read, or when it is not known). */
export function loadedFlags(): { registry: FlagRegistry; revision: string } | null {
  return loaded?.revision === undefined ? null : { registry: loaded.registry, revision: loaded.revision };
}

/**
 * Makes the next tenant lookup of this isolate read the definitions again (after a change, and in tests): without
 * their revision, so no request uses them with a check instead (src/services/tenants/resolve.ts, hints).
 */
export function expireFlags(): void {
  if (loaded !== null) loaded = { registry: loaded.registry, expiresAt: 0 };
}

/** Tests: the definitions past their freshness as if time had passed (kept with their revision, usable with a check). */
export function ageFlags(): void {
  if (loaded !== null) loaded = { ...loaded, expiresAt: 0 };
}

/**
 * Every flag definition as one JSON array: a scalar subquery to put in the select list of a statement the request
 * makes anyway (the tenant lookup, the features summary), so reading the definitions costs no round trip of its own.
 * Parse the value with `parseFlagDefinitions`.
 */
export const FLAG_DEFINITIONS: SQL = sql`(select coalesce(json_agg(json_build_object(
    'key', ${featureFlags.key}, 'description', ${featureFlags.description},
    'defaultValue', ${featureFlags.defaultValue}, 'planValues', ${featureFlags.planValues},
    'rolloutPercentage', ${featureFlags.rolloutPercentage}) order by ${featureFlags.key}), '[]'::json)
  from ${featureFlags})`;

/** A digest of `FLAG_DEFINITIONS`, computed by the database both where they are read and where they are checked. */
export const FLAG_REVISION: SQL = sql`md5(${FLAG_DEFINITIONS}::text)`;
