import { and, eq, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { describe, expect, it } from 'vitest';
import {
  attendees,
  auditLogs,
  bookingItems,
  bookings,
  capacityPools,
  capacityPoolTicketTypes,
  events,
  idempotencyKeys,
  outbox,
  paymentSettings,
  payments,
} from '../../src/db/schema/index.ts';
import { createEvent, createTicketType, daysFromNow } from '../support/catalogue.ts';
import { book, bookingRow, checkout, counters, enableManualPayment } from '../support/bookings.ts';
import { randomIp } from '../support/auth.ts';
import { createTenant, database, newRequestId, problem, roundTrips } from '../support/harness.ts';

describe('POST /api/v1/public/events/{slug}/bookings', () => {
  it('confirms a free order at once, with one ticket code per attendee', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { name: 'Free', price: 0, quantity: 10 });
    const booking = await book(tenant, event.slug, {
      items: [
        {
          ticketTypeId: free.id,
          quantity: 2,
          attendees: [
            { name: 'Grace Hopper', email: 'Grace@Example.com' },
            { name: 'Alan Turing', email: 'alan@example.com' },
          ],
        },
      ],
    });
    expect(booking).toMatchObject({
      status: 'confirmed',
      total: 0,
      currency: 'EUR',
      expiresAt: null,
      eventId: event.id,
      payment: { provider: 'free', status: 'succeeded', amount: 0, instructions: null, checkout: null },
      items: [{ ticketTypeId: free.id, quantity: 2, unitPrice: 0 }],
    });
    expect(booking.attendees.map((attendee) => attendee.email)).toEqual(['grace@example.com', 'alan@example.com']);
    expect(new Set(booking.attendees.map((attendee) => attendee.ticketCode)).size).toBe(2);
    expect(booking.token).toMatch(/^bk_[A-Za-z0-9_-]{43}$/);
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 2, held: 0 },
      ticketTypes: { [free.id]: { sold: 2, held: 0 } },
    });
    const row = await bookingRow(tenant, booking.id);
    expect(row?.tokenHash).not.toContain(booking.token);
  });

  it('holds the seats of a paid order and computes the total on the server', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant);
    const standard = await createTicketType(event, { price: 1500, quantity: 10 });
    const vip = await createTicketType(event, { name: 'VIP', price: 4000, quantity: 5 });
    // A client-supplied total is refused, never used (this also resolves the tenant once for the isolate cache).
    const response = await checkout(tenant, event.slug, {
      items: [
        { ticketTypeId: standard.id, quantity: 2 },
        { ticketTypeId: vip.id, quantity: 1 },
      ],
      total: 1,
    });
    expect(response.status).toBe(400);
    const requestId = newRequestId();
    const ok = await checkout(
      tenant,
      event.slug,
      {
        items: [
          { ticketTypeId: standard.id, quantity: 2 },
          { ticketTypeId: vip.id, quantity: 1 },
        ],
      },
      { headers: { 'x-request-id': requestId } },
    );
    expect(ok.status).toBe(201);
    const booking = await ok.json<Awaited<ReturnType<typeof book>>>();
    expect(booking).toMatchObject({
      status: 'pending',
      total: 7000,
      payment: { provider: 'manual', status: 'pending' },
    });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 3 },
      ticketTypes: { [standard.id]: { sold: 0, held: 2 }, [vip.id]: { sold: 0, held: 1 } },
    });
    const sold = await checkout(tenant, event.slug, { items: [{ ticketTypeId: vip.id, quantity: 5 }] });
    expect(sold.status).toBe(409);
    expect(await problem(sold)).toMatchObject({ code: 'sold_out', ticketTypeId: vip.id });
  });
});

