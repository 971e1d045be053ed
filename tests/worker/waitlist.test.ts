import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, bookings, outbox, ticketTypes, waitlistEntries } from '../../src/db/schema/index.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { offerWaitlistSeats } from '../../src/services/waitlist/offer.ts';
import { bindings, poll, randomIp, waitForMail } from '../support/auth.ts';
import { book, bookingRow, checkout, counters, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { runCron } from '../support/cron.ts';
import {
  appDatabase,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

function join(tenant: TestTenant, slug: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return request(tenant.url(`/api/v1/public/events/${slug}/waitlist`), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp(), ...headers },
    body: JSON.stringify(body),
  });
}

function claim(tenant: TestTenant, bookingId: string, token: string, headers: Record<string, string> = {}) {
  return request(tenant.url(`/api/v1/public/bookings/${bookingId}/claim`), {
    method: 'POST',
    headers: { 'booking-token': token, 'cf-connecting-ip': randomIp(), ...headers },
  });
}

function decline(tenant: TestTenant, bookingId: string, token: string, headers: Record<string, string> = {}) {
  return request(tenant.url(`/api/v1/public/bookings/${bookingId}/decline`), {
    method: 'POST',
    headers: { 'booking-token': token, 'cf-connecting-ip': randomIp(), ...headers },
  });
}

function person(tag: string) {
  return { name: `Waiter ${tag}`, email: `w-${tag}-${crypto.randomUUID().slice(0, 8)}@example.com` };
}

async function entriesOf(ticketTypeId: string) {
  return database()
    .select()
    .from(waitlistEntries)
    .where(eq(waitlistEntries.ticketTypeId, ticketTypeId))
    .orderBy(waitlistEntries.createdAt, waitlistEntries.id);
}

async function entryOf(email: string) {
  const [row] = await database().select().from(waitlistEntries).where(eq(waitlistEntries.email, email));
  return row;
}

/** Waits until the entry of `email` has `status`. */
function entryStatus(email: string, status: string) {
  return poll(async () => {
    const row = await entryOf(email);
    return row?.status === status ? row : undefined;
  }, `waitlist entry ${email} ${status}`);
}

/** The booking id and token of the claim link in the offer email. */
async function offerLink(email: string) {
  const mail = await waitForMail(email);
  const url = new URL(mail.links[0] ?? '');
  expect(url.pathname).toBe('/waitlist/claim');
  return { bookingId: url.searchParams.get('booking') ?? '', token: url.searchParams.get('token') ?? '' };
}

/** A tenant with a published event and a sold-out free ticket type of `quantity` seats (one booking per `split`). */
async function soldOut(split: number[]) {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const { token } = await memberWithToken(tenant, 'organizer');
  const event = await createEvent(tenant);
  const quantity = split.reduce((sum, n) => sum + n, 0);
  const seats = await createTicketType(event, { price: 0, quantity, maxPerOrder: 10 });
  const booked = [];
  for (const n of split)
    booked.push(await book(tenant, event.slug, { items: [{ ticketTypeId: seats.id, quantity: n }] }));
  return { tenant, token, event, seats, booked };
}

/** The id of a row that must exist. */
function idOf(row: { id: string | null } | undefined): string {
  if (row?.id == null) throw new Error('missing row');
  return row.id;
}

function cancel(tenant: TestTenant, token: string, bookingId: string) {
  return call(tenant, 'POST', `/api/v1/bookings/${bookingId}/cancel`, { token });
}

