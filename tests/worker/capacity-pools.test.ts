import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { capacityPools, capacityPoolTicketTypes, events } from '../../src/db/schema/index.ts';
import type { CapacityPoolListResponse, CapacityPoolResponse } from '../../src/routes/capacity-pools/schema.ts';
import { MAX_CAPACITY_POOLS_PER_EVENT } from '../../src/services/events/capacity-pools.ts';
import { book, checkout, counters, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { eventAudits, insertEvent, insertTicketType } from '../support/events.ts';
import { createTenant, database, problem, request, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

async function organizer() {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const { member, token } = await memberWithToken(tenant, 'organizer');
  return { tenant, member, token };
}

function createPool(tenant: TestTenant, token: string, eventId: string, body: unknown): Promise<Response> {
  return call(tenant, 'POST', `/api/v1/events/${eventId}/capacity-pools`, { token, body });
}

async function poolRow(id: string) {
  const [row] = await database().select().from(capacityPools).where(eq(capacityPools.id, id));
  return row;
}

async function memberIds(poolId: string): Promise<string[]> {
  const rows = await database()
    .select({ id: capacityPoolTicketTypes.ticketTypeId })
    .from(capacityPoolTicketTypes)
    .where(eq(capacityPoolTicketTypes.poolId, poolId));
  return rows.map((row) => row.id).sort();
}

async function poolsOf(tenant: TestTenant, eventId: string) {
  return database()
    .select()
    .from(capacityPools)
    .where(and(eq(capacityPools.organizationId, tenant.organization.id), eq(capacityPools.eventId, eventId)));
}

describe('POST /api/v1/events/{id}/capacity-pools', () => {
  it('creates a pool counting the seats its ticket types already sold and held, and audits it', async () => {
    const { tenant, member, token } = await organizer();
    const event = await insertEvent(tenant, { status: 'published' });
    const a = await insertTicketType(tenant, event.id, { sold: 3, held: 1 });
    const b = await insertTicketType(tenant, event.id, { sold: 2 });
    const outside = await insertTicketType(tenant, event.id, { sold: 7 });
    const response = await createPool(tenant, token, event.id, {
      name: ' Main hall ',
      capacity: 10,
      ticketTypeIds: [b.id, a.id.toUpperCase()],
    });
    expect(response.status).toBe(201);
    const body: CapacityPoolResponse = await response.json();
    expect(body).toEqual({
      id: body.id,
      eventId: event.id,
      name: 'Main hall',
      capacity: 10,
      sold: 5,
      held: 1,
      remaining: 4,
      ticketTypeIds: [a.id, b.id].sort(),
    });
    expect(await poolRow(body.id)).toMatchObject({ organizationId: tenant.organization.id, sold: 5, held: 1 });
    expect(await memberIds(body.id)).toEqual([a.id, b.id].sort());
    expect(await memberIds(body.id)).not.toContain(outside.id);
    const [audit] = await eventAudits(tenant, 'capacity_pool.created');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetType: 'capacity_pool', targetId: body.id });
    expect(audit?.metadata).toMatchObject({ eventId: event.id, capacity: 10 });

    const list = await call(tenant, 'GET', `/api/v1/events/${event.id}/capacity-pools`, { token });
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ data: [body] } satisfies CapacityPoolListResponse);
  });

  it('answers 409 for a capacity below what the ticket types sold or held, and creates nothing', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const a = await insertTicketType(tenant, event.id, { sold: 3, held: 1 });
    const response = await createPool(tenant, token, event.id, { name: 'Hall', capacity: 3, ticketTypeIds: [a.id] });
    expect(response.status).toBe(409);
    expect((await problem(response)).detail).toContain('4 tickets');
    expect(await poolsOf(tenant, event.id)).toEqual([]);
    expect(await eventAudits(tenant, 'capacity_pool.created')).toEqual([]);
    const exact = await createPool(tenant, token, event.id, { name: 'Hall', capacity: 4, ticketTypeIds: [a.id] });
    expect(exact.status).toBe(201);
    expect(await exact.json()).toMatchObject({ sold: 3, held: 1, remaining: 0 });
  });

  it('points at a repeated id, a ticket type of another event or tenant, and refuses bad fields', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const a = await insertTicketType(tenant, event.id);
    const otherEvent = await insertEvent(tenant);
    const foreignType = await insertTicketType(tenant, otherEvent.id);
    const otherTenant = await createTenant();
    const crossTenantType = await insertTicketType(otherTenant, (await insertEvent(otherTenant)).id);
    const cases: [unknown, string][] = [
      [{ name: 'P', capacity: 5, ticketTypeIds: [a.id, a.id.toUpperCase()] }, '/body/ticketTypeIds/1'],
      [{ name: 'P', capacity: 5, ticketTypeIds: [a.id, foreignType.id] }, '/body/ticketTypeIds/1'],
      [{ name: 'P', capacity: 5, ticketTypeIds: [crossTenantType.id] }, '/body/ticketTypeIds/0'],
      [{ name: 'P', capacity: 5, ticketTypeIds: [crypto.randomUUID()] }, '/body/ticketTypeIds/0'],
      [{ name: 'P', capacity: 5, ticketTypeIds: [] }, '/body/ticketTypeIds'],
      [{ name: 'P', capacity: 5, ticketTypeIds: ['nope'] }, '/body/ticketTypeIds/0'],
      [{ name: '', capacity: 5, ticketTypeIds: [a.id] }, '/body/name'],
      [{ name: 'x'.repeat(201), capacity: 5, ticketTypeIds: [a.id] }, '/body/name'],
      [{ name: 'P', capacity: -1, ticketTypeIds: [a.id] }, '/body/capacity'],
      [{ name: 'P', capacity: 1.5, ticketTypeIds: [a.id] }, '/body/capacity'],
      [{ name: 'P', capacity: 1_000_001, ticketTypeIds: [a.id] }, '/body/capacity'],
      [{ name: 'P', capacity: 5, ticketTypeIds: [a.id], sold: 0 }, '/body'],
    ];
    for (const [body, pointer] of cases) {
      const response = await createPool(tenant, token, event.id, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const details = await problem(response);
      expect(details.errors?.map((error) => error.pointer)).toContain(pointer);
    }
    expect(await poolsOf(tenant, event.id)).toEqual([]);
  });

  it('answers 409 for a cancelled or completed event, 404 across tenants, 403 without events:write', async () => {
    const { tenant, token } = await organizer();
    for (const status of ['cancelled', 'completed'] as const) {
      const event = await insertEvent(tenant, { status });
      const type = await insertTicketType(tenant, event.id);
      const response = await createPool(tenant, token, event.id, { name: 'P', capacity: 5, ticketTypeIds: [type.id] });
      expect(response.status).toBe(409);
      expect(await poolsOf(tenant, event.id)).toEqual([]);
    }
    const otherTenant = await createTenant();
    const foreign = await insertEvent(otherTenant);
    const foreignType = await insertTicketType(otherTenant, foreign.id);
    const cross = await createPool(tenant, token, foreign.id, {
      name: 'P',
      capacity: 5,
      ticketTypeIds: [foreignType.id],
    });
    expect(cross.status).toBe(404);
    expect(await poolsOf(otherTenant, foreign.id)).toEqual([]);
    expect((await call(tenant, 'GET', `/api/v1/events/${foreign.id}/capacity-pools`, { token })).status).toBe(404);

    const mine = await insertEvent(tenant);
    const type = await insertTicketType(tenant, mine.id);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const staff = await createPool(tenant, staffToken, mine.id, { name: 'P', capacity: 5, ticketTypeIds: [type.id] });
    expect(staff.status).toBe(403);
    const read = await call(tenant, 'GET', `/api/v1/events/${mine.id}/capacity-pools`, { token: staffToken });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ data: [] });
    const anonymous = await call(tenant, 'GET', `/api/v1/events/${mine.id}/capacity-pools`);
    expect(anonymous.status).toBe(401);
  });
});

