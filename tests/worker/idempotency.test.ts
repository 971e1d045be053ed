import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  auditLogs,
  bookings,
  capacityPools,
  events,
  idempotencyKeys,
  memberships,
  roles,
  ticketTypes,
} from '../../src/db/schema/index.ts';
import { requestHash } from '../../src/lib/idempotency.ts';
import type { CreatedBookingResponse } from '../../src/routes/bookings/schema.ts';
import { checkout, counters, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { eventBody, insertEvent, insertTicketType } from '../support/events.ts';
import { createTenant, database, problem, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken, randomEmail } from '../support/users.ts';

const REPLAYED = 'idempotent-replayed';

function keyed(key: string): Record<string, string> {
  return { 'idempotency-key': key };
}

async function count(
  table: typeof events | typeof ticketTypes | typeof capacityPools | typeof roles,
  tenant: TestTenant,
) {
  const [row] = await database()
    .select({ n: sql<number>`count(*)::int` })
    .from(table)
    .where(eq(table.organizationId, tenant.organization.id));
  return row?.n ?? 0;
}

async function audits(tenant: TestTenant, action: string): Promise<number> {
  const rows = await database()
    .select({ id: auditLogs.id })
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, action)));
  return rows.length;
}

async function keyRows(tenant: TestTenant) {
  return database().select().from(idempotencyKeys).where(eq(idempotencyKeys.organizationId, tenant.organization.id));
}

async function admin() {
  // Custom roles (one of the replayed creations) are a feature of the pro plan.
  const tenant = await createTenant({ plan: 'pro' });
  await enableManualPayment(tenant);
  const { member, token } = await memberWithToken(tenant, 'admin');
  return { tenant, member, token };
}

