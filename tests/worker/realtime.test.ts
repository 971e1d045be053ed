import { afterAll, describe, expect, it } from 'vitest';
import type { AvailabilitySnapshot, CheckInSnapshot } from '../../src/services/realtime/snapshots.ts';
import type { BookingFeedItem } from '../../src/services/realtime/messages.ts';
import { MAX_STREAMS_PER_CLIENT } from '../../src/services/realtime/limits.ts';
import { randomEmail, randomIp } from '../support/auth.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType, getPublic } from '../support/catalogue.ts';
import {
  bearer,
  createTenant,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { dataOf, openStream, type LiveStream } from '../support/live.ts';
import { call, memberWithToken } from '../support/users.ts';

/**
 * How long one wait for a live message may take: the delivery time itself is asserted as a median (under a second,
 * the first test); a single message on a loaded 2-core machine running the whole suite may take longer.
 */
const LIVE_WAIT_MS = 3_000;

const open: LiveStream[] = [];

async function stream(url: string, headers: Record<string, string> = {}): Promise<LiveStream> {
  const live = await openStream(url, headers);
  open.push(live);
  return live;
}

afterAll(async () => {
  await Promise.all(open.map((live) => live.close()));
});

async function onSale() {
  const tenant = await createTenant();
  await enableManualPayment(tenant);
  const event = await createEvent(tenant);
  const general = await createTicketType(event, { name: 'General', price: 0, quantity: 100 });
  const hidden = await createTicketType(event, {
    name: 'Crew',
    price: 0,
    quantity: 5,
    hidden: true,
    accessCode: 'CREW',
  });
  return { tenant, event, general, hidden };
}

/** A checkout of free tickets by a buyer of their own (one address per buyer keeps the mail budget out of the way). */
function buy(tenant: TestTenant, slug: string, ticketTypeId: string, quantity: number) {
  return book(tenant, slug, {
    buyer: { name: 'Ada Lovelace', email: randomEmail(tenant) },
    items: [{ ticketTypeId, quantity }],
  });
}

function publicLive(tenant: TestTenant, slug: string, headers: Record<string, string> = {}) {
  return stream(tenant.url(`/api/v1/public/events/${slug}/live`), { 'cf-connecting-ip': randomIp(), ...headers });
}

function staffLive(tenant: TestTenant, eventId: string, kind: 'check-ins' | 'bookings', token?: string) {
  return stream(tenant.url(`/api/v1/events/${eventId}/live/${kind}`), token === undefined ? {} : bearer(token));
}

const availability = (message: { data: string }) => dataOf(message) as AvailabilitySnapshot;
const checkIns = (message: { data: string }) => dataOf(message) as CheckInSnapshot;
const feedItem = (message: { data: string }) => dataOf(message) as BookingFeedItem;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

describe('GET /api/v1/public/events/{slug}/live', () => {
  it('streams the seats left: a snapshot at once, then each checkout within a second of its commit', async () => {
    const { tenant, event, general } = await onSale();
    // A first request resolves the new host (a database round trip that later requests do not pay).
    expect((await getPublic(tenant, `/api/v1/public/events/${event.slug}`)).status).toBe(200);
    const requestId = newRequestId();
    const live = await publicLive(tenant, event.slug, { 'x-request-id': requestId });
    expect(live.response.status).toBe(200);
    expect(live.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(live.response.headers.get('cache-control')).toBe('no-store');
    expect(live.response.headers.get('ratelimit-policy')).not.toBeNull();
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });

    const first = await live.next((message) => message.event === 'availability');
    const snapshot = availability(first);
    expect(live.retry).toBe(3000);
    expect(first.id).toMatch(/^a[0-9a-f]{8}$/);
    // The hidden ticket type never shows.
    expect(Object.keys(snapshot)).toEqual(['eventId', 'at', 'ticketTypes']);
    expect(snapshot.eventId).toBe(event.id);
    expect(snapshot.ticketTypes).toEqual([{ id: general.id, remaining: 100, onSale: true }]);

    const latencies: number[] = [];
    let remaining = 100;
    for (let round = 0; round < 10; round += 1) {
      const since = live.messages.length;
      await buy(tenant, event.slug, general.id, 2);
      const committed = Date.now();
      remaining -= 2;
      const expected = remaining;
      const update = await live.next(
        (message) => message.event === 'availability' && availability(message).ticketTypes[0]?.remaining === expected,
        LIVE_WAIT_MS,
        since,
      );
      latencies.push(Date.now() - committed);
      expect(availability(update).at).toBeGreaterThan(snapshot.at);
    }
    console.info(
      `live availability: commit -> client event, median ${String(median(latencies))} ms of ${String(latencies.length)} (${latencies.join(', ')})`,
    );
    expect(median(latencies)).toBeLessThan(1_000);
    // Snapshots only move forward.
    const times = live.messages.map((message) => availability(message).at);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('sends heartbeats and does not resend the snapshot a reconnecting client already has', async () => {
    const { tenant, event } = await onSale();
    const live = await publicLive(tenant, event.slug);
    const first = await live.next((message) => message.event === 'availability');
    await expect.poll(() => live.comments.length, { timeout: 3_000 }).toBeGreaterThan(0);
    expect(live.comments[0]?.trim()).toBe('heartbeat');

    const again = await publicLive(tenant, event.slug, { 'last-event-id': first.id ?? '' });
    expect(again.response.status).toBe(200);
    await expect.poll(() => again.comments.length, { timeout: 3_000 }).toBeGreaterThan(0);
    expect(again.messages).toEqual([]);
  });

  it('answers 404 for an unknown slug, a draft, a private or a cancelled event, and 400 for a malformed slug', async () => {
    const { tenant } = await onSale();
    const draft = await createEvent(tenant, { status: 'draft' });
    const secret = await createEvent(tenant, { visibility: 'private' });
    const cancelled = await createEvent(tenant, { status: 'cancelled', cancelledAt: new Date() });
    for (const slug of ['no-such-event', draft.slug, secret.slug, cancelled.slug]) {
      const live = await publicLive(tenant, slug);
      expect(live.response.status).toBe(404);
      expect((await problem(live.response)).code).toBe('not_found');
    }
    const bad = await publicLive(tenant, 'Not A Slug!');
    expect(bad.response.status).toBe(400);
    expect((await problem(bad.response)).code).toBe('validation_failed');
  });

  it('ends when the event is cancelled, and the reconnect gets 404', async () => {
    const { tenant, event } = await onSale();
    const { token } = await memberWithToken(tenant, 'organizer');
    const live = await publicLive(tenant, event.slug);
    await live.next((message) => message.event === 'availability');
    expect((await call(tenant, 'POST', `/api/v1/events/${event.id}/cancel`, { token })).status).toBe(200);
    const end = await live.next((message) => message.event === 'end', LIVE_WAIT_MS);
    expect(dataOf(end)).toEqual({ reason: 'event_unavailable' });
    await live.ended;
    expect((await publicLive(tenant, event.slug)).response.status).toBe(404);
  });

  it("answers 404 for another organization's event on this host", async () => {
    const { event } = await onSale();
    const other = await createTenant();
    const live = await publicLive(other, event.slug);
    expect(live.response.status).toBe(404);
  });

  it(`refuses more than ${String(MAX_STREAMS_PER_CLIENT)} streams of one client on one event with 429`, async () => {
    const { tenant, event } = await onSale();
    const ip = randomIp();
    const streams = [];
    for (let index = 0; index < MAX_STREAMS_PER_CLIENT; index += 1) {
      const live = await publicLive(tenant, event.slug, { 'cf-connecting-ip': ip });
      expect(live.response.status).toBe(200);
      streams.push(live);
    }
    const refused = await publicLive(tenant, event.slug, { 'cf-connecting-ip': ip });
    expect(refused.response.status).toBe(429);
    expect(refused.response.headers.get('retry-after')).toBe('30');
    expect((await problem(refused.response)).code).toBe('too_many_streams');
    // Another client is not affected; a closed stream frees its place.
    expect((await publicLive(tenant, event.slug)).response.status).toBe(200);
    await streams[0]?.close();
    await expect
      .poll(
        async () => {
          const live = await publicLive(tenant, event.slug, { 'cf-connecting-ip': ip });
          await live.close();
          return live.response.status;
        },
        { timeout: 3_000 },
      )
      .toBe(200);
  });
});

describe('GET /api/v1/events/{id}/live/check-ins', () => {
  it('streams the check-in counts: after a booking the total, after a check-in the checked-in count', async () => {
    const { tenant, event, general } = await onSale();
    const { token } = await memberWithToken(tenant, 'staff');
    expect((await getPublic(tenant, `/api/v1/public/events/${event.slug}`)).status).toBe(200);
    const requestId = newRequestId();
    const live = await stream(
      tenant.url(`/api/v1/events/${event.id}/live/check-ins`),
      bearer(token, { 'x-request-id': requestId }),
    );
    expect(live.response.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const first = await live.next((message) => message.event === 'check-ins');
    expect(checkIns(first)).toMatchObject({ eventId: event.id, checkedIn: 0, total: 0 });

    const booking = await buy(tenant, event.slug, general.id, 2);
    await live.next((message) => checkIns(message).total === 2, LIVE_WAIT_MS);
    const scan = await call(tenant, 'POST', '/api/v1/check-ins', {
      token,
      body: { ticketCode: booking.attendees[0]?.ticketCode },
    });
    expect(scan.status).toBe(200);
    const counted = await live.next((message) => checkIns(message).checkedIn === 1, LIVE_WAIT_MS);
    expect(checkIns(counted)).toMatchObject({ checkedIn: 1, total: 2 });
  });

  it('moves the seats and the counts of one event when both are watched', async () => {
    const { tenant, event, general } = await onSale();
    const { token } = await memberWithToken(tenant, 'staff');
    const door = await staffLive(tenant, event.id, 'check-ins', token);
    const page = await publicLive(tenant, event.slug);
    await door.next((message) => message.event === 'check-ins');
    await page.next((message) => message.event === 'availability');

    await buy(tenant, event.slug, general.id, 3);
    const counted = await door.next((message) => checkIns(message).total === 3, LIVE_WAIT_MS);
    const seats = await page.next((message) => availability(message).ticketTypes[0]?.remaining === 97, LIVE_WAIT_MS);
    expect(checkIns(counted)).toMatchObject({ eventId: event.id, checkedIn: 0 });
    expect(availability(seats).ticketTypes).toEqual([{ id: general.id, remaining: 97, onSale: true }]);
  });

  it('ends the stream once the session is revoked (logout)', async () => {
    const { tenant, event } = await onSale();
    const { token } = await memberWithToken(tenant, 'staff');
    const live = await staffLive(tenant, event.id, 'check-ins', token);
    expect(live.response.status).toBe(200);
    await live.next((message) => message.event === 'check-ins');
    const logout = await request(tenant.url('/api/v1/auth/logout'), { method: 'POST', headers: bearer(token) });
    expect(logout.status).toBe(204);
    const end = await live.next((message) => message.event === 'end', 3_000);
    expect(dataOf(end)).toEqual({ reason: 'session_ended' });
    await live.ended;
    // And the revoked token cannot open a new one.
    const again = await staffLive(tenant, event.id, 'check-ins', token);
    expect(again.response.status).toBe(401);
  });

  it('refuses anonymous callers (401), members without checkins:write (403), tokens of another organization (401)', async () => {
    const { tenant, event } = await onSale();
    const anonymous = await staffLive(tenant, event.id, 'check-ins');
    expect(anonymous.response.status).toBe(401);
    expect((await problem(anonymous.response)).code).toBe('unauthorized');

    const { token: memberToken } = await memberWithToken(tenant, 'member');
    const member = await staffLive(tenant, event.id, 'check-ins', memberToken);
    expect(member.response.status).toBe(403);

    const other = await createTenant();
    const { token: otherToken } = await memberWithToken(other, 'owner');
    const foreign = await staffLive(tenant, event.id, 'check-ins', otherToken);
    expect(foreign.response.status).toBe(401);
  });

  it("answers 404 for another organization's event and an unknown id, 400 for a malformed id", async () => {
    const { event } = await onSale();
    const other = await createTenant();
    const { token } = await memberWithToken(other, 'owner');
    const foreign = await staffLive(other, event.id, 'check-ins', token);
    expect(foreign.response.status).toBe(404);
    expect((await problem(foreign.response)).code).toBe('not_found');
    const unknown = await staffLive(other, crypto.randomUUID(), 'check-ins', token);
    expect(unknown.response.status).toBe(404);
    const malformed = await staffLive(other, 'not-a-uuid', 'check-ins', token);
    expect(malformed.response.status).toBe(400);
  });
});

describe('GET /api/v1/events/{id}/live/bookings', () => {
  it('streams new bookings to staff, without tickets or codes', async () => {
    const { tenant, event, general } = await onSale();
    const { token } = await memberWithToken(tenant, 'staff');
    const live = await staffLive(tenant, event.id, 'bookings', token);
    expect(live.response.status).toBe(200);
    await expect.poll(() => live.comments.length, { timeout: 3_000 }).toBeGreaterThan(0);
    expect(live.messages).toEqual([]);

    const booking = await buy(tenant, event.slug, general.id, 1);
    const created = await live.next((message) => message.event === 'booking', LIVE_WAIT_MS);
    const item = feedItem(created);
    expect(item).toMatchObject({
      type: 'booking.created',
      id: booking.id,
      eventId: event.id,
      buyer: { name: 'Ada Lovelace' },
      items: [{ ticketTypeId: general.id, quantity: 1 }],
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    const confirmed = await live.next((message) => feedItem(message).type === 'booking.confirmed', LIVE_WAIT_MS);
    expect(feedItem(confirmed).status).toBe('confirmed');
    expect(live.messages.map((message) => message.data).join('')).not.toContain(
      booking.attendees[0]?.ticketCode ?? '-',
    );
  });

  it('needs bookings:read', async () => {
    const { tenant, event } = await onSale();
    const { token } = await memberWithToken(tenant, 'member');
    const live = await staffLive(tenant, event.id, 'bookings', token);
    expect(live.response.status).toBe(403);
    expect((await problem(live.response)).code).toBe('forbidden');
  });
});
