import { createRedis } from '../lib/redis.ts';
import {
  sendOutboxEventEmail,
  sendBillingNoticeEmails,
  sendQueuedEmail,
  sendWebhookDisabledEmails,
  type EmailConsumerDeps,
} from '../services/email/consume.ts';
import { emailProvider } from '../services/email/send.ts';
import type { ConsumerContext, MessageHandler } from './consumer.ts';
import type { QueueMessage } from './messages.ts';

/** The email queue's message types (the `type` of the envelope on EMAIL_QUEUE). */
export const EMAIL_MESSAGE_TYPES = {
  /** A rendered EmailMessage enqueued by `sendLater` (verification, password reset, invitation ...). */
  send: 'email.send',
  /**
   * An outbox event that emails people: booking.confirmed | booking.cancelled | booking.refunded (the buyer), or
   * ticket.transferred (the new and the previous holder).
   */
  event: 'email.event',
  /** A webhook endpoint was disabled: tell the organization's owners. */
  webhookDisabled: 'email.webhook_disabled',
  /** A plan payment failed, or the dunning schedule downgraded the plan: tell the organization's owners. */
  billingNotice: 'email.billing_notice',
} as const;

async function deps(ctx: ConsumerContext): Promise<EmailConsumerDeps> {
  // No request id: background work stays off the request round-trip traces.
  const redis = createRedis(ctx.bindings);
  return {
    bindings: ctx.bindings,
    db: await ctx.database(),
    redis,
    provider: emailProvider(ctx.bindings, redis, ctx.logger),
    logger: ctx.logger,
  };
}

const handle =
  (send: (deps: EmailConsumerDeps, message: QueueMessage) => Promise<void>): MessageHandler =>
  async (message, ctx) =>
    send(await deps(ctx), message);

/** Registered as `handlers.email` in src/queues/consumer.ts. A handler that throws is retried with backoff. */
export const emailHandlers: ReadonlyMap<string, MessageHandler> = new Map([
  [EMAIL_MESSAGE_TYPES.send, handle(sendQueuedEmail)],
  [EMAIL_MESSAGE_TYPES.event, handle(sendOutboxEventEmail)],
  [EMAIL_MESSAGE_TYPES.webhookDisabled, handle(sendWebhookDisabledEmails)],
  [EMAIL_MESSAGE_TYPES.billingNotice, handle(sendBillingNoticeEmails)],
]);
