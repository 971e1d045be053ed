import { Webhook } from 'standardwebhooks';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { organizations } from '../../src/db/schema/index.ts';
import type { QueueMessage } from '../../src/queues/messages.ts';
import { RETRY_SCHEDULE_SECONDS } from '../../src/services/webhooks/schedule.ts';
import { createTenant, database, type TestTenant } from '../support/harness.ts';
import { usageCount } from '../support/plans.ts';
import { memberWithToken } from '../support/users.ts';
import {
  attemptsOf,
  callWith,
  consume,
  consumeOne,
  deliveriesOf,
  deliveryRow,
  endpointRow,
  makeDue,
  newHook,
  outboxEvent,
  queueWorld,
  setDelivery,
  setEndpoint,
  webhookAudits,
  type QueueWorld,
  type ReceivedWebhook,
} from '../support/webhooks.ts';

interface CreatedEndpoint {
  id: string;
  secret: string;
  url: string;
}

async function setup() {
  // Webhooks are a feature of the pro plan (starter answers 403 feature_unavailable).
  const tenant = await createTenant({ plan: 'pro' });
  const { token } = await memberWithToken(tenant, 'admin');
  const world = queueWorld();
  const create = async (url: string, body: Record<string, unknown> = {}): Promise<CreatedEndpoint> => {
    const response = await callWith(world, tenant, 'POST', '/api/v1/webhooks', { token, body: { url, ...body } });
    expect(response.status).toBe(201);
    return response.json();
  };
  return { tenant, token, world, create };
}

/** Fans the event out and returns the `webhook.deliver` messages it queued. */
async function fanOut(world: QueueWorld, fanout: QueueMessage): Promise<QueueMessage[]> {
  const outcome = await consumeOne(world, fanout);
  expect(outcome).toEqual({ acked: true, retryDelay: null });
  return world.webhooks.take('webhook.deliver');
}

/** One event for the tenant's endpoints: its id and the single `webhook.deliver` message. */
async function oneDelivery(world: QueueWorld, tenant: TestTenant, type = 'booking.confirmed') {
  const event = await outboxEvent(tenant, type, { id: crypto.randomUUID(), status: 'confirmed' });
  const messages = await fanOut(world, event.fanout);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  if (!message) throw new Error('no deliver message');
  const deliveryId = (message.payload as { deliveryId: string }).deliveryId;
  return { event, message, deliveryId };
}

function verify(secret: string, request: ReceivedWebhook): unknown {
  return new Webhook(secret).verify(request.body, request.headers);
}

