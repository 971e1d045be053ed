import type { Permission } from '../../services/auth/permissions.ts';

/**
 * An organization export holds what each of these permissions reads (the organization, members and roles, events
 * and ticket types, bookings with attendees, payments and refunds, webhook endpoints, the audit log), so it needs all
 * of them: owners and admins have them; a custom role gets exports only by holding every one.
 */
export const EXPORT_PERMISSIONS = [
  'organization:read',
  'users:read',
  'events:read',
  'bookings:read',
  'webhooks:manage',
  'audit:read',
] as const satisfies readonly Permission[];

export const PERMISSIONS_TEXT =
  `Needs ${EXPORT_PERMISSIONS.map((permission) => `\`${permission}\``).join(', ')} (everything an export reads) ` +
  'and the `exports` feature of the plan (403 `feature_unavailable` otherwise). Organization hosts only.';
