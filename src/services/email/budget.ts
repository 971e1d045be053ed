import type { Redis } from '@upstash/redis/cloudflare';
import { ApiError } from '../../errors/api-error.ts';
import type { Logger } from '../../lib/logger.ts';
import { takeTokens, type LimitRule } from '../../lib/rate-limit.ts';
import { hashToken } from '../auth/tokens.ts';

/**
 * How much mail one address may receive, checked by the email queue consumer just before a send: off the request
 * path (no round trip added to any request), and after the flows' own per-client limits, which an attacker with
 * many addresses or accounts can spread out. Anyone can trigger mail to any address (a free booking with any buyer
 * email, a sign-up, an invite/remove/invite loop), so the budget is the recipient's:
 * - `booking`: booking confirmations, cancellations and refunds, per organization and recipient;
 * - `account`: verification, password reset and invitation mails, per organization (or the platform) and recipient;
 * - `recipient`: what the platform sends one address in a day of one kind, whichever organization sends it. Per
 *   kind, so that a flood of booking mail (anonymous) can never use up the budget of the victim's own password reset.
 * A genuine buyer or member stays far below these; what is over them is dropped, not retried.
 */
export const MAIL_BUDGETS = {
  booking: { name: 'mail-booking', limit: 10, window: '1 h' },
  account: { name: 'mail-account', limit: 5, window: '1 h' },
  recipient: { name: 'mail-recipient', limit: 30, window: '24 h' },
} as const satisfies Record<string, LimitRule>;

export type MailKind = 'booking' | 'account';

/** The key of an address in Redis and logs: a SHA-256 of the normalized address, never the address in clear. */
export function recipientKey(address: string): Promise<string> {
  return hashToken(address.trim().toLowerCase());
}

/**
 * Takes one mail from the recipient's budgets (one Redis round trip). False: over a budget, do not send. A Redis
 * failure lets the mail through (logged): the budget bounds abuse, it must not stop a genuine confirmation.
 */
export async function withinMailBudget(
  deps: { redis: Redis; logger: Logger },
  input: { kind: MailKind; organizationId: string | null; to: string; messageId: string },
): Promise<boolean> {
  const recipient = await recipientKey(input.to);
  const scope = input.organizationId ?? 'platform';
  try {
    await takeTokens(
      deps.redis,
      deps.logger,
      [
        [MAIL_BUDGETS[input.kind], `${scope}:${recipient}`],
        [MAIL_BUDGETS.recipient, `${input.kind}:${recipient}`],
      ],
      { failClosed: false },
    );
    return true;
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'rate_limited') throw error;
    deps.logger.warn('email dropped: the recipient is over its mail budget', {
      kind: input.kind,
      organizationId: input.organizationId,
      recipient: recipient.slice(0, 16),
      emailId: input.messageId,
    });
    return false;
  }
}
