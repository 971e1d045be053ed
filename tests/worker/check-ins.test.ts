import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { attendees } from '../../src/db/schema/index.ts';
import type { CheckInResultResponse } from '../../src/routes/check-ins/schema.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { eventAudits } from '../support/events.ts';
import { createTenant, database, newRequestId, problem, roundTrips, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

/** A tenant with an event (paid and free ticket types), door staff and an organizer. */
async function setup() {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const staff = await memberWithToken(tenant, 'staff');
  const { token: organizerToken } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const paid = await createTicketType(event, { price: 1500 });
  const free = await createTicketType(event, { name: 'Free entry', price: 0 });
  return { tenant, staff, token: staff.token, organizerToken, event, paid, free };
}

function scan(tenant: TestTenant, token: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  return call(tenant, 'POST', '/api/v1/check-ins', { ...(token === undefined ? {} : { token }), body, headers });
}

async function ticketRow(id: string) {
  const [row] = await database().select().from(attendees).where(eq(attendees.id, id));
  return row;
}

describe('POST /api/v1/check-ins', () => {
  it('checks a ticket in once: the first scan sets the time, later scans report the first time', async () => {
    const { tenant, staff, token, event, free } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 2 }] });
    const [ticket, other] = booking.attendees;
    if (!ticket || !other) throw new Error('two tickets expected');

    const requestId = newRequestId();
    const first = await scan(tenant, token, { ticketCode: ticket.ticketCode }, { 'x-request-id': requestId });
    expect(first.status).toBe(200);
    const result: CheckInResultResponse = await first.json();
    expect(result).toMatchObject({
      alreadyCheckedIn: false,
      attendee: {
        id: ticket.id,
        bookingId: booking.id,
        eventId: event.id,
        ticketTypeId: free.id,
        ticketTypeName: 'Free entry',
        ticketCode: ticket.ticketCode,
        status: 'valid',
      },
    });
    expect(result.attendee.checkedInAt).toBe(result.checkedInAt);
    expect((await roundTrips(requestId)).database).toBe(1);
    const row = await ticketRow(ticket.id);
    expect(row?.checkedInAt?.toISOString()).toBe(result.checkedInAt);
    expect(row?.checkedInBy).toBe(staff.member.userId);
    expect((await ticketRow(other.id))?.checkedInAt).toBeNull();

    // Typed by hand: lower case, dashes and spaces.
    const typed = `${ticket.ticketCode.slice(0, 4).toLowerCase()}-${ticket.ticketCode.slice(4, 8)} ${ticket.ticketCode.slice(8)}`;
    const second = await scan(tenant, token, { ticketCode: typed });
    expect(second.status).toBe(200);
    const repeat: CheckInResultResponse = await second.json();
    expect(repeat).toMatchObject({ alreadyCheckedIn: true, checkedInAt: result.checkedInAt });
    expect((await ticketRow(ticket.id))?.checkedInAt?.toISOString()).toBe(result.checkedInAt);

    const audits = await eventAudits(tenant, 'attendee.checked_in');
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorUserId: staff.member.userId, targetType: 'attendee', targetId: ticket.id });
    expect(audits[0]?.metadata).toMatchObject({ bookingId: booking.id, eventId: event.id });
  });

  it('checks a ticket in exactly once under concurrent scans', async () => {
    const { tenant, token, event, free } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const code = booking.attendees[0]?.ticketCode ?? '';
    const responses = await Promise.all([1, 2, 3].map(() => scan(tenant, token, { ticketCode: code })));
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200]);
    const results: CheckInResultResponse[] = await Promise.all(
      responses.map((response) => response.json<CheckInResultResponse>()),
    );
    expect(results.map((result) => result.alreadyCheckedIn).sort()).toEqual([false, true, true]);
    expect(new Set(results.map((result) => result.checkedInAt)).size).toBe(1);
    expect(await eventAudits(tenant, 'attendee.checked_in')).toHaveLength(1);
  });

  it('answers 409 for a cancelled ticket and for a booking that is not confirmed', async () => {
    const { tenant, token, organizerToken, event, paid, free } = await setup();
    const pending = await book(tenant, event.slug, { items: [{ ticketTypeId: paid.id, quantity: 1 }] });
    const pendingCode = pending.attendees[0]?.ticketCode ?? '';
    const unpaid = await scan(tenant, token, { ticketCode: pendingCode });
    expect(unpaid.status).toBe(409);
    const unpaidProblem = await problem(unpaid);
    expect(unpaidProblem.detail).toContain('pending');
    expect(unpaidProblem.reason).toBe('booking_pending');

    const cancelled = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const cancelledCode = cancelled.attendees[0]?.ticketCode ?? '';
    const cancel = await call(tenant, 'POST', `/api/v1/bookings/${cancelled.id}/cancel`, { token: organizerToken });
    expect(cancel.status).toBe(200);
    const refused = await scan(tenant, token, { ticketCode: cancelledCode });
    expect(refused.status).toBe(409);
    const refusedProblem = await problem(refused);
    expect(refusedProblem.detail).toContain('cancelled');
    expect(refusedProblem.reason).toBe('ticket_cancelled');

    // Once the manual payment is confirmed, the pending ticket gets in.
    expect(
      (await call(tenant, 'POST', `/api/v1/bookings/${pending.id}/confirm`, { token: organizerToken })).status,
    ).toBe(200);
    const admitted = await scan(tenant, token, { ticketCode: pendingCode });
    expect(admitted.status).toBe(200);
    expect((await admitted.json<CheckInResultResponse>()).alreadyCheckedIn).toBe(false);

    expect((await ticketRow(cancelled.attendees[0]?.id ?? ''))?.checkedInAt).toBeNull();
    expect(await eventAudits(tenant, 'attendee.checked_in')).toHaveLength(1);
  });

  it('refuses a ticket of another event when the door names its event', async () => {
    const { tenant, token, event, free } = await setup();
    const otherEvent = await createEvent(tenant);
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const code = booking.attendees[0]?.ticketCode ?? '';
    const wrongDoor = await scan(tenant, token, { ticketCode: code, eventId: otherEvent.id });
    expect(wrongDoor.status).toBe(409);
    expect((await problem(wrongDoor)).detail).toContain('another event');
    expect((await ticketRow(booking.attendees[0]?.id ?? ''))?.checkedInAt).toBeNull();
    const rightDoor = await scan(tenant, token, { ticketCode: code, eventId: event.id });
    expect(rightDoor.status).toBe(200);
  });

  it("answers 404 for an unknown code and another organization's ticket", async () => {
    const { tenant, token } = await setup();
    const other = await setup();
    const foreign = await book(other.tenant, other.event.slug, {
      items: [{ ticketTypeId: other.free.id, quantity: 1 }],
    });
    const foreignTicket = foreign.attendees[0];
    if (!foreignTicket) throw new Error('ticket expected');
    const cross = await scan(tenant, token, { ticketCode: foreignTicket.ticketCode });
    expect(cross.status).toBe(404);
    expect((await problem(cross)).detail).toBe('No ticket with this code.');
    expect((await ticketRow(foreignTicket.id))?.checkedInAt).toBeNull();
    expect((await scan(tenant, token, { ticketCode: 'ZZZZ-ZZZZ-ZZZZ' })).status).toBe(404);
    expect(await eventAudits(tenant, 'attendee.checked_in')).toEqual([]);
  });

  it.each([
    ['no code', {}],
    ['a short code', { ticketCode: 'ab-c' }],
    ['a code with symbols', { ticketCode: 'ABCD!EFG' }],
    ['a long code', { ticketCode: 'A'.repeat(65) }],
    ['an unknown field', { ticketCode: 'ABCD-EFGH-JKMN', force: true }],
    ['a malformed eventId', { ticketCode: 'ABCD-EFGH-JKMN', eventId: 'main-hall' }],
  ])('answers 400 for %s', async (_name, body) => {
    const { tenant, token } = await setup();
    const response = await scan(tenant, token, body);
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
  });

  it.each([
    ['8 characters', 'ABCD-EFGH'],
    ['13 characters', 'ABCD-EFGH-JKMN-P'],
    ['an O, which no code contains', 'K7Q2-M9XP-4HJO'],
    ['a non-ASCII letter that upper-cases to ASCII', 'ßßßß-ßßßß-ßßßß'],
    ['more than 100 characters', `${' '.repeat(90)}K7Q2M9XP4HJD`],
  ])('answers 400 at /body/ticketCode, not 404, for a code that no ticket can have: %s', async (_name, ticketCode) => {
    const { tenant, token } = await setup();
    const response = await scan(tenant, token, { ticketCode });
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.code).toBe('validation_failed');
    expect([...new Set(body.errors?.map((error) => error.pointer))]).toEqual(['/body/ticketCode']);
  });

  it('needs checkins:write: 401 without a token, 403 for a member', async () => {
    const { tenant, event, free } = await setup();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const ticket = booking.attendees[0];
    if (!ticket) throw new Error('ticket expected');
    expect((await scan(tenant, undefined, { ticketCode: ticket.ticketCode })).status).toBe(401);
    const { token: memberToken } = await memberWithToken(tenant, 'member');
    expect((await scan(tenant, memberToken, { ticketCode: ticket.ticketCode })).status).toBe(403);
    expect((await ticketRow(ticket.id))?.checkedInAt).toBeNull();
  });
});
