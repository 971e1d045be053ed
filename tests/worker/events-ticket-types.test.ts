import { count, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ticketTypes } from '../../src/db/schema/events.ts';
import type { TicketTypeListResponse, TicketTypeResponse } from '../../src/routes/ticket-types/schema.ts';
import { MAX_TICKET_TYPES_PER_EVENT } from '../../src/services/events/ticket-types.ts';
import { createTenant, database, problem, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';
import { eventAudits, eventRow, insertEvent, insertTicketType, ticketTypeRow } from '../support/events.ts';

async function organizer() {
  const tenant = await createTenant();
  const { member, token } = await memberWithToken(tenant, 'organizer');
  return { tenant, member, token };
}

const standard = { name: 'Standard', price: 2500, currency: 'EUR', quantity: 100 };

describe('POST /api/v1/events/{id}/ticket-types', () => {
  it('adds a ticket type with defaults, sold and held, and audits it', async () => {
    const { tenant, member, token } = await organizer();
    const event = await insertEvent(tenant);
    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, { token, body: standard });
    expect(response.status).toBe(201);
    const body: TicketTypeResponse = await response.json();
    expect(body).toMatchObject({
      eventId: event.id,
      name: 'Standard',
      price: 2500,
      currency: 'EUR',
      quantity: 100,
      sold: 0,
      held: 0,
      remaining: 100,
      minPerOrder: 1,
      maxPerOrder: 10,
      hidden: false,
      accessCode: null,
      salesStartAt: null,
    });
    expect(await ticketTypeRow(body.id)).toMatchObject({ organizationId: tenant.organization.id, price: 2500 });
    const [audit] = await eventAudits(tenant, 'ticket_type.created');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetType: 'ticket_type', targetId: body.id });
  });

  it('adds a hidden ticket type with its access code and a sales window', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status: 'published' });
    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, {
      token,
      body: {
        ...standard,
        price: 0,
        hidden: true,
        accessCode: 'PRESS26',
        salesStartAt: '2030-01-01T00:00:00Z',
        salesEndAt: '2030-02-01T00:00:00+01:00',
        minPerOrder: 2,
        maxPerOrder: 4,
      },
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({
      hidden: true,
      accessCode: 'PRESS26',
      salesStartAt: '2030-01-01T00:00:00.000Z',
      salesEndAt: '2030-01-31T23:00:00.000Z',
      minPerOrder: 2,
      maxPerOrder: 4,
    });
  });

  it.each([
    ['a negative price', { price: -1 }, '/body/price'],
    ['a fractional price', { price: 12.5 }, '/body/price'],
    ['a lowercase currency', { currency: 'eur' }, '/body/currency'],
    ['an unknown currency', { currency: 'ABC' }, '/body/currency'],
    ['a negative quantity', { quantity: -1 }, '/body/quantity'],
    ['minPerOrder 0', { minPerOrder: 0 }, '/body/minPerOrder'],
    ['maxPerOrder below minPerOrder', { minPerOrder: 5, maxPerOrder: 2 }, '/body/maxPerOrder'],
    [
      'a sales end before its start',
      { salesStartAt: '2030-02-01T00:00:00Z', salesEndAt: '2030-01-01T00:00:00Z' },
      '/body/salesEndAt',
    ],
    ['hidden without an access code', { hidden: true }, '/body/accessCode'],
    ['a 3-character access code', { hidden: true, accessCode: 'abc' }, '/body/accessCode'],
    ['sold (mass assignment)', { sold: 10 }, '/body'],
    ['held (mass assignment)', { held: 10 }, '/body'],
    ['eventId (mass assignment)', { eventId: crypto.randomUUID() }, '/body'],
  ])('refuses %s with 400', async (_name, overrides, pointer) => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, {
      token,
      body: { ...standard, ...overrides },
    });
    expect(response.status).toBe(400);
    expect((await problem(response)).errors?.map((error) => error.pointer)).toContain(pointer);
    expect(await eventAudits(tenant, 'ticket_type.created')).toEqual([]);
  });

  it.each(['cancelled', 'completed'] as const)('answers 409 for a %s event', async (status) => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status });
    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, { token, body: standard });
    expect(response.status).toBe(409);
    expect(await eventAudits(tenant, 'ticket_type.created')).toEqual([]);
  });

  it("answers 404 for another organization's event and 403 to staff", async () => {
    const { tenant, token } = await organizer();
    const foreign = await insertEvent(await createTenant());
    const cross = await call(tenant, 'POST', `/api/v1/events/${foreign.id}/ticket-types`, { token, body: standard });
    expect(cross.status).toBe(404);
    const mine = await insertEvent(tenant);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const staff = await call(tenant, 'POST', `/api/v1/events/${mine.id}/ticket-types`, {
      token: staffToken,
      body: standard,
    });
    expect(staff.status).toBe(403);
    expect(await eventAudits(tenant, 'ticket_type.created')).toEqual([]);
  });
});

