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
import { memberNotFound, selectMember, toMember, type MemberRow } from './members.ts';
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

  const [[target]] = await scoped(db, { organizationId: tenant.id }, [selectMember(db, tenant.id, id)]);
  if (!target) throw memberNotFound();
  assertAuthority(caller, { key: target.roleKey, permissions: target.rolePermissions });
  await removeMembership(ctx, tenant.id, target, {
    audit: auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: actorOf(caller),
      action: 'membership.removed',
      target: { type: 'user', id },
      metadata: { before: { email: target.email, name: target.name, role: target.roleKey, status: target.status } },
    }),
  });
}

/**
 * The one way a membership read as `target` goes (staff removal, the member's own erasure): one batch locks the
 * members (and the active owners when `target` is one), aborts when the membership changed since it was read or the
 * last active owner would go (409), runs `before` (the caller's own statements, under those locks), deletes the
 * membership (sessions, one-time tokens, factors and passkeys follow by cascade), writes `audit` and the
 * `membership.deleted` event; then the member's access tokens here end and their outgrown API keys are revoked
 * (`endSessions`). Returns the results of `before`, in order.
 */
export async function removeMembership(
  ctx: ServiceContext,
  organizationId: string,
  target: MemberRow,
  statements: { before?: BatchItem<'pg'>[]; audit: BatchItem<'pg'> },
): Promise<unknown[]> {
  const db = ctx.services.db;
  const activeOwner = target.roleKey === OWNER_ROLE && target.status === 'active';
  const before = statements.before ?? [];
  const writes: BatchItem<'pg'>[] = [
    lockMembers(db, organizationId, target.id, activeOwner),
    memberUnchanged(db, organizationId, target),
  ];
  if (activeOwner) writes.push(anotherActiveOwner(db, organizationId, target.id));
  const at = writes.length;
  writes.push(
    ...before,
    db
      .delete(memberships)
      .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, target.id))),
    statements.audit,
    // The membership as it was read (`memberUnchanged` above aborts the batch if its role or status changed since).
    outboxInsert(db, { organizationId, type: 'membership.deleted', data: toMember(target) }),
  );
  let results: unknown[];
  try {
    results = await scoped(db, { organizationId }, writes as [BatchItem<'pg'>, ...BatchItem<'pg'>[]]);
  } catch (error) {
    const failed = failedGuard(error);
    if (failed === 'last_owner') throw lastOwnerConflict();
    if (failed === 'stale') throw staleConflict();
    throw error;
  }
  notifyOutbox(ctx, organizationId);
  await endSessions(ctx, organizationId, [target.id]);
  return results.slice(at, at + before.length);
}