describe('POST /api/v1/public/events/{slug}/waitlist', () => {
  it('joins a sold-out ticket type in 1 database + 1 Redis round trip, once per email, answering alike', async () => {
    const { tenant, event, seats } = await soldOut([2]);
    const ada = person('ada');
    const requestId = newRequestId();
    const first = await join(
      tenant,
      event.slug,
      { ticketTypeId: seats.id, ...ada, groupSize: 2 },
      { 'x-request-id': requestId },
    );
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ status: 'waiting' });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });

    const again = await join(tenant, event.slug, { ticketTypeId: seats.id, ...ada, email: ada.email.toUpperCase() });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ status: 'waiting' });
    const rows = await entriesOf(seats.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'waiting', groupSize: 2, email: ada.email, bookingId: null });
    const audits = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'waitlist.joined')));
    expect(audits).toHaveLength(1);
    expect(audits[0]?.targetId).toBe(rows[0]?.id);
  });

  it('refuses bad input, free seats, unknown events and ticket types of other events', async () => {
    const { tenant, event, seats } = await soldOut([1]);
    const other = await createEvent(tenant);
    const otherType = await createTicketType(other, { price: 0, quantity: 5 });
    const p = person('bad');

    const zero = await join(tenant, event.slug, { ticketTypeId: seats.id, ...p, groupSize: 0 });
    expect(zero.status).toBe(400);
    expect((await problem(zero)).errors?.map((e) => e.pointer)).toContain('/body/groupSize');
    const noEmail = await join(tenant, event.slug, { ticketTypeId: seats.id, name: 'X' });
    expect(noEmail.status).toBe(400);
    expect((await problem(noEmail)).errors?.map((e) => e.pointer)).toContain('/body/email');
    const extra = await join(tenant, event.slug, { ticketTypeId: seats.id, ...p, admin: true });
    expect(extra.status).toBe(400);

    const tooBig = await join(tenant, event.slug, { ticketTypeId: seats.id, ...p, groupSize: 11 });
    expect(tooBig.status).toBe(400);
    expect((await problem(tooBig)).errors?.[0]?.pointer).toBe('/body/groupSize');
    const wrongEvent = await join(tenant, event.slug, { ticketTypeId: otherType.id, ...p });
    expect(wrongEvent.status).toBe(400);
    expect((await problem(wrongEvent)).errors?.[0]?.pointer).toBe('/body/ticketTypeId');
    // Seats are free for the other event's ticket type: book them instead.
    const available = await join(tenant, other.slug, { ticketTypeId: otherType.id, ...p });
    expect(available.status).toBe(409);
    const unknown = await join(tenant, 'no-such-event', { ticketTypeId: seats.id, ...p });
    expect(unknown.status).toBe(404);

    // Another tenant's event is not found on this host.
    const stranger = await createTenant();
    const crossTenant = await join(stranger, event.slug, { ticketTypeId: seats.id, ...p });
    expect(crossTenant.status).toBe(404);
    expect(await entriesOf(seats.id)).toHaveLength(0);
  });
});

