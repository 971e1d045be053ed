import { sql } from 'drizzle-orm';
// The tables, not the schema's index: the tenant middleware loads this module in every isolate at start-up.
import { organizations } from '../../db/schema/organizations.ts';
import { tenantDirectory } from '../../db/schema/tenant-directory.ts';

/**
 * A digest of everything tenant resolution caches about an organization (the columns of `Tenant`, its deletion
 * schedule and its directory entry), computed by the database both where the tenant is read (the lookup in
 * resolve.ts) and where a cached copy is checked (check.ts), so the two always agree on an unchanged organization.
 * The query it is used in must join the tenant directory (left join: no row means the shared database).
 */
export const TENANT_REVISION = sql<string>`md5(row(${organizations.slug}, ${organizations.name}, ${organizations.plan},
  ${organizations.status}, ${organizations.settings}, ${organizations.planOverrides}, ${organizations.deleteAfter},
  ${tenantDirectory.database}, ${tenantDirectory.readOnlySince})::text)`;

/**
 * What tenant resolution reads of an organization (organizations left join tenant_directory): the `Tenant`, its
 * deletion schedule and its revision. Read by the lookup (resolve.ts) and, when it changed, by a hint's check.
 */
export const TENANT_COLUMNS = {
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
  revision: TENANT_REVISION,
};
