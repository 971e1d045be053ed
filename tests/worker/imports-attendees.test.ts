import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  attendees,
  auditLogs,
  bookings,
  capacityPools,
  capacityPoolTicketTypes,
  events,
  outbox,
  payments,
  ticketTypes,
  type Event,
} from '../../src/db/schema/index.ts';
import { ATTENDEE_CSV_COLUMNS } from '../../src/routes/imports/attendee-rows.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import {
  bearer,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { memberWithToken } from '../support/users.ts';

// Issue #16 part 3, the attendees half: complimentary bookings imported into one event.

interface Report {
  kind: string;
  dryRun: boolean;
  eventId: string;
  totals: { rows: number; create: number; skipExisting: number; error: number; tickets: number };
  rows: {
    row: number;
    lines: number[];
    pointer: string | null;
    externalId: string | null;
    outcome: string;
    entityId: string | null;
    errors: { line: number | null; field: string; message: string }[];
    warnings: { line: number | null; field: string; message: string }[];
  }[];
}

const HEADER = ATTENDEE_CSV_COLUMNS.join(',');

function post(
  tenant: TestTenant,
  token: string,
  eventId: string,
  body: BodyInit,
  options: { contentType?: string; dryRun?: boolean; notify?: boolean; requestId?: string } = {},
): Promise<Response> {
  const query = new URLSearchParams({ eventId });
  if (options.dryRun === false) query.set('dryRun', 'false');
  if (options.notify === true) query.set('notify', 'true');
  return request(tenant.url(`/api/v1/imports/attendees?${query.toString()}`), {
    method: 'POST',
    headers: bearer(token, {
      'content-type': options.contentType ?? 'text/csv',
      ...(options.requestId === undefined ? {} : { 'x-request-id': options.requestId }),
    }),
    body,
  });
}

async function setup() {
  const tenant = await createTenant({ plan: 'pro' });
  const { token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant, { capacity: 10 });
  const press = await createTicketType(event, { name: 'Press', price: 0, quantity: 3 });
  const vip = await createTicketType(event, { name: 'VIP', price: 9900, quantity: 5 });
  return { tenant, token, event, press, vip };
}

async function counters(event: Event) {
  const [row] = await database().select().from(events).where(eq(events.id, event.id));
  const types = await database().select().from(ticketTypes).where(eq(ticketTypes.eventId, event.id));
  return {
    event: { sold: row?.sold, held: row?.held },
    types: Object.fromEntries(types.map((type) => [type.name, { sold: type.sold, held: type.held }])),
  };
}

function bookingsOf(event: Event) {
  return database().select().from(bookings).where(eq(bookings.eventId, event.id));
}

