import { and, eq, isNotNull } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
// The two tables, not the schema's index: the tenant middleware loads this module in every isolate at start-up.
import { organizationDomains } from '../../db/schema/organization-domains.ts';
import { organizations } from '../../db/schema/organizations.ts';
import { classifyHost } from './host.ts';
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

export const TENANT_CACHE_TTL_MS = 30_000;
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

function sharedStore(rootDomain: string, key: string, entry: SharedEntry, now: number): Promise<void> {
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
  deleteAfter: organizations.deleteAfter,
};

/**
 * Resolves a request host to the platform, an active tenant, or nothing. Suspended organizations resolve to
 * nothing, like unknown hosts; one whose deletion is scheduled to `deletion_scheduled` (whatever its status). Looked up in the isolate, then in the location's shared tier (the Cache API, when
 * `waitUntil` is given to store into it after the response), then in the database: one round trip (a batch: the
 * row-level security scope, then the lookup), none on a hit of either cache.
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
  const hit = cache.get(key);
  if (hit && hit.expiresAt > now) {
    cache.delete(key);
    cache.set(key, hit);
    return hit.value;
  }

  if (input.waitUntil !== undefined) {
    const shared = await sharedLookup(input.rootDomain, key, now);
    if (shared !== null) return remember(key, { kind: 'tenant', tenant: shared.tenant }, shared.expiresAt);
  }

  const db = input.db();
  const [rows] =
    classified.kind === 'subdomain'
      ? await scoped(db, { resolveSlug: classified.slug }, [
          db.select(tenantColumns).from(organizations).where(eq(organizations.slug, classified.slug)).limit(1),
        ])
      : await scoped(db, { resolveHost: classified.hostname }, [
          db
            .select(tenantColumns)
            .from(organizationDomains)
            .innerJoin(organizations, eq(organizations.id, organizationDomains.organizationId))
            .where(
              and(eq(organizationDomains.hostname, classified.hostname), isNotNull(organizationDomains.verifiedAt)),
            )
            .limit(1),
        ]);
  const row = rows[0];
  if (!row || row.status !== 'active') return remember(key, { kind: 'unknown' }, now + UNKNOWN_HOST_TTL_MS);
  const { deleteAfter, ...tenant } = row;
  // Remembered as briefly as an unknown host: a cancelled deletion is served again everywhere within 5 seconds.
  if (deleteAfter !== null) return remember(key, { kind: 'deletion_scheduled' }, now + UNKNOWN_HOST_TTL_MS);
  const entry: SharedEntry = { tenant, expiresAt: now + TENANT_CACHE_TTL_MS };
  input.waitUntil?.(sharedStore(input.rootDomain, key, entry, now));
  return remember(key, { kind: 'tenant', tenant }, entry.expiresAt);
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