describe('checkout rules', () => {
  it('sells a hidden ticket type only with its access code, and hides that it exists', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const vip = await createTicketType(event, { name: 'VIP', hidden: true, accessCode: 'VIP2026', price: 0 });
    const without = await checkout(tenant, event.slug, { items: [{ ticketTypeId: vip.id, quantity: 1 }] });
    expect(without.status).toBe(400);
    expect((await problem(without)).errors).toEqual([
      { pointer: '/body/items/0/ticketTypeId', message: 'no such ticket type for this event' },
    ]);
    const wrong = await checkout(tenant, event.slug, {
      items: [{ ticketTypeId: vip.id, quantity: 1 }],
      accessCode: 'vip2026',
    });
    expect(wrong.status).toBe(400);
    const right = await book(tenant, event.slug, {
      items: [{ ticketTypeId: vip.id, quantity: 1 }],
      accessCode: 'VIP2026',
    });
    expect(right.status).toBe('confirmed');
  });

  it('refuses ticket types outside their sales window', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const early = await createTicketType(event, { salesStartAt: daysFromNow(1) });
    const late = await createTicketType(event, { salesStartAt: daysFromNow(-3), salesEndAt: daysFromNow(-1) });
    for (const ticketType of [early, late]) {
      const response = await checkout(tenant, event.slug, { items: [{ ticketTypeId: ticketType.id, quantity: 1 }] });
      expect(response.status).toBe(409);
      expect(await problem(response)).toMatchObject({ code: 'conflict', ticketTypeId: ticketType.id });
    }
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 0 });
  });

  it('enforces per-order limits and refuses a ticket type listed twice or of another event', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant);
    const other = await createEvent(tenant);
    const limited = await createTicketType(event, { minPerOrder: 2, maxPerOrder: 4 });
    const foreign = await createTicketType(other);
    const cases: [unknown, string][] = [
      [[{ ticketTypeId: limited.id, quantity: 1 }], '/body/items/0/quantity'],
      [[{ ticketTypeId: limited.id, quantity: 5 }], '/body/items/0/quantity'],
      [
        [
          { ticketTypeId: limited.id, quantity: 2 },
          { ticketTypeId: limited.id.toUpperCase(), quantity: 2 },
        ],
        '/body/items/1/ticketTypeId',
      ],
      [[{ ticketTypeId: foreign.id, quantity: 1 }], '/body/items/0/ticketTypeId'],
      [
        [{ ticketTypeId: limited.id, quantity: 2, attendees: [{ name: 'A', email: 'a@example.com' }] }],
        '/body/items/0/attendees',
      ],
    ];
    for (const [items, pointer] of cases) {
      const response = await checkout(tenant, event.slug, { items } as never);
      expect(response.status, pointer).toBe(400);
      expect((await problem(response)).errors?.[0]?.pointer).toBe(pointer);
    }
    expect(await book(tenant, event.slug, { items: [{ ticketTypeId: limited.id, quantity: 4 }] })).toMatchObject({
      total: 6000,
    });
  });

  it('refuses malformed bodies with 400 and changes nothing', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const standard = await createTicketType(event);
    const bodies: unknown[] = [
      { items: [] },
      { items: [{ ticketTypeId: 'nope', quantity: 1 }] },
      { items: [{ ticketTypeId: standard.id, quantity: 0 }] },
      { items: [{ ticketTypeId: standard.id, quantity: 1.5 }] },
      { items: [{ ticketTypeId: standard.id, quantity: 101 }] },
      { items: [{ ticketTypeId: standard.id, quantity: 1, price: 0 }] },
      { items: [{ ticketTypeId: standard.id, quantity: 1 }], buyer: { name: 'X', email: 'not-an-email' } },
      { items: [{ ticketTypeId: standard.id, quantity: 1 }], buyer: { name: 'Bad\u0000name', email: 'a@example.com' } },
      { items: [{ ticketTypeId: standard.id, quantity: 1 }], status: 'confirmed' },
    ];
    for (const body of bodies) {
      const response = await checkout(tenant, event.slug, body as never);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await problem(response)).code).toBe('validation_failed');
    }
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 0 });
  });

  it('answers 404 for drafts, private events and other tenants, 409 for cancelled or past events', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const draft = await createEvent(tenant, { status: 'draft' });
    const hidden = await createEvent(tenant, { visibility: 'private' });
    const cancelled = await createEvent(tenant, { status: 'cancelled' });
    const past = await createEvent(tenant, { startsAt: daysFromNow(-2) });
    const unlisted = await createEvent(tenant, { visibility: 'unlisted' });
    const foreign = await createEvent(other);
    const ticketFor = async (event: Awaited<ReturnType<typeof createEvent>>) =>
      (await createTicketType(event, { price: 0 })).id;
    for (const event of [draft, hidden]) {
      const response = await checkout(tenant, event.slug, {
        items: [{ ticketTypeId: await ticketFor(event), quantity: 1 }],
      });
      expect(response.status, event.slug).toBe(404);
    }
    const crossTenant = await checkout(tenant, foreign.slug, {
      items: [{ ticketTypeId: await ticketFor(foreign), quantity: 1 }],
    });
    expect(crossTenant.status).toBe(404);
    for (const event of [cancelled, past]) {
      const response = await checkout(tenant, event.slug, {
        items: [{ ticketTypeId: await ticketFor(event), quantity: 1 }],
      });
      expect(response.status, event.slug).toBe(409);
      expect((await problem(response)).detail).toBe('This event is not on sale.');
    }
    expect(
      await book(tenant, unlisted.slug, { items: [{ ticketTypeId: await ticketFor(unlisted), quantity: 1 }] }),
    ).toMatchObject({ status: 'confirmed' });
  });

  it('never sells past the event capacity across ticket types', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant, { capacity: 3 });
    const a = await createTicketType(event, { price: 0, quantity: 10 });
    const b = await createTicketType(event, { price: 0, quantity: 10 });
    await book(tenant, event.slug, { items: [{ ticketTypeId: a.id, quantity: 2 }] });
    const refused = await checkout(tenant, event.slug, { items: [{ ticketTypeId: b.id, quantity: 2 }] });
    expect(refused.status).toBe(409);
    expect((await problem(refused)).code).toBe('sold_out');
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 2, held: 0 },
      ticketTypes: { [a.id]: { sold: 2, held: 0 }, [b.id]: { sold: 0, held: 0 } },
    });
  });

  it('answers 400 at /body/items for an order whose total exceeds an int32 of minor units, and changes nothing', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant);
    // The highest price the API accepts; 22 tickets total 2,200,000,000 > 2,147,483,647.
    const dear = await createTicketType(event, { price: 100_000_000, maxPerOrder: 100 });
    const response = await checkout(tenant, event.slug, { items: [{ ticketTypeId: dear.id, quantity: 22 }] });
    expect(response.status).toBe(400);
    expect(await problem(response)).toMatchObject({
      code: 'validation_failed',
      errors: [{ pointer: '/body/items', message: 'total exceeds the maximum amount' }],
    });
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 0 });
    const fits = await checkout(tenant, event.slug, { items: [{ ticketTypeId: dear.id, quantity: 21 }] });
    expect(fits.status).toBe(201);
  });

  it('refuses mixed currencies and paid orders when no payment method is enabled', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const euro = await createTicketType(event, { price: 1000, currency: 'EUR' });
    const dollar = await createTicketType(event, { price: 1000, currency: 'USD' });
    const mixed = await checkout(tenant, event.slug, {
      items: [
        { ticketTypeId: euro.id, quantity: 1 },
        { ticketTypeId: dollar.id, quantity: 1 },
      ],
    });
    expect(mixed.status).toBe(400);
    const stripe = await checkout(tenant, event.slug, {
      items: [{ ticketTypeId: euro.id, quantity: 1 }],
      paymentMethod: 'stripe',
    });
    expect(stripe.status).toBe(422);
    expect((await problem(stripe)).detail).toBe('The payment method stripe is not available.');
    // Manual payment is opt-in: an organization that never enabled it takes no unpaid manual orders.
    const manual = await checkout(tenant, event.slug, {
      items: [{ ticketTypeId: euro.id, quantity: 1 }],
      paymentMethod: 'manual',
    });
    expect(manual.status).toBe(422);
    expect((await problem(manual)).detail).toBe('The payment method manual is not available.');
    const unset = await checkout(tenant, event.slug, { items: [{ ticketTypeId: euro.id, quantity: 1 }] });
    expect(unset.status).toBe(422);
    expect((await problem(unset)).detail).toBe('This organization accepts no payment method for paid tickets.');
    await database().insert(paymentSettings).values({ organizationId: tenant.organization.id, manualEnabled: false });
    const none = await checkout(tenant, event.slug, { items: [{ ticketTypeId: euro.id, quantity: 1 }] });
    expect(none.status).toBe(422);
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 0 });
  });
});