describe('POST /api/v1/imports/attendees', () => {
  it('dry-runs, applies as confirmed free bookings taking sold seats, and skips what it made on a re-run', async () => {
    const { tenant, token, event, press, vip } = await setup();
    const csv = [
      HEADER,
      'press-001,Grace Hopper,grace@example.com,Press,,',
      `press-002,Alan Turing,alan@example.com,${press.id},Alan Turing,alan@example.com`,
      'press-002,,,VIP,Joan Clarke,JOAN@example.com',
      '',
    ].join('\r\n');

    // A first request of the tenant, so the measured one finds it resolved in the isolate.
    expect((await request(tenant.url('/api/v1/events'), { headers: bearer(token) })).status).toBe(200);
    const dryId = newRequestId();
    const dry = await post(tenant, token, event.id, csv, { requestId: dryId });
    expect(dry.status).toBe(200);
    expect(await roundTrips(dryId)).toEqual({ database: 1, redis: 1 });
    const report: Report = await dry.json();
    expect(report).toMatchObject({
      kind: 'attendees',
      dryRun: true,
      eventId: event.id,
      totals: { rows: 2, create: 2, skipExisting: 0, error: 0, tickets: 3 },
    });
    expect(report.rows.map((row) => [row.externalId, row.lines, row.outcome])).toEqual([
      ['press-001', [2], 'create'],
      ['press-002', [3, 4], 'create'],
    ]);
    expect(await bookingsOf(event)).toEqual([]);

    const applyId = newRequestId();
    const applied = await post(tenant, token, event.id, csv, { dryRun: false, requestId: applyId });
    expect(applied.status).toBe(200);
    expect(await roundTrips(applyId)).toMatchObject({ database: 2 });
    const result: Report = await applied.json();
    expect(result.totals).toEqual({ rows: 2, create: 2, skipExisting: 0, error: 0, tickets: 3 });
    const created = await bookingsOf(event);
    expect(
      created.map((booking) => [booking.buyerEmail, booking.status, booking.provider, booking.total]).sort(),
    ).toEqual([
      ['alan@example.com', 'confirmed', 'free', 0],
      ['grace@example.com', 'confirmed', 'free', 0],
    ]);
    expect(created.every((booking) => booking.confirmedAt !== null && booking.expiresAt === null)).toBe(true);
    const alan = created.find((booking) => booking.buyerEmail === 'alan@example.com');
    const tickets = await database()
      .select({ name: attendees.name, email: attendees.email, ticketTypeId: attendees.ticketTypeId })
      .from(attendees)
      .where(eq(attendees.bookingId, alan?.id ?? ''))
      .orderBy(attendees.position);
    expect(tickets).toEqual([
      { name: 'Alan Turing', email: 'alan@example.com', ticketTypeId: press.id },
      { name: 'Joan Clarke', email: 'joan@example.com', ticketTypeId: vip.id },
    ]);
    const paid = await database()
      .select()
      .from(payments)
      .where(eq(payments.bookingId, alan?.id ?? ''));
    expect(paid).toMatchObject([{ provider: 'free', status: 'succeeded', amount: 0 }]);
    // Seats: sold, never held, at the ticket types and the event.
    expect(await counters(event)).toEqual({
      event: { sold: 3, held: 0 },
      types: { Press: { sold: 2, held: 0 }, VIP: { sold: 1, held: 0 } },
    });
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'import.attendees')));
    expect(audit?.metadata).toMatchObject({ rows: 2, created: 2, tickets: 3, notify: false });
    // notify=false: booking.created only (webhooks), no booking.confirmed (which emails the buyer).
    const types = await database()
      .select({ type: outbox.type })
      .from(outbox)
      .where(eq(outbox.organizationId, tenant.organization.id));
    expect(types.filter((row) => row.type.startsWith('booking.')).map((row) => row.type)).toEqual([
      'booking.created',
      'booking.created',
    ]);

    const again = await post(tenant, token, event.id, csv, { dryRun: false });
    const rerun: Report = await again.json();
    expect(rerun.totals).toMatchObject({ create: 0, skipExisting: 2 });
    expect(rerun.rows.map((row) => row.entityId).sort()).toEqual(created.map((booking) => booking.id).sort());
    expect(await bookingsOf(event)).toHaveLength(2);
    expect((await counters(event)).event).toEqual({ sold: 3, held: 0 });
  });

  it('reports overselling rows in file order and refuses the whole apply, writing nothing', async () => {
    const { tenant, token, event } = await setup();
    const [pool] = await database()
      .insert(capacityPools)
      .values({ organizationId: tenant.organization.id, eventId: event.id, name: 'Floor', capacity: 2 })
      .returning();
    const vipType = await database().select().from(ticketTypes).where(eq(ticketTypes.eventId, event.id));
    const vip = vipType.find((type) => type.name === 'VIP');
    await database()
      .insert(capacityPoolTicketTypes)
      .values({
        organizationId: tenant.organization.id,
        eventId: event.id,
        poolId: pool?.id ?? '',
        ticketTypeId: vip?.id ?? '',
      });
    const body = {
      attendees: [
        {
          externalId: 'a',
          buyer: { name: 'Ada', email: 'ada@example.com' },
          tickets: [{ ticketType: 'Press' }, { ticketType: 'Press' }],
        },
        {
          externalId: 'b',
          buyer: { name: 'Bo', email: 'bo@example.com' },
          tickets: [{ ticketType: 'Press' }, { ticketType: 'Press' }],
        },
        {
          externalId: 'c',
          buyer: { name: 'Cy', email: 'cy@example.com' },
          tickets: [{ ticketType: 'VIP' }, { ticketType: 'VIP' }, { ticketType: 'VIP' }],
        },
        { externalId: 'd', buyer: { name: 'Di', email: 'di@example.com' }, tickets: [{ ticketType: 'Balcony' }] },
        { externalId: 'a', buyer: { name: 'Ed', email: 'ed@example.com' }, tickets: [{ ticketType: 'VIP' }] },
        {
          externalId: 'f',
          buyer: { name: '=HYPERLINK("x")', email: 'f@example.com' },
          tickets: [{ ticketType: 'VIP' }],
        },
      ],
    };
    const dry = await post(tenant, token, event.id, JSON.stringify(body), { contentType: 'application/json' });
    expect(dry.status).toBe(200);
    const report: Report = await dry.json();
    expect(report.rows.map((row) => row.outcome)).toEqual(['create', 'error', 'error', 'error', 'error', 'create']);
    expect(report.rows[1]?.errors[0]).toEqual({
      line: null,
      field: '/attendees/1/tickets/0/ticketType',
      message: 'Not enough tickets left of "Press": 1.',
    });
    expect(report.rows[2]?.errors.map((issue) => issue.message)).toEqual([
      'Not enough seats left in a capacity pool of these tickets.',
    ]);
    expect(report.rows[3]?.errors[0]?.message).toBe('No ticket type of this event has this id or name.');
    expect(report.rows[4]?.errors[0]).toMatchObject({ field: '/attendees/4/externalId' });
    expect(report.rows[5]?.warnings[0]).toMatchObject({ field: '/attendees/5/buyer/name' });

    const refused = await post(tenant, token, event.id, JSON.stringify(body), {
      contentType: 'application/json',
      dryRun: false,
    });
    expect(refused.status).toBe(422);
    expect((await problem(refused)).errors?.map((error) => error.pointer)).toContain(
      '/body/attendees/1/tickets/0/ticketType',
    );
    expect(await bookingsOf(event)).toEqual([]);
    expect(await counters(event)).toEqual({
      event: { sold: 0, held: 0 },
      types: { Press: { sold: 0, held: 0 }, VIP: { sold: 0, held: 0 } },
    });
  });

  it('keeps seat accounting exact when imports race for the last seats, and notifies on request', async () => {
    const { tenant, token, event, press } = await setup();
    // Four files each want two of the three Press tickets, applied at once: one wins, the others write nothing
    // (409 when their read came before the winner's commit, 422 after it).
    const files = [1, 2, 3, 4].map((n) =>
      [HEADER, `race-${n},Ada,ada${n}@example.com,Press,,`, `race-${n},,,Press,,`, ''].join('\n'),
    );
    const answers = await Promise.all(
      files.map((csv) => post(tenant, token, event.id, csv, { dryRun: false, notify: true })),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.every((status) => [200, 409, 422].includes(status))).toBe(true);
    for (const answer of answers.filter((response) => response.status === 409)) {
      expect((await problem(answer)).code).toBe('conflict');
    }
    expect(await bookingsOf(event)).toHaveLength(1);
    const [row] = await database().select().from(ticketTypes).where(eq(ticketTypes.id, press.id));
    expect({ sold: row?.sold, held: row?.held }).toEqual({ sold: 2, held: 0 });
    expect((await counters(event)).event).toEqual({ sold: 2, held: 0 });
    // notify=true: booking.confirmed too (it emails the buyer their tickets).
    const sent = await database()
      .select({ type: outbox.type })
      .from(outbox)
      .where(eq(outbox.organizationId, tenant.organization.id));
    expect(
      sent
        .map((entry) => entry.type)
        .filter((type) => type.startsWith('booking.'))
        .sort(),
    ).toEqual(['booking.confirmed', 'booking.created']);
  });

  it('answers 404 for another organization’s event, 409 for a cancelled one, 403 without bookings:write, 400 for bad bytes', async () => {
    const { tenant, token, event } = await setup();
    const other = await setup();
    const csv = [HEADER, 'y-1,Ada,ada@example.com,Press,,', ''].join('\n');
    const foreign = await post(tenant, token, other.event.id, csv);
    expect(foreign.status).toBe(404);
    expect((await problem(foreign)).code).toBe('not_found');
    expect((await post(tenant, token, crypto.randomUUID(), csv)).status).toBe(404);

    await database().update(events).set({ status: 'cancelled' }).where(eq(events.id, event.id));
    expect((await post(tenant, token, event.id, csv)).status).toBe(409);
    await database().update(events).set({ status: 'published' }).where(eq(events.id, event.id));

    const staff = await memberWithToken(tenant, 'staff');
    expect((await post(tenant, staff.token, event.id, csv)).status).toBe(403);

    const broken = new Uint8Array([...new TextEncoder().encode(`${HEADER}\ny-2,Ad`), 0xff, 0x0a]);
    const bad = await post(tenant, token, event.id, broken);
    expect(bad.status).toBe(400);
    expect((await problem(bad)).errors?.[0]?.message).toMatch(/^Not valid UTF-8: byte offset \d+ \(line 2\)\.$/);
    expect((await post(tenant, token, 'not-a-uuid', csv)).status).toBe(400);
    const unknownColumn = await post(tenant, token, event.id, `${HEADER},price\nz,Ada,a@example.com,Press,,,1\n`);
    expect(unknownColumn.status).toBe(400);
    expect(await bookingsOf(event)).toEqual([]);
    expect(await bookingsOf(other.event)).toEqual([]);
  });
});
