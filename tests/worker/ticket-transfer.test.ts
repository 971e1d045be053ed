import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import { attendees, events, outbox } from '../../src/db/schema/index.ts';
import type { QueueMessage } from '../../src/queues/messages.ts';
import type { CreatedBookingResponse } from '../../src/routes/bookings/schema.ts';
import type { CheckInResultResponse } from '../../src/routes/check-ins/schema.ts';
import type { TicketTransferResponse } from '../../src/routes/bookings/transfer-schema.ts';
import { MAX_TRANSFERS_PER_TICKET } from '../../src/services/bookings/transfer.ts';
import { randomIp } from '../support/auth.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { eventAudits, eventBody } from '../support/events.ts';
import {
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { poll } from '../support/auth.ts';
import { graphqlClient, postGraphql } from '../support/graphql.ts';
import { call, mailbox, memberWithToken, waitForMail } from '../support/users.ts';
import { newHook } from '../support/webhooks.ts';

const MINUTE = 60_000;

function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 12)}@example.test`;
}

/** POST .../attendees/{attendeeId}/transfer with the booking token (none when `token` is null). */
function transfer(
  tenant: TestTenant,
  bookingId: string,
  attendeeId: string,
  token: string | null,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return request(tenant.url(`/api/v1/public/bookings/${bookingId}/attendees/${attendeeId}/transfer`), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'cf-connecting-ip': randomIp(),
      ...(token === null ? {} : { 'booking-token': token }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function ticketRow(id: string) {
  const [row] = await database().select().from(attendees).where(eq(attendees.id, id));
  if (!row) throw new Error('no ticket row');
  return row;
}

/** A tenant with a published free event a week ahead, door staff and a confirmed booking of 2 (`quantity`) tickets. */
async function setup(
  options: { plan?: 'starter' | 'pro'; event?: Partial<typeof events.$inferInsert>; quantity?: number } = {},
) {
  const tenant = await createTenant(options.plan === undefined ? {} : { plan: options.plan });
  const door = await memberWithToken(tenant, 'staff');
  const event = await createEvent(tenant, options.event);
  const free = await createTicketType(event, { name: 'Standing', price: 0 });
  const buyer = { name: 'Ada Lovelace', email: unique('ada') };
  const booking = await book(tenant, event.slug, {
    buyer,
    items: [{ ticketTypeId: free.id, quantity: options.quantity ?? 2 }],
  });
  expect(booking.status).toBe('confirmed');
  const [ticket, other] = booking.attendees;
  if (!ticket || !other) throw new Error('two tickets expected');
  return { tenant, door, event, free, buyer, booking, ticket, other };
}

function scan(tenant: TestTenant, token: string, ticketCode: string): Promise<Response> {
  return call(tenant, 'POST', '/api/v1/check-ins', { token, body: { ticketCode } });
}

async function transferAudits(tenant: TestTenant) {
  return eventAudits(tenant, 'attendee.transferred');
}

async function transferEvents(tenant: TestTenant) {
  return database()
    .select()
    .from(outbox)
    .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'ticket.transferred')));
}

/** The ticket and the tenant are as they were: same holder and code, no audit row, no event. */
async function expectUntouched(tenant: TestTenant, ticket: CreatedBookingResponse['attendees'][number]) {
  const row = await ticketRow(ticket.id);
  expect({ name: row.name, email: row.email, ticketCode: row.ticketCode, transferCount: row.transferCount }).toEqual({
    name: ticket.name,
    email: ticket.email,
    ticketCode: ticket.ticketCode,
    transferCount: 0,
  });
  expect(await transferAudits(tenant)).toEqual([]);
  expect(await transferEvents(tenant)).toEqual([]);
}

describe('POST /api/v1/public/bookings/{id}/attendees/{attendeeId}/transfer', () => {
  it('gives the ticket a new holder and a new code in one round trip; the old code stops working at once', async () => {
    const { tenant, door, event, free, buyer, booking, ticket, other } = await setup();
    const grace = { name: 'Grace Hopper', email: unique('Grace').toUpperCase() };
    const requestId = newRequestId();
    const response = await transfer(tenant, booking.id, ticket.id, booking.token, grace, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const result: TicketTransferResponse = await response.json();
    expect(result.attendee).toMatchObject({
      id: ticket.id,
      bookingId: booking.id,
      ticketTypeId: free.id,
      name: 'Grace Hopper',
      email: grace.email.toLowerCase(),
      status: 'valid',
      answers: {},
      checkedInAt: null,
    });
    expect(result.attendee.ticketCode).toMatch(/^[0-9A-HJKMNP-TV-Z]{12}$/);
    expect(result.attendee.ticketCode).not.toBe(ticket.ticketCode);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });

    const row = await ticketRow(ticket.id);
    expect(row.ticketCode).toBe(result.attendee.ticketCode);
    expect(row.transferCount).toBe(1);
    expect(row.updatedAt.toISOString()).toBe(result.transferredAt);
    // The other ticket of the booking is untouched.
    expect((await ticketRow(other.id)).ticketCode).toBe(other.ticketCode);

    // The door: the old code is unknown now, the new one checks in.
    const old = await scan(tenant, door.token, ticket.ticketCode);
    expect(old.status).toBe(404);
    const admitted = await scan(tenant, door.token, result.attendee.ticketCode);
    expect(admitted.status).toBe(200);
    expect(await admitted.json<CheckInResultResponse>()).toMatchObject({
      alreadyCheckedIn: false,
      attendee: { id: ticket.id, name: 'Grace Hopper', eventId: event.id },
    });

    // The buyer's view shows the new holder.
    const view = await request(tenant.url(`/api/v1/public/bookings/${booking.id}`), {
      headers: { 'booking-token': booking.token, 'cf-connecting-ip': randomIp() },
    });
    const viewed: {
      attendees: { id: string; name: string; ticketCode: string }[];
      event: { transfersCloseAt: string | null };
    } = await view.json();
    // No cutoff set: transfers close when the event starts.
    expect(viewed.event.transfersCloseAt).toBe(event.startsAt.toISOString());
    expect(viewed.attendees.find((attendee) => attendee.id === ticket.id)).toMatchObject({
      name: 'Grace Hopper',
      ticketCode: result.attendee.ticketCode,
    });

    // Audited, anonymous (the buyer has no account), with both holders and without any code.
    const audits = await transferAudits(tenant);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      actorType: 'anonymous',
      actorUserId: null,
      targetType: 'attendee',
      targetId: ticket.id,
      requestId: response.headers.get('x-request-id'),
    });
    expect(audits[0]?.metadata).toEqual({
      by: 'buyer',
      bookingId: booking.id,
      eventId: event.id,
      from: { name: ticket.name, email: buyer.email },
      to: { name: 'Grace Hopper', email: grace.email.toLowerCase() },
    });
    const events = await transferEvents(tenant);
    expect(events).toHaveLength(1);
    expect(events[0]?.payload.data).toEqual({
      attendeeId: ticket.id,
      bookingId: booking.id,
      eventId: event.id,
      ticketTypeId: free.id,
      holder: { name: 'Grace Hopper', email: grace.email.toLowerCase() },
      previousHolder: { name: ticket.name, email: buyer.email },
      by: 'buyer',
      transferredAt: result.transferredAt,
    });
    for (const text of [JSON.stringify(audits[0]?.metadata), JSON.stringify(events[0]?.payload)]) {
      expect(text).not.toContain(ticket.ticketCode);
      expect(text).not.toContain(result.attendee.ticketCode);
    }

    // The emails: the new holder gets the ticket with its new code, the previous holder a notice without any code.
    const [ticketMail] = await waitForMail(grace.email.toLowerCase(), 1, 10_000);
    expect(ticketMail?.subject).toBe('Your ticket for Spring Gala');
    expect(ticketMail?.text).toContain(`Grace Hopper (Standing): ${result.attendee.ticketCode}`);
    expect(ticketMail?.text).not.toContain(ticket.ticketCode);
    const notice = await poll(
      async () => (await mailbox(buyer.email)).find((message) => message.subject.includes('was transferred')),
      'the previous holder notice',
      10_000,
    );
    expect(notice.subject).toBe('Your ticket for Spring Gala was transferred');
    expect(notice.text).toContain('Its previous code no longer works.');
    expect(notice.text).not.toContain(ticket.ticketCode);
    expect(notice.text).not.toContain(result.attendee.ticketCode);
  });

  it('delivers a ticket.transferred webhook without the ticket code', async () => {
    const { tenant, booking, ticket, event } = await setup({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'admin');
    const hook = await newHook();
    const created = await call(tenant, 'POST', '/api/v1/webhooks', {
      token,
      body: { url: hook.url, eventTypes: ['ticket.transferred'] },
    });
    expect(created.status).toBe(201);

    const newHolder = { name: 'Katherine Johnson', email: unique('katherine') };
    const response = await transfer(tenant, booking.id, ticket.id, booking.token, newHolder);
    expect(response.status).toBe(200);
    const result: TicketTransferResponse = await response.json();

    const [delivered] = await poll(
      async () => {
        const received = await hook.received();
        return received.length > 0 ? received : undefined;
      },
      'the webhook delivery',
      15_000,
    );
    const body = JSON.parse(delivered?.body ?? '{}') as { type: string; data: Record<string, unknown> };
    expect(body.type).toBe('ticket.transferred');
    expect(body.data).toMatchObject({
      attendeeId: ticket.id,
      bookingId: booking.id,
      eventId: event.id,
      holder: newHolder,
    });
    expect(delivered?.body).not.toContain(ticket.ticketCode);
    expect(delivered?.body).not.toContain(result.attendee.ticketCode);
  });

  it('answers 409 ticket_checked_in for a ticket already checked in, and changes nothing', async () => {
    const { tenant, door, booking, ticket } = await setup();
    expect((await scan(tenant, door.token, ticket.ticketCode)).status).toBe(200);
    const response = await transfer(tenant, booking.id, ticket.id, booking.token, {
      name: 'Late Comer',
      email: unique('late'),
    });
    expect(response.status).toBe(409);
    const body = await problem(response);
    expect(body.code).toBe('ticket_checked_in');
    expect(body.detail).toContain('checked in');
    expect(typeof body.checkedInAt).toBe('string');
    await expectUntouched(tenant, ticket);
  });

  it('lets exactly one of a concurrent transfer and check-in of the same ticket win', async () => {
    const { tenant, door, booking } = await setup({ quantity: 6 });
    const outcomes: string[] = [];
    for (const target of booking.attendees) {
      const [moved, scanned] = await Promise.all([
        transfer(tenant, booking.id, target.id, booking.token, { name: 'Racer', email: unique('racer') }),
        scan(tenant, door.token, target.ticketCode),
      ]);
      const row = await ticketRow(target.id);
      if (moved.status === 200) {
        // The transfer won: the old code was gone before the scan could use it.
        expect(scanned.status).toBe(404);
        expect(row.checkedInAt).toBeNull();
        expect(row.ticketCode).not.toBe(target.ticketCode);
        outcomes.push('transfer');
      } else {
        expect(scanned.status).toBe(200);
        expect((await scanned.json<CheckInResultResponse>()).alreadyCheckedIn).toBe(false);
        expect(moved.status).toBe(409);
        expect((await problem(moved)).code).toBe('ticket_checked_in');
        expect(row.checkedInAt).not.toBeNull();
        expect(row.ticketCode).toBe(target.ticketCode);
        outcomes.push('check-in');
      }
    }
    expect(outcomes).toHaveLength(6);
    const transfers = outcomes.filter((outcome) => outcome === 'transfer').length;
    expect(await transferAudits(tenant)).toHaveLength(transfers);
    expect(await transferEvents(tenant)).toHaveLength(transfers);
    expect(await eventAudits(tenant, 'attendee.checked_in')).toHaveLength(6 - transfers);
  });

  it('transfers a ticket once under concurrent identical transfers; the others answer 409 same_holder', async () => {
    const { tenant, booking, ticket } = await setup();
    const newHolder = { name: 'Twin', email: unique('twin') };
    const responses = await Promise.all(
      [1, 2, 3].map(() => transfer(tenant, booking.id, ticket.id, booking.token, newHolder)),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([200, 409, 409]);
    for (const response of responses.filter((candidate) => candidate.status === 409)) {
      expect((await problem(response)).reason).toBe('same_holder');
    }
    expect((await ticketRow(ticket.id)).transferCount).toBe(1);
    expect(await transferAudits(tenant)).toHaveLength(1);
  });

  it('answers 409 transfers_disabled when the organizer does not allow transfers', async () => {
    const { tenant, booking, ticket } = await setup({ event: { transfersAllowed: false } });
    const response = await transfer(tenant, booking.id, ticket.id, booking.token, {
      name: 'Nope',
      email: unique('nope'),
    });
    expect(response.status).toBe(409);
    expect((await problem(response)).code).toBe('transfers_disabled');
    await expectUntouched(tenant, ticket);
    const view = await request(tenant.url(`/api/v1/public/bookings/${booking.id}`), {
      headers: { 'booking-token': booking.token, 'cf-connecting-ip': randomIp() },
    });
    expect((await view.json<{ event: { transfersCloseAt: string | null } }>()).event.transfersCloseAt).toBeNull();
  });

  it('answers 409 transfer_closed within the cutoff before the start, and once the event started', async () => {
    const soon = new Date(Date.now() + 30 * MINUTE);
    const cutoff = await setup({ event: { startsAt: soon, transferCutoffMinutes: 60 } });
    const closed = await transfer(cutoff.tenant, cutoff.booking.id, cutoff.ticket.id, cutoff.booking.token, {
      name: 'Too Late',
      email: unique('late'),
    });
    expect(closed.status).toBe(409);
    const body = await problem(closed);
    expect(body.code).toBe('transfer_closed');
    expect(body.closedAt).toBe(new Date(soon.getTime() - 60 * MINUTE).toISOString());
    await expectUntouched(cutoff.tenant, cutoff.ticket);

    // Started an hour ago, still running (and still on sale): no cutoff set, transfers closed at the start.
    const started = await setup({
      event: { startsAt: new Date(Date.now() - 60 * MINUTE), endsAt: new Date(Date.now() + 60 * MINUTE) },
    });
    const running = await transfer(started.tenant, started.booking.id, started.ticket.id, started.booking.token, {
      name: 'Too Late',
      email: unique('late'),
    });
    expect(running.status).toBe(409);
    expect((await problem(running)).code).toBe('transfer_closed');
    await expectUntouched(started.tenant, started.ticket);
  });

  it('answers 409 for a booking that is not paid or was cancelled, and for a cancelled ticket', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const { token: organizer } = await memberWithToken(tenant, 'organizer');
    const event = await createEvent(tenant);
    const paid = await createTicketType(event, { price: 2500 });
    const free = await createTicketType(event, { price: 0 });
    const pending = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    const cancelled = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    expect((await call(tenant, 'POST', `/api/v1/bookings/${cancelled.id}/cancel`, { token: organizer })).status).toBe(
      200,
    );

    for (const [booking, reason] of [
      [pending, 'booking_pending'],
      [cancelled, 'booking_cancelled'],
    ] as const) {
      const attendee = booking.attendees[0];
      if (!attendee) throw new Error('a ticket expected');
      const response = await transfer(tenant, booking.id, attendee.id, booking.token, {
        name: 'Someone',
        email: unique('someone'),
      });
      expect(response.status).toBe(409);
      const body = await problem(response);
      expect(body.code).toBe('conflict');
      expect(body.reason).toBe(reason);
    }

    // A ticket a partial refund cancelled (its booking stays confirmed), as the refund leaves it.
    const refunded = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 2 }] });
    const [gone] = refunded.attendees;
    if (!gone) throw new Error('a ticket expected');
    await database()
      .update(attendees)
      .set({ status: 'cancelled', cancelledAt: new Date() })
      .where(eq(attendees.id, gone.id));
    const response = await transfer(tenant, refunded.id, gone.id, refunded.token, {
      name: 'Someone',
      email: unique('someone'),
    });
    expect(response.status).toBe(409);
    expect((await problem(response)).reason).toBe('ticket_cancelled');
    expect(await transferAudits(tenant)).toEqual([]);
  });

  it('answers 409 same_holder for the current holder’s address, in any case, and changes nothing', async () => {
    const { tenant, booking, ticket } = await setup();
    const response = await transfer(tenant, booking.id, ticket.id, booking.token, {
      name: 'Another Name',
      email: ` ${ticket.email.toUpperCase()} `,
    });
    expect(response.status).toBe(409);
    expect((await problem(response)).reason).toBe('same_holder');
    await expectUntouched(tenant, ticket);
  });

  it(`allows ${MAX_TRANSFERS_PER_TICKET} transfers of one ticket, then answers 409 transfer_limit`, async () => {
    const { tenant, booking, ticket } = await setup();
    for (let round = 0; round < MAX_TRANSFERS_PER_TICKET; round += 1) {
      const response = await transfer(tenant, booking.id, ticket.id, booking.token, {
        name: `Holder ${round}`,
        email: unique(`holder${round}`),
      });
      expect(response.status).toBe(200);
    }
    const refused = await transfer(tenant, booking.id, ticket.id, booking.token, {
      name: 'One Too Many',
      email: unique('many'),
    });
    expect(refused.status).toBe(409);
    expect((await problem(refused)).reason).toBe('transfer_limit');
    expect(await transferAudits(tenant)).toHaveLength(MAX_TRANSFERS_PER_TICKET);
  });

  it('answers 404 for a wrong token, an unknown ticket, another booking’s ticket and another tenant, alike', async () => {
    const { tenant, booking, ticket } = await setup();
    const second = await setup();
    const body = { name: 'Mallory', email: unique('mallory') };
    const wrongToken = `bk_${'A'.repeat(43)}`;
    const cases = [
      transfer(tenant, booking.id, ticket.id, wrongToken, body),
      transfer(tenant, booking.id, crypto.randomUUID(), booking.token, body),
      transfer(tenant, crypto.randomUUID(), ticket.id, booking.token, body),
      // A ticket of another booking of the same organization, with this booking's token (and the reverse path).
      transfer(second.tenant, second.booking.id, second.ticket.id, booking.token, body),
      transfer(tenant, booking.id, second.ticket.id, booking.token, body),
      // The other tenant's own booking and token, asked on this tenant's host.
      transfer(tenant, second.booking.id, second.ticket.id, second.booking.token, body),
    ];
    const details = new Set<string>();
    for (const response of await Promise.all(cases)) {
      expect(response.status).toBe(404);
      const answer = await problem(response);
      expect(answer.code).toBe('not_found');
      details.add(answer.detail ?? '');
    }
    expect(details.size).toBe(1);
    await expectUntouched(tenant, ticket);
    await expectUntouched(second.tenant, second.ticket);
  });

  it('answers 400 with a pointer for a missing token and for invalid input', async () => {
    const { tenant, booking, ticket } = await setup();
    const valid = { name: 'Grace Hopper', email: unique('grace') };
    const cases: [Promise<Response>, string][] = [
      [transfer(tenant, booking.id, ticket.id, null, valid), '/header/booking-token'],
      [transfer(tenant, booking.id, ticket.id, 'bk_short', valid), '/header/booking-token'],
      [transfer(tenant, booking.id, ticket.id, booking.token, { ...valid, email: 'not-an-email' }), '/body/email'],
      [transfer(tenant, booking.id, ticket.id, booking.token, { ...valid, name: '   ' }), '/body/name'],
      [transfer(tenant, booking.id, ticket.id, booking.token, { ...valid, name: 'x'.repeat(201) }), '/body/name'],
      [transfer(tenant, booking.id, ticket.id, booking.token, { ...valid, name: 'Ada\u0000' }), '/body/name'],
      [transfer(tenant, booking.id, ticket.id, booking.token, { email: valid.email }), '/body/name'],
      [transfer(tenant, booking.id, ticket.id, booking.token, { ...valid, ticketCode: 'AAAAAAAAAAAA' }), '/body'],
      [transfer(tenant, booking.id, 'not-a-uuid', booking.token, valid), '/param/attendeeId'],
    ];
    for (const [pending, pointer] of cases) {
      const response = await pending;
      expect(response.status).toBe(400);
      const body = await problem(response);
      expect(body.errors?.map((error) => error.pointer)).toContain(pointer);
    }
    const malformed = await transfer(tenant, booking.id, ticket.id, booking.token, '{"name":');
    expect(malformed.status).toBe(400);
    await expectUntouched(tenant, ticket);
  });
});

describe('POST /api/v1/bookings/{id}/attendees/{attendeeId}/transfer (staff)', () => {
  function staffTransfer(
    tenant: TestTenant,
    token: string | undefined,
    bookingId: string,
    attendeeId: string,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    return call(tenant, 'POST', `/api/v1/bookings/${bookingId}/attendees/${attendeeId}/transfer`, {
      ...(token === undefined ? {} : { token }),
      body,
      headers,
    });
  }

  it("transfers outside the buyer's rules, audited as the member, in one round trip", async () => {
    // Transfers off for buyers and the cutoff long passed: the organizer is not bound by their own rules.
    const { tenant, door, booking, ticket } = await setup({
      event: { transfersAllowed: false, transferCutoffMinutes: 43_200 },
    });
    const organizer = await memberWithToken(tenant, 'organizer');
    const requestId = newRequestId();
    const newHolder = { name: 'Dorothy Vaughan', email: unique('dorothy') };
    const response = await staffTransfer(tenant, organizer.token, booking.id, ticket.id, newHolder, {
      'x-request-id': requestId,
    });
    expect(response.status).toBe(200);
    const result: TicketTransferResponse = await response.json();
    expect(result.attendee).toMatchObject({ id: ticket.id, ...newHolder });
    expect(result.attendee.ticketCode).not.toBe(ticket.ticketCode);
    expect((await roundTrips(requestId)).database).toBe(1);
    expect((await scan(tenant, door.token, ticket.ticketCode)).status).toBe(404);

    const audits = await transferAudits(tenant);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorType: 'user', actorUserId: organizer.member.userId, targetId: ticket.id });
    expect(audits[0]?.metadata).toMatchObject({ by: 'staff', to: newHolder });
    const [event] = await transferEvents(tenant);
    expect(event?.payload.data).toMatchObject({ attendeeId: ticket.id, by: 'staff', holder: newHolder });
    const notice = await poll(
      async () => (await mailbox(ticket.email)).find((message) => message.subject.includes('was transferred')),
      'the previous holder notice',
      10_000,
    );
    expect(notice.text).toContain('transferred to another person by the organizer');
  });

  it('still refuses a checked-in ticket (409 ticket_checked_in) and the current holder (409 same_holder)', async () => {
    const { tenant, door, booking, ticket, other } = await setup();
    const organizer = await memberWithToken(tenant, 'organizer');
    expect((await scan(tenant, door.token, ticket.ticketCode)).status).toBe(200);
    const used = await staffTransfer(tenant, organizer.token, booking.id, ticket.id, {
      name: 'Nobody',
      email: unique('nobody'),
    });
    expect(used.status).toBe(409);
    expect((await problem(used)).code).toBe('ticket_checked_in');
    const same = await staffTransfer(tenant, organizer.token, booking.id, other.id, {
      name: 'Same',
      email: other.email,
    });
    expect(same.status).toBe(409);
    expect((await problem(same)).reason).toBe('same_holder');
    expect(await transferAudits(tenant)).toEqual([]);
  });

  it('answers 401 without a token, 403 without bookings:write, 404 for another organization', async () => {
    const { tenant, door, booking, ticket } = await setup();
    const second = await setup();
    const organizer = await memberWithToken(tenant, 'organizer');
    const body = { name: 'Mallory', email: unique('mallory') };
    expect((await staffTransfer(tenant, undefined, booking.id, ticket.id, body)).status).toBe(401);
    const forbidden = await staffTransfer(tenant, door.token, booking.id, ticket.id, body);
    expect(forbidden.status).toBe(403);
    const foreign = await staffTransfer(tenant, organizer.token, second.booking.id, second.ticket.id, body);
    expect(foreign.status).toBe(404);
    const mixed = await staffTransfer(tenant, organizer.token, booking.id, crypto.randomUUID(), body);
    expect(mixed.status).toBe(404);
    expect((await problem(mixed)).detail).toBe((await problem(foreign)).detail);
    await expectUntouched(tenant, ticket);
    await expectUntouched(second.tenant, second.ticket);
  });
});

describe('event transfer rules (staff)', () => {
  it('are allowed until the start by default, settable on create and update, and bounded', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const created = await call(tenant, 'POST', '/api/v1/events', { token, body: eventBody() });
    expect(created.status).toBe(201);
    const event: { id: string; transfersAllowed: boolean; transferCutoffMinutes: number } = await created.json();
    expect(event).toMatchObject({ transfersAllowed: true, transferCutoffMinutes: 0 });

    const strict = await call(tenant, 'POST', '/api/v1/events', {
      token,
      body: eventBody({ transfersAllowed: false, transferCutoffMinutes: 1440 }),
    });
    expect(strict.status).toBe(201);
    expect(await strict.json()).toMatchObject({ transfersAllowed: false, transferCutoffMinutes: 1440 });

    const updated = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, {
      token,
      body: { transfersAllowed: false, transferCutoffMinutes: 120 },
    });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ transfersAllowed: false, transferCutoffMinutes: 120 });
    const [row] = await database().select().from(events).where(eq(events.id, event.id));
    expect(row).toMatchObject({ transfersAllowed: false, transferCutoffMinutes: 120 });

    for (const bad of [-1, 43_201, 1.5, '60']) {
      const response = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, {
        token,
        body: { transferCutoffMinutes: bad },
      });
      expect(response.status).toBe(400);
      expect((await problem(response)).errors?.[0]?.pointer).toBe('/body/transferCutoffMinutes');
    }
    // GraphQL shows and sets the same fields (through the REST schema's rules).
    const graphql = graphqlClient(tenant, token);
    const changed = await graphql.rawRequest<{
      updateEvent: { transfersAllowed: boolean; transferCutoffMinutes: number };
    }>(
      'mutation($id: ID!) { updateEvent(id: $id, input: { transfersAllowed: true, transferCutoffMinutes: 30 }) ' +
        '{ transfersAllowed transferCutoffMinutes } }',
      { id: event.id },
    );
    expect(changed.errors).toBeUndefined();
    expect(changed.data.updateEvent).toEqual({ transfersAllowed: true, transferCutoffMinutes: 30 });
    const tooLong = await postGraphql(tenant, token, {
      query: 'mutation($id: ID!) { updateEvent(id: $id, input: { transferCutoffMinutes: 50000 }) { id } }',
      variables: { id: event.id },
    });
    expect(tooLong.status).toBe(400);
    expect((await problem(tooLong)).errors?.[0]?.pointer).toBe('/args/transferCutoffMinutes');

    const notBoolean = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, {
      token,
      body: { transfersAllowed: 'yes' },
    });
    expect(notBoolean.status).toBe(400);
    expect((await problem(notBoolean)).errors?.[0]?.pointer).toBe('/body/transfersAllowed');
  });
});

/** Runs the Worker's queue handler on one batch of the local email queue, as the runtime would deliver it. */
async function deliverEmail(bodies: QueueMessage[]) {
  const batch = createMessageBatch(
    'eventra-email-local',
    bodies.map((body, index) => ({
      id: `msg-${index}-${crypto.randomUUID()}`,
      timestamp: new Date(),
      attempts: 1,
      body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env as unknown as Record<string, unknown>, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ids: batch.messages.map((message) => message.id), result };
}

describe('transfer emails (email.event of ticket.transferred)', () => {
  it('sends each holder one email however often the event is delivered, and no stale ticket', async () => {
    const { tenant, booking, ticket } = await setup();
    const first = { name: 'First Taker', email: unique('first') };
    expect((await transfer(tenant, booking.id, ticket.id, booking.token, first)).status).toBe(200);
    const [row] = await transferEvents(tenant);
    if (!row) throw new Error('no ticket.transferred event');
    const envelope = (id: string): QueueMessage => ({
      id,
      type: 'email.event',
      organizationId: tenant.organization.id,
      payload: row.payload,
      createdAt: new Date().toISOString(),
    });
    const id = `email:${crypto.randomUUID()}`;
    const delivered = await deliverEmail([envelope(id), envelope(id)]);
    expect(delivered.result.explicitAcks.sort()).toEqual([...delivered.ids].sort());
    expect((await mailbox(first.email)).filter((message) => message.id === `${id}:holder`)).toHaveLength(1);
    expect((await mailbox(ticket.email)).filter((message) => message.id === `${id}:previous`)).toHaveLength(1);

    // The ticket moves on: the first transfer's event no longer mails a ticket to its holder (the code changed).
    const second = { name: 'Second Taker', email: unique('second') };
    expect((await transfer(tenant, booking.id, ticket.id, booking.token, second)).status).toBe(200);
    const later = `email:${crypto.randomUUID()}`;
    const again = await deliverEmail([envelope(later)]);
    expect(again.result.explicitAcks).toEqual(again.ids);
    expect((await mailbox(first.email)).filter((message) => message.id === `${later}:holder`)).toEqual([]);
  });

  it('retries (never sends) an event whose payload does not match its schema', async () => {
    const { tenant } = await setup();
    const { ids, result } = await deliverEmail([
      {
        id: `email:${crypto.randomUUID()}`,
        type: 'email.event',
        organizationId: tenant.organization.id,
        payload: { type: 'ticket.transferred', timestamp: new Date().toISOString(), data: { attendeeId: 'x' } },
        createdAt: new Date().toISOString(),
      },
    ]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((message) => message.msgId)).toEqual(ids);
  });
});