describe('fan-out', () => {
  it('creates one delivery per enabled, matching endpoint and is idempotent when redelivered', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook();
    const all = await create(hook.url);
    const bookings = await create(hook.url, { eventTypes: ['booking.confirmed'] });
    const events = await create(hook.url, { eventTypes: ['event.published'] });
    const disabled = await create(hook.url, { enabled: false });
    const other = await setup();
    const foreign = await other.create(hook.url);

    const event = await outboxEvent(tenant, 'booking.confirmed');
    const first = await fanOut(world, event.fanout);
    expect(first).toHaveLength(2);
    expect(first.every((message) => message.organizationId === tenant.organization.id)).toBe(true);
    expect(await deliveriesOf(all.id)).toMatchObject([{ eventId: event.id, status: 'pending', attempts: 0 }]);
    expect(await deliveriesOf(bookings.id)).toMatchObject([{ eventId: event.id, eventType: 'booking.confirmed' }]);
    expect(await deliveriesOf(events.id)).toEqual([]);
    expect(await deliveriesOf(disabled.id)).toEqual([]);
    expect(await deliveriesOf(foreign.id)).toEqual([]);

    // The same fan-out again (at-least-once queues): no new delivery; the not yet attempted ones are queued again,
    // and the claim lets only one message per delivery make a request.
    const again = await fanOut(world, event.fanout);
    expect(again).toHaveLength(2);
    expect(await deliveriesOf(all.id)).toHaveLength(1);
    const outcomes = await consume(world, [...first, ...again]);
    expect(outcomes.every((outcome) => outcome.acked)).toBe(true);
    const received = await hook.received();
    expect(received).toHaveLength(2);
    expect(new Set(received.map((request) => request.headers['webhook-id']))).toEqual(new Set([event.id]));
    expect(await deliveriesOf(all.id)).toMatchObject([{ status: 'succeeded', attempts: 1, lastStatusCode: 200 }]);

    // Once attempted, a late duplicate fan-out queues nothing.
    expect(await fanOut(world, event.fanout)).toEqual([]);
  });
  it('creates no delivery once the effective plan has no webhooks feature (downgrade or withheld by an override)', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook();
    const endpoint = await create(hook.url);
    const setPlan = (values: Partial<typeof organizations.$inferInsert>) =>
      database().update(organizations).set(values).where(eq(organizations.id, tenant.organization.id));

    // Downgraded to starter after the endpoint was made: the event is acknowledged and goes nowhere.
    await setPlan({ plan: 'starter' });
    const downgraded = await outboxEvent(tenant, 'booking.confirmed');
    expect(await fanOut(world, downgraded.fanout)).toEqual([]);
    expect(await deliveriesOf(endpoint.id)).toEqual([]);

    // The effective plan decides, not the plan name: starter with the feature granted delivers ...
    await setPlan({ planOverrides: { features: { webhooks: true } } });
    const granted = await outboxEvent(tenant, 'booking.confirmed');
    expect(await fanOut(world, granted.fanout)).toHaveLength(1);
    // ... pro with the feature withheld does not.
    await setPlan({ plan: 'pro', planOverrides: { features: { webhooks: false } } });
    const withheld = await outboxEvent(tenant, 'booking.confirmed');
    expect(await fanOut(world, withheld.fanout)).toEqual([]);
    // Nor does a redelivered fan-out of an event whose delivery still waits for its first attempt.
    expect(await fanOut(world, granted.fanout)).toEqual([]);
    expect(await deliveriesOf(endpoint.id)).toMatchObject([{ eventId: granted.id, status: 'pending', attempts: 0 }]);
    expect(await hook.received()).toEqual([]);
  });

  it('makes one request when two copies of a delivery message run at the same time', async () => {
    const { tenant, world, create } = await setup();
    // A slow receiver: the second copy arrives while the first one's request is in flight.
    const hook = await newHook({ delayMs: 500 });
    await create(hook.url);
    const { message, deliveryId } = await oneDelivery(world, tenant);
    const outcomes = await Promise.all([consumeOne(world, message), consumeOne(world, message)]);
    // The loser of the claim waits out the winner's lease (it would take over, had the winner died) ...
    const [won, lost] = outcomes[0].acked ? outcomes : [...outcomes].reverse();
    expect(won).toEqual({ acked: true, retryDelay: null });
    expect(lost?.acked).toBe(false);
    expect(lost?.retryDelay).toBeGreaterThan(0);
    expect(lost?.retryDelay).toBeLessThanOrEqual(60);
    // ... and then finds the delivery done.
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });
    expect(await hook.received()).toHaveLength(1);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await attemptsOf(deliveryId)).toHaveLength(1);
  });
});

