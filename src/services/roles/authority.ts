import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import type { Principal } from '../auth/tokens.ts';

/**
 * Privilege escalation rules, for members and roles alike: nobody grants, edits or takes away a role that holds a
 * permission they do not hold themselves, and only an owner assigns, changes or removes the owner role.
 */
export const OWNER_ROLE = 'owner';

export interface RoleAuthority {
  key: string;
  permissions: readonly string[];
}

/** Why the caller may not grant or manage this role, or null when they may. */
export function authorityGap(principal: Principal, role: RoleAuthority): string | null {
  if (role.key === OWNER_ROLE && principal.role !== OWNER_ROLE) return 'Only an owner can manage the owner role.';
  const missing = role.permissions.filter(
    (permission) => !(principal.permissions as ReadonlySet<string>).has(permission),
  );
  if (missing.length > 0) return `This role holds permissions you do not have: ${missing.join(', ')}.`;
  return null;
}

/**
 * An account whose email address is not verified holds no permission (docs/API.md, "Unverified accounts"): a role
 * with any permission cannot be given to such a member, the owner role included. An invited member may get one: the
 * invitation is accepted through the mailbox, which verifies the address before the role takes effect.
 */
export function assertMayHold(member: { emailVerifiedAt: Date | null; status: string }, role: RoleAuthority): void {
  if (member.emailVerifiedAt !== null || member.status === 'invited' || role.permissions.length === 0) return;
  throw new ApiError('email_not_verified', {
    detail:
      'This member has not verified their email address; a role with permissions can be given once they have ' +
      '(POST /api/v1/auth/resend-verification sends them a new link).',
  });
}

/** Refuses with 403 when the caller may not grant or manage this role (see `authorityGap`). */
export function assertAuthority(principal: Principal, role: RoleAuthority): void {
  const gap = authorityGap(principal, role);
  if (gap !== null) throw new ApiError('forbidden', { detail: gap });
}

/** The authenticated caller of a service (routes put `requirePermission` in front, so this only guards misuse). */
export function callerOf(ctx: Pick<ServiceContext, 'principal'>): Principal {
  if (!ctx.principal) throw new ApiError('unauthorized', { detail: 'Authentication required.' });
  return ctx.principal;
}
