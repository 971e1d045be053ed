import { and, asc, count, eq, ne } from 'drizzle-orm';
import { memberships, roles, users } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { OWNER_ROLE } from '../roles/authority.ts';
import { updateMember } from '../users/update.ts';
import { parseGroupFilter } from './filter.ts';
import { SCIM_DEFAULT_ROLE, scimList, scimRefusal, toScimGroup, type ScimGroup, type ScimList } from './resources.ts';
import type { PatchOperation } from './users.ts';

/*
 * SCIM Groups are the organization's roles (displayName: the role key), so an IdP assigns roles by group membership:
 * adding a user to a group gives them that role (a member has one role: the last group added wins), removing them
 * gives the default role back. Groups are not created, renamed or deleted over SCIM (405: roles are managed with
 * /api/v1/roles), and the owner role is not offered.
 */

function groupNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No group with this id in this organization.' });
}

const roleColumns = { id: roles.id, key: roles.key, createdAt: roles.createdAt, updatedAt: roles.updatedAt };

/**
 * GET /scim/v2/Groups: the roles but the owner's, by key, without their members (GET /scim/v2/Groups/{id} lists
 * them); `filter=displayName eq "..."`. One database round trip.
 */
export async function listScimGroups({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { filter?: string | undefined; startIndex: number; count: number };
}): Promise<ScimList<ScimGroup>> {
  const tenant = requireTenant(ctx);
  const filter = input.filter === undefined ? undefined : parseGroupFilter(input.filter);
  const db = ctx.services.db;
  const condition = and(
    eq(roles.organizationId, tenant.id),
    filter === undefined ? undefined : eq(roles.key, filter.value),
  );
  const [rows, [total]] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select(roleColumns)
      .from(roles)
      .where(and(condition, neOwner()))
      .orderBy(asc(roles.key))
      .offset(input.startIndex - 1)
      .limit(input.count),
    db.select({ total: count() }).from(roles).where(and(condition, neOwner())),
  ]);
  return scimList(
    rows.map((role) => toScimGroup(role, null, ctx.origin ?? '')),
    total?.total ?? 0,
    input.startIndex,
  );
}

function neOwner() {
  return ne(roles.key, OWNER_ROLE);
}

/** GET /scim/v2/Groups/{id}: the role with its members. One database round trip. */
export async function getScimGroup({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<ScimGroup> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[role], members] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select(roleColumns)
      .from(roles)
      .where(and(eq(roles.organizationId, tenant.id), eq(roles.id, input.id), neOwner())),
    db
      .select({ id: users.id, email: users.email })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.organizationId, tenant.id), eq(memberships.roleId, input.id)))
      .orderBy(asc(memberships.createdAt), asc(memberships.userId)),
  ]);
  if (role === undefined) throw groupNotFound();
  return toScimGroup(role, members, ctx.origin ?? '');
}

/** The user ids of a `members` value (`[{ "value": "<id>" }]`) or a `members[value eq "<id>"]` path. */
function memberIds(operation: PatchOperation): string[] {
  const filtered = /^members\[value eq "([^"]+)"\]$/i.exec(operation.path ?? '');
  if (filtered?.[1] !== undefined) return [filtered[1]];
  if (!Array.isArray(operation.value)) throw scimRefusal('invalidValue', 'members must be a list of { "value": id }.');
  return operation.value.map((member: unknown) => {
    const value = typeof member === 'object' && member !== null ? (member as { value?: unknown }).value : undefined;
    if (typeof value !== 'string') throw scimRefusal('invalidValue', 'Each member needs a "value" (a user id).');
    return value;
  });
}

/**
 * PATCH /scim/v2/Groups/{id}: `add` members gives each that role, `remove` members (a list, or Entra ID's
 * `members[value eq "<id>"]` path) gives those who hold it the default role; each through updateMember, so its
 * rules hold (authority, the last owner, sessions ended at a role change). A changed displayName is refused (400
 * `mutability`: roles are renamed with /api/v1/roles); other attributes are ignored. A member id that is not a member
 * here answers 404 and stops the patch there.
 */
export async function patchScimGroup({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; operations: PatchOperation[] };
}): Promise<void> {
  const group = await getScimGroup({ ctx, input: { id: input.id } });
  const current = new Set((group.members ?? []).map((member) => member.value));
  for (const operation of input.operations) {
    const op = operation.op.toLowerCase();
    const path = operation.path?.toLowerCase() ?? '';
    if (
      path === 'displayname' ||
      (path === '' &&
        typeof operation.value === 'object' &&
        operation.value !== null &&
        'displayName' in operation.value)
    ) {
      const name = path === '' ? (operation.value as { displayName?: unknown }).displayName : operation.value;
      if (name !== group.displayName)
        throw scimRefusal('mutability', 'Groups are roles: rename roles with /api/v1/roles.');
      continue;
    }
    if (!path.startsWith('members')) continue;
    if (op === 'add') {
      for (const id of memberIds(operation)) {
        await updateMember({ ctx, input: { id, role: group.displayName } });
        current.add(id);
      }
    } else if (op === 'remove') {
      for (const id of memberIds(operation)) {
        if (!current.has(id)) continue;
        await updateMember({ ctx, input: { id, role: SCIM_DEFAULT_ROLE } });
        current.delete(id);
      }
    } else {
      throw scimRefusal('invalidSyntax', 'Group members are changed with add and remove operations.');
    }
  }
}
