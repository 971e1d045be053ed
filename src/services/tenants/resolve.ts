import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { SHARED_DATABASE, type Database } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
// The tables, not the schema's index: the tenant middleware loads this module in every isolate at start-up.
import { organizationDomains } from '../../db/schema/organization-domains.ts';
import { organizations } from '../../db/schema/organizations.ts';
import { tenantDirectory } from '../../db/schema/tenant-directory.ts';
import {
  ageFlags,
  expireFlags,
  FLAG_CACHE_TTL_MS,
  FLAG_DEFINITIONS,
  FLAG_REVISION,
  flagsFresh,
  flagsUsable,
  loadedFlags,
  rememberFlags,
} from '../flags/cache.ts';
import { parseFlagDefinitions, type FlagDefinition } from '../flags/evaluate.ts';
import type { ChangedFlags, ChangedTenant, TenantCheck } from './check.ts';
import { TENANT_COLUMNS } from './columns.ts';
import { classifyHost } from './host.ts';
import { TENANT_CACHE_TTL_MS, TENANT_HINT_TTL_MS } from './ttl.ts';
import type { Tenant } from './types.ts';

/**
 * `deletion_scheduled`: an organization whose deletion a platform administrator scheduled (it is not served; the
 * tenant middleware answers 404 `organization_deletion_scheduled`). A tenant with a `check` was served from a
 * resolution past its freshness: the request's first round trip must confirm it (src/services/tenants/check.ts).
 */
export type HostResolution =
  | { kind: 'platform' }
  | { kind: 'tenant'; tenant: Tenant; check?: TenantCheck }
  | { kind: 'unknown' }
  | { kind: 'deletion_scheduled' };

type CachedResolution = Exclude<HostResolution, { kind: 'tenant'; check: TenantCheck }>;

/**
 * `expiresAt`: trusted as it is until then (TENANT_CACHE_TTL_MS after the database read or check that made it).
 * A tenant also keeps its `revision` (TENANT_REVISION) and stays usable with a check until `hintUntil`.
 */
interface CacheEntry {
  value: CachedResolution;
  expiresAt: number;
  revision?: string;
  hintUntil?: number;
}

export { TENANT_CACHE_TTL_MS };
/** Unknown hosts are remembered briefly too, so a flood of random host names cannot turn into a flood of queries. */
export const UNKNOWN_HOST_TTL_MS = 5_000;
export const TENANT_CACHE_MAX_ENTRIES = 5_000;

// Host -> resolution for the life of the isolate: a warm request resolves its tenant with no round trip.
// A Map keeps insertion order, which makes it a cheap LRU: hits are re-inserted, the oldest key is evicted first.
const cache = new Map<string, CacheEntry>();

function remember(
  host: string,
  value: CachedResolution,
  expiresAt: number,
  revision?: { revision: string; hintUntil: number },
): CachedResolution {
  if (cache.size >= TENANT_CACHE_MAX_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.delete(host);
  cache.set(host, revision === undefined ? { value, expiresAt } : { value, expiresAt, ...revision });
  return value;
}

/**
 * The colo tier, between the isolate's map and the database: tenant resolutions shared by every isolate of one
 * location through the Workers Cache API (`caches.default`), so an isolate that starts cold in a location that
 * served the host in the last 30 seconds resolves it with no database round trip. An entry keeps the expiry of the
 * database read (or check) that made it, never extended by an isolate merely picking it up; it stays in the tier
 * until its `hintUntil` (TENANT_HINT_TTL_MS), usable past its expiry only with a check in the request's own round
 * trip (see `resolveHost`). Removed at once in the location that made a change (`forgetHosts`). Only tenants are
 * shared; unknown hosts stay per isolate (a flood of random names must not fill the location's cache). Keyed under
 * the platform's own domain, so the platform host can purge the entries of every organization host.
 */
const SHARED_PATH = '/.tenant-cache/';

function sharedKey(rootDomain: string, key: string): string {
  return `https://${rootDomain}${SHARED_PATH}${encodeURIComponent(key)}`;
}

function sharedCache(): Cache | null {
  return typeof caches === 'undefined' ? null : caches.default;
}

interface SharedEntry {
  tenant: Tenant;
  expiresAt: number;
  revision: string;
  hintUntil: number;
}

function isSharedEntry(value: unknown): value is SharedEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { tenant, expiresAt, revision, hintUntil } = value as Partial<SharedEntry>;
  return (
    typeof expiresAt === 'number' &&
    typeof revision === 'string' &&
    typeof hintUntil === 'number' &&
    typeof tenant === 'object' &&
    typeof tenant.id === 'string' &&
    typeof tenant.slug === 'string' &&
    tenant.status === 'active'
  );
}