describe('concurrent buyers', () => {
  it('200 simultaneous orders for 50 seats: exactly 50 succeed, 150 get 409 sold_out, the database agrees', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const seats = await createTicketType(event, { price: 0, quantity: 50, maxPerOrder: 1 });
    // Resolve the tenant once so the burst measures checkout, not 200 cold tenant lookups.
    await checkout(tenant, event.slug, { items: [] });
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        checkout(tenant, event.slug, { items: [{ ticketTypeId: seats.id, quantity: 1 }] }),
      ),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(50);
    expect(statuses.filter((status) => status === 409)).toHaveLength(150);
    const refusals = await Promise.all(responses.filter((response) => response.status === 409).map(problem));
    expect(new Set(refusals.map((body) => body.code))).toEqual(new Set(['sold_out']));
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 50, held: 0 },
      ticketTypes: { [seats.id]: { sold: 50, held: 0 } },
    });
    const [row] = await database()
      .select({ bookings: sql<number>`count(*)::int` })
      .from(bookings)
      .where(eq(bookings.eventId, event.id));
    const [tickets] = await database()
      .select({ count: sql<number>`count(*)::int` })
      .from(attendees)
      .innerJoin(bookings, eq(bookings.id, attendees.bookingId))
      .where(eq(bookings.eventId, event.id));
    expect(row?.bookings).toBe(50);
    expect(tickets?.count).toBe(50);
  });
});

