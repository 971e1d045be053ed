import { and, eq, sql } from 'drizzle-orm';
import { memberships, roles } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { actorOf, auditInsert } from '../audit/record.ts';
import type { Permission } from '../auth/permissions.ts';
import { failedGuard } from '../users/guards.ts';
import { roleUnchanged } from '../users/locks.ts';
import { endSessions, staleConflict } from '../users/sessions.ts';
import { assertAuthority } from './authority.ts';
import { canonicalPermissions, customRoleToChange, lockRole, type RoleView } from './roles.ts';

export interface UpdateRoleInput {
  id: string;
  name?: string | undefined;
  description?: string | undefined;
  permissions?: Permission[] | undefined;
}

function samePermissions(left: readonly string[], right: readonly string[]): boolean {
  return left.length === right.length && left.every((permission, index) => permission === right[index]);
}

/**
 * Changes a custom role. Built-in roles are fixed (409). The caller must hold every permission of the role before
 * and after the change. A permission change ends the sessions of every member holding the role, so no access token
 * keeps the old permissions; their next refresh picks up the new ones.
 */
export async function updateRole({ ctx, input }: { ctx: ServiceContext; input: UpdateRoleInput }): Promise<RoleView> {
  const id = input.id.toLowerCase();
  const { tenant, caller, db, role } = await customRoleToChange(ctx, id);
  const scope = { organizationId: tenant.id };
  const permissions = input.permissions === undefined ? role.permissions : canonicalPermissions(input.permissions);
  assertAuthority(caller, { key: role.key, permissions });

  const after = {
    key: role.key,
    name: input.name?.trim() ?? role.name,
    description: input.description?.trim() ?? role.description,
    permissions,
  };
  const permissionsChanged = !samePermissions(permissions, role.permissions);
  if (!permissionsChanged && after.name === role.name && after.description === role.description) return role;

  let holders: { userId: string }[];
  try {
    [, , , holders] = await scoped(db, scope, [
      lockRole(db, tenant.id, id),
      roleUnchanged(db, tenant.id, role),
      db
        .update(roles)
        .set({ name: after.name, description: after.description, permissions, updatedAt: sql`now()` })
        .where(and(eq(roles.organizationId, tenant.id), eq(roles.id, id), eq(roles.builtIn, false))),
      db
        .select({ userId: memberships.userId })
        .from(memberships)
        .where(and(eq(memberships.organizationId, tenant.id), eq(memberships.roleId, id))),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(caller),
        action: 'role.updated',
        target: { type: 'role', id },
        metadata: {
          before: { key: role.key, name: role.name, description: role.description, permissions: role.permissions },
          after,
          sessionsEnded: permissionsChanged ? role.memberCount : 0,
        },
      }),
    ]);
  } catch (error) {
    if (failedGuard(error) === 'stale') throw staleConflict();
    throw error;
  }
  if (permissionsChanged)
    await endSessions(
      ctx,
      tenant.id,
      holders.map((holder) => holder.userId),
    );
  return { ...role, ...after, memberCount: holders.length };
}
