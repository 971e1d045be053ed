import { z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { createDatabase } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
import type { ConsumerContext } from '../../queues/consumer.ts';
import type { QueueMessage } from '../../queues/messages.ts';
import { enqueueDeliveries, FanoutPayloadSchema, TEST_EVENT_TYPE } from './messages.ts';

const DeliveryIdRows = z.array(z.object({ id: z.uuid() }));

function rowsOf<T>(result: T[] | { rows: T[] }): T[] {
  return Array.isArray(result) ? result : result.rows;
}

/**
 * `webhook.fanout`: one `webhook_deliveries` row per enabled endpoint of the organization whose filter matches the
 * event type (an empty filter takes every type), then one `webhook.deliver` message per delivery not yet attempted.
 *
 * Idempotent: the insert does nothing for a delivery that exists (unique endpoint + event), so a redelivered fan-out
 * creates no duplicate; it re-enqueues only deliveries still waiting for their first attempt, which covers a crash
 * between the insert and the enqueue (a duplicate message is harmless: see the claim in deliver.ts).
 * One database round trip.
 */
export async function fanOutEvent(message: QueueMessage, ctx: ConsumerContext): Promise<void> {
  const eventId = z.uuid().safeParse(message.id);
  const payload = FanoutPayloadSchema.safeParse(message.payload);
  const organizationId = message.organizationId;
  if (!eventId.success || !payload.success || organizationId === null) {
    // A malformed fan-out never becomes valid: record it and drop it.
    ctx.logger.error('invalid webhook fan-out message', { id: message.id });
    return;
  }
  // Test events go to one endpoint only (POST /webhooks/{id}/test); never fan one out.
  if (payload.data.type === TEST_EVENT_TYPE) return;
  const type = payload.data.type;
  const db = createDatabase(ctx.bindings);
  const [, waiting] = await scoped(db, { organizationId }, [
    db.execute(sql`
      insert into webhook_deliveries (organization_id, endpoint_id, event_id, event_type)
      select organization_id, id, ${eventId.data}::uuid, ${type}::text
        from webhook_endpoints
       where organization_id = ${organizationId} and enabled
         and (cardinality(event_types) = 0 or ${type}::text = any(event_types))
      on conflict (endpoint_id, event_id) do nothing`),
    db.execute(sql`
      select id from webhook_deliveries
       where organization_id = ${organizationId} and event_id = ${eventId.data}::uuid
         and status = 'pending' and attempts = 0`),
  ]);
  const ids = DeliveryIdRows.parse(rowsOf(waiting)).map((row) => row.id);
  if (ids.length === 0) return;
  await enqueueDeliveries(ctx.bindings.WEBHOOK_QUEUE, organizationId, ids, 'fanout');
  ctx.logger.info('webhook event fanned out', { eventId: eventId.data, type, deliveries: ids.length });
}