/** How many rows each table holds for an event's bookings (and the tenant's booking audit rows and events). */
async function bookingRows(organizationId: string, eventId: string) {
  const db = database();
  const count = sql<number>`count(*)::int`;
  const ofEvent = sql`${bookings.eventId} = ${eventId}`;
  const [[booked], [items], [tickets], [paid], [audited], [published]] = await Promise.all([
    db.select({ count }).from(bookings).where(ofEvent),
    db.select({ count }).from(bookingItems).innerJoin(bookings, eq(bookings.id, bookingItems.bookingId)).where(ofEvent),
    db.select({ count }).from(attendees).innerJoin(bookings, eq(bookings.id, attendees.bookingId)).where(ofEvent),
    db.select({ count }).from(payments).innerJoin(bookings, eq(bookings.id, payments.bookingId)).where(ofEvent),
    db
      .select({ count })
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, organizationId), eq(auditLogs.action, 'booking.created'))),
    db
      .select({ count })
      .from(outbox)
      .where(and(eq(outbox.organizationId, organizationId), eq(outbox.type, 'booking.created'))),
  ]);
  return {
    bookings: booked?.count,
    items: items?.count,
    tickets: tickets?.count,
    payments: paid?.count,
    audit: audited?.count,
    outbox: published?.count,
  };
}

/**
 * Runs `lock` (a statement that locks the event row) in a batch that commits only once another transaction waits for
 * it (a `do` block polls pg_locks; the batch fails if nobody waited within 10 s), and resolves once that batch is
 * running, i.e. once the lock is held. `committed` settles with the batch.
 */