describe('GET /api/v1/events/{id}/ticket-types', () => {
  it('lists ticket types by sortOrder, hidden ones with codes, to staff; 404 across tenants', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'staff');
    const event = await insertEvent(tenant);
    const second = await insertTicketType(tenant, event.id, { name: 'B', sortOrder: 2, sold: 3, held: 1 });
    const first = await insertTicketType(tenant, event.id, {
      name: 'A',
      sortOrder: 1,
      hidden: true,
      accessCode: 'VIP1',
    });
    const response = await call(tenant, 'GET', `/api/v1/events/${event.id}/ticket-types`, { token });
    expect(response.status).toBe(200);
    const body: TicketTypeListResponse = await response.json();
    expect(body.data.map((type) => type.id)).toEqual([first.id, second.id]);
    expect(body.data[0]).toMatchObject({ hidden: true, accessCode: 'VIP1' });
    expect(body.data[1]).toMatchObject({ sold: 3, held: 1, remaining: 96 });
    const foreign = await insertEvent(await createTenant());
    expect((await call(tenant, 'GET', `/api/v1/events/${foreign.id}/ticket-types`, { token })).status).toBe(404);
    const { token: memberToken } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'GET', `/api/v1/events/${event.id}/ticket-types`, { token: memberToken })).status).toBe(
      403,
    );
  });
});

describe('PUT /api/v1/ticket-types/{id}', () => {
  it('changes the given fields and audits them', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const type = await insertTicketType(tenant, event.id);
    const response = await call(tenant, 'PUT', `/api/v1/ticket-types/${type.id}`, {
      token,
      body: { name: 'Regular', quantity: 150, price: 3000 },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: 'Regular', quantity: 150, price: 3000, remaining: 150 });
    expect(await ticketTypeRow(type.id)).toMatchObject({ name: 'Regular', quantity: 150, price: 3000 });
    const [audit] = await eventAudits(tenant, 'ticket_type.updated');
    expect(audit?.metadata).toMatchObject({ before: { name: 'Standard', quantity: 100, price: 2500 } });
  });

  it('refuses a quantity below sold + held and a new price or currency once sold, with 409', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status: 'published' });
    const type = await insertTicketType(tenant, event.id, { sold: 5, held: 2 });
    for (const body of [{ quantity: 6 }, { price: 1 }, { currency: 'USD' }]) {
      const response = await call(tenant, 'PUT', `/api/v1/ticket-types/${type.id}`, { token, body });
      expect(response.status).toBe(409);
    }
    expect(await ticketTypeRow(type.id)).toMatchObject({ quantity: 100, price: 2500, currency: 'EUR' });
    const exact = await call(tenant, 'PUT', `/api/v1/ticket-types/${type.id}`, { token, body: { quantity: 7 } });
    expect(exact.status).toBe(200);
    expect((await ticketTypeRow(type.id))?.quantity).toBe(7);
    expect(await eventAudits(tenant, 'ticket_type.updated')).toHaveLength(1);
  });

  it('checks field rules against the stored values (400) and refuses mass assignment', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const type = await insertTicketType(tenant, event.id, { minPerOrder: 2, maxPerOrder: 4 });
    for (const body of [{ maxPerOrder: 1 }, { hidden: true }, { sold: 0 }, { eventId: crypto.randomUUID() }, {}]) {
      const response = await call(tenant, 'PUT', `/api/v1/ticket-types/${type.id}`, { token, body });
      expect(response.status).toBe(400);
    }
    expect(await ticketTypeRow(type.id)).toMatchObject({ maxPerOrder: 4, hidden: false });
  });

  it('answers 409 on a cancelled event, 404 across tenants, 403 to staff; nothing changes', async () => {
    const { tenant, token } = await organizer();
    const cancelled = await insertEvent(tenant, { status: 'cancelled' });
    const frozen = await insertTicketType(tenant, cancelled.id);
    expect(
      (await call(tenant, 'PUT', `/api/v1/ticket-types/${frozen.id}`, { token, body: { name: 'X' } })).status,
    ).toBe(409);
    const otherTenant = await createTenant();
    const foreign = await insertTicketType(otherTenant, (await insertEvent(otherTenant)).id);
    const cross = await call(tenant, 'PUT', `/api/v1/ticket-types/${foreign.id}`, { token, body: { quantity: 0 } });
    expect(cross.status).toBe(404);
    expect((await ticketTypeRow(foreign.id))?.quantity).toBe(100);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const staff = await call(tenant, 'PUT', `/api/v1/ticket-types/${frozen.id}`, {
      token: staffToken,
      body: { name: 'X' },
    });
    expect(staff.status).toBe(403);
    expect((await call(tenant, 'PUT', '/api/v1/ticket-types/abc', { token, body: { name: 'X' } })).status).toBe(400);
  });
});