/** The location's entry for `key`, fresh or not, while it may still serve as a hint; else null. */
async function sharedLookup(rootDomain: string, key: string, now: number): Promise<SharedEntry | null> {
  const shared = sharedCache();
  if (shared === null) return null;
  try {
    const response = await shared.match(sharedKey(rootDomain, key));
    if (response === undefined) return null;
    const entry: unknown = await response.json();
    return isSharedEntry(entry) && entry.hintUntil > now ? entry : null;
  } catch {
    // The tier is an optimization: when it fails, the database answers.
    return null;
  }
}

/**
 * The flag definitions in the location's shared tier, beside the tenants (key `flags`): an isolate that starts cold
 * where a request was served in the last 30 seconds reads them with no round trip either.
 */
const SHARED_FLAGS_KEY = 'flags';

interface SharedFlags {
  flags: readonly FlagDefinition[];
  expiresAt: number;
  revision: string;
  hintUntil: number;
}

/** The location's flag definitions, fresh or not, while they may still serve with a check; else null. */
async function sharedFlagsLookup(rootDomain: string, now: number): Promise<SharedFlags | null> {
  const shared = sharedCache();
  if (shared === null) return null;
  try {
    const response = await shared.match(sharedKey(rootDomain, SHARED_FLAGS_KEY));
    if (response === undefined) return null;
    const entry = await response.json<Partial<SharedFlags> | null>();
    if (typeof entry?.expiresAt !== 'number' || typeof entry.revision !== 'string') return null;
    if (typeof entry.hintUntil !== 'number' || entry.hintUntil <= now) return null;
    return {
      flags: parseFlagDefinitions(entry.flags),
      expiresAt: entry.expiresAt,
      revision: entry.revision,
      hintUntil: entry.hintUntil,
    };
  } catch {
    return null;
  }
}

/** Stores an entry in the location's tier until its `hintUntil`. */
function sharedPut(rootDomain: string, key: string, entry: { hintUntil: number }, now: number): Promise<void> {
  const shared = sharedCache();
  const seconds = Math.floor((entry.hintUntil - now) / 1000);
  if (shared === null || seconds < 1) return Promise.resolve();
  const body = JSON.stringify(entry);
  return shared
    .put(
      sharedKey(rootDomain, key),
      new Response(body, {
        headers: { 'content-type': 'application/json', 'cache-control': `max-age=${String(seconds)}` },
      }),
    )
    .catch(() => undefined);
}

/**
 * Resolves a request host to the platform, an active tenant, or nothing. Suspended organizations resolve to
 * nothing, like unknown hosts; one whose deletion is scheduled to `deletion_scheduled` (whatever its status). Looked
 * up in the isolate, then in the location's shared tier (the Cache API, when `waitUntil` is given to store into it
 * after the response), then in the database: one round trip (a batch: the row-level security scope, then the
 * lookup), none on a hit of either cache, and none for a host either cache holds past its freshness (within
 * TENANT_HINT_TTL_MS): that resolution comes with a `check` the request's own first round trip makes
 * (`hintedResolution`, src/services/tenants/check.ts). The lookup joins the tenant directory,
 * so the tenant carries the key of the database that serves it (and whether it is read-only while being moved): the
 * request picks its client with no further round trip. `db` is the shared (control) database, where the
 * organizations, their domains and the directory live whichever database serves their other rows. An organization
 * host also makes sure the isolate's feature flag definitions are fresh (src/services/flags/cache.ts): when they are
 * not (and the shared tier has none), the lookup reads them in its own statement, so flags cost no round trip of
 * their own.
 */