describe('Idempotency-Key on staff creating POSTs', () => {
  it('replays the first response (same status and body) and creates nothing new', async () => {
    const { tenant, member, token } = await admin();
    const key = crypto.randomUUID();
    const body = eventBody({ title: 'Replayed gala' });
    const first = await call(tenant, 'POST', '/api/v1/events', { token, body, headers: keyed(key) });
    expect(first.status).toBe(201);
    expect(first.headers.get(REPLAYED)).toBeNull();
    const created: { id: string } = await first.json();
    const again = await call(tenant, 'POST', '/api/v1/events', { token, body, headers: keyed(key) });
    expect(again.status).toBe(201);
    expect(again.headers.get(REPLAYED)).toBe('true');
    expect(await again.json()).toEqual(created);
    expect(await count(events, tenant)).toBe(1);
    expect(await audits(tenant, 'event.created')).toBe(1);
    expect(await keyRows(tenant)).toEqual([
      expect.objectContaining({ scope: `user:${member.userId}`, key, status: 201, response: created }),
    ]);
  });

  it.each([
    ['a ticket type', ticketTypes, 'ticket_type.created'],
    ['a capacity pool', capacityPools, 'capacity_pool.created'],
    ['a role', roles, 'role.created'],
  ] as const)('replays the creation of %s', async (_label, table, action) => {
    const { tenant, token } = await admin();
    const event = await insertEvent(tenant);
    const type = await insertTicketType(tenant, event.id);
    const requests = {
      ticket_type: [
        `/api/v1/events/${event.id}/ticket-types`,
        { name: 'VIP', price: 9000, currency: 'EUR', quantity: 5 },
      ],
      capacity_pool: [
        `/api/v1/events/${event.id}/capacity-pools`,
        { name: 'Hall', capacity: 5, ticketTypeIds: [type.id] },
      ],
      role: ['/api/v1/roles', { key: 'box-office', name: 'Box office', permissions: ['events:read'] }],
    } as const;
    const [path, body] = requests[action.split('.')[0] as keyof typeof requests];
    const before = await count(table, tenant);
    const key = crypto.randomUUID();
    const first = await call(tenant, 'POST', path, { token, body, headers: keyed(key) });
    expect(first.status).toBe(201);
    const again = await call(tenant, 'POST', path, { token, body, headers: keyed(key) });
    expect(again.status).toBe(201);
    expect(again.headers.get(REPLAYED)).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect(await count(table, tenant)).toBe(before + 1);
    expect(await audits(tenant, action)).toBe(1);
  });

  it('replays an invitation without a second membership', async () => {
    const { tenant, token } = await admin();
    const body = { email: randomEmail(tenant), name: 'Grace Hopper', role: 'organizer' };
    const key = crypto.randomUUID();
    const first = await call(tenant, 'POST', '/api/v1/users', { token, body, headers: keyed(key) });
    expect(first.status).toBe(201);
    const again = await call(tenant, 'POST', '/api/v1/users', { token, body, headers: keyed(key) });
    // Without the key this would be a 409 (already a member); with it, the first answer again.
    expect(again.status).toBe(201);
    expect(again.headers.get(REPLAYED)).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    const rows = await database()
      .select({ userId: memberships.userId })
      .from(memberships)
      .where(eq(memberships.organizationId, tenant.organization.id));
    expect(rows).toHaveLength(2);
    expect(await audits(tenant, 'membership.invited')).toBe(1);
  });

  it('answers 422 for the same key with another body, and creates nothing', async () => {
    const { tenant, token } = await admin();
    const key = crypto.randomUUID();
    const first = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody(), headers: keyed(key) });
    expect(first.status).toBe(201);
    const other = await call(tenant, 'POST', '/api/v1/events', {
      token,
      body: eventBody({ title: 'Another' }),
      headers: keyed(key),
    });
    expect(other.status).toBe(422);
    expect((await problem(other)).code).toBe('unprocessable');
    expect(await count(events, tenant)).toBe(1);
  });

  it('keeps the keys of different users apart', async () => {
    const { tenant, token } = await admin();
    const { token: otherToken } = await memberWithToken(tenant, 'organizer');
    const key = crypto.randomUUID();
    const body = eventBody();
    const mine = await call(tenant, 'POST', '/api/v1/events', { token, body, headers: keyed(key) });
    const theirs = await call(tenant, 'POST', '/api/v1/events', { token: otherToken, body, headers: keyed(key) });
    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get(REPLAYED)).toBeNull();
    const a: { id: string } = await mine.json();
    const b: { id: string } = await theirs.json();
    expect(a.id).not.toBe(b.id);
    expect(await count(events, tenant)).toBe(2);
    expect(await keyRows(tenant)).toHaveLength(2);
  });

  it('leaves requests without the header alone', async () => {
    const { tenant, token } = await admin();
    const body = eventBody();
    const first = await call(tenant, 'POST', '/api/v1/events', { token, body });
    const second = await call(tenant, 'POST', '/api/v1/events', { token, body });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.headers.get(REPLAYED)).toBeNull();
    expect(await count(events, tenant)).toBe(2);
    expect(await keyRows(tenant)).toEqual([]);
  });

  it('does not keep a refused request: the same key works once the request is fixed', async () => {
    const { tenant, token } = await admin();
    const event = await insertEvent(tenant, { status: 'cancelled' });
    const path = `/api/v1/events/${event.id}/ticket-types`;
    const key = crypto.randomUUID();
    const good = { name: 'Standard', price: 2500, currency: 'EUR', quantity: 10 };

    // Refused by validation (400), then by the service (409: the event is cancelled).
    const invalid = await call(tenant, 'POST', path, { token, body: { ...good, price: -1 }, headers: keyed(key) });
    expect(invalid.status).toBe(400);
    const frozen = await call(tenant, 'POST', path, { token, body: good, headers: keyed(key) });
    expect(frozen.status).toBe(409);
    expect(frozen.headers.get(REPLAYED)).toBeNull();
    expect(await keyRows(tenant)).toEqual([]);

    await database().update(events).set({ status: 'draft' }).where(eq(events.id, event.id));
    const fixed = await call(tenant, 'POST', path, { token, body: good, headers: keyed(key) });
    expect(fixed.status).toBe(201);
    expect(fixed.headers.get(REPLAYED)).toBeNull();
    expect(await count(ticketTypes, tenant)).toBe(1);
    expect(await keyRows(tenant)).toEqual([expect.objectContaining({ key, status: 201 })]);
  });

  it('answers 400 for a malformed key before doing anything', async () => {
    const { tenant, token } = await admin();
    for (const key of ['x'.repeat(256), 'has space', 'ünïcode']) {
      const response = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody(), headers: keyed(key) });
      expect(response.status).toBe(400);
      expect((await problem(response)).errors?.[0]?.pointer).toBe('/header/idempotency-key');
    }
    expect(await count(events, tenant)).toBe(0);
    expect(await keyRows(tenant)).toEqual([]);
  });

  it('answers 409 while a request with the key is in flight, and lets a retry take over a stale claim', async () => {
    const { tenant, member, token } = await admin();
    const key = crypto.randomUUID();
    const body = eventBody();
    const claim = {
      organizationId: tenant.organization.id,
      scope: `user:${member.userId}`,
      key,
      requestHash: await requestHash('POST', '/api/v1/events', JSON.stringify(body)),
      expiresAt: new Date(Date.now() + 3_600_000),
    };
    await database().insert(idempotencyKeys).values(claim);
    const busy = await call(tenant, 'POST', '/api/v1/events', { token, body, headers: keyed(key) });
    expect(busy.status).toBe(409);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(await count(events, tenant)).toBe(0);

    // The first request died without an answer a few minutes ago: a retry may run.
    await database()
      .update(idempotencyKeys)
      .set({ createdAt: new Date(Date.now() - 300_000) })
      .where(and(eq(idempotencyKeys.organizationId, tenant.organization.id), eq(idempotencyKeys.key, key)));
    const retry = await call(tenant, 'POST', '/api/v1/events', { token, body, headers: keyed(key) });
    expect(retry.status).toBe(201);
    expect(await count(events, tenant)).toBe(1);
    expect(await keyRows(tenant)).toEqual([expect.objectContaining({ key, status: 201 })]);
  });

  it('documents the header and the 422 on every creating POST', async () => {
    const { tenant } = await admin();
    const response = await call(tenant, 'GET', '/api/v1/openapi.json');
    const document: {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: object }>>;
    } = await response.json();
    for (const path of [
      '/api/v1/events',
      '/api/v1/events/{id}/ticket-types',
      '/api/v1/events/{id}/capacity-pools',
      '/api/v1/users',
      '/api/v1/roles',
      '/api/v1/public/events/{slug}/bookings',
      '/api/v1/bookings/{id}/refund',
    ]) {
      const operation = document.paths[path]?.post;
      expect(operation?.parameters, path).toContainEqual(
        expect.objectContaining({ name: 'idempotency-key', in: 'header' }),
      );
      expect(operation?.responses, path).toHaveProperty('422');
    }
  });
});