describe('DELETE /api/v1/ticket-types/{id}', () => {
  it('deletes an unsold ticket type and audits it', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const type = await insertTicketType(tenant, event.id);
    const response = await call(tenant, 'DELETE', `/api/v1/ticket-types/${type.id}`, { token });
    expect(response.status).toBe(204);
    expect(await ticketTypeRow(type.id)).toBeUndefined();
    expect((await eventAudits(tenant, 'ticket_type.deleted'))[0]).toMatchObject({ targetId: type.id });
  });

  it('answers 409 when tickets are sold or held, 404 across tenants; nothing is deleted', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status: 'published' });
    const sold = await insertTicketType(tenant, event.id, { sold: 1 });
    const held = await insertTicketType(tenant, event.id, { held: 1 });
    for (const type of [sold, held]) {
      expect((await call(tenant, 'DELETE', `/api/v1/ticket-types/${type.id}`, { token })).status).toBe(409);
      expect(await ticketTypeRow(type.id)).toBeDefined();
    }
    const otherTenant = await createTenant();
    const foreign = await insertTicketType(otherTenant, (await insertEvent(otherTenant)).id);
    expect((await call(tenant, 'DELETE', `/api/v1/ticket-types/${foreign.id}`, { token })).status).toBe(404);
    expect(await ticketTypeRow(foreign.id)).toBeDefined();
    expect(await eventAudits(tenant, 'ticket_type.deleted')).toEqual([]);
    const { token: memberToken } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'DELETE', `/api/v1/ticket-types/${sold.id}`, { token: memberToken })).status).toBe(403);
  });
});

describe('ticket types racing a cancel', () => {
  it('never adds a ticket type to an event cancelled at the same time without it being refused', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    const [created, cancelled] = await Promise.all([
      call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, { token, body: standard }),
      call(tenant, 'POST', `/api/v1/events/${event.id}/cancel`, { token }),
    ]);
    expect(cancelled.status).toBe(200);
    // Either the ticket type came first (201) or the cancel did (409); both outcomes are consistent in the database.
    expect([201, 409]).toContain(created.status);
    const audits = await eventAudits(tenant, 'ticket_type.created');
    expect(audits).toHaveLength(created.status === 201 ? 1 : 0);
  });
});

/** `n` ticket types straight into the database, in one statement. */
async function seedTicketTypes(tenant: TestTenant, eventId: string, n: number): Promise<void> {
  await database()
    .insert(ticketTypes)
    .values(
      Array.from({ length: n }, (_, index) => ({
        organizationId: tenant.organization.id,
        eventId,
        name: `Seeded ${index}`,
        price: 1000,
        currency: 'EUR',
        quantity: 10,
      })),
    );
}

async function ticketTypeCount(eventId: string): Promise<number> {
  const [row] = await database().select({ n: count() }).from(ticketTypes).where(eq(ticketTypes.eventId, eventId));
  return row?.n ?? 0;
}

describe(`at most ${MAX_TICKET_TYPES_PER_EVENT} ticket types per event`, () => {
  it('refuses one more with 409 naming the limit and writes nothing; a deletion makes room again', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant);
    await seedTicketTypes(tenant, event.id, MAX_TICKET_TYPES_PER_EVENT);
    const before = await eventRow(event.id);

    const response = await call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, { token, body: standard });
    expect(response.status).toBe(409);
    const body = await problem(response);
    expect(body).toMatchObject({ code: 'conflict', limit: MAX_TICKET_TYPES_PER_EVENT });
    expect(body.detail).toContain(`at most ${MAX_TICKET_TYPES_PER_EVENT} ticket types`);
    expect(await ticketTypeCount(event.id)).toBe(MAX_TICKET_TYPES_PER_EVENT);
    expect(await eventAudits(tenant, 'ticket_type.created')).toEqual([]);
    expect((await eventRow(event.id))?.updatedAt).toEqual(before?.updatedAt);

    // All of them are listed (the list declares maxItems: the limit).
    const list = await call(tenant, 'GET', `/api/v1/events/${event.id}/ticket-types`, { token });
    expect(list.status).toBe(200);
    const listed: TicketTypeListResponse = await list.json();
    expect(listed.data).toHaveLength(MAX_TICKET_TYPES_PER_EVENT);

    const [first] = listed.data;
    expect((await call(tenant, 'DELETE', `/api/v1/ticket-types/${first?.id}`, { token })).status).toBe(204);
    const again = await call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, { token, body: standard });
    expect(again.status).toBe(201);
    expect(await ticketTypeCount(event.id)).toBe(MAX_TICKET_TYPES_PER_EVENT);
  });

  it('lets exactly one of two concurrent creates take the last place', async () => {
    const { tenant, token } = await organizer();
    const event = await insertEvent(tenant, { status: 'published' });
    await seedTicketTypes(tenant, event.id, MAX_TICKET_TYPES_PER_EVENT - 1);
    const responses = await Promise.all(
      ['A', 'B'].map((name) =>
        call(tenant, 'POST', `/api/v1/events/${event.id}/ticket-types`, { token, body: { ...standard, name } }),
      ),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
    expect(await ticketTypeCount(event.id)).toBe(MAX_TICKET_TYPES_PER_EVENT);
    expect(await eventAudits(tenant, 'ticket_type.created')).toHaveLength(1);
  });
});