describe('signed delivery', () => {
  it('POSTs the event with Standard Webhooks headers that the official library verifies', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook();
    const endpoint = await create(hook.url);
    const { event, message, deliveryId } = await oneDelivery(world, tenant);
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });

    const [request] = await hook.received();
    if (!request) throw new Error('no request');
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toBe('Eventra-Webhooks/1');
    expect(request.headers['webhook-id']).toBe(event.id);
    expect(request.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(verify(endpoint.secret, request)).toEqual({
      type: 'booking.confirmed',
      timestamp: '2026-11-01T10:00:00.000Z',
      data: (event.fanout.payload as { data: unknown }).data,
    });
    // Another secret, or a changed body, does not verify.
    const stranger = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
    expect(() => verify(stranger, request)).toThrow();
    expect(() =>
      verify(endpoint.secret, { ...request, body: request.body.replace('confirmed', 'cancelled') }),
    ).toThrow();

    expect(await deliveryRow(deliveryId)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      lastStatusCode: 200,
      nextAttemptAt: null,
    });
    expect(await attemptsOf(deliveryId)).toMatchObject([
      { attempt: 1, statusCode: 200, responseBody: 'ok', error: null },
    ]);
  });

  it('signs with both secrets during a rotation overlap, and with the new one only afterwards', async () => {
    const { tenant, token, world, create } = await setup();
    const hook = await newHook();
    const endpoint = await create(hook.url);
    const rotated = await callWith(world, tenant, 'POST', `/api/v1/webhooks/${endpoint.id}/rotate-secret`, { token });
    expect(rotated.status).toBe(200);
    const { secret: newSecret } = await rotated.json<{ secret: string }>();
    expect(newSecret).not.toBe(endpoint.secret);

    const first = await oneDelivery(world, tenant);
    await consumeOne(world, first.message);
    const [request] = await hook.received();
    if (!request) throw new Error('no request');
    const signatures = (request.headers['webhook-signature'] ?? '').split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((signature) => signature.startsWith('v1,'))).toBe(true);
    expect(verify(newSecret, request)).toMatchObject({ type: 'booking.confirmed' });
    expect(verify(endpoint.secret, request)).toMatchObject({ type: 'booking.confirmed' });
    // Each signature alone verifies with exactly its own secret.
    const only = (signature: string | undefined) => ({
      ...request,
      headers: { ...request.headers, 'webhook-signature': signature ?? '' },
    });
    expect(verify(newSecret, only(signatures[0]))).toBeTruthy();
    expect(() => verify(endpoint.secret, only(signatures[0]))).toThrow();
    expect(verify(endpoint.secret, only(signatures[1]))).toBeTruthy();

    // The overlap is over: the old secret no longer signs.
    await setEndpoint(endpoint.id, { previousSecretExpiresAt: new Date(Date.now() - 60_000) });
    const second = await oneDelivery(world, tenant);
    await consumeOne(world, second.message);
    const later = (await hook.received())[1];
    if (!later) throw new Error('no second request');
    expect((later.headers['webhook-signature'] ?? '').split(' ')).toHaveLength(1);
    expect(verify(newSecret, later)).toBeTruthy();
    expect(() => verify(endpoint.secret, later)).toThrow();
  });
});

