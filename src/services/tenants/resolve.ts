import { and, eq, isNotNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
// The tables, not the schema's index: the tenant middleware loads this module in every isolate at start-up.
import { organizationDomains } from '../../db/schema/organization-domains.ts';
import { organizations } from '../../db/schema/organizations.ts';
import { tenantDirectory } from '../../db/schema/tenant-directory.ts';
import {
  expireFlags,
  FLAG_CACHE_TTL_MS,
  FLAG_DEFINITIONS,
  flagsFresh,
  flagsUsable,
  rememberFlags,
} from '../flags/cache.ts';
import { parseFlagDefinitions, type FlagDefinition } from '../flags/evaluate.ts';
import { classifyHost } from './host.ts';
import { TENANT_CACHE_TTL_MS } from './ttl.ts';
import type { Tenant } from './types.ts';

/**
 * `deletion_scheduled`: an organization whose deletion a platform administrator scheduled (it is not served; the
 * tenant middleware answers 404 `organization_deletion_scheduled`).
 */
export type HostResolution =
  { kind: 'platform' } | { kind: 'tenant'; tenant: Tenant } | { kind: 'unknown' } | { kind: 'deletion_scheduled' };

interface CacheEntry {
  value: HostResolution;
  expiresAt: number;
}

export { TENANT_CACHE_TTL_MS };
/** Unknown hosts are remembered briefly too, so a flood of random host names cannot turn into a flood of queries. */
export const UNKNOWN_HOST_TTL_MS = 5_000;
export const TENANT_CACHE_MAX_ENTRIES = 5_000;

// Host -> resolution for the life of the isolate: a warm request resolves its tenant with no round trip.
// A Map keeps insertion order, which makes it a cheap LRU: hits are re-inserted, the oldest key is evicted first.
const cache = new Map<string, CacheEntry>();

function remember(host: string, value: HostResolution, expiresAt: number): HostResolution {
  if (cache.size >= TENANT_CACHE_MAX_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(host, { value, expiresAt });
  return value;
}

/**
 * The colo tier, between the isolate's map and the database: tenant resolutions shared by every isolate of one
 * location through the Workers Cache API (`caches.default`), so an isolate that starts cold in a location that
 * served the host in the last 30 seconds resolves it with no database round trip. An entry keeps the expiry of the
 * database read that made it (never extended by an isolate picking it up): a change still takes effect everywhere
 * within TENANT_CACHE_TTL_MS, and at once in the location that made it (`forgetHosts`). Only tenants are shared;
 * unknown hosts stay per isolate (a flood of random names must not fill the location's cache). Keyed under the
 * platform's own domain, so the platform host can purge the entries of every organization host.
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
}

function isSharedEntry(value: unknown): value is SharedEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { tenant, expiresAt } = value as Partial<SharedEntry>;
  return (
    typeof expiresAt === 'number' &&
    typeof tenant === 'object' &&
    typeof tenant.id === 'string' &&
    typeof tenant.slug === 'string' &&
    tenant.status === 'active'
  );
}

async function sharedLookup(rootDomain: string, key: string, now: number): Promise<SharedEntry | null> {
  const shared = sharedCache();
  if (shared === null) return null;
  try {
    const response = await shared.match(sharedKey(rootDomain, key));
    if (response === undefined) return null;
    const entry: unknown = await response.json();
    return isSharedEntry(entry) && entry.expiresAt > now ? entry : null;
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
  flags: FlagDefinition[];
  expiresAt: number;
}

async function sharedFlagsLookup(rootDomain: string, now: number): Promise<SharedFlags | null> {
  const shared = sharedCache();
  if (shared === null) return null;
  try {
    const response = await shared.match(sharedKey(rootDomain, SHARED_FLAGS_KEY));
    if (response === undefined) return null;
    const entry = await response.json<Partial<SharedFlags> | null>();
    if (typeof entry?.expiresAt !== 'number' || entry.expiresAt <= now) return null;
    return { flags: parseFlagDefinitions(entry.flags), expiresAt: entry.expiresAt };
  } catch {
    return null;
  }
}

function sharedPut(rootDomain: string, key: string, entry: { expiresAt: number }, now: number): Promise<void> {
  const shared = sharedCache();
  const seconds = Math.floor((entry.expiresAt - now) / 1000);
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

const tenantColumns = {
  id: organizations.id,
  slug: organizations.slug,
  name: organizations.name,
  plan: organizations.plan,
  status: organizations.status,
  settings: organizations.settings,
  planOverrides: organizations.planOverrides,
  // The directory row is written at sign-up; an organization without one (made before it existed) is on `shared`.
  database: sql<string>`coalesce(${tenantDirectory.database}, 'shared')`,
  readOnly: sql<boolean>`${tenantDirectory.readOnlySince} is not null`,
  deleteAfter: organizations.deleteAfter,
};

/**
 * Resolves a request host to the platform, an active tenant, or nothing. Suspended organizations resolve to
 * nothing, like unknown hosts; one whose deletion is scheduled to `deletion_scheduled` (whatever its status). Looked
 * up in the isolate, then in the location's shared tier (the Cache API, when `waitUntil` is given to store into it after the response), then in the database: one round trip (a batch: the
 * row-level security scope, then the lookup), none on a hit of either cache. The lookup joins the tenant directory,
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

  if (input.waitUntil !== undefined) {
    const [shared, sharedFlags] = await Promise.all([
      hit ? null : sharedLookup(input.rootDomain, key, now),
      flagsFresh(now) ? null : sharedFlagsLookup(input.rootDomain, now),
    ]);
    if (sharedFlags !== null) rememberFlags(sharedFlags.flags, sharedFlags.expiresAt);
    if (flagsFresh(now)) {
      if (hit) return touch(hit);
      if (shared !== null) return remember(key, { kind: 'tenant', tenant: shared.tenant }, shared.expiresAt);
    }
  }

  const db = input.db();
  const columns = { ...tenantColumns, flags: flagsFresh(now) ? sql<null>`null` : FLAG_DEFINITIONS };
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
  const { flags, deleteAfter, ...tenant } = row;
  if (flags !== null) {
    const definitions = { flags: parseFlagDefinitions(flags), expiresAt: now + FLAG_CACHE_TTL_MS };
    rememberFlags(definitions.flags, definitions.expiresAt);
    input.waitUntil?.(sharedPut(input.rootDomain, SHARED_FLAGS_KEY, definitions, now));
  }
  // Remembered as briefly as an unknown host: a cancelled deletion is served again everywhere within 5 seconds.
  if (deleteAfter !== null) return remember(key, { kind: 'deletion_scheduled' }, now + UNKNOWN_HOST_TTL_MS);
  const entry: SharedEntry = { tenant, expiresAt: now + TENANT_CACHE_TTL_MS };
  input.waitUntil?.(sharedPut(input.rootDomain, key, entry, now));
  return remember(key, { kind: 'tenant', tenant }, entry.expiresAt);
}

/**
 * After a change of a flag definition: this isolate reads the definitions again with its next tenant lookup, and
 * this location's shared tier drops them. Other isolates follow within FLAG_CACHE_TTL_MS (30 s).
 */
export async function forgetFlagDefinitions(rootDomain: string): Promise<void> {
  expireFlags();
  const shared = sharedCache();
  if (shared === null) return;
  await shared.delete(sharedKey(rootDomain, SHARED_FLAGS_KEY)).catch(() => undefined);
}

/**
 * Drops an organization's hosts from this isolate and from this location's shared tier: after a suspension, a plan
 * or settings change, a domain removed. Other locations keep their entries until they expire (30 s at most).
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