export async function resolveHost(input: {
  db: () => Database;
  hostname: string;
  rootDomain: string;
  now?: number;
  waitUntil?: (promise: Promise<unknown>) => void;
}): Promise<HostResolution> {
  const now = input.now ?? Date.now();
  const classified = classifyHost(input.hostname, input.rootDomain);
  if (classified.kind === 'platform') return { kind: 'platform' };
  if (classified.kind === 'invalid') return { kind: 'unknown' };

  const key = classified.kind === 'subdomain' ? `slug:${classified.slug}` : `host:${classified.hostname}`;
  const cached = cache.get(key);
  const hit = cached && cached.expiresAt > now ? cached : undefined;
  const touch = (entry: CacheEntry) => {
    cache.delete(key);
    cache.set(key, entry);
    return entry.value;
  };
  if (hit && (hit.value.kind !== 'tenant' || flagsUsable(now))) return touch(hit);

  let shared: SharedEntry | null = null;
  let sharedFlags: SharedFlags | null = null;
  // An entry of this isolate that can serve as a hint (with flags it can check) is used as it is: the location's
  // tier would save only the check, which costs no round trip of its own.
  const local = cached === undefined ? null : hintOf(cached, now);
  if (input.waitUntil !== undefined && (local === null || (!flagsUsable(now) && loadedFlags() === null))) {
    [shared, sharedFlags] = await Promise.all([
      hit ? null : sharedLookup(input.rootDomain, key, now),
      flagsFresh(now) ? null : sharedFlagsLookup(input.rootDomain, now),
    ]);
    if (sharedFlags !== null && sharedFlags.expiresAt > now) {
      rememberFlags(sharedFlags.flags, sharedFlags.expiresAt, sharedFlags.revision);
    }
    if (flagsFresh(now)) {
      if (hit) return touch(hit);
      if (shared !== null && shared.expiresAt > now) {
        return remember(key, { kind: 'tenant', tenant: shared.tenant }, shared.expiresAt, shared);
      }
    }
  }

  const hinted = hintedResolution(
    key,
    classified,
    local,
    shared === null ? null : hintOf(shared, now),
    sharedFlags,
    now,
  );
  if (hinted !== null) return hinted;

  const db = input.db();
  const flagsKnown = flagsFresh(now);
  const columns = {
    ...TENANT_COLUMNS,
    flags: flagsKnown ? sql<null>`null` : FLAG_DEFINITIONS,
    flagsRevision: flagsKnown ? sql<null>`null` : sql<string>`${FLAG_REVISION}`,
  };
  const [rows] =
    classified.kind === 'subdomain'
      ? await scoped(db, { resolveSlug: classified.slug }, [
          db
            .select(columns)
            .from(organizations)
            .leftJoin(tenantDirectory, eq(tenantDirectory.organizationId, organizations.id))
            .where(eq(organizations.slug, classified.slug))
            .limit(1),
        ])
      : await scoped(db, { resolveHost: classified.hostname }, [
          db
            .select(columns)
            .from(organizationDomains)
            .innerJoin(organizations, eq(organizations.id, organizationDomains.organizationId))
            .leftJoin(tenantDirectory, eq(tenantDirectory.organizationId, organizations.id))
            .where(
              and(eq(organizationDomains.hostname, classified.hostname), isNotNull(organizationDomains.verifiedAt)),
            )
            .limit(1),
        ]);
  const row = rows[0];
  if (!row || row.status !== 'active') return remember(key, { kind: 'unknown' }, now + UNKNOWN_HOST_TTL_MS);
  const { flags, flagsRevision, deleteAfter, revision, ...tenant } = row;
  if (flags !== null && flagsRevision !== null) {
    storeFlags(parseFlagDefinitions(flags), flagsRevision, input.rootDomain, now, input.waitUntil);
  }
  // Remembered as briefly as an unknown host: a cancelled deletion is served again everywhere within 5 seconds.
  if (deleteAfter !== null) return remember(key, { kind: 'deletion_scheduled' }, now + UNKNOWN_HOST_TTL_MS);
  return storeTenant(key, tenant, revision, input.rootDomain, now, input.waitUntil);
}

/**
 * A tenant just read or checked: fresh for TENANT_CACHE_TTL_MS in this isolate and (after the response, when
 * `waitUntil` is given) in the location's tier, and a hint until TENANT_HINT_TTL_MS.
 */