async function holdUntilWaitedFor(
  ...lock: [BatchItem<'pg'>, ...BatchItem<'pg'>[]]
): Promise<{ committed: Promise<unknown> }> {
  const tag = `eventra-test-blocker-${crypto.randomUUID()}`;
  const waiter = `exists (select 1 from pg_locks where locktype = 'transactionid' and not granted
    and transactionid::text::bigint = pg_current_xact_id()::text::bigint % 4294967296)`;
  const committed = database().batch([
    ...lock,
    database().execute(
      sql.raw(`do $$ /* ${tag} */
        begin
          for i in 1..2000 loop
            exit when ${waiter};
            perform pg_sleep(0.005);
          end loop;
          if not ${waiter} then
            raise exception 'no transaction waited for the lock';
          end if;
        end $$`),
    ),
  ]);
  committed.catch(() => undefined);
  for (let polls = 0; ; polls++) {
    const running = await database().execute(
      sql`select 1 from pg_stat_activity where state = 'active' and query like ${`%${tag}%`}
        and pid <> pg_backend_pid()`,
    );
    if (running.rows.length > 0) return { committed };
    if (polls > 1000) throw new Error('the blocker never started');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('concurrent buyers across ticket types and pools', () => {
  it('free and paid orders of two ticket types sharing a pool race: the pool sells exactly its capacity', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant, { capacity: null });
    const free = await createTicketType(event, { name: 'Free', price: 0, quantity: 40, maxPerOrder: 1 });
    const paid = await createTicketType(event, { name: 'Paid', price: 1000, quantity: 40, maxPerOrder: 1 });
    const [pool] = await database()
      .insert(capacityPools)
      .values({ organizationId: tenant.organization.id, eventId: event.id, name: 'Hall', capacity: 30 })
      .returning();
    if (!pool) throw new Error('pool insert returned nothing');
    await database()
      .insert(capacityPoolTicketTypes)
      .values(
        [free, paid].map((type) => ({
          organizationId: tenant.organization.id,
          eventId: event.id,
          poolId: pool.id,
          ticketTypeId: type.id,
        })),
      );
    await checkout(tenant, event.slug, { items: [] });
    const responses = await Promise.all(
      Array.from({ length: 120 }, (_, index) =>
        checkout(tenant, event.slug, {
          buyer: { name: 'Buyer', email: `buyer-${index}@example.com` },
          items: [{ ticketTypeId: index % 2 === 0 ? free.id : paid.id, quantity: 1 }],
          ...(index % 2 === 0 ? {} : { paymentMethod: 'manual' as const }),
        }),
      ),
    );
    const created = responses.filter((response) => response.status === 201);
    const refused = responses.filter((response) => response.status === 409);
    expect(created).toHaveLength(30);
    expect(refused).toHaveLength(90);
    expect(new Set((await Promise.all(refused.map(problem))).map((body) => body.code))).toEqual(new Set(['sold_out']));
    const bodies = await Promise.all(created.map((response) => response.json<{ status: string }>()));
    const confirmed = bodies.filter((body) => body.status === 'confirmed').length;
    const pending = bodies.filter((body) => body.status === 'pending').length;
    expect(confirmed + pending).toBe(30);
    // A free order's seats went straight to sold, a paid one's are held: every level agrees.
    expect(await counters(event.id)).toEqual({
      event: { sold: confirmed, held: pending },
      ticketTypes: { [free.id]: { sold: confirmed, held: 0 }, [paid.id]: { sold: 0, held: pending } },
      pools: { [pool.id]: { sold: confirmed, held: pending } },
    });
    expect(await bookingRows(tenant.organization.id, event.id)).toEqual({
      bookings: 30,
      items: 30,
      tickets: 30,
      payments: 30,
      audit: 30,
      outbox: 30,
    });
  });

  it('a sell-out while the checkout waits for the event row rolls back every row it wrote, and frees its key', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant, { capacity: 5 });
    const free = await createTicketType(event, { price: 0, quantity: 10 });
    await checkout(tenant, event.slug, { items: [] });
    // The blocker holds the event row (an organizer lowering the capacity to what is taken) and commits only once a
    // transaction waits for it: the checkout, which passed its unlocked checks and wrote its rows before.
    const blocker = await holdUntilWaitedFor(
      database()
        .update(events)
        .set({ capacity: sql`${events.sold} + ${events.held}` })
        .where(eq(events.id, event.id)),
    );
    const key = crypto.randomUUID();
    const order = { items: [{ ticketTypeId: free.id, quantity: 2 }] };
    const [refused] = await Promise.all([
      checkout(tenant, event.slug, order, { headers: { 'idempotency-key': key } }),
      blocker.committed,
    ]);
    expect(refused.status).toBe(409);
    expect(await problem(refused)).toMatchObject({ code: 'sold_out' });
    expect(await bookingRows(tenant.organization.id, event.id)).toEqual({
      bookings: 0,
      items: 0,
      tickets: 0,
      payments: 0,
      audit: 0,
      outbox: 0,
    });
    expect(await counters(event.id)).toMatchObject({
      event: { sold: 0, held: 0 },
      ticketTypes: { [free.id]: { sold: 0, held: 0 } },
    });
    const claims = await database().select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key));
    expect(claims).toEqual([]);
    // Seats back on sale: the same key now books.
    await database().update(events).set({ capacity: 5 }).where(eq(events.id, event.id));
    const retried = await checkout(tenant, event.slug, order, { headers: { 'idempotency-key': key } });
    expect(retried.status).toBe(201);
    expect(await counters(event.id)).toMatchObject({ event: { sold: 2, held: 0 } });
  });

  it('sees a pool created while it waits for the event row, and refuses the order the pool cannot fit', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { price: 0, quantity: 10 });
    await checkout(tenant, event.slug, { items: [] });
    // A pool of one seat over the ticket type, created the way the pools API does it (the event row locked FOR SHARE
    // first), commits while the checkout of two seats waits for the event row after its unlocked checks.
    const poolId = crypto.randomUUID();
    const blocker = await holdUntilWaitedFor(
      database().execute(sql`select id from ${events} where id = ${event.id} for share`),
      database().insert(capacityPools).values({
        id: poolId,
        organizationId: tenant.organization.id,
        eventId: event.id,
        name: 'Front row',
        capacity: 1,
      }),
      database().insert(capacityPoolTicketTypes).values({
        organizationId: tenant.organization.id,
        eventId: event.id,
        poolId,
        ticketTypeId: free.id,
      }),
    );
    const [refused] = await Promise.all([
      checkout(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 2 }] }),
      blocker.committed,
    ]);
    expect(refused.status).toBe(409);
    expect(await problem(refused)).toMatchObject({ code: 'sold_out' });
    expect(await counters(event.id)).toEqual({
      event: { sold: 0, held: 0 },
      ticketTypes: { [free.id]: { sold: 0, held: 0 } },
      pools: { [poolId]: { sold: 0, held: 0 } },
    });
    expect((await bookingRows(tenant.organization.id, event.id)).bookings).toBe(0);
    await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    expect((await counters(event.id)).pools).toEqual({ [poolId]: { sold: 1, held: 0 } });
  });

  it('concurrent unpaid orders from one address stay within its bound', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant, { capacity: 500 });
    const seats = await createTicketType(event, { price: 2500, quantity: 500 });
    await checkout(tenant, event.slug, { items: [] });
    const ip = randomIp();
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        checkout(
          tenant,
          event.slug,
          {
            buyer: { name: 'Ada', email: `ada-${index}@example.com` },
            items: [{ ticketTypeId: seats.id, quantity: 1 }],
            paymentMethod: 'manual',
          },
          { ip },
        ),
      ),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    for (const response of responses.filter((each) => each.status === 409)) {
      expect((await problem(response)).code).toBe('unpaid_hold_limit');
    }
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 3 });
    expect((await bookingRows(tenant.organization.id, event.id)).bookings).toBe(3);
  });
});

