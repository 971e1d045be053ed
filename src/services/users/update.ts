import { and, eq, isNull, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { memberships, refreshTokens, roles } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { actorOf, auditInsert } from '../audit/record.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsert } from '../outbox/record.ts';
import { isPlanLimit, planLimitError, quotaGuard, takesMemberSeat } from '../plans/quotas.ts';
import { assertAuthority, assertMayHold, callerOf, OWNER_ROLE } from '../roles/authority.ts';
import { databaseError, failedGuard, UNIQUE_VIOLATION } from './guards.ts';
import { anotherActiveOwner, lockMembers, memberUnchanged, roleUnchanged, shareRole } from './locks.ts';
import { memberNotFound, selectMember, toMember, type Member, type MemberRow } from './members.ts';
import { endSessions, lastOwnerConflict, staleConflict } from './sessions.ts';

export interface UpdateMemberInput {
  id: string;
  /** This organization's name for the member (memberships.display_name); the account's own name stays. */
  name?: string | undefined;
  /** Role key. */
  role?: string | undefined;
  status?: 'active' | 'disabled' | undefined;
  /**
   * SCIM only (src/services/scim): the identity provider's id for the member (null clears it), and the IdP's rules
   * for a member it provisioned who has not signed in yet (`invited`): `disabled` is taken, `active` waits for the
   * first sign-in.
   */
  scim?: { externalId?: string | null | undefined } | undefined;
}

/**
 * Changes a member's name, role or status. The name is this organization's display name for the member: the
 * account's own name (shown by GET /auth/me and to other organizations) is never changed here. A role change or a
 * disable ends the member's sessions in this organization at once: their refresh tokens are revoked in the same batch
 * as the change, their access tokens in Redis right after it commits. Refused: changing your own role or status, touching a member whose role holds
 * permissions you lack (or an owner, unless you are one), granting such a role, and leaving no active owner; giving a
 * role with any permission (owner included) to an active or disabled member whose email address is not verified
 * answers 403 `email_not_verified`.
 *
 * A change that makes the membership take a staff seat it did not take (the `member` role of a registered customer
 * becoming a staff role, or a disabled member enabled again) must fit the plan's `members` quota: checked in the
 * write batch after the per-organization quota lock, 403 `plan_limit` when the seats are taken. Any other change
 * (renaming, staff role to staff role, disabling) works at the limit.
 */
export async function updateMember({ ctx, input }: { ctx: ServiceContext; input: UpdateMemberInput }): Promise<Member> {
  const tenant = requireTenant(ctx);
  const id = input.id.toLowerCase();
  const db = ctx.services.db;

  const [[target], [newRole]] = await scoped(db, { organizationId: tenant.id }, [
    selectMember(db, tenant.id, id),
    db
      .select({ id: roles.id, key: roles.key, name: roles.name, permissions: roles.permissions })
      .from(roles)
      // No role requested: '' is never a role key (roles_key_format), so this finds nothing.
      .where(and(eq(roles.organizationId, tenant.id), eq(roles.key, input.role ?? '')))
      .limit(1),
  ]);
  if (!target) throw memberNotFound();
  if (input.role !== undefined && !newRole) {
    throw new ApiError('validation_failed', {
      detail: 'The request does not match the schema.',
      errors: [{ pointer: '/body/role', message: 'No role with this key in this organization' }],
    });
  }
  return (await changeMember(ctx, target, newRole ?? null, input)).member;
}

/** A role as updateMember reads it to give it. */
export interface RoleToGive {
  id: string;
  key: string;
  name: string;
  permissions: string[];
}

/** A member after a change: as the members API shows it, and the row as now stored (SCIM answers with it). */
export interface ChangedMember {
  member: Member;
  row: MemberRow;
}

/**
 * updateMember after its read, for a caller that has read the member itself (SCIM checks the change against the
 * member first): the same rules and the same write batch, one database round trip (and Redis when sessions end).
 * `newRole` is the role `input.role` names, read with the member, or null when no role is asked for.
 */
export async function changeMember(
  ctx: ServiceContext,
  target: MemberRow,
  newRole: RoleToGive | null,
  input: Omit<UpdateMemberInput, 'id'>,
): Promise<ChangedMember> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const id = target.id;
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };

  const name = input.name?.trim();
  // Compared with the stored display name, not the shown one: giving the account's current name pins it here, so a
  // later change of the account's own name no longer shows in this organization.
  const renamed = name !== undefined && name !== target.displayName;
  const roleChange = newRole !== null && newRole.id !== target.roleId ? newRole : null;
  // An IdP's `active` for a member it provisioned who has not signed in yet: the first sign-in activates them.
  const status =
    input.scim !== undefined && target.status === 'invited' && input.status === 'active' ? undefined : input.status;
  const statusChange = status !== undefined && status !== target.status ? status : null;
  const externalId = input.scim?.externalId;
  const externalIdChange = externalId !== undefined && externalId !== target.scimExternalId;
  if (id === caller.userId && (roleChange !== null || statusChange !== null)) {
    throw new ApiError('forbidden', { detail: 'You cannot change your own role or status.' });
  }
  assertAuthority(caller, { key: target.roleKey, permissions: target.rolePermissions });
  if (!renamed && roleChange === null && statusChange === null && !externalIdChange) {
    return { member: toMember(target), row: target };
  }
  if (roleChange !== null) {
    assertAuthority(caller, roleChange);
    assertMayHold(target, roleChange);
  }
  if (statusChange !== null && target.status === 'invited' && input.scim === undefined) {
    throw new ApiError('conflict', {
      detail: 'An invited member becomes active by accepting the invitation; remove the membership to cancel it.',
    });
  }

  const after = {
    name: name ?? target.name,
    role: roleChange?.key ?? target.roleKey,
    status: statusChange ?? target.status,
  };
  const losesOwner =
    target.roleKey === OWNER_ROLE &&
    target.status === 'active' &&
    (after.role !== OWNER_ROLE || after.status !== 'active');
  const endsSessions = roleChange !== null || statusChange === 'disabled';
  // Only a change that adds a staff seat needs the quota and its lock; any other change works at the limit.
  const takesSeat =
    !takesMemberSeat({ role: target.roleKey, status: target.status }) &&
    takesMemberSeat({ role: after.role, status: after.status });
  // The member after the change: the row as the batch writes it (all but updated_at, which the UPDATE returns), and
  // as the answer shows it (which the `membership.updated` event carries).
  const changed: MemberRow = {
    ...target,
    name: after.name,
    displayName: renamed ? name : target.displayName,
    status: after.status,
    ...(roleChange === null
      ? {}
      : {
          roleId: roleChange.id,
          roleKey: roleChange.key,
          roleName: roleChange.name,
          rolePermissions: roleChange.permissions,
        }),
    scimExternalId: externalIdChange ? (externalId ?? null) : target.scimExternalId,
  };
  const updated = toMember(changed);

  const writes: BatchItem<'pg'>[] = [];
  // First in the batch: the quota lock, then the count, which must leave room for the target (not counted yet, as
  // read: memberUnchanged confirms it after the row lock).
  if (takesSeat) writes.push(...quotaGuard(db, tenant, 'members'));
  writes.push(lockMembers(db, tenant.id, id, losesOwner), memberUnchanged(db, tenant.id, target));
  if (losesOwner) writes.push(anotherActiveOwner(db, tenant.id, id));
  if (roleChange !== null)
    writes.push(shareRole(db, tenant.id, roleChange.id), roleUnchanged(db, tenant.id, roleChange));
  const updateAt = writes.length;
  writes.push(
    db
      .update(memberships)
      .set({
        ...(roleChange === null ? {} : { roleId: roleChange.id }),
        ...(statusChange === null ? {} : { status: statusChange }),
        ...(renamed ? { displayName: name } : {}),
        ...(externalIdChange ? { scimExternalId: externalId } : {}),
        updatedAt: sql`now()`,
      })
      .where(and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, id)))
      .returning({ updatedAt: memberships.updatedAt }),
  );
  if (endsSessions) {
    writes.push(
      db
        .update(refreshTokens)
        .set({ revokedAt: sql`now()` })
        .where(
          and(
            eq(refreshTokens.organizationId, tenant.id),
            eq(refreshTokens.userId, id),
            isNull(refreshTokens.revokedAt),
          ),
        ),
    );
  }
  writes.push(
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: actorOf(caller),
      action: 'membership.updated',
      target: { type: 'user', id },
      metadata: {
        before: { name: target.name, role: target.roleKey, status: target.status },
        after,
        sessionsEnded: endsSessions,
        ...(externalIdChange ? { externalId: { before: target.scimExternalId, after: externalId } } : {}),
        ...(input.scim === undefined ? {} : { via: 'scim' }),
      },
    }),
    outboxInsert(db, { organizationId: tenant.id, type: 'membership.updated', data: updated }),
  );

  let results: unknown[];
  try {
    results = await scoped(db, scope, writes as [BatchItem<'pg'>, ...BatchItem<'pg'>[]]);
  } catch (error) {
    if (isPlanLimit(error)) throw planLimitError(tenant, 'members');
    const failed = failedGuard(error);
    if (failed === 'last_owner') throw lastOwnerConflict();
    if (failed === 'stale') throw staleConflict();
    const info = databaseError(error);
    if (info?.code === UNIQUE_VIOLATION && info.constraint === 'memberships_organization_id_scim_external_id_key') {
      throw new ApiError('conflict', { detail: 'Another member has this externalId.' });
    }
    throw error;
  }
  const [stored] = results[updateAt] as { updatedAt: Date }[];
  if (!stored) throw new Error('the membership update returned nothing');
  notifyOutbox(ctx, tenant.id);
  if (endsSessions) await endSessions(ctx, tenant.id, [id]);

  return { member: updated, row: { ...changed, updatedAt: stored.updatedAt } };
}