describe('retries', () => {
  it('retries on the schedule and delivers on the third attempt with the same webhook-id', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook({ failFirst: 2, failStatus: 500 });
    const endpoint = await create(hook.url);
    const { event, message, deliveryId } = await oneDelivery(world, tenant);

    expect(await consumeOne(world, message)).toEqual({ acked: false, retryDelay: RETRY_SCHEDULE_SECONDS[0] });
    let row = await deliveryRow(deliveryId);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500 });
    expect(row?.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now());
    expect((await endpointRow(endpoint.id))?.failingSince).not.toBeNull();

    await makeDue(deliveryId);
    expect(await consumeOne(world, message)).toEqual({ acked: false, retryDelay: RETRY_SCHEDULE_SECONDS[1] });
    await makeDue(deliveryId);
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });

    const received = await hook.received();
    expect(received.map((request) => request.status)).toEqual([500, 500, 200]);
    expect(received.map((request) => request.headers['webhook-id'])).toEqual([event.id, event.id, event.id]);
    for (const request of received) expect(verify(endpoint.secret, request)).toBeTruthy();
    row = await deliveryRow(deliveryId);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200, nextAttemptAt: null });
    expect(await attemptsOf(deliveryId)).toMatchObject([
      { attempt: 1, statusCode: 500, responseBody: 'failing on purpose (500)' },
      { attempt: 2, statusCode: 500 },
      { attempt: 3, statusCode: 200, responseBody: 'ok' },
    ]);
    // A success ends the endpoint's failure run.
    expect((await endpointRow(endpoint.id))?.failingSince).toBeNull();
    // Every attempt that made a request counts in the organization's usage (in Redis, or already flushed into
    // usage_daily by another file's cron run).
    expect(await usageCount(tenant.organization.id, 'webhook_deliveries')).toBe(3);
  });

  it('waits again without a request while the next attempt is not due, in hops of at most 12 hours', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook({ failFirst: 1 });
    await create(hook.url);
    const { message, deliveryId } = await oneDelivery(world, tenant);
    expect((await consumeOne(world, message)).retryDelay).toBe(5);

    // The message is back before its time (a 20 h wait needs two hops): it waits again, capped at 12 h.
    await setDelivery(deliveryId, { nextAttemptAt: new Date(Date.now() + 20 * 3600_000) });
    expect(await consumeOne(world, message)).toEqual({ acked: false, retryDelay: 12 * 3600 });
    await setDelivery(deliveryId, { nextAttemptAt: new Date(Date.now() + 600_000) });
    const short = await consumeOne(world, message);
    expect(short.acked).toBe(false);
    expect(short.retryDelay).toBeGreaterThan(500);
    expect(short.retryDelay).toBeLessThanOrEqual(600);
    expect(await hook.received()).toHaveLength(1);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'pending', attempts: 1 });
  });

  it('honours Retry-After on 429 and 503, bounded', async () => {
    const { tenant, world, create } = await setup();
    const limited = await newHook({ status: 429, retryAfter: '120' });
    await create(limited.url);
    const first = await oneDelivery(world, tenant);
    expect(await consumeOne(world, first.message)).toEqual({ acked: false, retryDelay: 120 });
    const row = await deliveryRow(first.deliveryId);
    expect(row).toMatchObject({ status: 'pending', lastStatusCode: 429 });
    expect(row?.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now() + 60_000);

    const other = await setup();
    const unavailable = await newHook({ status: 503, retryAfter: String(7 * 24 * 3600) });
    await other.create(unavailable.url);
    const second = await oneDelivery(other.world, other.tenant);
    expect(await consumeOne(other.world, second.message)).toEqual({ acked: false, retryDelay: 12 * 3600 });
  });

  it('fails the delivery after the last scheduled attempt', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook({ status: 500 });
    await create(hook.url);
    const { message, deliveryId } = await oneDelivery(world, tenant);
    // Ten attempts are behind it.
    await setDelivery(deliveryId, { attempts: RETRY_SCHEDULE_SECONDS.length });
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });
    expect(await deliveryRow(deliveryId)).toMatchObject({
      status: 'failed',
      attempts: RETRY_SCHEDULE_SECONDS.length + 1,
      nextAttemptAt: null,
      lastStatusCode: 500,
    });
  });

  it('records a network error and retries', async () => {
    const { tenant, world, create } = await setup();
    // Nothing listens on port 9 of the loopback (discard).
    await create('http://127.0.0.1:9/hooks/nobody');
    const { message, deliveryId } = await oneDelivery(world, tenant);
    expect(await consumeOne(world, message)).toEqual({ acked: false, retryDelay: 5 });
    const [attempt] = await attemptsOf(deliveryId);
    expect(attempt).toMatchObject({ attempt: 1, statusCode: null });
    expect(attempt?.error).toBeTruthy();
  });

  it('does not follow redirects: a 3xx is a failed attempt, and its body is not kept', async () => {
    const { tenant, world, create } = await setup();
    const target = await newHook();
    const redirecting = await newHook({ status: 302, location: target.url, body: 'secret-looking redirect page' });
    await create(redirecting.url);
    const { message, deliveryId } = await oneDelivery(world, tenant);
    expect(await consumeOne(world, message)).toEqual({ acked: false, retryDelay: 5 });
    expect(await redirecting.received()).toHaveLength(1);
    expect(await target.received()).toEqual([]);
    const [attempt] = await attemptsOf(deliveryId);
    expect(attempt).toMatchObject({ statusCode: 302, responseBody: null });
    expect(attempt?.error).toContain('not followed');
  });

  it("keeps only the first 256 bytes of a receiver's answer", async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook({ status: 500, body: 'x'.repeat(255) + 'é' + 'y'.repeat(2000) });
    await create(hook.url);
    const { message, deliveryId } = await oneDelivery(world, tenant);
    await consumeOne(world, message);
    const [attempt] = await attemptsOf(deliveryId);
    expect(attempt?.statusCode).toBe(500);
    // 255 ASCII bytes and the first byte of a two-byte character: the cut character decodes as U+FFFD.
    expect(attempt?.responseBody).toBe('x'.repeat(255) + '\uFFFD');
  });
});