function storeTenant(
  key: string,
  tenant: Tenant,
  revision: string,
  rootDomain: string,
  now: number,
  waitUntil?: (promise: Promise<unknown>) => void,
): CachedResolution {
  const entry: SharedEntry = {
    tenant,
    expiresAt: now + TENANT_CACHE_TTL_MS,
    revision,
    hintUntil: now + TENANT_HINT_TTL_MS,
  };
  waitUntil?.(sharedPut(rootDomain, key, entry, now));
  return remember(key, { kind: 'tenant', tenant }, entry.expiresAt, entry);
}

/** Flag definitions just read or checked: like `storeTenant`, for FLAG_CACHE_TTL_MS. */
function storeFlags(
  definitions: readonly FlagDefinition[],
  revision: string,
  rootDomain: string,
  now: number,
  waitUntil?: (promise: Promise<unknown>) => void,
): void {
  const entry: SharedFlags = {
    flags: definitions,
    expiresAt: now + FLAG_CACHE_TTL_MS,
    revision,
    hintUntil: now + TENANT_HINT_TTL_MS,
  };
  rememberFlags(entry.flags, entry.expiresAt, entry.revision);
  waitUntil?.(sharedPut(rootDomain, SHARED_FLAGS_KEY, entry, now));
}

/**
 * An entry (the isolate's or the location's) that may serve as a hint: a tenant with its revision, within its
 * `hintUntil`, on the shared database and not being moved; else null.
 */
function hintOf(entry: CacheEntry | SharedEntry, now: number): SharedEntry | null {
  const tenant = 'value' in entry ? (entry.value.kind === 'tenant' ? entry.value.tenant : null) : entry.tenant;
  if (tenant === null || entry.revision === undefined || entry.hintUntil === undefined || entry.hintUntil <= now) {
    return null;
  }
  if ((tenant.database !== undefined && tenant.database !== SHARED_DATABASE) || tenant.readOnly === true) return null;
  return { tenant, expiresAt: entry.expiresAt, revision: entry.revision, hintUntil: entry.hintUntil };
}

/**
 * A tenant resolution past its freshness, served without a round trip of its own: the isolate's entry or the
 * location's, while within its `hintUntil` (TENANT_HINT_TTL_MS), with the flag definitions the isolate holds (or the
 * location's, likewise). The request's first round trip checks the tenant (src/services/tenants/check.ts), so a
 * hint is never trusted for tenant data: a suspension, a scheduled deletion, a directory change (a move) or a domain
 * moved since it was read aborts that batch (503, Retry-After: 1), and the next request reads afresh. The same round
 * trip reads the organization (plan, settings...) and the flag definitions again if they changed, for the next
 * request on. Only for an organization on the shared database that is not being moved: the control database the
 * check reads is then the one the request's batch goes to. Null when no hint applies (the database answers, as
 * before).
 */
function hintedResolution(
  key: string,
  classified: { kind: 'subdomain'; slug: string } | { kind: 'custom'; hostname: string },
  local: SharedEntry | null,
  shared: SharedEntry | null,
  sharedFlags: SharedFlags | null,
  now: number,
): HostResolution | null {
  const hint = local ?? shared;
  if (hint === null) return null;
  const { tenant } = hint;
  let flagsRevision: string | null = null;
  if (!flagsUsable(now)) {
    const held = loadedFlags();
    if (held === null && sharedFlags !== null) {
      rememberFlags(sharedFlags.flags, sharedFlags.expiresAt, sharedFlags.revision);
    }
    const flags = held ?? (sharedFlags === null ? null : { revision: sharedFlags.revision });
    if (flags === null) return null;
    flagsRevision = flags.revision;
  }
  if (local === null) remember(key, { kind: 'tenant', tenant }, hint.expiresAt, hint);
  const host = classified.kind === 'subdomain' ? { slug: classified.slug } : { hostname: classified.hostname };
  return {
    kind: 'tenant',
    tenant,
    check: { key, host, organizationId: tenant.id, revision: hint.revision, flagsRevision },
  };
}

/**
 * After the request's round trip confirmed a hinted resolution: fresh again, here and in the location's tier, for
 * TENANT_CACHE_TTL_MS, as after a database read (the organization as that round trip read it, when it had changed);
 * the flags it checked too, for FLAG_CACHE_TTL_MS (the definitions it read instead, when they had changed).
 */
