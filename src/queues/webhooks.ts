import { deliverWebhook } from '../services/webhooks/deliver.ts';
import { fanOutEvent } from '../services/webhooks/fanout.ts';
import { DELIVER_MESSAGE, FANOUT_MESSAGE } from '../services/webhooks/messages.ts';
import type { MessageHandler } from './consumer.ts';

/**
 * The webhook queue's message types (WEBHOOK_QUEUE), registered as `handlers.webhooks` in src/queues/consumer.ts:
 * - `webhook.fanout` (from the outbox dispatcher): one delivery per matching endpoint, then one `webhook.deliver` each;
 * - `webhook.deliver`: one signed attempt of one delivery, rescheduled on failure (`ctx.retryLater`).
 */
export const webhookHandlers: ReadonlyMap<string, MessageHandler> = new Map([
  [FANOUT_MESSAGE, fanOutEvent],
  [DELIVER_MESSAGE, deliverWebhook],
]);
