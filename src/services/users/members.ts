import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { memberships, roles, users, type Membership } from '../../db/schema/index.ts';
import { ApiError } from '../../errors/api-error.ts';

export type MembershipStatus = Membership['status'];

/**
 * A member as the API shows it: the global user seen through this organization's membership. The name is the one
 * this organization gave (memberships.display_name), else the account's own; an invited member's account is not
 * described (verification, last sign-in) until they accept, so inviting an address reveals nothing about it.
 */
export interface Member {
  id: string;
  email: string;
  name: string;
  role: { key: string; name: string };
  status: MembershipStatus;
  emailVerified: boolean;
  lastLoginAt: string | null;
  createdAt: string;
}

/** The name this organization shows for a member: its own, else the account's. Also what the `q` filter matches. */
export const shownName = sql<string>`coalesce(${memberships.displayName}, ${users.name})`;

/** The columns every member read selects: what the response shows, plus the role's id and permissions for checks. */
export const memberColumns = {
  id: users.id,
  email: users.email,
  name: shownName,
  displayName: memberships.displayName,
  emailVerifiedAt: users.emailVerifiedAt,
  roleId: roles.id,
  roleKey: roles.key,
  roleName: roles.name,
  rolePermissions: roles.permissions,
  status: memberships.status,
  lastLoginAt: memberships.lastLoginAt,
  createdAt: memberships.createdAt,
  scimExternalId: memberships.scimExternalId,
  updatedAt: memberships.updatedAt,
};

export interface MemberRow {
  id: string;
  email: string;
  /** The shown name: coalesce(display_name, users.name). */
  name: string;
  /** This organization's own name for the member; null when it never gave one. */
  displayName: string | null;
  emailVerifiedAt: Date | null;
  roleId: string;
  roleKey: string;
  roleName: string;
  rolePermissions: string[];
  status: MembershipStatus;
  lastLoginAt: Date | null;
  createdAt: Date;
  /** The identity provider's id for the member (SCIM `externalId`), when it provisioned them. */
  scimExternalId: string | null;
  updatedAt: Date;
}

/** What a SCIM answer shows of a member (src/services/scim/resources.ts `toScimUser`). */
export type ScimMemberRow = Pick<
  MemberRow,
  'id' | 'email' | 'name' | 'status' | 'roleId' | 'roleKey' | 'createdAt' | 'updatedAt' | 'scimExternalId'
>;

/** One member of the organization (or nothing: another tenant's user id finds no membership here). */
export function selectMember(db: Database, organizationId: string, userId: string) {
  return db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)))
    .limit(1);
}

export function toMember(
  row: Omit<MemberRow, 'displayName' | 'roleId' | 'rolePermissions' | 'scimExternalId' | 'updatedAt'>,
): Member {
  const invited = row.status === 'invited';
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: { key: row.roleKey, name: row.roleName },
    status: row.status,
    // An invited member's account may predate the invitation (another organization's member): what it holds stays
    // private until the person accepts.
    emailVerified: !invited && row.emailVerifiedAt !== null,
    lastLoginAt: invited ? null : (row.lastLoginAt?.toISOString() ?? null),
    createdAt: row.createdAt.toISOString(),
  };
}

export function memberNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No member with this id in this organization.' });
}