/** `n` pools of the event straight into the database, in one statement (without members). */
async function seedPools(tenant: TestTenant, eventId: string, n: number): Promise<void> {
  await database()
    .insert(capacityPools)
    .values(
      Array.from({ length: n }, (_, index) => ({
        organizationId: tenant.organization.id,
        eventId,
        name: `Seeded ${index}`,
        capacity: 10,
      })),
    );
}

describe(`at most ${MAX_CAPACITY_POOLS_PER_EVENT} capacity pools per event`, () => {
  it('refuses one more with 409 naming the limit and writes nothing; a deletion makes room again', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const type = await insertTicketType(tenant, event.id);
    await seedPools(tenant, event.id, MAX_CAPACITY_POOLS_PER_EVENT);
    const body = { name: 'One too many', capacity: 10, ticketTypeIds: [type.id] };

    const response = await createPool(tenant, token, event.id, body);
    expect(response.status).toBe(409);
    const refused = await problem(response);
    expect(refused).toMatchObject({ code: 'conflict', limit: MAX_CAPACITY_POOLS_PER_EVENT });
    expect(refused.detail).toContain(`at most ${MAX_CAPACITY_POOLS_PER_EVENT} capacity pools`);
    expect(await poolsOf(tenant, event.id)).toHaveLength(MAX_CAPACITY_POOLS_PER_EVENT);
    expect(
      await database().select().from(capacityPoolTicketTypes).where(eq(capacityPoolTicketTypes.ticketTypeId, type.id)),
    ).toEqual([]);
    expect(await eventAudits(tenant, 'capacity_pool.created')).toEqual([]);

    // All of them are listed (the list declares maxItems: the limit).
    const list = await call(tenant, 'GET', `/api/v1/events/${event.id}/capacity-pools`, { token });
    expect(list.status).toBe(200);
    const listed: CapacityPoolListResponse = await list.json();
    expect(listed.data).toHaveLength(MAX_CAPACITY_POOLS_PER_EVENT);

    const [first] = listed.data;
    expect((await call(tenant, 'DELETE', `/api/v1/capacity-pools/${first?.id}`, { token })).status).toBe(204);
    expect((await createPool(tenant, token, event.id, body)).status).toBe(201);
    expect(await poolsOf(tenant, event.id)).toHaveLength(MAX_CAPACITY_POOLS_PER_EVENT);
  });

  it('lets exactly one of two concurrent creates take the last place', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status: 'published' });
    const type = await insertTicketType(tenant, event.id);
    await seedPools(tenant, event.id, MAX_CAPACITY_POOLS_PER_EVENT - 1);
    const responses = await Promise.all(
      ['A', 'B'].map((name) => createPool(tenant, token, event.id, { name, capacity: 10, ticketTypeIds: [type.id] })),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
    expect(await poolsOf(tenant, event.id)).toHaveLength(MAX_CAPACITY_POOLS_PER_EVENT);
    expect(await eventAudits(tenant, 'capacity_pool.created')).toHaveLength(1);
  });
});

