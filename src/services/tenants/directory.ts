import { eq } from 'drizzle-orm';
import { createDatabase, SHARED_DATABASE, type Database, type DatabaseKey } from '../../db/client.ts';
import { tenantDirectory } from '../../db/schema/tenant-directory.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import { TENANT_CACHE_TTL_MS } from './ttl.ts';

// Organization id -> database key for the life of the isolate (queue consumers), as fresh as the tenant cache.
const keys = new Map<string, { key: DatabaseKey; expiresAt: number }>();
const MAX_ENTRIES = 5_000;

/**
 * The database key of an organization off the request path (queue consumers: a message names its organization, not
 * its host): the tenant directory on the control database, one round trip, then cached in the isolate for
 * TENANT_CACHE_TTL_MS like tenant resolutions. No directory row means the shared database.
 */
export async function organizationDatabaseKey(
  bindings: Bindings,
  organizationId: string,
  now = Date.now(),
): Promise<DatabaseKey> {
  if (bindings.DATABASE_URLS === undefined) return SHARED_DATABASE;
  const hit = keys.get(organizationId);
  if (hit !== undefined && hit.expiresAt > now) return hit.key;
  const control = createDatabase(bindings);
  const [rows] = await scoped(control, { organizationId }, [
    control
      .select({ database: tenantDirectory.database })
      .from(tenantDirectory)
      .where(eq(tenantDirectory.organizationId, organizationId))
      .limit(1),
  ]);
  const key = rows[0]?.database ?? SHARED_DATABASE;
  if (keys.size >= MAX_ENTRIES) keys.clear();
  keys.set(organizationId, { key, expiresAt: now + TENANT_CACHE_TTL_MS });
  return key;
}

/**
 * A database client (off the request path, no trace) for the database that serves `organizationId`; the shared
 * database for platform work (null). At most one control round trip per organization and 30 s (see above).
 */
export async function organizationDatabase(bindings: Bindings, organizationId: string | null): Promise<Database> {
  const key = organizationId === null ? SHARED_DATABASE : await organizationDatabaseKey(bindings, organizationId);
  return createDatabase(bindings, undefined, key);
}