describe('Idempotency-Key on the public checkout', () => {
  async function shop() {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant);
    const standard = await createTicketType(event, { quantity: 50 });
    return { tenant, event, standard };
  }

  it('replays the same booking (id and token) and leaves the counters alone', async () => {
    const { tenant, event, standard } = await shop();
    const key = crypto.randomUUID();
    const body = { items: [{ ticketTypeId: standard.id, quantity: 2 }] };
    const first = await checkout(tenant, event.slug, body, { headers: keyed(key) });
    expect(first.status).toBe(201);
    const booking: CreatedBookingResponse = await first.json();
    const before = await counters(event.id);
    expect(before.event).toEqual({ sold: 0, held: 2 });

    const again = await checkout(tenant, event.slug, body, { headers: keyed(key) });
    expect(again.status).toBe(201);
    expect(again.headers.get(REPLAYED)).toBe('true');
    const replayed: CreatedBookingResponse = await again.json();
    expect(replayed.id).toBe(booking.id);
    expect(replayed.token).toBe(booking.token);
    expect(replayed).toEqual(booking);
    expect(await counters(event.id)).toEqual(before);

    const other = await checkout(
      tenant,
      event.slug,
      { items: [{ ticketTypeId: standard.id, quantity: 3 }] },
      { headers: keyed(key) },
    );
    expect(other.status).toBe(422);
    expect(await counters(event.id)).toEqual(before);
    const rows = await database().select({ id: bookings.id }).from(bookings).where(eq(bookings.eventId, event.id));
    expect(rows).toEqual([{ id: booking.id }]);
  });

  it('books once for ten concurrent identical requests with one key', async () => {
    const { tenant, event, standard } = await shop();
    const key = crypto.randomUUID();
    const body = { items: [{ ticketTypeId: standard.id, quantity: 1 }] };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => checkout(tenant, event.slug, body, { headers: keyed(key) })),
    );
    const rows = await database().select({ id: bookings.id }).from(bookings).where(eq(bookings.eventId, event.id));
    expect(rows).toHaveLength(1);
    const bookingId = rows[0]?.id;
    let created = 0;
    for (const response of responses) {
      if (response.status === 201) {
        created += 1;
        const booking: CreatedBookingResponse = await response.json();
        expect(booking.id).toBe(bookingId);
      } else {
        expect(response.status).toBe(409);
        expect((await problem(response)).detail).toContain('still being processed');
      }
    }
    expect(created).toBeGreaterThanOrEqual(1);
    expect(await counters(event.id)).toMatchObject({ event: { sold: 0, held: 1 } });
  });
});