describe('PUT /api/v1/capacity-pools/{id}', () => {
  async function poolFixture() {
    const context = await organizer();
    const event = await insertEvent(context.tenant, { status: 'published' });
    const a = await insertTicketType(context.tenant, event.id, { sold: 2, held: 1 });
    const b = await insertTicketType(context.tenant, event.id, { sold: 4 });
    const c = await insertTicketType(context.tenant, event.id, { held: 1 });
    const response = await createPool(context.tenant, context.token, event.id, {
      name: 'Hall',
      capacity: 10,
      ticketTypeIds: [a.id, b.id],
    });
    expect(response.status).toBe(201);
    const pool: CapacityPoolResponse = await response.json();
    return { ...context, event, a, b, c, pool };
  }

  it('renames and resizes, refusing a capacity below sold + held with 409', async () => {
    const { tenant, member, token, pool } = await poolFixture();
    const below = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, { token, body: { capacity: 6 } });
    expect(below.status).toBe(409);
    expect(await poolRow(pool.id)).toMatchObject({ capacity: 10, name: 'Hall' });
    const response = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, {
      token,
      body: { name: 'Upper hall', capacity: 7 },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: 'Upper hall', capacity: 7, sold: 6, held: 1, remaining: 0 });
    const [audit] = await eventAudits(tenant, 'capacity_pool.updated');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetId: pool.id });
    expect(audit?.metadata).toMatchObject({ fields: ['name', 'capacity'], before: { name: 'Hall', capacity: 10 } });
  });

  it('replaces the ticket types and recomputes sold and held from them in the same batch', async () => {
    const { tenant, token, pool, a, b, c } = await poolFixture();
    const response = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, {
      token,
      body: { ticketTypeIds: [a.id, c.id] },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sold: 2, held: 2, ticketTypeIds: [a.id, c.id].sort() });
    expect(await poolRow(pool.id)).toMatchObject({ sold: 2, held: 2, capacity: 10 });
    expect(await memberIds(pool.id)).toEqual([a.id, c.id].sort());

    // New members that do not fit the (new or current) capacity: 409, memberships and counts unchanged.
    const tooSmall = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, {
      token,
      body: { ticketTypeIds: [a.id, b.id, c.id], capacity: 7 },
    });
    expect(tooSmall.status).toBe(409);
    expect(await memberIds(pool.id)).toEqual([a.id, c.id].sort());
    expect(await poolRow(pool.id)).toMatchObject({ sold: 2, held: 2, capacity: 10 });
  });

  it('points at ticket types of another event; 400 for an empty body; 404 across tenants; 403 to staff', async () => {
    const { tenant, token, pool, a } = await poolFixture();
    const otherEvent = await insertEvent(tenant);
    const foreignType = await insertTicketType(tenant, otherEvent.id);
    const wrong = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, {
      token,
      body: { ticketTypeIds: [a.id, foreignType.id] },
    });
    expect(wrong.status).toBe(400);
    expect((await problem(wrong)).errors?.[0]?.pointer).toBe('/body/ticketTypeIds/1');
    const twice = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, {
      token,
      body: { ticketTypeIds: [a.id, a.id] },
    });
    expect((await problem(twice)).errors?.[0]?.pointer).toBe('/body/ticketTypeIds/1');
    for (const body of [{}, { sold: 0 }, { capacity: -1 }]) {
      expect((await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, { token, body })).status).toBe(400);
    }
    expect((await call(tenant, 'PUT', '/api/v1/capacity-pools/nope', { token, body: { name: 'X' } })).status).toBe(400);

    const other = await organizer();
    const cross = await call(other.tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, {
      token: other.token,
      body: { name: 'Hijacked' },
    });
    expect(cross.status).toBe(404);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const staff = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, {
      token: staffToken,
      body: { name: 'X' },
    });
    expect(staff.status).toBe(403);
    expect(await poolRow(pool.id)).toMatchObject({ name: 'Hall' });
  });

  it('answers 409 once the event is cancelled', async () => {
    const { tenant, token, pool, event } = await poolFixture();
    await database().update(events).set({ status: 'cancelled' }).where(eq(events.id, event.id));
    const response = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, { token, body: { capacity: 50 } });
    expect(response.status).toBe(409);
    expect(await poolRow(pool.id)).toMatchObject({ capacity: 10 });
    expect((await call(tenant, 'DELETE', `/api/v1/capacity-pools/${pool.id}`, { token })).status).toBe(409);
    expect(await poolRow(pool.id)).toBeDefined();
  });
});