describe('waitlist offers', () => {
  it('offers released seats first come first served, emails the claim link, and a claim works once', async () => {
    const { tenant, token, event, seats, booked } = await soldOut([1, 1]);
    const first = person('first');
    const second = person('second');
    const third = person('third');
    for (const p of [first, second, third]) {
      expect((await join(tenant, event.slug, { ticketTypeId: seats.id, ...p })).status).toBe(202);
    }

    expect((await cancel(tenant, token, idOf(booked[0]))).status).toBe(200);
    const offered = await entryStatus(first.email, 'offered');
    expect((await entryOf(second.email))?.status).toBe('waiting');
    const link = await offerLink(first.email);
    expect(link.bookingId).toBe(offered.bookingId);
    const offer = await bookingRow(tenant, link.bookingId);
    expect(offer).toMatchObject({ status: 'pending', buyerEmail: first.email, total: 0 });
    expect(offer?.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 60 * 60 * 1000);
    // The offer's seats are held: a normal buyer finds the ticket type sold out.
    expect(await counters(event.id)).toMatchObject({ ticketTypes: { [seats.id]: { sold: 1, held: 1 } } });
    const refused = await checkout(tenant, event.slug, { items: [{ ticketTypeId: seats.id, quantity: 1 }] });
    expect((await problem(refused)).code).toBe('sold_out');
    const [event_] = await database()
      .select()
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'waitlist.offered')));
    expect(event_?.payload.data['id']).toBe(offered.id);
    expect(JSON.stringify(event_?.payload)).not.toContain(link.token);

    // Only the token claims it.
    const wrong = await claim(tenant, link.bookingId, `bk_${'A'.repeat(43)}`);
    expect(wrong.status).toBe(404);
    const stranger = await createTenant();
    expect((await claim(stranger, link.bookingId, link.token)).status).toBe(404);
    const requestId = newRequestId();
    const claimed = await claim(tenant, link.bookingId, link.token, { 'x-request-id': requestId });
    expect(claimed.status).toBe(200);
    expect(await claimed.json()).toEqual({ id: link.bookingId, status: 'confirmed' });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect((await claim(tenant, link.bookingId, link.token)).status).toBe(409);
    expect((await entryOf(first.email))?.status).toBe('claimed');
    expect(await counters(event.id)).toMatchObject({ ticketTypes: { [seats.id]: { sold: 2, held: 0 } } });
    // The claim publishes waitlist.claimed with the entry as it is now (no token), in the claim's batch.
    const claimedEvents = await database()
      .select()
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'waitlist.claimed')));
    expect(claimedEvents.map((row) => row.payload.data)).toEqual([
      expect.objectContaining({ id: offered.id, status: 'claimed', bookingId: link.bookingId }),
    ]);
    expect(JSON.stringify(claimedEvents[0]?.payload)).not.toContain(link.token);

    // The next release goes to the second in line.
    expect((await cancel(tenant, token, idOf(booked[1]))).status).toBe(200);
    await entryStatus(second.email, 'offered');
    expect((await entryOf(third.email))?.status).toBe('waiting');
  });

  it('offers a group exactly its size and does not let smaller groups overtake it', async () => {
    const { tenant, token, event, seats, booked } = await soldOut([1, 2]);
    const group = person('group');
    const single = person('single');
    await join(tenant, event.slug, { ticketTypeId: seats.id, ...group, groupSize: 3 });
    await join(tenant, event.slug, { ticketTypeId: seats.id, ...single });

    expect((await cancel(tenant, token, idOf(booked[0]))).status).toBe(200);
    // One seat is free: the group of 3 at the head does not fit, and the single behind it waits too.
    await poll(async () => {
      const rows = await database()
        .select()
        .from(outbox)
        .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'booking.cancelled')));
      return rows.every((row) => row.dispatchedAt !== null) && rows.length === 1 ? rows : undefined;
    }, 'the cancellation dispatched');
    await offerWaitlistSeats(appDatabase(), bindings(), createLogger(), tenant.organization.id, event.id);
    expect((await entryOf(group.email))?.status).toBe('waiting');
    expect((await entryOf(single.email))?.status).toBe('waiting');

    expect((await cancel(tenant, token, idOf(booked[1]))).status).toBe(200);
    const offered = await entryStatus(group.email, 'offered');
    const [items] = await database()
      .execute(sql`select sum(quantity)::int as seats from booking_items where booking_id = ${offered.bookingId}`)
      .then((result) => (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { seats: number }[]);
    expect(items?.seats).toBe(3);
    expect((await entryOf(single.email))?.status).toBe('waiting');
    expect(await counters(event.id)).toMatchObject({ ticketTypes: { [seats.id]: { sold: 0, held: 3 } } });
  });

  it('passes an unclaimed offer on when it expires', async () => {
    const { tenant, token, event, seats, booked } = await soldOut([1]);
    const first = person('late');
    const second = person('next');
    await join(tenant, event.slug, { ticketTypeId: seats.id, ...first });
    await join(tenant, event.slug, { ticketTypeId: seats.id, ...second });
    expect((await cancel(tenant, token, idOf(booked[0]))).status).toBe(200);
    const offered = await entryStatus(first.email, 'offered');

    await database()
      .update(bookings)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(bookings.id, idOf({ id: offered.bookingId })));
    await runCron();
    expect((await bookingRow(tenant, idOf({ id: offered.bookingId })))?.status).toBe('expired');
    await entryStatus(first.email, 'expired');
    const next = await entryStatus(second.email, 'offered');
    expect(next.bookingId).not.toBe(offered.bookingId);
    // The lapsed offer published waitlist.expired (once), with the entry as settled.
    const expiredEvents = await database()
      .select()
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), eq(outbox.type, 'waitlist.expired')));
    expect(expiredEvents.map((row) => row.payload.data)).toEqual([
      expect.objectContaining({ id: offered.id, status: 'expired', bookingId: offered.bookingId }),
    ]);
    // The expired offer cannot be claimed.
    const link = await offerLink(first.email);
    expect((await claim(tenant, link.bookingId, link.token)).status).toBe(409);
    expect(await counters(event.id)).toMatchObject({ ticketTypes: { [seats.id]: { sold: 0, held: 1 } } });
  });

  it('passes a declined offer on at once; a declined offer cannot be claimed, nor a claimed one declined', async () => {
    const { tenant, token, event, seats, booked } = await soldOut([1, 1]);
    const first = person('decliner');
    const second = person('taker');
    await join(tenant, event.slug, { ticketTypeId: seats.id, ...first });
    await join(tenant, event.slug, { ticketTypeId: seats.id, ...second });
    expect((await cancel(tenant, token, idOf(booked[0]))).status).toBe(200);
    await entryStatus(first.email, 'offered');
    const link = await offerLink(first.email);

    expect((await decline(tenant, link.bookingId, `bk_${'A'.repeat(43)}`)).status).toBe(404);
    expect((await decline(await createTenant(), link.bookingId, link.token)).status).toBe(404);
    // A normal booking is not an offer: its own token cannot decline it.
    const normal = booked[1];
    if (normal === undefined) throw new Error('no second booking');
    expect((await decline(tenant, normal.id, normal.token)).status).toBe(404);
    const requestId = newRequestId();
    const declined = await decline(tenant, link.bookingId, link.token, { 'x-request-id': requestId });
    expect(declined.status).toBe(200);
    expect(await declined.json()).toEqual({ id: link.bookingId, status: 'cancelled' });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    expect(await bookingRow(tenant, link.bookingId)).toMatchObject({ status: 'cancelled' });
    expect((await decline(tenant, link.bookingId, link.token)).status).toBe(409);
    expect((await claim(tenant, link.bookingId, link.token)).status).toBe(409);
    // The next in line gets the seat without waiting for the offer to lapse; the first entry settles as expired.
    await entryStatus(first.email, 'expired');
    const next = await entryStatus(second.email, 'offered');
    const nextLink = await offerLink(second.email);
    expect(nextLink.bookingId).toBe(next.bookingId);
    expect(await counters(event.id)).toMatchObject({ ticketTypes: { [seats.id]: { sold: 1, held: 1 } } });
    const audits = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'waitlist.declined')));
    expect(audits).toMatchObject([{ actorType: 'anonymous', targetId: link.bookingId }]);
    // Claimed, it can no longer be declined.
    expect((await claim(tenant, nextLink.bookingId, nextLink.token)).status).toBe(200);
    expect((await decline(tenant, nextLink.bookingId, nextLink.token)).status).toBe(409);
  });

  it('a paid offer is not claimed by the claim route (409: pay it) but can be declined', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const { token } = await memberWithToken(tenant, 'organizer');
    const event = await createEvent(tenant);
    const seats = await createTicketType(event, { price: 1200, quantity: 1 });
    const held = await book(tenant, event.slug, { items: [{ ticketTypeId: seats.id, quantity: 1 }] });
    const waiter = person('payer');
    expect((await join(tenant, event.slug, { ticketTypeId: seats.id, ...waiter })).status).toBe(202);
    expect((await cancel(tenant, token, held.id)).status).toBe(200);
    await entryStatus(waiter.email, 'offered');
    const link = await offerLink(waiter.email);
    expect(await bookingRow(tenant, link.bookingId)).toMatchObject({ status: 'pending', total: 1200 });
    const paid = await claim(tenant, link.bookingId, link.token);
    expect(paid.status).toBe(409);
    expect((await problem(paid)).detail).toContain('paying the booking');
    expect((await decline(tenant, link.bookingId, link.token)).status).toBe(200);
    await entryStatus(waiter.email, 'expired');
    expect(await counters(event.id)).toMatchObject({ ticketTypes: { [seats.id]: { sold: 0, held: 0 } } });
  });

  it('races an offer against a normal buyer for the last seat: exactly one gets it', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { tenant, event, seats } = await soldOut([1]);
      const waiter = person(`race${round}`);
      await join(tenant, event.slug, { ticketTypeId: seats.id, ...waiter });
      // One more seat, without an outbox event: only the two racers below try to take it.
      await database()
        .update(ticketTypes)
        .set({ quantity: sql`${ticketTypes.quantity} + 1` })
        .where(eq(ticketTypes.id, seats.id));
      const [offers, buyer] = await Promise.all([
        offerWaitlistSeats(appDatabase(), bindings(), createLogger(), tenant.organization.id, event.id),
        checkout(tenant, event.slug, { items: [{ ticketTypeId: seats.id, quantity: 1 }] }),
      ]);
      const bought = buyer.status === 201 ? 1 : 0;
      if (bought === 0) expect((await problem(buyer)).code).toBe('sold_out');
      expect(offers + bought).toBe(1);
      expect((await entryOf(waiter.email))?.status).toBe(offers === 1 ? 'offered' : 'waiting');
      const seen = (await counters(event.id)).ticketTypes[seats.id] ?? { sold: -1, held: -1 };
      expect(seen.sold + seen.held).toBe(2);
    }
  });
});

