import { z } from '@hono/zod-openapi';
import type { QueueMessage } from '../../queues/messages.ts';

/** Queue message types of the webhook pipeline (WEBHOOK_QUEUE) and the email it asks for (EMAIL_QUEUE). */
export const FANOUT_MESSAGE = 'webhook.fanout';
export const DELIVER_MESSAGE = 'webhook.deliver';
export const WEBHOOK_DISABLED_EMAIL = 'email.webhook_disabled';

/** The event type of `POST /api/v1/webhooks/{id}/test`: never fanned out, sent to one endpoint whatever its filter. */
export const TEST_EVENT_TYPE = 'webhook.test';

/** A `webhook.fanout` payload: the outbox event as webhooks deliver it (the envelope id is the outbox id). */
export const FanoutPayloadSchema = z.object({
  type: z.string().min(1).max(100),
  timestamp: z.string(),
  data: z.record(z.string(), z.unknown()),
});

/** A `webhook.deliver` payload: the delivery to attempt. */
export const DeliverPayloadSchema = z.object({ deliveryId: z.uuid() });

/** What a webhook_deliveries row was enqueued for: the first fan-out, a test event or a redelivery. */
export type DeliverOrigin = 'fanout' | 'test' | 'redeliver';

export function deliverMessage(organizationId: string, deliveryId: string, origin: DeliverOrigin): QueueMessage {
  return {
    // Unique per enqueue (a redelivery is a new message); the claim in deliver.ts makes duplicates harmless.
    id: `${DELIVER_MESSAGE}:${deliveryId}:${origin}:${crypto.randomUUID().slice(0, 8)}`,
    type: DELIVER_MESSAGE,
    organizationId,
    payload: { deliveryId },
    createdAt: new Date().toISOString(),
  };
}

/** The email to the organization's owners after the platform disabled an endpoint that kept failing. */
export function endpointDisabledEmail(
  organizationId: string,
  endpoint: { id: string; url: string; failingSince: string; reason: string },
): QueueMessage {
  return {
    // One email per run of failures, however often the disable is retried.
    id: `endpoint-disabled:${endpoint.id}:${endpoint.failingSince}`,
    type: WEBHOOK_DISABLED_EMAIL,
    organizationId,
    payload: { endpointId: endpoint.id, url: endpoint.url, reason: endpoint.reason },
    createdAt: new Date().toISOString(),
  };
}

const SEND_BATCH_LIMIT = 100;

/** Enqueues one `webhook.deliver` message per delivery (in batches of 100, the Queues limit). */
export async function enqueueDeliveries(
  queue: Queue,
  organizationId: string,
  deliveryIds: readonly string[],
  origin: DeliverOrigin,
): Promise<void> {
  for (let start = 0; start < deliveryIds.length; start += SEND_BATCH_LIMIT) {
    const chunk = deliveryIds.slice(start, start + SEND_BATCH_LIMIT);
    await queue.sendBatch(chunk.map((id) => ({ body: deliverMessage(organizationId, id, origin) })));
  }
}