describe('DELETE /api/v1/capacity-pools/{id}', () => {
  it('deletes the pool and its memberships, keeps the ticket types, audits it; 404 across tenants', async () => {
    const { tenant, member, token } = await organizer();
    const event = await insertEvent(tenant);
    const a = await insertTicketType(tenant, event.id, { sold: 1 });
    const created = await createPool(tenant, token, event.id, { name: 'Hall', capacity: 5, ticketTypeIds: [a.id] });
    const pool: CapacityPoolResponse = await created.json();

    const other = await organizer();
    const cross = await call(other.tenant, 'DELETE', `/api/v1/capacity-pools/${pool.id}`, { token: other.token });
    expect(cross.status).toBe(404);
    expect(await poolRow(pool.id)).toBeDefined();

    const response = await call(tenant, 'DELETE', `/api/v1/capacity-pools/${pool.id}`, { token });
    expect(response.status).toBe(204);
    expect(await poolRow(pool.id)).toBeUndefined();
    expect(await memberIds(pool.id)).toEqual([]);
    const [audit] = await eventAudits(tenant, 'capacity_pool.deleted');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetId: pool.id });
    expect((await call(tenant, 'DELETE', `/api/v1/capacity-pools/${pool.id}`, { token })).status).toBe(404);
  });
});

