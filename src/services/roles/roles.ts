import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { memberships, roles } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { ALL_PERMISSIONS, BUILT_IN_ROLE_KEYS, type Permission } from '../auth/permissions.ts';
import { assertAuthority, callerOf } from './authority.ts';

/** A role as the API shows it. */
export interface RoleView {
  id: string;
  key: string;
  name: string;
  description: string;
  permissions: string[];
  builtIn: boolean;
  memberCount: number;
}

export const roleColumns = {
  id: roles.id,
  key: roles.key,
  name: roles.name,
  description: roles.description,
  permissions: roles.permissions,
  builtIn: roles.builtIn,
  // Served by memberships_organization_id_role_id_idx.
  memberCount:
    sql<number>`(select count(*) from ${memberships} where ${memberships.organizationId} = ${roles.organizationId} and ${memberships.roleId} = ${roles.id})`.mapWith(
      Number,
    ),
};

export function selectRole(db: Database, organizationId: string, roleId: string) {
  return db
    .select(roleColumns)
    .from(roles)
    .where(and(eq(roles.organizationId, organizationId), eq(roles.id, roleId)))
    .limit(1);
}

/** Built-in roles first, from the most to the least powerful, then custom roles by key. */
export function compareRoles(left: RoleView, right: RoleView): number {
  const rank = (role: RoleView): number =>
    role.builtIn ? (BUILT_IN_ROLE_KEYS as readonly string[]).indexOf(role.key) : BUILT_IN_ROLE_KEYS.length;
  return rank(left) - rank(right) || left.key.localeCompare(right.key);
}

export function roleNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No role with this id in this organization.' });
}

export function builtInRoleConflict(): ApiError {
  return new ApiError('conflict', {
    detail: 'Built-in roles cannot be changed or deleted; create a custom role instead.',
  });
}

/**
 * The custom role a change applies to, read and checked before the write: 404 when it is not a role of this
 * organization, 409 for a built-in role, 403 when the caller lacks one of its permissions.
 */
export async function customRoleToChange(ctx: ServiceContext, roleId: string) {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const db = ctx.services.db;
  const [[role]] = await scoped(db, { organizationId: tenant.id }, [selectRole(db, tenant.id, roleId)]);
  if (!role) throw roleNotFound();
  if (role.builtIn) throw builtInRoleConflict();
  assertAuthority(caller, role);
  return { tenant, caller, db, role };
}

/** Permissions without duplicates, in catalogue order, so equal sets are stored (and compared) alike. */
export function canonicalPermissions(permissions: readonly Permission[]): Permission[] {
  const wanted = new Set(permissions);
  return ALL_PERMISSIONS.filter((permission) => wanted.has(permission));
}

/** Locks the role row until the batch commits: a concurrent change or assignment waits for this one. */
export function lockRole(db: Database, organizationId: string, roleId: string) {
  return db
    .select({ id: roles.id })
    .from(roles)
    .where(and(eq(roles.organizationId, organizationId), eq(roles.id, roleId)))
    .for('update');
}