describe('bounds on unpaid holds', () => {
  async function paidEvent(capacity = 60) {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant, { capacity });
    const seats = await createTicketType(event, { price: 2500, quantity: capacity, maxPerOrder: 10 });
    return { tenant, event, seats };
  }

  function buyer() {
    return { name: 'Ada Lovelace', email: `ada-${crypto.randomUUID()}@example.com` };
  }

  it('refuses the seat hoarding of one address: unpaid manual orders never hold the event', async () => {
    const { tenant, event, seats } = await paidEvent();
    const ip = randomIp();
    const statuses: number[] = [];
    for (let order = 0; order < 6; order++) {
      const response = await checkout(
        tenant,
        event.slug,
        { buyer: buyer(), items: [{ ticketTypeId: seats.id, quantity: 10 }], paymentMethod: 'manual' },
        { ip },
      );
      statuses.push(response.status);
      if (response.status !== 201) {
        const body = await problem(response);
        expect(body.code).toBe('unpaid_hold_limit');
        expect(body.status).toBe(409);
      }
    }
    // 15 seats (a quarter of 60) is the most one address holds unpaid: the second order of 10 is refused.
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 10 });

    // Another address of the same IPv6 /64 is the same client.
    const sibling = await checkout(
      tenant,
      event.slug,
      { buyer: buyer(), items: [{ ticketTypeId: seats.id, quantity: 10 }], paymentMethod: 'manual' },
      { ip: ip.replace(/::[0-9a-f]+$/, '::beef') },
    );
    expect(sibling.status).toBe(409);
    // A genuine buyer elsewhere still buys.
    const genuine = await checkout(tenant, event.slug, {
      buyer: buyer(),
      items: [{ ticketTypeId: seats.id, quantity: 10 }],
      paymentMethod: 'manual',
    });
    expect(genuine.status).toBe(201);
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 20 });
  });

  it('allows a few pending orders per address and per buyer email, then refuses with 409 unpaid_hold_limit', async () => {
    const { tenant, event, seats } = await paidEvent(500);
    const ip = randomIp();
    const order = (email: string, from: string) =>
      checkout(
        tenant,
        event.slug,
        { buyer: { name: 'Ada', email }, items: [{ ticketTypeId: seats.id, quantity: 1 }], paymentMethod: 'manual' },
        { ip: from },
      );
    for (let index = 0; index < 3; index++) expect((await order(buyer().email, ip)).status).toBe(201);
    const fourth = await order(buyer().email, ip);
    expect(fourth.status).toBe(409);
    expect((await problem(fourth)).detail).toMatch(/3 unpaid orders from your network/);

    const email = buyer().email;
    expect((await order(email, randomIp())).status).toBe(201);
    expect((await order(email.toUpperCase(), randomIp())).status).toBe(201);
    const third = await order(email, randomIp());
    expect(third.status).toBe(409);
    const body = await problem(third);
    expect(body.code).toBe('unpaid_hold_limit');
    expect(body.errors?.[0]?.pointer).toBe('/body/buyer/email');
    expect((await counters(event.id)).event).toEqual({ sold: 0, held: 5 });

    // A confirmed (paid) order frees its place: the address may order again.
    const [pending] = await database()
      .select({ id: bookings.id })
      .from(bookings)
      .where(
        sql`${bookings.eventId} = ${event.id} and ${bookings.clientKey} is not null and ${bookings.buyerEmail} <> ${email}`,
      )
      .limit(1);
    await database()
      .update(bookings)
      .set({ status: 'expired' })
      .where(eq(bookings.id, pending?.id ?? ''));
    expect((await order(buyer().email, ip)).status).toBe(201);
  });

  it('never bounds free orders, which are confirmed at once', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant, { capacity: 20 });
    const free = await createTicketType(event, { price: 0, quantity: 20, maxPerOrder: 10 });
    const ip = randomIp();
    for (let index = 0; index < 2; index++) {
      const response = await checkout(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 10 }] }, { ip });
      expect(response.status).toBe(201);
    }
    expect((await counters(event.id)).event).toEqual({ sold: 20, held: 0 });
  });

  it('stores the client address key on the booking and checks the bounds in the one checkout round trip', async () => {
    const { tenant, event, seats } = await paidEvent();
    // Resolve the tenant once, so the round trips counted are the checkout's own.
    expect((await checkout(tenant, event.slug, { items: [] })).status).toBe(400);
    const requestId = newRequestId();
    const response = await checkout(
      tenant,
      event.slug,
      { items: [{ ticketTypeId: seats.id, quantity: 1 }], paymentMethod: 'manual' },
      { ip: '2001:DB8:7:8:0:0:0:1', headers: { 'x-request-id': requestId } },
    );
    expect(response.status).toBe(201);
    const { id } = await response.json<{ id: string }>();
    expect((await bookingRow(tenant, id))?.clientKey).toBe('2001:db8:7:8::/64');
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
  });
});