describe('disabling', () => {
  it('disables the endpoint on 410 Gone and fails the delivery, with a system audit row', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook({ status: 410 });
    const endpoint = await create(hook.url);
    const { message, deliveryId } = await oneDelivery(world, tenant);
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'failed', lastStatusCode: 410 });
    expect(await endpointRow(endpoint.id)).toMatchObject({
      enabled: false,
      disabledReason: 'The endpoint answered 410 Gone.',
    });
    expect(await webhookAudits(tenant, 'webhook_endpoint.disabled')).toMatchObject([
      { actorType: 'system', targetId: endpoint.id },
    ]);
    // No email for a 410: the endpoint asked for it.
    expect(world.email.messages).toEqual([]);
    // Later events are not fanned out to it, and pending ones fail without a request.
    expect(await fanOut(world, (await outboxEvent(tenant, 'booking.confirmed')).fanout)).toEqual([]);
    await setDelivery(deliveryId, { status: 'pending', nextAttemptAt: null });
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'failed' });
    expect(await hook.received()).toHaveLength(1);
  });

  it('disables an endpoint failing for more than 3 days and emails the owners once', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook({ status: 500 });
    const endpoint = await create(hook.url);
    const failingSince = new Date(Date.now() - 4 * 24 * 3600_000);
    await setEndpoint(endpoint.id, { failingSince });
    const { message, deliveryId } = await oneDelivery(world, tenant);
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });

    expect(await endpointRow(endpoint.id)).toMatchObject({
      enabled: false,
      disabledReason: 'Every delivery failed for more than 3 days.',
      failingSince,
    });
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'failed', lastStatusCode: 500 });
    expect(world.email.messages).toEqual([
      {
        id: `endpoint-disabled:${endpoint.id}:${failingSince.toISOString()}`,
        type: 'email.webhook_disabled',
        organizationId: tenant.organization.id,
        payload: { endpointId: endpoint.id, url: hook.url, reason: 'Every delivery failed for more than 3 days.' },
        createdAt: expect.any(String) as unknown,
      },
    ]);
    expect(await webhookAudits(tenant, 'webhook_endpoint.disabled')).toHaveLength(1);
  });

  it('keeps retrying an endpoint failing for less than 3 days', async () => {
    const { tenant, world, create } = await setup();
    const hook = await newHook({ status: 500 });
    const endpoint = await create(hook.url);
    await setEndpoint(endpoint.id, { failingSince: new Date(Date.now() - 2 * 24 * 3600_000) });
    const { message } = await oneDelivery(world, tenant);
    expect(await consumeOne(world, message)).toEqual({ acked: false, retryDelay: 5 });
    expect(await endpointRow(endpoint.id)).toMatchObject({ enabled: true, disabledReason: null });
    expect(world.email.messages).toEqual([]);
  });
});

