import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { outbox } from '../../db/schema/outbox.ts';
import {
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
  type WebhookDelivery,
} from '../../db/schema/webhooks.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { auditInsert } from '../audit/record.ts';
import { actorOf, mustChange, nothingChanged } from '../events/shared.ts';
import { databaseError, FOREIGN_KEY_VIOLATION } from '../users/guards.ts';
import { enqueueDeliveries, TEST_EVENT_TYPE, type DeliverOrigin } from './messages.ts';
import {
  deliveryNotFound,
  endpointDisabled,
  endpointNotFound,
  selectAttempts,
  selectDelivery,
  selectEndpoint,
  toDeliveryView,
  type WebhookAttempt,
  type WebhookDeliveryView,
} from './shared.ts';

/** Attempts shown per delivery in the log: the latest ones. */
export const ATTEMPTS_PER_DELIVERY = 20;

export interface ListDeliveriesInput {
  id: string;
  status?: WebhookDelivery['status'] | undefined;
  limit: number;
  cursor?: string | undefined;
  /** `-createdAt` (default, newest first) or `createdAt`. */
  sort?: DeliverySort | undefined;
}

export type DeliverySort = '-createdAt' | 'createdAt';
const DEFAULT_DELIVERY_SORT: DeliverySort = '-createdAt';

/**
 * The delivery log of one endpoint, newest first (created_at, id descending; oldest first with sort=createdAt), each delivery with its latest attempts
 * (newest first). One round trip: the endpoint (404), the page and the page's attempts in one batch.
 */
export async function listDeliveries({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListDeliveriesInput;
}): Promise<{ data: WebhookDeliveryView[]; nextCursor: string | null }> {
  const tenant = requireTenant(ctx);
  const endpointId = input.id.toLowerCase();
  const sort = listSort(input.sort ?? DEFAULT_DELIVERY_SORT);
  const after =
    input.cursor === undefined
      ? null
      : decodeCursor(input.cursor, { current: sort, defaultSort: DEFAULT_DELIVERY_SORT });
  const conditions: SQL[] = [
    eq(webhookDeliveries.organizationId, tenant.id),
    eq(webhookDeliveries.endpointId, endpointId),
  ];
  if (input.status !== undefined) conditions.push(eq(webhookDeliveries.status, input.status));
  if (after !== null) conditions.push(keysetAfter(webhookDeliveries.createdAt, webhookDeliveries.id, after, sort));
  const db = ctx.services.db;
  const pageIds = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(...keysetOrder(webhookDeliveries.createdAt, webhookDeliveries.id, sort))
    .limit(input.limit + 1);
  const [[endpoint], rows, attempts] = await scoped(db, { organizationId: tenant.id }, [
    selectEndpoint(db, tenant.id, endpointId),
    db
      .select({
        delivery: webhookDeliveries,
        cursorAt: cursorTimestamp(webhookDeliveries.createdAt),
      })
      .from(webhookDeliveries)
      .where(and(...conditions))
      .orderBy(...keysetOrder(webhookDeliveries.createdAt, webhookDeliveries.id, sort))
      .limit(input.limit + 1),
    db
      .select()
      .from(webhookAttempts)
      .where(and(eq(webhookAttempts.organizationId, tenant.id), inArray(webhookAttempts.deliveryId, pageIds))),
  ]);
  if (!endpoint) throw endpointNotFound();
  const byDelivery = new Map<string, WebhookAttempt[]>();
  for (const attempt of attempts) {
    const list = byDelivery.get(attempt.deliveryId) ?? [];
    list.push(attempt);
    byDelivery.set(attempt.deliveryId, list);
  }
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map(({ delivery }) => {
      const view = toDeliveryView(delivery, byDelivery.get(delivery.id) ?? []);
      return { ...view, attempts: view.attempts.slice(0, ATTEMPTS_PER_DELIVERY) };
    }),
    nextCursor:
      rows.length > input.limit && last !== undefined
        ? encodeCursor({ at: last.cursorAt, id: last.delivery.id }, sort)
        : null,
  };
}

async function enqueue(ctx: ServiceContext, organizationId: string, deliveryId: string, origin: DeliverOrigin) {
  try {
    await enqueueDeliveries(ctx.bindings.WEBHOOK_QUEUE, organizationId, [deliveryId], origin);
  } catch (error) {
    ctx.logger.error('webhook delivery could not be queued', { deliveryId, error });
    throw new ApiError('service_unavailable', {
      detail: 'The delivery could not be queued; try again (POST /api/v1/webhook-deliveries/{id}/redeliver).',
      headers: { 'retry-after': '5' },
    });
  }
}

