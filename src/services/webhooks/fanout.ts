import { z } from '@hono/zod-openapi';
import { eq, sql } from 'drizzle-orm';
import { organizations } from '../../db/schema/index.ts';
import { createDatabase, SHARED_DATABASE } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
import type { ConsumerContext } from '../../queues/consumer.ts';
import type { QueueMessage } from '../../queues/messages.ts';
import { FLAG_DEFINITIONS } from '../flags/cache.ts';
import { registryOf } from '../flags/evaluate.ts';
import { effectivePlan } from '../plans/catalogue.ts';
import { organizationDirectoryEntry } from '../tenants/directory.ts';
import { enqueueDeliveries, FanoutPayloadSchema, TEST_EVENT_TYPE } from './messages.ts';

const IdRows = z.array(z.object({ id: z.uuid() }));

function rowsOf<T>(result: T[] | { rows: T[] }): T[] {
  return Array.isArray(result) ? result : result.rows;
}

/**
 * `webhook.fanout`: one `webhook_deliveries` row per enabled endpoint of the organization whose filter matches the
 * event type (an empty filter takes every type), then one `webhook.deliver` message per delivery not yet attempted.
 *
 * Only while the organization's effective plan (plan, overrides and the flag registry, read in the same statement: `effectivePlan`) has the `webhooks` feature: after
 * a downgrade the event is skipped (logged, acknowledged) and creates no delivery. The plan is read in the same batch
 * as the matching endpoints and the deliveries still waiting for their first attempt; the deliveries are inserted in
 * a second batch, and only when there is a matching endpoint, so an organization without endpoints (or without the
 * feature) costs one database round trip, and one with endpoints two (plus, for an organization on a dedicated
 * database, the flag definitions' read on the control database, side by side with the first).
 *
 * Idempotent: the insert does nothing for a delivery that exists (unique endpoint + event), so a redelivered fan-out
 * creates no duplicate; it re-enqueues only deliveries still waiting for their first attempt, which covers a crash
 * between the insert and the enqueue (a duplicate message is harmless: see the claim in deliver.ts).
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
  const db = await ctx.database();
  const scope = { organizationId };
  const waitingDeliveries = () =>
    db.execute(sql`
      select id from webhook_deliveries
       where organization_id = ${organizationId} and event_id = ${eventId.data}::uuid
         and status = 'pending' and attempts = 0`);

  // Flag definitions live on the control database only (a dedicated database's `feature_flags` is never written):
  // for an organization on a dedicated one they are read there, side by side with the batch below. The directory
  // entry is the one `ctx.database()` just looked up (cached: no round trip).
  const onDedicated =
    (await organizationDirectoryEntry(ctx.bindings, organizationId)).key !== SHARED_DATABASE
      ? createDatabase(ctx.bindings)
      : null;
  const controlFlags =
    onDedicated === null
      ? Promise.resolve(null)
      : scoped(onDedicated, { platform: true }, [onDedicated.execute(sql`select ${FLAG_DEFINITIONS} as flags`)]).then(
          ([result]) => result.rows[0]?.flags,
        );
  const [[[organization], endpoints, waitingBefore], definitions] = await Promise.all([
    scoped(db, scope, [
      db
        .select({
          id: organizations.id,
          plan: organizations.plan,
          planOverrides: organizations.planOverrides,
          flags: FLAG_DEFINITIONS,
        })
        .from(organizations)
        .where(eq(organizations.id, organizationId))
        .limit(1),
      db.execute(sql`
      select id from webhook_endpoints
       where organization_id = ${organizationId} and enabled
         and (cardinality(event_types) = 0 or ${type}::text = any(event_types))`),
      waitingDeliveries(),
    ]),
    controlFlags,
  ]);
  if (!organization) {
    // Retrying cannot bring the organization back.
    ctx.logger.info('webhook fan-out skipped: no such organization', { eventId: eventId.data, organizationId });
    return;
  }
  const plan = effectivePlan(organization, registryOf(onDedicated === null ? organization.flags : definitions));
  if (!plan.features.webhooks) {
    ctx.logger.info('webhook fan-out skipped: the plan has no webhooks feature', {
      eventId: eventId.data,
      type,
      organizationId,
      plan: plan.plan,
    });
    return;
  }

  let waiting = waitingBefore;
  if (IdRows.parse(rowsOf(endpoints)).length > 0) {
    [, waiting] = await scoped(db, scope, [
      db.execute(sql`
        insert into webhook_deliveries (organization_id, endpoint_id, event_id, event_type)
        select organization_id, id, ${eventId.data}::uuid, ${type}::text
          from webhook_endpoints
         where organization_id = ${organizationId} and enabled
           and (cardinality(event_types) = 0 or ${type}::text = any(event_types))
        on conflict (endpoint_id, event_id) do nothing`),
      waitingDeliveries(),
    ]);
  }
  const ids = IdRows.parse(rowsOf(waiting)).map((row) => row.id);
  if (ids.length === 0) return;
  await enqueueDeliveries(ctx.bindings.WEBHOOK_QUEUE, organizationId, ids, 'fanout');
  ctx.logger.info('webhook event fanned out', { eventId: eventId.data, type, deliveries: ids.length });
}
