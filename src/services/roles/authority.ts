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

export function assertAuthority(principal: Principal, role: RoleAuthority): void {
  const gap = authorityGap(principal, role);
  if (gap !== null) throw new ApiError('forbidden', { detail: gap });
}

/** The authenticated caller of a service (routes put `requirePermission` in front, so this only guards misuse). */
export function callerOf(ctx: Pick<ServiceContext, 'principal'>): Principal {
  if (!ctx.principal) throw new ApiError('unauthorized', { detail: 'Authentication required.' });
  return ctx.principal;
}
