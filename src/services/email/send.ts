import type { Redis } from '@upstash/redis/cloudflare';
import type { Bindings } from '../../env.ts';
import type { Logger } from '../../lib/logger.ts';
import type { EmailMessage } from './messages.ts';

/** Where emails go: an HTTP email API in staging and production, a capture mailbox locally. */
export interface EmailProvider {
  send(message: EmailMessage): Promise<void>;
}

export const DEV_MAILBOX_TTL_SECONDS = 24 * 60 * 60;
export const devMailboxKey = (email: string): string => `devmail:${email.toLowerCase()}`;

/**
 * Local capture: prints the message with its links and keeps it in a dev mailbox (a Redis list per recipient, a day
 * long), which exists only in the local environment. Never a network call to a mail service.
 */
export function captureProvider(redis: Redis, logger: Logger): EmailProvider {
  return {
    async send(message) {
      logger.info('email captured', { to: message.to, subject: message.subject, links: message.links });
      const key = devMailboxKey(message.to);
      const pipeline = redis.pipeline();
      pipeline.rpush(key, JSON.stringify(message));
      pipeline.expire(key, DEV_MAILBOX_TTL_SECONDS);
      await pipeline.exec();
    },
  };
}

/** Resend's HTTP API (https://resend.com/docs/api-reference/emails/send-email), configured by EMAIL_* secrets. */
export function resendProvider(apiKey: string, fromAddress: string, fetcher: typeof fetch = fetch): EmailProvider {
  return {
    async send(message) {
      const response = await fetcher('https://api.resend.com/emails', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          'idempotency-key': message.id,
        },
        body: JSON.stringify({
          from: `${message.fromName.replace(/[<>"\r\n]/g, '')} <${fromAddress}>`,
          to: [message.to],
          subject: message.subject,
          text: message.text,
          html: message.html,
        }),
      });
      if (!response.ok) throw new Error(`email provider answered ${response.status}`);
    },
  };
}

export function emailProvider(bindings: Bindings, redis: Redis, logger: Logger): EmailProvider {
  if (bindings.ENVIRONMENT === 'local') return captureProvider(redis, logger);
  if (!bindings.EMAIL_API_KEY || !bindings.EMAIL_FROM) {
    throw new Error('EMAIL_API_KEY and EMAIL_FROM must be set outside the local environment');
  }
  return resendProvider(bindings.EMAIL_API_KEY, bindings.EMAIL_FROM);
}
