import { countUsage } from '../plans/usage.ts';
import type { Redis } from '@upstash/redis/cloudflare';
import type { Logger } from '../../lib/logger.ts';
import { withinMailBudget, type MailKind } from './budget.ts';
import type { EmailMessage } from './messages.ts';
import type { EmailProvider } from './send.ts';

/** How long a delivery may hold its claim on a message id: a consumer that died mid-send blocks others this long. */
export const EMAIL_CLAIM_TTL_SECONDS = 10 * 60;
/** How long a sent message id is remembered: longer than a queue message can live (4 days by default). */
export const EMAIL_SENT_TTL_SECONDS = 7 * 24 * 60 * 60;

export const emailSentKey = (messageId: string): string => `email:sent:${messageId}`;

// Deletes the claim only while it is still ours (it may have expired and been taken by another delivery).
const RELEASE_CLAIM = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/** Another delivery of the same message holds the claim: retry later (the queue's backoff), never send twice. */
export class EmailInFlightError extends Error {
  override name = 'EmailInFlightError';
}

export interface DeliveryDeps {
  redis: Redis;
  provider: EmailProvider;
  logger: Logger;
}

/**
 * Sends a message at most once per id while Redis remembers it (at-least-once with dedupe):
 * 1. claim: `SET email:sent:<id> sending:<nonce> NX EX 600`;
 *    - the key says `sent`: a redelivery of a message already sent, acknowledged without sending ('duplicate');
 *    - another claim holds it: `EmailInFlightError`, so the queue retries later with backoff;
 * 2. send through the provider; on failure the claim is released (only if still ours) and the error rethrown, so
 *    the queue retries;
 * 3. confirm: `SET email:sent:<id> sent EX 7 days`. If that write fails the email did go out: it is logged and
 *    acknowledged, not retried.
 * With a `budget`, the recipient's mail budget is taken between 1 and 2 (budget.ts): over it, the id is recorded as
 * `dropped` (a redelivery is a duplicate) and nothing is sent ('dropped').
 * A consumer that dies between 1 and 3 leaves the claim to expire; a redelivery after that sends again. Resend gets
 * the message id as its Idempotency-Key, which also absorbs that resend within its own 24 hour window.
 */
export async function deliverOnce(
  deps: DeliveryDeps,
  message: EmailMessage,
  organizationId: string | null = null,
  budget: MailKind | null = null,
): Promise<'sent' | 'duplicate' | 'dropped'> {
  const { redis, provider, logger } = deps;
  const key = emailSentKey(message.id);
  const claim = `sending:${crypto.randomUUID()}`;
  const claimed = await redis.set(key, claim, { nx: true, ex: EMAIL_CLAIM_TTL_SECONDS });
  if (claimed === null) {
    const state = await redis.get<string>(key);
    if (state === 'sent' || state === 'dropped') {
      logger.info('email already sent, duplicate delivery skipped', { emailId: message.id });
      return 'duplicate';
    }
    throw new EmailInFlightError(`another delivery of email ${message.id} is in progress`);
  }
  const allowed =
    budget === null ||
    (await withinMailBudget(deps, { kind: budget, organizationId, to: message.to, messageId: message.id }));
  if (!allowed) {
    await redis.set(key, 'dropped', { ex: EMAIL_SENT_TTL_SECONDS });
    return 'dropped';
  }
  try {
    await provider.send(message);
  } catch (error) {
    await redis.eval(RELEASE_CLAIM, [key], [claim]).catch((releaseError: unknown) => {
      logger.warn('could not release the email claim; a retry waits for it to expire', {
        emailId: message.id,
        error: releaseError,
      });
    });
    throw error;
  }
  try {
    await redis.set(key, 'sent', { ex: EMAIL_SENT_TTL_SECONDS });
  } catch (error) {
    logger.warn('email sent but not recorded as sent', { emailId: message.id, error });
  }
  // The organization's `emails` usage (never throws).
  if (organizationId !== null) await countUsage({ redis, logger }, organizationId, 'emails');
  return 'sent';
}