describe('SSRF at delivery time', () => {
  it.each([
    ['credentials', (url: string) => url.replace('http://', 'http://user:secret@')],
    ['the metadata address', () => 'https://169.254.169.254/latest/meta-data/'],
    ['a private address in hex', () => 'https://0x0a000001/hook'],
    ['an IPv4-mapped private IPv6 address', () => 'https://[::ffff:192.168.1.10]/hook'],
    ['a non-https URL', () => 'http://example.com/hook'],
    ['*.internal', () => 'https://metadata.google.internal/computeMetadata/v1/'],
  ])('refuses %s without a request: a failed attempt', async (_label, bad) => {
    const { tenant, world, create } = await setup();
    const hook = await newHook();
    const endpoint = await create(hook.url);
    // The URL was valid when stored; the database changed under it (the check is repeated at delivery time).
    await setEndpoint(endpoint.id, { url: bad(hook.url) });
    const { message, deliveryId } = await oneDelivery(world, tenant);
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });
    expect(await hook.received()).toEqual([]);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: null });
    const [attempt] = await attemptsOf(deliveryId);
    expect(attempt).toMatchObject({ statusCode: null, durationMs: 0 });
    expect(attempt?.error).toMatch(/^Refused, no request made: /);
  });
});

describe('POST /api/v1/webhooks/{id}/test', () => {
  it('delivers a webhook.test event to that endpoint only, whatever its filter', async () => {
    const { tenant, token, world, create } = await setup();
    const hook = await newHook();
    const other = await newHook();
    const endpoint = await create(hook.url, { eventTypes: ['event.published'] });
    await create(other.url);
    const response = await callWith(world, tenant, 'POST', `/api/v1/webhooks/${endpoint.id}/test`, { token });
    expect(response.status).toBe(202);
    const delivery = await response.json<{ id: string; eventId: string; status: string; eventType: string }>();
    expect(delivery).toMatchObject({ status: 'pending', eventType: 'webhook.test', attemptCount: 0 });
    const messages = world.webhooks.take('webhook.deliver');
    expect(messages).toHaveLength(1);
    expect(world.webhooks.messages).toEqual([]);
    const [message] = messages;
    if (!message) throw new Error('no message');
    expect(await consumeOne(world, message)).toEqual({ acked: true, retryDelay: null });

    const [request] = await hook.received();
    if (!request) throw new Error('no request');
    expect(request.headers['webhook-id']).toBe(delivery.eventId);
    expect(verify(endpoint.secret, request)).toMatchObject({
      type: 'webhook.test',
      data: { endpointId: endpoint.id },
    });
    expect(await other.received()).toEqual([]);
    expect(await deliveryRow(delivery.id)).toMatchObject({ status: 'succeeded' });
    expect(await webhookAudits(tenant, 'webhook_endpoint.tested')).toHaveLength(1);
  });

  it('answers 409 for a disabled endpoint and 404 for another organization’s', async () => {
    const { tenant, token, world, create } = await setup();
    const disabled = await create((await newHook()).url, { enabled: false });
    const conflict = await callWith(world, tenant, 'POST', `/api/v1/webhooks/${disabled.id}/test`, { token });
    expect(conflict.status).toBe(409);
    const other = await setup();
    const foreign = await other.create((await newHook()).url);
    const missing = await callWith(world, tenant, 'POST', `/api/v1/webhooks/${foreign.id}/test`, { token });
    expect(missing.status).toBe(404);
    expect(world.webhooks.messages).toEqual([]);
    expect(await deliveriesOf(foreign.id)).toEqual([]);
  });
});

