import { and, eq } from 'drizzle-orm';
import { roles } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { actorOf, auditInsert } from '../audit/record.ts';
import { databaseError, failedGuard, FOREIGN_KEY_VIOLATION } from '../users/guards.ts';
import { roleUnchanged } from '../users/locks.ts';
import { staleConflict } from '../users/sessions.ts';
import { customRoleToChange, lockRole } from './roles.ts';

function stillAssigned(): ApiError {
  return new ApiError('conflict', {
    detail: 'Members still hold this role; give them another role before deleting it.',
  });
}

/** Deletes a custom role that no member holds. Built-in roles and assigned roles are refused with 409. */
export async function removeRole({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const id = input.id.toLowerCase();
  const { tenant, caller, db, role } = await customRoleToChange(ctx, id);
  const scope = { organizationId: tenant.id };
  if (role.memberCount > 0) throw stillAssigned();

  try {
    await scoped(db, scope, [
      lockRole(db, tenant.id, id),
      roleUnchanged(db, tenant.id, role),
      db.delete(roles).where(and(eq(roles.organizationId, tenant.id), eq(roles.id, id), eq(roles.builtIn, false))),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(caller),
        action: 'role.deleted',
        target: { type: 'role', id },
        metadata: {
          before: { key: role.key, name: role.name, description: role.description, permissions: role.permissions },
        },
      }),
    ]);
  } catch (error) {
    if (failedGuard(error) === 'stale') throw staleConflict();
    // A member was given the role after it was read: the composite foreign key refuses the delete.
    if (databaseError(error)?.code === FOREIGN_KEY_VIOLATION) throw stillAssigned();
    throw error;
  }
}
