import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { revokeOutgrownApiKeys } from '../auth/api-keys.ts';
import { revokeUserTokens } from '../auth/revocation.ts';

/**
 * Ends every access token the users hold in the organization, right after the change that requires it committed
 * (their refresh tokens were revoked or deleted in that batch), and revokes their API keys that the change left
 * stronger than their creator (`revokeOutgrownApiKeys`). If Redis cannot take the record, the caller must
 * know: the change stands, and the tokens already issued stay valid until they expire.
 */
export async function endSessions(ctx: ServiceContext, organizationId: string, userIds: string[]): Promise<void> {
  try {
    await revokeUserTokens(ctx.services.redis, organizationId, userIds);
    await revokeOutgrownApiKeys(ctx, organizationId, userIds);
  } catch (error) {
    ctx.logger.error('ending sessions failed', { organizationId, userIds, error });
    throw new ApiError('service_unavailable', {
      detail:
        'The change is saved and no session can be renewed, but access tokens already issued could not be ended; ' +
        'they expire within 15 minutes.',
      headers: { 'retry-after': '5' },
    });
  }
}

export function lastOwnerConflict(): ApiError {
  return new ApiError('conflict', {
    detail: 'The organization must keep at least one active owner; make someone else an owner first.',
  });
}

export function staleConflict(): ApiError {
  return new ApiError('conflict', { detail: 'The member or role changed while this request ran; try again.' });
}