export function confirmResolution(
  check: TenantCheck,
  changes: { tenant: ChangedTenant | null; flags: ChangedFlags | null },
  rootDomain: string,
  waitUntil: (promise: Promise<unknown>) => void,
  now = Date.now(),
): void {
  if (changes.flags !== null) {
    storeFlags(parseFlagDefinitions(changes.flags.definitions), changes.flags.revision, rootDomain, now, waitUntil);
  } else if (check.flagsRevision !== null) {
    const held = loadedFlags();
    if (held?.revision === check.flagsRevision) {
      storeFlags([...held.registry.values()], held.revision, rootDomain, now, waitUntil);
    }
  }
  // Another request of this isolate may have read the organization afresh meanwhile: its entry stays.
  const cached = cache.get(check.key);
  if (cached?.value.kind !== 'tenant' || cached.revision !== check.revision) return;
  if (changes.tenant === null) {
    storeTenant(check.key, cached.value.tenant, check.revision, rootDomain, now, waitUntil);
  } else {
    const { deleteAfter: _deleteAfter, revision, ...tenant } = changes.tenant;
    storeTenant(check.key, tenant, revision, rootDomain, now, waitUntil);
  }
}

/**
 * After a change of a flag definition: this isolate reads the definitions again with its next tenant lookup, and
 * this location's shared tier drops them. Other isolates follow within 60 s (`flagsUsable`), or from their next
 * request after one on a hint, whose round trip reads the changed definitions.
 */
export async function forgetFlagDefinitions(rootDomain: string): Promise<void> {
  expireFlags();
  const shared = sharedCache();
  if (shared === null) return;
  await shared.delete(sharedKey(rootDomain, SHARED_FLAGS_KEY)).catch(() => undefined);
}

/**
 * Drops an organization's hosts from this isolate and from this location's shared tier: after a suspension, a plan
 * or settings change, a domain removed, and when a hint's check refused a request. Other locations keep their
 * entries: fresh for 30 s at most, then hints whose check refuses what may no longer be served and reads the rest.
 */
export async function forgetHosts(
  rootDomain: string,
  keys: readonly { slug?: string; hostname?: string }[],
): Promise<void> {
  const shared = sharedCache();
  const deletions: Promise<unknown>[] = [];
  for (const key of keys) {
    forgetHost(key);
    if (shared === null) continue;
    if (key.slug !== undefined) deletions.push(shared.delete(sharedKey(rootDomain, `slug:${key.slug}`)));
    if (key.hostname !== undefined) deletions.push(shared.delete(sharedKey(rootDomain, `host:${key.hostname}`)));
  }
  await Promise.allSettled(deletions);
}

/** Drops cached resolutions in this isolate only (tests; `forgetHosts` also purges the location's shared tier). */
export function forgetHost(key?: { slug?: string; hostname?: string }): void {
  if (!key) {
    cache.clear();
    return;
  }
  if (key.slug !== undefined) cache.delete(`slug:${key.slug}`);
  if (key.hostname !== undefined) cache.delete(`host:${key.hostname}`);
}

/**
 * Tests: makes the resolutions of `keys` and the flag definitions past their freshness, in this isolate and this
 * location's tier, as if TENANT_CACHE_TTL_MS had passed without a lookup (still within TENANT_HINT_TTL_MS).
 */
export async function staleResolutions(
  rootDomain: string,
  keys: readonly { slug?: string; hostname?: string }[],
): Promise<void> {
  const now = Date.now();
  const shared = sharedCache();
  const names = keys.flatMap((key) => [
    ...(key.slug === undefined ? [] : [`slug:${key.slug}`]),
    ...(key.hostname === undefined ? [] : [`host:${key.hostname}`]),
  ]);
  ageFlags();
  for (const name of [...names, SHARED_FLAGS_KEY]) {
    const entry = cache.get(name);
    if (entry !== undefined) cache.set(name, { ...entry, expiresAt: 0 });
    const response = await shared?.match(sharedKey(rootDomain, name));
    if (response === undefined) continue;
    const stale = { ...(await response.json<{ hintUntil: number }>()), expiresAt: 0 };
    await sharedPut(rootDomain, name, stale, now);
  }
}
