import { and, asc, eq, exists, ne, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { memberships, roles } from '../../db/schema/index.ts';
import { OWNER_ROLE } from '../roles/authority.ts';
import { guard } from './guards.ts';
import { textArray } from '../../db/params.ts';

/**
 * Write-time checks for member changes, as batch statements. Each batch first locks the rows its checks read, in
 * user-id order (one statement, so two batches lock in the same order and cannot deadlock), then guards, then writes.
 * Under READ COMMITTED every later statement takes a fresh snapshot, so a guard sees whatever a concurrent batch
 * committed before the lock was granted: two owners demoting each other at once cannot both succeed.
 */
export function lockMembers(db: Database, organizationId: string, userId: string, withActiveOwners: boolean) {
  const target = eq(memberships.userId, userId);
  const owners = and(eq(roles.key, OWNER_ROLE), eq(memberships.status, 'active'));
  return db
    .select({ userId: memberships.userId })
    .from(memberships)
    .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
    .where(and(eq(memberships.organizationId, organizationId), withActiveOwners ? or(target, owners) : target))
    .orderBy(asc(memberships.userId))
    .for('update', { of: memberships });
}

/** Aborts the batch unless the membership still has the role and status the request read and checked. */
export function memberUnchanged(
  db: Database,
  organizationId: string,
  member: { id: string; roleId: string; status: string },
) {
  return guard(
    db,
    exists(
      db
        .select({ one: sql`1` })
        .from(memberships)
        .where(
          and(
            eq(memberships.organizationId, organizationId),
            eq(memberships.userId, member.id),
            eq(memberships.roleId, member.roleId),
            sql`${memberships.status} = ${member.status}`,
          ),
        ),
    ),
    'stale',
  );
}

/** Aborts the batch unless another active owner remains besides `userId`. */
export function anotherActiveOwner(db: Database, organizationId: string, userId: string) {
  return guard(
    db,
    exists(
      db
        .select({ one: sql`1` })
        .from(memberships)
        .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
        .where(
          and(
            eq(memberships.organizationId, organizationId),
            eq(roles.key, OWNER_ROLE),
            eq(memberships.status, 'active'),
            ne(memberships.userId, userId),
          ),
        ),
    ),
    'last_owner',
  );
}

/** Locks a role against changes and deletion until the batch commits (a member is being given it). */
export function shareRole(db: Database, organizationId: string, roleId: string) {
  return db
    .select({ id: roles.id })
    .from(roles)
    .where(and(eq(roles.organizationId, organizationId), eq(roles.id, roleId)))
    .for('share');
}

/** Aborts the batch unless the role still holds exactly the permissions the request read and checked. */
export function roleUnchanged(
  db: Database,
  organizationId: string,
  role: { id: string; permissions: readonly string[] },
) {
  return guard(
    db,
    exists(
      db
        .select({ one: sql`1` })
        .from(roles)
        .where(
          and(
            eq(roles.organizationId, organizationId),
            eq(roles.id, role.id),
            sql`${roles.permissions} = ${textArray(role.permissions)}`,
          ),
        ),
    ),
    'stale',
  );
}