describe('staff: GET /api/v1/events/{id}/waitlist and DELETE .../waitlist/{entryId}', () => {
  it('lists the queue in order with pagination, removes a waiting entry, and guards permissions and tenants', async () => {
    const { tenant, token, event, seats } = await soldOut([1]);
    const people = [person('s1'), person('s2'), person('s3')];
    for (const p of people) await join(tenant, event.slug, { ticketTypeId: seats.id, ...p });

    const path = `/api/v1/events/${event.id}/waitlist`;
    const first = await call(tenant, 'GET', `${path}?limit=2`, { token });
    expect(first.status).toBe(200);
    const page1 = await first.json<{ data: { email: string; status: string }[]; nextCursor: string | null }>();
    expect(page1.data.map((e) => e.email)).toEqual([people[0]?.email, people[1]?.email]);
    expect(page1.nextCursor).not.toBeNull();
    const second = await call(tenant, 'GET', `${path}?limit=2&cursor=${page1.nextCursor ?? ''}`, { token });
    const page2 = await second.json<{ data: { id: string; email: string }[]; nextCursor: string | null }>();
    expect(page2.data.map((e) => e.email)).toEqual([people[2]?.email]);
    expect(page2.nextCursor).toBeNull();
    expect((await call(tenant, 'GET', `${path}?limit=0`, { token })).status).toBe(400);
    expect((await call(tenant, 'GET', `${path}?status=nope`, { token })).status).toBe(400);

    const { token: memberToken } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'GET', path, { token: memberToken })).status).toBe(403);
    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    expect((await call(tenant, 'GET', path, { token: staffToken })).status).toBe(200);
    const entryId = page2.data[0]?.id ?? '';
    expect((await call(tenant, 'DELETE', `${path}/${entryId}`, { token: staffToken })).status).toBe(403);

    const stranger = await createTenant();
    const { token: strangerToken } = await memberWithToken(stranger, 'owner');
    expect((await call(stranger, 'GET', path, { token: strangerToken })).status).toBe(404);
    expect((await call(stranger, 'DELETE', `${path}/${entryId}`, { token: strangerToken })).status).toBe(404);

    expect((await call(tenant, 'DELETE', `${path}/${entryId}`, { token })).status).toBe(204);
    expect((await entryOf(people[2]?.email ?? ''))?.status).toBe('left');
    expect((await call(tenant, 'DELETE', `${path}/${entryId}`, { token })).status).toBe(409);
    const left = await call(tenant, 'GET', `${path}?status=left`, { token });
    expect((await left.json<{ data: unknown[] }>()).data).toHaveLength(1);
  });
});
