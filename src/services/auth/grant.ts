import type { ServiceContext } from '../../lib/context.ts';
import { OWNER_ROLE } from '../roles/authority.ts';
import { userView, type UserRow, type UserView } from './account.ts';
import { isPermission, type Permission } from './permissions.ts';
import { issueAccessToken } from './tokens.ts';

/*
 * The answer of every sign-in that ends in a session (password, MFA second step, passkey, refresh): the access
 * token for a grant, with the refresh token when one was stored. Its own module so that the sign-in flows
 * (sessions.ts, mfa-challenge.ts, passkeys.ts) share it without importing one another.
 */

export interface Session {
  user: UserView;
  accessToken: string;
  /** Absent for platform-administrator sessions: nothing is stored for them, they sign in again. */
  refreshToken?: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

export interface Grant {
  tenant: string;
  sessionId: string;
  role: string;
  permissions: readonly Permission[];
  /** The session's `auth_time` in seconds: now (a sign-in) when absent. */
  authTime?: number;
  /** The session's `amr`: `['pwd']` when absent. */
  amr?: readonly string[];
}

/** The session's answer: a new access token for `grant`, with the refresh token when one was stored. */
export async function session(
  ctx: ServiceContext,
  user: UserRow,
  grant: Grant,
  refreshToken?: string,
): Promise<Session> {
  const { token, expiresIn } = await issueAccessToken(ctx.bindings.JWT_SIGNING_KEYS, ctx.bindings.ROOT_DOMAIN, {
    userId: user.id,
    emailVerified: user.emailVerifiedAt !== null,
    ...grant,
    permissions: heldPermissions(user, grant.role, grant.permissions),
  });
  return {
    user: userView(user),
    accessToken: token,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    expiresIn,
    tokenType: 'Bearer',
  };
}

export function permissionsOf(stored: readonly string[]): Permission[] {
  return stored.filter(isPermission);
}

/**
 * The permissions a role gives this account: none while its email address is not verified, except to an owner (only
 * organization sign-up makes an unverified owner; users/update.ts refuses to give such an account any permission).
 */
export function heldPermissions(user: Pick<UserRow, 'emailVerifiedAt'>, role: string, stored: readonly string[]) {
  return user.emailVerifiedAt === null && role !== OWNER_ROLE ? [] : permissionsOf(stored);
}
