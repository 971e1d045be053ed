/**
 * The fixed permission catalogue. Built-in roles are defined here; custom roles pick from the same list.
 * A permission check never needs the database: the access token carries the role's permissions, and any change to a
 * role or membership ends the affected sessions (see revocation.ts), so a stale token cannot outlive the change.
 */
export const PERMISSIONS = {
  'organization:read': 'Read the organization, its branding and settings',
  'organization:manage': 'Change branding, settings and domains',
  'users:read': 'List members',
  'users:manage': 'Invite, change and remove members',
  'roles:manage': 'Create, change and delete custom roles',
  'events:read': 'Read events and ticket types, including drafts',
  'events:write': 'Create, change, publish and cancel events and ticket types',
  'bookings:read': 'Read bookings and attendees',
  'bookings:write': 'Cancel and refund bookings, confirm manual payments',
  'checkins:write': 'Check attendees in',
  'billing:manage': 'Change the plan and payment settings',
  'webhooks:manage': 'Manage webhook endpoints',
  'audit:read': 'Read and export the audit log',
  'api_keys:read': "List the organization's API keys (never their secrets)",
  'api_keys:write': 'Create and revoke API keys (each within the permissions of its creator)',
  'sso:manage': 'Manage single sign-on connections (their client secrets are never shown)',
  'scim:provision': "Provision, change and deprovision members over SCIM 2.0 (an identity provider's API key)",
} as const;

export type Permission = keyof typeof PERMISSIONS;
export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}

export const BUILT_IN_ROLES = {
  owner: { name: 'Owner', description: 'Everything, including billing', permissions: ALL_PERMISSIONS },
  admin: {
    name: 'Admin',
    description: 'Everything except billing',
    permissions: ALL_PERMISSIONS.filter((permission) => permission !== 'billing:manage'),
  },
  organizer: {
    name: 'Organizer',
    description: 'Runs events and their bookings',
    permissions: [
      'organization:read',
      'users:read',
      'events:read',
      'events:write',
      'bookings:read',
      'bookings:write',
      'checkins:write',
    ],
  },
  staff: {
    name: 'Staff',
    description: 'Door staff: sees events and bookings, checks attendees in',
    permissions: ['organization:read', 'events:read', 'bookings:read', 'checkins:write'],
  },
  member: { name: 'Member', description: 'A registered customer: no staff access', permissions: [] },
} as const satisfies Record<string, { name: string; description: string; permissions: readonly Permission[] }>;

export type BuiltInRoleKey = keyof typeof BUILT_IN_ROLES;
export const BUILT_IN_ROLE_KEYS = Object.keys(BUILT_IN_ROLES) as BuiltInRoleKey[];

export function isBuiltInRole(key: string): key is BuiltInRoleKey {
  return Object.hasOwn(BUILT_IN_ROLES, key);
}

/** The role given to people who sign up themselves on a tenant host. */
export const SELF_REGISTRATION_ROLE: BuiltInRoleKey = 'member';

/** The built-in role rows every organization gets when it is created. */
export function builtInRoleRows(organizationId: string) {
  return BUILT_IN_ROLE_KEYS.map((key) => ({
    organizationId,
    key,
    name: BUILT_IN_ROLES[key].name,
    description: BUILT_IN_ROLES[key].description,
    permissions: [...BUILT_IN_ROLES[key].permissions],
    builtIn: true,
  }));
}
