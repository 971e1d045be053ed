import { env } from 'cloudflare:workers';
import { asc, eq, sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bookings, outbox, type OutboxRow } from '../../src/db/schema/index.ts';
import { createLogger } from '../../src/lib/logger.ts';
import type { QueueMessage } from '../../src/queues/messages.ts';
import { resetPassword } from '../../src/services/auth/account.ts';
import { dispatchOutbox } from '../../src/services/outbox/dispatch.ts';
import { book, checkout, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import { eventBody } from '../support/events.ts';
import {
  appDatabase,
  createTenant,
  database,
  newRequestId,
  problem,
  roundTrips,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { OWNER_PASSWORD, organizationRow, signup, signupBody } from '../support/organizations.ts';
import { checkoutSessionObject, configureStripe, postWebhook, stripeEvent } from '../support/stripe.ts';
import { call, memberWithToken, randomEmail, serviceContextFor, waitForMail } from '../support/users.ts';
import { acquireCronLock, releaseCronLock, runCron } from '../support/cron.ts';

const realEnv = env as unknown as Record<string, unknown> & { EMAIL_QUEUE: Queue; WEBHOOK_QUEUE: Queue };

/** The tenant's outbox rows, oldest first (owner connection). */
async function outboxRows(tenant: TestTenant): Promise<OutboxRow[]> {
  return database()
    .select()
    .from(outbox)
    .where(eq(outbox.organizationId, tenant.organization.id))
    .orderBy(asc(outbox.createdAt), asc(outbox.id));
}

/** The single outbox row of this type (fails unless there is exactly one). */
async function onlyEvent(tenant: TestTenant, type: string): Promise<OutboxRow> {
  const rows = (await outboxRows(tenant)).filter((row) => row.type === type);
  expect(rows).toHaveLength(1);
  const [row] = rows;
  if (!row) throw new Error(`no ${type} row`);
  expect(row.payload.type).toBe(type);
  expect(new Date(row.payload.timestamp).toISOString()).toBe(row.payload.timestamp);
  return row;
}

async function types(tenant: TestTenant): Promise<string[]> {
  return (await outboxRows(tenant)).map((row) => row.type);
}

/**
 * Queue producers that record the messages of the test's tenants and pass every other message on to the real queue
 * (a platform sweep run by this file must not swallow the events of tests running in parallel).
 */
function recordingQueue(real: Queue, mine: ReadonlySet<string>) {
  const sent: QueueMessage[] = [];
  const queue = {
    async send(body: QueueMessage) {
      await queue.sendBatch([{ body }]);
    },
    async sendBatch(messages: Iterable<MessageSendRequest<QueueMessage>>) {
      const others: MessageSendRequest<QueueMessage>[] = [];
      for (const message of messages) {
        if (mine.has(message.body.organizationId ?? '')) sent.push(message.body);
        else others.push(message);
      }
      if (others.length > 0) await real.sendBatch(others);
    },
  };
  return { sent, queue };
}

function fakeQueues(...tenants: TestTenant[]) {
  const mine = new Set(tenants.map((tenant) => tenant.organization.id));
  const webhooks = recordingQueue(realEnv.WEBHOOK_QUEUE, mine);
  const email = recordingQueue(realEnv.EMAIL_QUEUE, mine);
  return {
    webhooks: webhooks.sent,
    email: email.sent,
    env: { ...realEnv, WEBHOOK_QUEUE: webhooks.queue, EMAIL_QUEUE: email.queue },
    bindings: { WEBHOOK_QUEUE: webhooks.queue as unknown as Queue, EMAIL_QUEUE: email.queue as unknown as Queue },
  };
}

/** A row a Worker committed but never dispatched (it died between the commit and the enqueue). */
async function insertUndispatched(tenant: TestTenant, type: string, data: Record<string, unknown>) {
  const [row] = await database()
    .insert(outbox)
    .values({
      organizationId: tenant.organization.id,
      type,
      payload: { type, timestamp: new Date().toISOString(), data },
      // Older than anything else waiting: first in the sweep's order.
      createdAt: new Date(Date.now() - 3_600_000),
    })
    .returning();
  if (!row) throw new Error('outbox insert returned nothing');
  return row;
}

async function rowById(id: string) {
  const [row] = await database().select().from(outbox).where(eq(outbox.id, id));
  return row;
}

async function staff(tenant: TestTenant, role = 'organizer') {
  return (await memberWithToken(tenant, role)).token;
}

describe('outbox: one event per change, in the same transaction', () => {
  it('events: created, updated, published, cancelled carry the event as the API answers it; refusals write none', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const token = await staff(tenant);

    const created = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() });
    expect(created.status).toBe(201);
    const event = await created.json<{ id: string }>();
    expect((await onlyEvent(tenant, 'event.created')).payload.data).toEqual(event);

    const updated = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { title: 'Renamed' } });
    expect(updated.status).toBe(200);
    expect((await onlyEvent(tenant, 'event.updated')).payload.data).toEqual(await updated.json());

    // Refused (no ticket type yet): no event.
    const refused = await call(tenant, 'POST', `/api/v1/events/${event.id}/publish`, { token });
    expect(refused.status).toBe(422);
    expect(await types(tenant)).toEqual(['event.created', 'event.updated']);

    const typeResponse = await call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, {
      token,
      body: { name: 'Standard', price: 2500, currency: 'EUR', quantity: 50 },
    });
    expect(typeResponse.status).toBe(201);
    const published = await call(tenant, 'POST', `/api/v1/events/${event.id}/publish`, { token });
    expect(published.status).toBe(200);
    expect((await onlyEvent(tenant, 'event.published')).payload.data).toEqual(await published.json());

    const cancelled = await call(tenant, 'POST', `/api/v1/events/${event.id}/cancel`, { token });
    expect(cancelled.status).toBe(200);
    const cancelledView = await cancelled.json();
    expect((await onlyEvent(tenant, 'event.cancelled')).payload.data).toEqual(cancelledView);
    expect(cancelledView).toMatchObject({ status: 'cancelled', title: 'Renamed' });

    // A second cancel is refused (409) and writes nothing.
    expect((await call(tenant, 'POST', `/api/v1/events/${event.id}/cancel`, { token })).status).toBe(409);
    expect(await types(tenant)).toEqual([
      'event.created',
      'event.updated',
      'ticket_type.created',
      'event.published',
      'event.cancelled',
    ]);
  });

  it('ticket types: created, updated, deleted (as it was)', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const token = await staff(tenant);
    const event = await createEvent(tenant);

    const created = await call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, {
      token,
      body: { name: 'Early bird', price: 1000, currency: 'EUR', quantity: 20, hidden: true, accessCode: 'EARLY' },
    });
    expect(created.status).toBe(201);
    const ticketType = await created.json<{ id: string }>();
    expect((await onlyEvent(tenant, 'ticket_type.created')).payload.data).toEqual(ticketType);

    const updated = await call(tenant, 'PUT', `/api/v1/ticket-types/${ticketType.id}`, {
      token,
      body: { quantity: 30, salesEndAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(updated.status).toBe(200);
    const updatedView = await updated.json();
    expect(updatedView).toMatchObject({ quantity: 30, remaining: 30 });
    expect((await onlyEvent(tenant, 'ticket_type.updated')).payload.data).toEqual(updatedView);

    // Refused: a quantity below what is taken is a 409 before any write; a bad body never reaches the service.
    await book(tenant, event.slug, { items: [{ ticketTypeId: ticketType.id, quantity: 2 }], accessCode: 'EARLY' });
    const below = await call(tenant, 'PUT', `/api/v1/ticket-types/${ticketType.id}`, { token, body: { quantity: 1 } });
    expect(below.status).toBe(409);
    expect((await types(tenant)).filter((type) => type.startsWith('ticket_type.'))).toHaveLength(2);

    const spare = await createTicketType(event, { name: 'Spare' });
    const deleted = await call(tenant, 'DELETE', `/api/v1/ticket-types/${spare.id}`, { token });
    expect(deleted.status).toBe(204);
    const gone = (await onlyEvent(tenant, 'ticket_type.deleted')).payload.data;
    expect(gone).toMatchObject({ id: spare.id, eventId: event.id, name: 'Spare', price: 1500, sold: 0, held: 0 });
    expect(gone.createdAt).toBe(spare.createdAt.toISOString());
  });

  it('checkout: a free booking writes booking.created, booking.confirmed and payment.succeeded in its one round trip', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { price: 0 });
    // Resolves the new tenant's host once (cached), so the measured request counts only its own work.
    expect((await getPublic(tenant, `/api/v1/public/events/${event.slug}`)).status).toBe(200);
    const requestId = newRequestId();
    const response = await checkout(
      tenant,
      event.slug,
      { items: [{ ticketTypeId: free.id, quantity: 2 }] },
      { headers: { 'x-request-id': requestId } },
    );
    expect(response.status).toBe(201);
    const body = await response.json<{ id: string }>();
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });

    expect(await types(tenant)).toEqual(['booking.created', 'booking.confirmed', 'payment.succeeded']);
    const token = await staff(tenant);
    const view = await (await call(tenant, 'GET', `/api/v1/bookings/${body.id}`, { token })).json();
    expect(view).toMatchObject({ status: 'confirmed', attendees: [{}, {}] });
    expect((await onlyEvent(tenant, 'booking.created')).payload.data).toEqual(view);
    expect((await onlyEvent(tenant, 'booking.confirmed')).payload.data).toEqual(view);
    const payment = (await onlyEvent(tenant, 'payment.succeeded')).payload.data;
    expect(payment).toEqual({ ...(view as { payment: object }).payment, bookingId: body.id });
    expect(payment).toMatchObject({ status: 'succeeded', amount: 0, provider: 'free' });
  });

  it('checkout: a paid booking writes only booking.created; a refused checkout writes nothing', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant);
    const paid = await createTicketType(event, { price: 1500, quantity: 2 });
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 2 }] });
    expect(await types(tenant)).toEqual(['booking.created']);
    const data = (await onlyEvent(tenant, 'booking.created')).payload.data;
    expect(data).toMatchObject({ id: booking.id, status: 'pending', total: 3000, payment: { status: 'pending' } });
    // The buyer's access token is never part of an event.
    expect(JSON.stringify(data)).not.toContain(booking.token);

    const soldOut = await checkout(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    expect((await problem(soldOut)).code).toBe('sold_out');
    expect(await types(tenant)).toEqual(['booking.created']);
  });

  it('staff confirm, cancel and refund publish the booking after the change', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const token = await staff(tenant, 'owner');
    const event = await createEvent(tenant);
    const paid = await createTicketType(event, { price: 1500 });
    const manual = await book(tenant, event.slug, {
      items: [{ ticketTypeId: paid.id, quantity: 2 }],
      paymentMethod: 'manual',
    });

    const confirmed = await call(tenant, 'POST', `/api/v1/bookings/${manual.id}/confirm`, { token });
    expect(confirmed.status).toBe(200);
    const confirmedView = await confirmed.json<{ payment: object }>();
    expect((await onlyEvent(tenant, 'booking.confirmed')).payload.data).toEqual(confirmedView);
    expect((await onlyEvent(tenant, 'payment.succeeded')).payload.data).toEqual({
      ...confirmedView.payment,
      bookingId: manual.id,
    });

    const refunded = await call(tenant, 'POST', `/api/v1/bookings/${manual.id}/refund`, {
      token,
      body: { amount: 500, reason: 'goodwill' },
    });
    expect(refunded.status).toBe(201);
    const refundedView = await refunded.json();
    expect(refundedView).toMatchObject({ refundedAmount: 500, refunds: [{ amount: 500, reason: 'goodwill' }] });
    expect((await onlyEvent(tenant, 'booking.refunded')).payload.data).toEqual(refundedView);

    const cancelled = await call(tenant, 'POST', `/api/v1/bookings/${manual.id}/cancel`, { token });
    expect(cancelled.status).toBe(200);
    expect((await onlyEvent(tenant, 'booking.cancelled')).payload.data).toEqual(await cancelled.json());

    // Refused transitions write nothing.
    expect((await call(tenant, 'POST', `/api/v1/bookings/${manual.id}/cancel`, { token })).status).toBe(409);
    expect((await call(tenant, 'POST', `/api/v1/bookings/${manual.id}/confirm`, { token })).status).toBe(409);
    expect(await types(tenant)).toEqual([
      'booking.created',
      'booking.confirmed',
      'payment.succeeded',
      'booking.refunded',
      'booking.cancelled',
    ]);
  });

  it('check-in: checkin.created on the first scan only, with the ticket and its event', async () => {
    const tenant = await createTenant();
    const token = await staff(tenant, 'staff');
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { name: 'Free entry', price: 0 });
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const code = booking.attendees[0]?.ticketCode ?? '';

    const first = await call(tenant, 'POST', '/api/v1/check-ins', { token, body: { ticketCode: code } });
    expect(first.status).toBe(200);
    const result = await first.json<{ attendee: object }>();
    const again = await call(tenant, 'POST', '/api/v1/check-ins', { token, body: { ticketCode: code } });
    expect(again.status).toBe(200);

    const data = (await onlyEvent(tenant, 'checkin.created')).payload.data;
    expect(data.attendee).toEqual(result.attendee);
    const organizerToken = await staff(tenant);
    expect(data.event).toEqual(
      await (await call(tenant, 'GET', `/api/v1/events/${event.id}`, { token: organizerToken })).json(),
    );
  });

  it('the Stripe webhook publishes booking.confirmed and payment.succeeded, once per Stripe event', async () => {
    const tenant = await createTenant();
    const stripe = await configureStripe(tenant);
    const event = await createEvent(tenant);
    const paid = await createTicketType(event, { price: 1500 });
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    const payload = stripeEvent(
      'checkout.session.completed',
      checkoutSessionObject(tenant, booking, { payment_intent: 'pi_test_outbox01' }),
    );
    expect((await postWebhook(tenant, payload, { secret: stripe.webhookSecret })).status).toBe(200);
    expect((await postWebhook(tenant, payload, { secret: stripe.webhookSecret })).status).toBe(200);

    expect(await types(tenant)).toEqual(['booking.created', 'booking.confirmed', 'payment.succeeded']);
    expect((await onlyEvent(tenant, 'booking.confirmed')).payload.data).toMatchObject({
      id: booking.id,
      status: 'confirmed',
      payment: { status: 'succeeded', paymentIntentId: 'pi_test_outbox01' },
    });
    expect((await onlyEvent(tenant, 'payment.succeeded')).payload.data).toMatchObject({
      bookingId: booking.id,
      status: 'succeeded',
      amount: 1500,
      paymentIntentId: 'pi_test_outbox01',
    });
  });

  it('the Stripe webhook publishes payment.failed and, when the session expires, booking.expired', async () => {
    const tenant = await createTenant();
    const stripe = await configureStripe(tenant);
    const event = await createEvent(tenant);
    const paid = await createTicketType(event, { price: 1500 });
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    const failed = stripeEvent('payment_intent.payment_failed', {
      id: 'pi_test_outbox02',
      object: 'payment_intent',
      metadata: { booking_id: booking.id, organization_id: tenant.organization.id },
      last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds' },
    });
    expect((await postWebhook(tenant, failed, { secret: stripe.webhookSecret })).status).toBe(200);
    expect((await onlyEvent(tenant, 'payment.failed')).payload.data).toMatchObject({
      bookingId: booking.id,
      status: 'failed',
      paymentIntentId: 'pi_test_outbox02',
    });

    const expired = stripeEvent(
      'checkout.session.expired',
      checkoutSessionObject(tenant, booking, { status: 'expired' }),
    );
    expect((await postWebhook(tenant, expired, { secret: stripe.webhookSecret })).status).toBe(200);
    expect((await onlyEvent(tenant, 'booking.expired')).payload.data).toMatchObject({
      id: booking.id,
      status: 'expired',
      payment: { status: 'cancelled' },
    });
    expect(await types(tenant)).toEqual(['booking.created', 'payment.failed', 'booking.expired']);
  });

  it('memberships: invite, update and remove publish the member as the API shows it', async () => {
    const tenant = await createTenant();
    const token = await staff(tenant, 'owner');
    const email = `guest-${crypto.randomUUID().slice(0, 8)}@example.com`;

    const invited = await call(tenant, 'POST', '/api/v1/users', {
      token,
      body: { email, name: 'Guest', role: 'staff' },
    });
    expect(invited.status).toBe(201);
    const member = await invited.json<{ id: string }>();
    expect((await onlyEvent(tenant, 'membership.created')).payload.data).toEqual(member);

    const updated = await call(tenant, 'PUT', `/api/v1/users/${member.id}`, { token, body: { role: 'organizer' } });
    expect(updated.status).toBe(200);
    const updatedView = await updated.json();
    expect(updatedView).toMatchObject({ role: { key: 'organizer' } });
    expect((await onlyEvent(tenant, 'membership.updated')).payload.data).toEqual(updatedView);

    // Refused: an unknown role changes nothing.
    const refused = await call(tenant, 'PUT', `/api/v1/users/${member.id}`, { token, body: { role: 'nobody' } });
    expect(refused.status).toBe(400);

    const removed = await call(tenant, 'DELETE', `/api/v1/users/${member.id}`, { token });
    expect(removed.status).toBe(204);
    expect((await onlyEvent(tenant, 'membership.deleted')).payload.data).toEqual(updatedView);
    expect(await types(tenant)).toEqual(['membership.created', 'membership.updated', 'membership.deleted']);
  });

  it('accepting an invitation publishes membership.updated with the member now active; a losing or replayed acceptance writes none', async () => {
    const tenant = await createTenant();
    const token = await staff(tenant, 'owner');
    const email = randomEmail(tenant);
    const invited = await call(tenant, 'POST', '/api/v1/users', { token, body: { email, name: 'Ada', role: 'staff' } });
    expect(invited.status).toBe(201);
    const { id } = await invited.json<{ id: string }>();
    const [message] = await waitForMail(email);
    const invitation = new URL(message?.links[0] ?? '').searchParams.get('token') ?? '';
    expect(invitation).toMatch(/^inv_/);

    const accept = () =>
      call(tenant, 'POST', '/api/v1/auth/reset-password', { body: { token: invitation, password: OWNER_PASSWORD } });
    // Two acceptances race: the other one wins between this one's read (batch 0) and its redemption (batch 1), so
    // this one redeems nothing (400); its batch commits, but writes no event.
    const { ctx } = await serviceContextFor(tenant, null, {
      beforeBatch: async (index) => {
        if (index === 1) expect((await accept()).status).toBe(204);
      },
    });
    await expect(resetPassword({ ctx, input: { token: invitation, password: OWNER_PASSWORD } })).rejects.toMatchObject({
      code: 'bad_request',
    });
    const read = await call(tenant, 'GET', `/api/v1/users/${id}`, { token });
    expect(read.status).toBe(200);
    const member = await read.json();
    expect(member).toMatchObject({ id, name: 'Ada', status: 'active', emailVerified: true, role: { key: 'staff' } });
    expect((await onlyEvent(tenant, 'membership.updated')).payload.data).toEqual(member);

    // The spent link is refused: no second event.
    expect((await accept()).status).toBe(400);
    expect(await types(tenant)).toEqual(['membership.created', 'membership.updated']);
  });

  it("organization sign-up publishes the owner's membership.created; a refused sign-up writes none", async () => {
    const body = signupBody();
    const response = await signup(body);
    expect(response.status).toBe(201);
    const { organization, owner } = await response.json<{ organization: { id: string }; owner: { id: string } }>();
    const tenant: TestTenant = {
      organization: await organizationRow(organization.id),
      host: `${body.slug}.localhost`,
      url: (path) => `http://${body.slug}.localhost${path}`,
    };
    const ownerToken = await tokenFor(tenant, {
      userId: owner.id,
      email: body.owner.email,
      password: '',
      role: 'owner',
    });
    const read = await call(tenant, 'GET', `/api/v1/users/${owner.id}`, { token: ownerToken });
    expect(read.status).toBe(200);
    const member = await read.json();
    expect(member).toMatchObject({ id: owner.id, email: body.owner.email, role: { key: 'owner' }, status: 'active' });
    expect((await onlyEvent(tenant, 'membership.created')).payload.data).toEqual(member);
    expect(await types(tenant)).toEqual(['membership.created']);

    // The slug is taken now: 409, and no event names the second owner.
    const refused = signupBody({ slug: body.slug });
    expect((await signup(refused)).status).toBe(409);
    const strays = await database()
      .select({ id: outbox.id })
      .from(outbox)
      .where(sql`${outbox.payload} -> 'data' ->> 'email' = ${refused.owner.email}`);
    expect(strays).toEqual([]);
  });

  it('organization.updated carries the organization as the API answers it', async () => {
    const tenant = await createTenant();
    const token = await staff(tenant, 'owner');
    const response = await call(tenant, 'PUT', `/api/v1/organizations/${tenant.organization.id}`, {
      token,
      body: { name: 'Renamed Org', branding: { primaryColor: '#112233' }, settings: { allowedOrigins: [] } },
    });
    expect(response.status).toBe(200);
    const organization = await response.json();
    expect(organization).toMatchObject({ name: 'Renamed Org', branding: { primaryColor: '#112233' } });
    expect((await onlyEvent(tenant, 'organization.updated')).payload.data).toEqual(organization);
  });
});

