import { and, eq } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { memberships } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { actorOf, auditInsert } from '../audit/record.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsert } from '../outbox/record.ts';
import { assertAuthority, callerOf, OWNER_ROLE } from '../roles/authority.ts';
import { failedGuard } from './guards.ts';
import { anotherActiveOwner, lockMembers, memberUnchanged } from './locks.ts';
import { memberNotFound, selectMember, toMember } from './members.ts';
import { endSessions, lastOwnerConflict, staleConflict } from './sessions.ts';

/**
 * Removes the membership (its refresh tokens and one-time tokens go with it, by cascade) and ends the member's
 * sessions here. The global user stays: it may belong to other organizations. The last active owner stays too.
 */
export async function removeMember({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const id = input.id.toLowerCase();
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };

  const [[target]] = await scoped(db, scope, [selectMember(db, tenant.id, id)]);
  if (!target) throw memberNotFound();
  assertAuthority(caller, { key: target.roleKey, permissions: target.rolePermissions });

  const activeOwner = target.roleKey === OWNER_ROLE && target.status === 'active';
  const writes: BatchItem<'pg'>[] = [
    lockMembers(db, tenant.id, id, activeOwner),
    memberUnchanged(db, tenant.id, target),
  ];
  if (activeOwner) writes.push(anotherActiveOwner(db, tenant.id, id));
  writes.push(
    db.delete(memberships).where(and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, id))),
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: actorOf(caller),
      action: 'membership.removed',
      target: { type: 'user', id },
      metadata: { before: { email: target.email, name: target.name, role: target.roleKey, status: target.status } },
    }),
    // The membership as it was read (`memberUnchanged` above aborts the batch if its role or status changed since).
    outboxInsert(db, { organizationId: tenant.id, type: 'membership.deleted', data: toMember(target) }),
  );
  try {
    await scoped(db, scope, writes as [BatchItem<'pg'>, ...BatchItem<'pg'>[]]);
  } catch (error) {
    const failed = failedGuard(error);
    if (failed === 'last_owner') throw lastOwnerConflict();
    if (failed === 'stale') throw staleConflict();
    throw error;
  }
  notifyOutbox(ctx, tenant.id);
  await endSessions(ctx, tenant.id, [id]);
}
