import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, waitOnExecutionContext } from 'cloudflare:test';
import { and, desc, eq } from 'drizzle-orm';
import { inject, vi } from 'vitest';
import worker from '../../src/index.ts';
import { auditLogs, outbox, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../src/db/schema/index.ts';
import type { QueueMessage } from '../../src/queues/messages.ts';
import { bearer, database, type TestTenant } from './harness.ts';

/** A request the local webhook receiver got (tests/setup/webhook-receiver.ts). */
export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  receivedAt: string;
}

export interface HookBehaviour {
  failFirst?: number;
  failStatus?: number;
  status?: number;
  body?: string;
  retryAfter?: string;
  location?: string;
  delayMs?: number;
}

export function receiverUrl(): string {
  return inject('webhookReceiverUrl');
}

export interface Hook {
  name: string;
  url: string;
  received(): Promise<ReceivedWebhook[]>;
}

/** A fresh hook on the local receiver, answering as `behaviour` says (200 `ok` by default). */
export async function newHook(behaviour: HookBehaviour = {}): Promise<Hook> {
  const name = `h-${crypto.randomUUID()}`;
  const response = await fetch(`${receiverUrl()}/__control/${name}`, {
    method: 'PUT',
    body: JSON.stringify(behaviour),
  });
  if (response.status !== 204) throw new Error(`receiver control answered ${String(response.status)}`);
  return {
    name,
    url: `${receiverUrl()}/hooks/${name}`,
    received: async () => {
      const list = await fetch(`${receiverUrl()}/__requests/${name}`);
      return list.json();
    },
  };
}

/** A Queue producer that records what is sent (and sends nothing). */
export interface RecordingQueue {
  messages: QueueMessage[];
  send(body: QueueMessage): Promise<void>;
  sendBatch(messages: Iterable<{ body: QueueMessage }>): Promise<void>;
  /** The recorded messages of `type`, removed from the recording. */
  take(type: string): QueueMessage[];
}

export function recordingQueue(): RecordingQueue {
  const queue: RecordingQueue = {
    messages: [],
    send(body) {
      queue.messages.push(structuredClone(body));
      return Promise.resolve();
    },
    sendBatch(messages) {
      for (const message of messages) queue.messages.push(structuredClone(message.body));
      return Promise.resolve();
    },
    take(type) {
      const taken = queue.messages.filter((message) => message.type === type);
      queue.messages = queue.messages.filter((message) => message.type !== type);
      return taken;
    },
  };
  return queue;
}

/** The Worker's bindings with recording queues instead of the real ones. */
export interface QueueWorld {
  env: Record<string, unknown>;
  webhooks: RecordingQueue;
  email: RecordingQueue;
}

export function queueWorld(): QueueWorld {
  const webhooks = recordingQueue();
  const email = recordingQueue();
  return {
    env: { ...(env as unknown as Record<string, unknown>), WEBHOOK_QUEUE: webhooks, EMAIL_QUEUE: email },
    webhooks,
    email,
  };
}

/** A JSON request to the Worker with `world`'s bindings (so what it enqueues is recorded). */
export async function callWith(
  world: QueueWorld,
  tenant: TestTenant,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> =
    options.token === undefined ? { 'content-type': 'application/json' } : bearer(options.token);
  const request = new Request(tenant.url(path), {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, world.env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export interface ConsumedMessage {
  acked: boolean;
  /** The delay of `message.retry`, or null when the message was acknowledged. */
  retryDelay: number | null;
}

/** Runs the Worker's queue handler on `messages` (one batch on the webhooks queue) and reports each outcome. */
export async function consume(
  world: QueueWorld,
  messages: QueueMessage[],
  queueName = 'eventra-webhooks-local',
): Promise<ConsumedMessage[]> {
  const batch = createMessageBatch(
    queueName,
    messages.map((body, index) => ({ id: `msg-${String(index)}`, timestamp: new Date(), attempts: 1, body })),
  );
  const outcomes = batch.messages.map(() => ({ acked: false, retryDelay: null as number | null }));
  batch.messages.forEach((message, index) => {
    const outcome = outcomes[index];
    if (!outcome) return;
    vi.spyOn(message, 'ack').mockImplementation(() => {
      outcome.acked = true;
    });
    vi.spyOn(message, 'retry').mockImplementation((options?: QueueRetryOptions) => {
      outcome.retryDelay = options?.delaySeconds ?? 0;
    });
  });
  const ctx = createExecutionContext();
  await worker.queue(batch, world.env, ctx);
  await waitOnExecutionContext(ctx);
  return outcomes;
}

/** Runs one message and returns its outcome. */
export async function consumeOne(world: QueueWorld, message: QueueMessage): Promise<ConsumedMessage> {
  const [outcome] = await consume(world, [message]);
  if (!outcome) throw new Error('no outcome');
  return outcome;
}

const EVENT_TIMESTAMP = '2026-11-01T10:00:00.000Z';

/** An outbox event straight into the database (already dispatched) and its `webhook.fanout` message. */
export async function outboxEvent(
  tenant: TestTenant,
  type: string,
  data: Record<string, unknown> = { id: crypto.randomUUID() },
): Promise<{ id: string; fanout: QueueMessage }> {
  const payload = { type, timestamp: EVENT_TIMESTAMP, data };
  const [row] = await database()
    .insert(outbox)
    .values({ organizationId: tenant.organization.id, type, payload, dispatchedAt: new Date() })
    .returning();
  if (!row) throw new Error('outbox insert returned nothing');
  return {
    id: row.id,
    fanout: {
      id: row.id,
      type: 'webhook.fanout',
      organizationId: tenant.organization.id,
      payload,
      createdAt: row.createdAt.toISOString(),
    },
  };
}

export async function endpointRow(id: string) {
  const [row] = await database().select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return row;
}

export async function setEndpoint(id: string, values: Partial<typeof webhookEndpoints.$inferInsert>): Promise<void> {
  await database().update(webhookEndpoints).set(values).where(eq(webhookEndpoints.id, id));
}

export async function deliveriesOf(endpointId: string) {
  return database().select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId));
}

export async function deliveryRow(id: string) {
  const [row] = await database().select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
  return row;
}

export async function setDelivery(id: string, values: Partial<typeof webhookDeliveries.$inferInsert>): Promise<void> {
  await database().update(webhookDeliveries).set(values).where(eq(webhookDeliveries.id, id));
}

/** Makes the delivery's next attempt due now, as if the queue delay had passed. */
export function makeDue(deliveryId: string): Promise<void> {
  return setDelivery(deliveryId, { nextAttemptAt: new Date(Date.now() - 1000) });
}

export async function attemptsOf(deliveryId: string) {
  return database()
    .select()
    .from(webhookAttempts)
    .where(eq(webhookAttempts.deliveryId, deliveryId))
    .orderBy(webhookAttempts.attempt);
}

export async function webhookAudits(tenant: TestTenant, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, action)))
    .orderBy(desc(auditLogs.id));
}