/**
 * Sends a `webhook.test` event to one endpoint through the normal delivery path: an outbox event (stored already
 * dispatched, so it is never fanned out to other endpoints), a delivery of it and a `webhook.deliver` message. The
 * endpoint's event type filter does not apply. A disabled endpoint answers 409. Two round trips, then the enqueue.
 */
export async function sendTestEvent({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<WebhookDeliveryView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const endpointId = input.id.toLowerCase();
  const [[endpoint]] = await scoped(db, scope, [selectEndpoint(db, tenant.id, endpointId)]);
  if (!endpoint) throw endpointNotFound();
  if (!endpoint.enabled) throw endpointDisabled();

  const eventId = crypto.randomUUID();
  const deliveryId = crypto.randomUUID();
  let delivery: WebhookDelivery | undefined;
  try {
    [, [delivery]] = await scoped(db, scope, [
      db.insert(outbox).values({
        id: eventId,
        organizationId: tenant.id,
        type: TEST_EVENT_TYPE,
        payload: {
          type: TEST_EVENT_TYPE,
          timestamp: new Date().toISOString(),
          data: { endpointId, message: 'A test event from Eventra: your endpoint receives webhooks.' },
        },
        dispatchedAt: sql`now()`,
      }),
      db
        .insert(webhookDeliveries)
        .values({ id: deliveryId, organizationId: tenant.id, endpointId, eventId, eventType: TEST_EVENT_TYPE })
        .returning(),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'webhook_endpoint.tested',
        target: { type: 'webhook_endpoint', id: endpointId },
        metadata: { eventId, deliveryId },
      }),
    ]);
  } catch (error) {
    // Deleted between the read and the write.
    if (databaseError(error)?.code === FOREIGN_KEY_VIOLATION) throw endpointNotFound();
    throw error;
  }
  if (!delivery) throw new Error('webhook delivery insert returned nothing');
  await enqueue(ctx, tenant.id, deliveryId, 'test');
  return toDeliveryView(delivery, []);
}

/**
 * Sends a delivery again, with the same `webhook-id`: the delivery is pending again (due now) and a new attempt is
 * queued; its attempt number continues from the last. Should it fail, the retry schedule continues from that number
 * (a delivery that had used all 11 attempts fails again at once). Works in any status; a disabled endpoint answers
 * 409. Two round trips (read, then the change with its `webhook_delivery.redelivered` audit row), then the enqueue.
 */
export async function redeliver({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<WebhookDeliveryView> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const scope = { organizationId: tenant.id };
  const id = input.id.toLowerCase();
  const [[current]] = await scoped(db, scope, [
    db
      .select({ delivery: webhookDeliveries, enabled: webhookEndpoints.enabled })
      .from(webhookDeliveries)
      .innerJoin(
        webhookEndpoints,
        and(
          eq(webhookEndpoints.organizationId, webhookDeliveries.organizationId),
          eq(webhookEndpoints.id, webhookDeliveries.endpointId),
        ),
      )
      .where(and(eq(webhookDeliveries.organizationId, tenant.id), eq(webhookDeliveries.id, id)))
      .limit(1),
  ]);
  if (!current) throw deliveryNotFound();
  if (!current.enabled) throw endpointDisabled();

  let delivery: WebhookDelivery | undefined;
  let attempts: WebhookAttempt[];
  try {
    [, [delivery], attempts] = await scoped(db, scope, [
      mustChange(
        db,
        db
          .update(webhookDeliveries)
          .set({ status: 'pending', nextAttemptAt: sql`now()`, updatedAt: sql`now()` })
          .where(and(eq(webhookDeliveries.organizationId, tenant.id), eq(webhookDeliveries.id, id)))
          .returning({ id: webhookDeliveries.id }),
      ),
      selectDelivery(db, tenant.id, id),
      selectAttempts(db, tenant.id, id),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(ctx),
        action: 'webhook_delivery.redelivered',
        target: { type: 'webhook_delivery', id },
        metadata: {
          endpointId: current.delivery.endpointId,
          eventId: current.delivery.eventId,
          statusBefore: current.delivery.status,
        },
      }),
    ]);
  } catch (error) {
    if (nothingChanged(error)) throw deliveryNotFound();
    throw error;
  }
  if (!delivery) throw deliveryNotFound();
  await enqueue(ctx, tenant.id, id, 'redeliver');
  return toDeliveryView(delivery, attempts);
}
