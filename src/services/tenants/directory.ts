import { eq } from 'drizzle-orm';
import { createDatabase, SHARED_DATABASE, type Database, type DatabaseKey } from '../../db/client.ts';
import { organizations, type Organization } from '../../db/schema/organizations.ts';
import { tenantDirectory } from '../../db/schema/tenant-directory.ts';
import { scoped } from '../../db/tenant.ts';
import type { Bindings } from '../../env.ts';
import { TENANT_CACHE_TTL_MS } from './ttl.ts';

interface DirectoryEntry {
  key: DatabaseKey;
  readOnly: boolean;
}

// Organization id -> directory entry for the life of the isolate (queue consumers), as fresh as the tenant cache.
const entries = new Map<string, DirectoryEntry & { expiresAt: number }>();
const MAX_ENTRIES = 5_000;

/** Background work of an organization being moved waits (the queue consumer retries the message later). */
export class OrganizationReadOnlyError extends Error {
  readonly organizationId: string;

  constructor(organizationId: string) {
    super('the organization is being moved to another database');
    this.name = 'OrganizationReadOnlyError';
    this.organizationId = organizationId;
  }
}

/**
 * The directory entry of an organization off the request path (queue consumers: a message names its organization,
 * not its host): the tenant directory on the control database, one round trip, then cached in the isolate for
 * TENANT_CACHE_TTL_MS like tenant resolutions, so a move's wait after marking read-only covers this cache too. No
 * directory row means the shared database; no DATABASE_URLS means every organization is on it (no round trip).
 */
export async function organizationDirectoryEntry(
  bindings: Bindings,
  organizationId: string,
  now = Date.now(),
): Promise<DirectoryEntry> {
  if (bindings.DATABASE_URLS === undefined) return { key: SHARED_DATABASE, readOnly: false };
  const hit = entries.get(organizationId);
  if (hit !== undefined && hit.expiresAt > now) return hit;
  const control = createDatabase(bindings);
  const [rows] = await scoped(control, { organizationId }, [
    control
      .select({ database: tenantDirectory.database, readOnlySince: tenantDirectory.readOnlySince })
      .from(tenantDirectory)
      .where(eq(tenantDirectory.organizationId, organizationId))
      .limit(1),
  ]);
  const entry = { key: rows[0]?.database ?? SHARED_DATABASE, readOnly: (rows[0]?.readOnlySince ?? null) !== null };
  if (entries.size >= MAX_ENTRIES) entries.clear();
  entries.set(organizationId, { ...entry, expiresAt: now + TENANT_CACHE_TTL_MS });
  return entry;
}

/**
 * A database client (off the request path, no trace) for the database that serves `organizationId`; the shared
 * database for platform work (null). At most one control round trip per organization and 30 s (see above). Throws
 * OrganizationReadOnlyError while the organization is being moved: its rows are being copied, and a write to the
 * database it is leaving would be lost.
 */
export async function organizationDatabase(bindings: Bindings, organizationId: string | null): Promise<Database> {
  if (organizationId === null) return createDatabase(bindings);
  const entry = await organizationDirectoryEntry(bindings, organizationId);
  if (entry.readOnly) throw new OrganizationReadOnlyError(organizationId);
  return createDatabase(bindings, undefined, entry.key);
}

/** The columns of an organization's own row that exist twice once it is on a dedicated database. */
export type OrganizationCopyColumns = Partial<
  Pick<Organization, 'name' | 'plan' | 'status' | 'branding' | 'settings' | 'planOverrides'>
>;

/**
 * Writes a change of an organization's own row to its other copy: an organization on a dedicated database has its
 * row there too (its tenant rows' foreign keys and reads on its host use it), while tenant resolution and the
 * platform read the control database's. The write that changed one copy calls this for the other: one more round
 * trip, only for an organization on a dedicated database. Not atomic with the first write (two databases); a
 * failure leaves the copies apart until the next change (docs/OPERATIONS.md, "Sharding").
 */
export async function writeOrganizationCopy(
  db: Database,
  organizationId: string,
  columns: OrganizationCopyColumns,
): Promise<void> {
  await scoped(db, { platform: true }, [
    db
      .update(organizations)
      .set({ ...columns, updatedAt: new Date() })
      .where(eq(organizations.id, organizationId)),
  ]);
}