describe('checkout with capacity pools', () => {
  it('sells a ticket only when it fits every pool of its ticket type', async () => {
    const { tenant, token } = await organizer();
    const event = await createEvent(tenant);
    const a = await createTicketType(event, { name: 'Standing' });
    const b = await createTicketType(event, { name: 'Seated' });
    const created = await createPool(tenant, token, event.id, {
      name: 'Hall',
      capacity: 3,
      ticketTypeIds: [a.id, b.id],
    });
    expect(created.status).toBe(201);
    const pool: CapacityPoolResponse = await created.json();

    await book(tenant, event.slug, { items: [{ ticketTypeId: a.id, quantity: 2 }] });
    const refused = await checkout(tenant, event.slug, { items: [{ ticketTypeId: b.id, quantity: 2 }] });
    expect(refused.status).toBe(409);
    expect((await problem(refused)).code).toBe('sold_out');
    expect(await counters(event.id)).toEqual({
      event: { sold: 0, held: 2 },
      ticketTypes: { [a.id]: { sold: 0, held: 2 }, [b.id]: { sold: 0, held: 0 } },
      pools: { [pool.id]: { sold: 0, held: 2 } },
    });

    await book(tenant, event.slug, { items: [{ ticketTypeId: b.id, quantity: 1 }] });
    expect((await counters(event.id)).pools[pool.id]).toEqual({ sold: 0, held: 3 });
    const list = await call(tenant, 'GET', `/api/v1/events/${event.id}/capacity-pools`, { token });
    const listed: CapacityPoolListResponse = await list.json();
    expect(listed.data[0]).toMatchObject({ held: 3, remaining: 0 });
    const full = await checkout(tenant, event.slug, { items: [{ ticketTypeId: a.id, quantity: 1 }] });
    expect((await problem(full)).code).toBe('sold_out');

    // Without the pool, the ticket types' own quantities are the only limit again.
    expect((await call(tenant, 'DELETE', `/api/v1/capacity-pools/${pool.id}`, { token })).status).toBe(204);
    // Another buyer: one email address holds at most two unpaid orders of an event.
    await book(tenant, event.slug, {
      buyer: { name: 'Grace Hopper', email: 'grace@example.com' },
      items: [{ ticketTypeId: a.id, quantity: 2 }],
    });
    expect((await counters(event.id)).ticketTypes[a.id]).toEqual({ sold: 0, held: 4 });
  });

  it('counts a confirmed free order as sold in the pool, and a pool of one type limits only that type', async () => {
    const { tenant, token } = await organizer();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { name: 'Free', price: 0 });
    const paid = await createTicketType(event, { name: 'Paid' });
    const created = await createPool(tenant, token, event.id, {
      name: 'Free seats',
      capacity: 2,
      ticketTypeIds: [free.id],
    });
    const pool: CapacityPoolResponse = await created.json();
    await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 2 }] });
    expect((await counters(event.id)).pools[pool.id]).toEqual({ sold: 2, held: 0 });
    expect((await checkout(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] })).status).toBe(409);
    await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 5 }] });
    // Resizing to exactly what is sold works; below answers 409.
    const below = await call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, { token, body: { capacity: 1 } });
    expect(below.status).toBe(409);
  });

  it('keeps sold + held within the capacity while checkouts race a capacity change', async () => {
    const { tenant, token } = await organizer();
    const event = await createEvent(tenant);
    const a = await createTicketType(event, { name: 'Standing' });
    const created = await createPool(tenant, token, event.id, { name: 'Hall', capacity: 10, ticketTypeIds: [a.id] });
    const pool: CapacityPoolResponse = await created.json();
    const [resize, ...sales] = await Promise.all([
      call(tenant, 'PUT', `/api/v1/capacity-pools/${pool.id}`, { token, body: { capacity: 3 } }),
      ...Array.from({ length: 6 }, () =>
        checkout(tenant, event.slug, { items: [{ ticketTypeId: a.id, quantity: 1 }] }),
      ),
    ]);
    expect([200, 409]).toContain(resize.status);
    for (const sale of sales) expect([201, 409]).toContain(sale.status);
    const sold = sales.filter((sale) => sale.status === 201).length;
    const row = await poolRow(pool.id);
    expect(row?.held).toBe(sold);
    expect(row?.capacity).toBe(resize.status === 200 ? 3 : 10);
    expect((row?.held ?? 0) + (row?.sold ?? 0)).toBeLessThanOrEqual(row?.capacity ?? 0);
    expect((await counters(event.id)).ticketTypes[a.id]).toEqual({ sold: 0, held: sold });
  });
});

describe('the capacity pools API in the OpenAPI document', () => {
  it('documents every operation with security and its error responses', async () => {
    const document: {
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    } = await (await request('http://localhost/api/v1/openapi.json')).json();
    const operations: [string, string, string[]][] = [
      ['/api/v1/events/{id}/capacity-pools', 'get', ['401', '403', '404']],
      ['/api/v1/events/{id}/capacity-pools', 'post', ['400', '401', '403', '404', '409', '422']],
      ['/api/v1/capacity-pools/{id}', 'put', ['400', '401', '403', '404', '409']],
      ['/api/v1/capacity-pools/{id}', 'delete', ['401', '403', '404', '409']],
    ];
    for (const [path, method, statuses] of operations) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation?.security).toEqual([{ bearerAuth: [] }]);
      for (const status of statuses) expect(operation?.responses).toHaveProperty(status);
    }
  });
});
