import { ApiError } from '../../errors/api-error.ts';
import type { ScimMemberRow } from '../users/members.ts';

/*
 * SCIM 2.0 (RFC 7643 resources, RFC 7644 protocol) as the organization's identity provider sees it: a User is a
 * member of the organization (the global account seen through its membership, like GET /api/v1/users/{id}), a Group
 * is one of the organization's roles. See docs/API.md, "SCIM".
 */

export const SCIM_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCIM_GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const SCIM_LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SCIM_PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SCIM_MEDIA_TYPE = 'application/scim+json';
export const SCIM_BASE_PATH = '/scim/v2';
/** The most resources one list answers (ServiceProviderConfig `filter.maxResults`). */
export const SCIM_MAX_RESULTS = 100;
/** The role a provisioned member gets; Groups (the roles) give others. */
export const SCIM_DEFAULT_ROLE = 'staff';

/** RFC 7644 3.12's `scimType` of a 400 (and `uniqueness` of a 409). */
export type ScimType = 'invalidFilter' | 'invalidSyntax' | 'invalidPath' | 'invalidValue' | 'mutability' | 'uniqueness';

/** A refusal with its SCIM `scimType` (shown in the SCIM error body; the problem code stays the API's). */
export function scimRefusal(scimType: ScimType, detail: string): ApiError {
  return new ApiError(scimType === 'uniqueness' ? 'conflict' : 'validation_failed', {
    detail,
    extensions: { scimType },
  });
}

export interface ScimUser {
  schemas: [typeof SCIM_USER_SCHEMA];
  id: string;
  externalId?: string;
  userName: string;
  name: { formatted: string };
  displayName: string;
  emails: { value: string; type: 'work'; primary: true }[];
  active: boolean;
  groups: { value: string; display: string }[];
  meta: { resourceType: 'User'; created: string; lastModified: string; location: string };
}

export function toScimUser(row: ScimMemberRow, origin: string): ScimUser {
  return {
    schemas: [SCIM_USER_SCHEMA],
    id: row.id,
    ...(row.scimExternalId === null ? {} : { externalId: row.scimExternalId }),
    userName: row.email,
    name: { formatted: row.name },
    displayName: row.name,
    emails: [{ value: row.email, type: 'work', primary: true }],
    // A member the IdP provisioned who has not signed in yet is active for the IdP: the first sign-in starts them.
    active: row.status !== 'disabled',
    groups: [{ value: row.roleId, display: row.roleKey }],
    meta: {
      resourceType: 'User',
      created: row.createdAt.toISOString(),
      lastModified: row.updatedAt.toISOString(),
      location: `${origin}${SCIM_BASE_PATH}/Users/${row.id}`,
    },
  };
}

export interface ScimGroup {
  schemas: [typeof SCIM_GROUP_SCHEMA];
  id: string;
  displayName: string;
  members?: { value: string; display: string }[];
  meta: { resourceType: 'Group'; created: string; lastModified: string; location: string };
}

export interface RoleRow {
  id: string;
  key: string;
  createdAt: Date;
  updatedAt: Date;
}

export function toScimGroup(role: RoleRow, members: { id: string; email: string }[] | null, origin: string): ScimGroup {
  return {
    schemas: [SCIM_GROUP_SCHEMA],
    id: role.id,
    displayName: role.key,
    ...(members === null
      ? {}
      : {
          members: members.map((member) => ({ value: member.id, display: member.email })),
        }),
    meta: {
      resourceType: 'Group',
      created: role.createdAt.toISOString(),
      lastModified: role.updatedAt.toISOString(),
      location: `${origin}${SCIM_BASE_PATH}/Groups/${role.id}`,
    },
  };
}

export interface ScimList<T> {
  schemas: [typeof SCIM_LIST_SCHEMA];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

export function scimList<T>(resources: T[], totalResults: number, startIndex: number): ScimList<T> {
  return {
    schemas: [SCIM_LIST_SCHEMA],
    totalResults,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