describe('delivery log and redelivery', () => {
  it('lists deliveries newest first with their attempts, with cursor pagination and a status filter', async () => {
    const { tenant, token, world, create } = await setup();
    const hook = await newHook({ failFirst: 1 });
    const endpoint = await create(hook.url);
    const first = await oneDelivery(world, tenant);
    await consumeOne(world, first.message);
    await makeDue(first.deliveryId);
    await consumeOne(world, first.message);
    const second = await oneDelivery(world, tenant, 'booking.cancelled');
    await consumeOne(world, second.message);

    const response = await callWith(world, tenant, 'GET', `/api/v1/webhooks/${endpoint.id}/deliveries?limit=1`, {
      token,
    });
    expect(response.status).toBe(200);
    const page = await response.json<{ data: Record<string, unknown>[]; nextCursor: string | null }>();
    expect(page.data).toMatchObject([
      { id: second.deliveryId, eventType: 'booking.cancelled', status: 'succeeded', attemptCount: 1 },
    ]);
    expect(page.nextCursor).not.toBeNull();
    const next = await callWith(
      world,
      tenant,
      'GET',
      `/api/v1/webhooks/${endpoint.id}/deliveries?limit=1&cursor=${page.nextCursor ?? ''}`,
      { token },
    );
    const rest = await next.json<{ data: Record<string, unknown>[]; nextCursor: string | null }>();
    expect(rest.nextCursor).toBeNull();
    expect(rest.data).toMatchObject([
      {
        id: first.deliveryId,
        eventId: first.event.id,
        status: 'succeeded',
        attemptCount: 2,
        lastStatusCode: 200,
        attempts: [
          { attempt: 2, statusCode: 200, responseBody: 'ok', error: null },
          { attempt: 1, statusCode: 500, responseBody: 'failing on purpose (500)' },
        ],
      },
    ]);
    const failed = await callWith(world, tenant, 'GET', `/api/v1/webhooks/${endpoint.id}/deliveries?status=failed`, {
      token,
    });
    expect((await failed.json<{ data: unknown[] }>()).data).toEqual([]);
    const bad = await callWith(world, tenant, 'GET', `/api/v1/webhooks/${endpoint.id}/deliveries?sort=asc`, {
      token,
    });
    expect(bad.status).toBe(400);
  });

  it('redelivers with the same webhook-id as a new attempt', async () => {
    const { tenant, token, world, create } = await setup();
    const hook = await newHook();
    const endpoint = await create(hook.url);
    const { event, message, deliveryId } = await oneDelivery(world, tenant);
    await consumeOne(world, message);

    const response = await callWith(world, tenant, 'POST', `/api/v1/webhook-deliveries/${deliveryId}/redeliver`, {
      token,
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ id: deliveryId, status: 'pending', attemptCount: 1 });
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'pending' });
    const [again] = world.webhooks.take('webhook.deliver');
    if (!again) throw new Error('no redeliver message');
    expect(await consumeOne(world, again)).toEqual({ acked: true, retryDelay: null });

    const received = await hook.received();
    expect(received).toHaveLength(2);
    expect(received.map((request) => request.headers['webhook-id'])).toEqual([event.id, event.id]);
    for (const request of received) expect(verify(endpoint.secret, request)).toBeTruthy();
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(await attemptsOf(deliveryId)).toMatchObject([{ attempt: 1 }, { attempt: 2 }]);
    expect(await webhookAudits(tenant, 'webhook_delivery.redelivered')).toMatchObject([
      { targetId: deliveryId, metadata: { statusBefore: 'succeeded' } },
    ]);
  });

  it('redelivers a failed delivery once the endpoint is enabled again; 409 while disabled, 404 across tenants', async () => {
    const { tenant, token, world, create } = await setup();
    const hook = await newHook({ failFirst: 1, failStatus: 410 });
    const endpoint = await create(hook.url);
    const { deliveryId, message } = await oneDelivery(world, tenant);
    await consumeOne(world, message);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'failed' });

    const path = `/api/v1/webhook-deliveries/${deliveryId}/redeliver`;
    expect((await callWith(world, tenant, 'POST', path, { token })).status).toBe(409);
    const other = await setup();
    expect((await callWith(other.world, other.tenant, 'POST', path, { token: other.token })).status).toBe(404);
    expect(other.world.webhooks.messages).toEqual([]);

    const enable = await callWith(world, tenant, 'PUT', `/api/v1/webhooks/${endpoint.id}`, {
      token,
      body: { enabled: true },
    });
    expect(enable.status).toBe(200);
    expect(await enable.json()).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
    expect((await callWith(world, tenant, 'POST', path, { token })).status).toBe(202);
    const [again] = world.webhooks.take('webhook.deliver');
    if (!again) throw new Error('no redeliver message');
    await consumeOne(world, again);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: 'succeeded', attempts: 2, lastStatusCode: 200 });
  });
});
