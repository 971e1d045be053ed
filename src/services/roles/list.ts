import { eq } from 'drizzle-orm';
import { roles } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { PERMISSIONS, type Permission } from '../auth/permissions.ts';
import { compareRoles, roleColumns, type RoleView } from './roles.ts';

/** The organization's roles (built-in and custom) with how many members hold each: one round trip. */
export async function listRoles({ ctx }: { ctx: ServiceContext }): Promise<RoleView[]> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db.select(roleColumns).from(roles).where(eq(roles.organizationId, tenant.id)),
  ]);
  return rows.sort(compareRoles);
}

/** The fixed permission catalogue that custom roles are built from (no I/O). */
export function permissionCatalogue(): { key: Permission; description: string }[] {
  return (Object.keys(PERMISSIONS) as Permission[]).map((key) => ({ key, description: PERMISSIONS[key] }));
}
