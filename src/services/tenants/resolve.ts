import { and, eq, isNotNull } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
import { organizationDomains, organizations } from '../../db/schema/index.ts';
import { classifyHost } from './host.ts';
import type { Tenant } from './types.ts';

export type HostResolution = { kind: 'platform' } | { kind: 'tenant'; tenant: Tenant } | { kind: 'unknown' };

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

function remember(host: string, value: HostResolution, now: number): HostResolution {
  if (cache.size >= TENANT_CACHE_MAX_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(host, { value, expiresAt: now + (value.kind === 'tenant' ? TENANT_CACHE_TTL_MS : UNKNOWN_HOST_TTL_MS) });
  return value;
}

const tenantColumns = {
  id: organizations.id,
  slug: organizations.slug,
  name: organizations.name,
  plan: organizations.plan,
  status: organizations.status,
  settings: organizations.settings,
  planOverrides: organizations.planOverrides,
};

/**
 * Resolves a request host to the platform, an active tenant, or nothing. Suspended organizations resolve to
 * nothing, like unknown hosts. One round trip on a cache miss (a batch: the row-level security scope, then the
 * lookup), none on a hit.
 */
export async function resolveHost(input: {
  db: () => Database;
  hostname: string;
  rootDomain: string;
  now?: number;
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
  const value: HostResolution = row && row.status === 'active' ? { kind: 'tenant', tenant: row } : { kind: 'unknown' };
  return remember(key, value, now);
}

/** Drops cached resolutions, e.g. after an organization is suspended or a domain is removed in this isolate. */
export function forgetHost(key?: { slug?: string; hostname?: string }): void {
  if (!key) {
    cache.clear();
    return;
  }
  if (key.slug !== undefined) cache.delete(`slug:${key.slug}`);
  if (key.hostname !== undefined) cache.delete(`host:${key.hostname}`);
}