describe('outbox dispatch', () => {
  // These tests insert undispatched rows and check who sends them: no other file's cron may sweep meanwhile.
  beforeEach(acquireCronLock);
  afterEach(releaseCronLock);

  it('after the response, the request dispatches its own events (the row gets stamped)', async () => {
    const tenant = await createTenant();
    const token = await staff(tenant);
    const created = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() });
    expect(created.status).toBe(201);
    const row = await onlyEvent(tenant, 'event.created');
    // waitUntil work finishes after the response: poll for the stamp.
    let stamped = (await rowById(row.id))?.dispatchedAt ?? null;
    for (let attempt = 0; stamped === null && attempt < 50; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      stamped = (await rowById(row.id))?.dispatchedAt ?? null;
    }
    expect(stamped).toBeInstanceOf(Date);
  });

  it('the scheduled sweep publishes rows nobody dispatched, stamps them, and never re-sends stamped rows', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const queues = fakeQueues(tenant, other);
    const lost = await insertUndispatched(tenant, 'booking.confirmed', { id: 'b-1', status: 'confirmed' });
    const plain = await insertUndispatched(tenant, 'event.updated', { id: 'e-1', title: 'x' });
    const foreign = await insertUndispatched(other, 'booking.refunded', { id: 'b-2', status: 'refunded' });

    await runCron(queues.env);

    const byId = new Map(queues.webhooks.map((message) => [message.id, message]));
    expect(byId.get(lost.id)).toEqual({
      id: lost.id,
      type: 'webhook.fanout',
      organizationId: tenant.organization.id,
      payload: lost.payload,
      createdAt: lost.createdAt.toISOString(),
    });
    expect(byId.get(plain.id)).toMatchObject({ type: 'webhook.fanout', payload: plain.payload });
    expect(byId.get(foreign.id)).toMatchObject({ organizationId: other.organization.id });
    // Email only for booking.confirmed / cancelled / refunded.
    expect(queues.email.map((message) => message.id).sort()).toEqual(
      [`email:${foreign.id}`, `email:${lost.id}`].sort(),
    );
    expect(queues.email.find((message) => message.id === `email:${lost.id}`)).toMatchObject({
      type: 'email.event',
      organizationId: tenant.organization.id,
      payload: lost.payload,
    });
    for (const id of [lost.id, plain.id, foreign.id]) expect((await rowById(id))?.dispatchedAt).toBeInstanceOf(Date);

    // A second run sends none of them again.
    const sentBefore = queues.webhooks.length + queues.email.length;
    await runCron(queues.env);
    expect(queues.webhooks.length + queues.email.length).toBe(sentBefore);
  });

  it('the hold sweep expires a lapsed booking and the same cron run publishes booking.expired', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const queues = fakeQueues(tenant);
    const event = await createEvent(tenant);
    const paid = await createTicketType(event, { price: 2000 });
    const held = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    await database()
      .update(bookings)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(bookings.id, held.id));

    await runCron(queues.env);

    const expired = await onlyEvent(tenant, 'booking.expired');
    expect(expired.payload.data).toMatchObject({
      id: held.id,
      status: 'expired',
      attendees: [{ status: 'cancelled' }],
    });
    expect(queues.webhooks.find((message) => message.id === expired.id)).toMatchObject({ payload: expired.payload });
    expect((await rowById(expired.id))?.dispatchedAt).toBeInstanceOf(Date);
  });

  it('is at least once: a failed send leaves the rows undispatched, and a lost stamp re-sends with the same id', async () => {
    const tenant = await createTenant();
    const logger = createLogger({ test: 'outbox' }, 'error');
    const row = await insertUndispatched(tenant, 'booking.cancelled', { id: 'b-3', status: 'cancelled' });
    const failing = {
      send: () => Promise.reject(new Error('queue down')),
      sendBatch: () => Promise.reject(new Error('queue down')),
    } as unknown as Queue;
    const queues = fakeQueues(tenant);

    const down = await dispatchOutbox(appDatabase(), { WEBHOOK_QUEUE: failing, EMAIL_QUEUE: failing }, logger, {
      organizationId: tenant.organization.id,
    });
    expect(down).toMatchObject({ dispatched: 0 });
    expect(down.failed).toBeGreaterThanOrEqual(1);
    expect((await rowById(row.id))?.dispatchedAt).toBeNull();

    const up = await dispatchOutbox(appDatabase(), queues.bindings, logger, {
      organizationId: tenant.organization.id,
    });
    expect(up).toMatchObject({ failed: 0 });
    expect((await rowById(row.id))?.dispatchedAt).toBeInstanceOf(Date);
    expect(queues.webhooks.filter((message) => message.id === row.id)).toHaveLength(1);

    // A stamp that never landed (the Worker died after sending): the next run sends the same message ids again.
    await database().update(outbox).set({ dispatchedAt: null }).where(eq(outbox.id, row.id));
    await dispatchOutbox(appDatabase(), queues.bindings, logger, { organizationId: tenant.organization.id });
    expect(queues.webhooks.filter((message) => message.id === row.id)).toHaveLength(2);
    expect(queues.email.filter((message) => message.id === `email:${row.id}`)).toHaveLength(2);

    // Stamped rows are not sent again.
    await dispatchOutbox(appDatabase(), queues.bindings, logger, { organizationId: tenant.organization.id });
    expect(queues.webhooks.filter((message) => message.id === row.id)).toHaveLength(2);
  });

  it("an organization's dispatch sends only its own rows, and only the rows asked for", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const queues = fakeQueues(tenant, other);
    const logger = createLogger({}, 'error');
    const foreign = await insertUndispatched(other, 'event.updated', { id: 'e-2' });
    const own = await insertUndispatched(tenant, 'event.updated', { id: 'e-3' });
    const later = await insertUndispatched(tenant, 'event.updated', { id: 'e-4' });

    // The after-response dispatch names the rows its request wrote: another organization's id is not found.
    await dispatchOutbox(appDatabase(), queues.bindings, logger, {
      organizationId: tenant.organization.id,
      ids: [own.id, foreign.id],
    });
    expect(queues.webhooks.map((message) => message.id)).toEqual([own.id]);
    expect((await rowById(later.id))?.dispatchedAt).toBeNull();

    await dispatchOutbox(appDatabase(), queues.bindings, logger, { organizationId: tenant.organization.id });
    expect(queues.webhooks.map((message) => message.id)).toEqual([own.id, later.id]);
    expect((await rowById(foreign.id))?.dispatchedAt).toBeNull();
  });
});

describe('outbox views rendered once', () => {
  it('renders each view once per alias as parameter-free SQL, and binds only the ids of a *Data lookup', async () => {
    const { PgDialect } = await import('drizzle-orm/pg-core');
    const views = await import('../../src/services/outbox/views.ts');
    const dialect = new PgDialect();
    expect(views.bookingObject('bk')).toBe(views.bookingObject('bk'));
    expect(views.bookingObject('other')).not.toBe(views.bookingObject('bk'));
    for (const view of [views.eventObject, views.ticketTypeObject, views.attendeeObject, views.bookingObject]) {
      const rendered = dialect.sqlToQuery(view('r'));
      expect(rendered.params).toEqual([]);
      expect(rendered.sql).toMatch(/^jsonb_build_object\('id', r\.id, /);
    }
    const organizationId = crypto.randomUUID();
    const bookingId = crypto.randomUUID();
    for (const lookup of [views.bookingData, views.paymentData]) {
      const query = dialect.sqlToQuery(lookup(organizationId, bookingId));
      expect(query.params).toEqual([organizationId, bookingId]);
      expect(query.sql).toContain('$2::uuid');
    }
  });
});
