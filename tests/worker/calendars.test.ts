import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { and, eq, isNull } from 'drizzle-orm';
import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { attendees, events, outbox } from '../../src/db/schema/index.ts';
import worker from '../../src/index.ts';
import type { QueueMessage } from '../../src/queues/messages.ts';
import { bookingQueries, toBookingView, type BookingRows } from '../../src/services/bookings/views.ts';
import { FEED_DESCRIPTION_MAX, FEED_MAX_EVENTS } from '../../src/services/calendars/read.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType, daysFromNow, getPublic } from '../support/catalogue.ts';
import {
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { call, mailbox, memberWithToken } from '../support/users.ts';
import { randomIp } from '../support/auth.ts';
import { PLATFORM } from '../support/organizations.ts';

const SECRET_URL = 'https://meet.example.com/secret-room';
const HOSTILE_TITLE = `Rock, Paper; Scissors \\ "Live"\nSecond line 🎸🎉 ${'é'.repeat(40)}${'x'.repeat(200)}`.slice(
  0,
  200,
);
const HOSTILE_DESCRIPTION = 'First line, with; punctuation \\ and a backslash\nSecond line\r\nThird line 🎶 ünïcödé';

/** A public GET traced under a fresh request id: the response, its text and the round trips it cost. */
async function traced(tenant: TestTenant, path: string, headers: Record<string, string> = {}, ip = randomIp()) {
  const id = newRequestId();
  const response = await getPublic(tenant, path, { ip, headers: { ...headers, 'x-request-id': id } });
  const text = await response.text();
  return { response, text, trips: await roundTrips(id) };
}

/** A first request on the tenant's host (it resolves the organization once per isolate), not cached at the edge. */
async function warm(tenant: TestTenant, ip: string): Promise<void> {
  const response = await getPublic(tenant, '/api/v1/public/events/warm-up/calendar.ics', { ip });
  expect(response.status).toBe(404);
}

/** RFC 5545 3.1: CRLF after every line (the last included), no other line break, at most 75 octets a line. */
function expectWellFormed(text: string): void {
  expect(text.startsWith('BEGIN:VCALENDAR\r\n')).toBe(true);
  expect(text.endsWith('END:VCALENDAR\r\n')).toBe(true);
  expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  const encoder = new TextEncoder();
  for (const line of text.slice(0, -2).split('\r\n')) {
    expect(encoder.encode(line).length, line).toBeLessThanOrEqual(75);
  }
}

/** The file with its folded lines joined again (RFC 5545 3.1). */
function unfold(file: string): string {
  return file.replace(/\r\n[ \t]/g, '');
}

/** The VEVENTs of a file, read by Mozilla's parser (ical.js). */
function parse(text: string): { calendar: ICAL.Component; entries: ICAL.Event[] } {
  expectWellFormed(text);
  // ICAL.parse answers the jCal form (typed `any`): one component for a file with one VCALENDAR.
  const parsed: unknown = ICAL.parse(text);
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') throw new Error('not one iCalendar object');
  const calendar = new ICAL.Component(parsed);
  return { calendar, entries: calendar.getAllSubcomponents('vevent').map((vevent) => new ICAL.Event(vevent)) };
}

function only(entries: ICAL.Event[]): ICAL.Event {
  expect(entries).toHaveLength(1);
  const [entry] = entries;
  if (!entry) throw new Error('no VEVENT');
  return entry;
}

function text(entry: ICAL.Event, property: string): unknown {
  return entry.component.getFirstPropertyValue(property);
}

/** Waits until the after-response dispatch has stamped every outbox row of the tenant (announcing the changes). */
async function dispatched(tenant: TestTenant): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const waiting = await database()
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(eq(outbox.organizationId, tenant.organization.id), isNull(outbox.dispatchedAt)));
    if (waiting.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the outbox rows were never dispatched');
}

/** A GET of an absolute link (as a mail client opens it), from a fresh client address. */
function fetchLink(url: string): Promise<Response> {
  return request(url, { headers: { 'cf-connecting-ip': randomIp() } });
}

/** Reads until an answer comes from the edge cache (its entry is written after the response, in waitUntil). */
async function untilCached(tenant: TestTenant, path: string, ip: string) {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const read = await traced(tenant, path, {}, ip);
    if (read.trips.database === 0) return read;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${path} was never answered from the edge cache`);
}

const eventPath = (slug: string) => `/api/v1/public/events/${slug}/calendar.ics`;
const FEED = '/api/v1/public/calendar.ics';
const bookingPath = (id: string) => `/api/v1/public/bookings/${id}/calendar.ics`;

describe('GET /api/v1/public/events/{slug}/calendar.ics', () => {
  it('answers one VEVENT a real parser reads back exactly, hostile text escaped and folded', async () => {
    const tenant = await createTenant();
    const startsAt = new Date('2031-03-30T08:30:00Z'); // the day after Lisbon moves to summer time
    const event = await createEvent(tenant, {
      title: HOSTILE_TITLE,
      description: HOSTILE_DESCRIPTION,
      startsAt,
      endsAt: new Date(startsAt.getTime() + 90 * 60_000),
      categories: ['music', 'jazz, blues'],
      venue: {
        name: 'Main Hall; East',
        address: 'Rua 1, 2',
        city: 'Lisbon',
        country: 'PT',
        latitude: 38.7,
        longitude: -9.14,
      },
    });

    const ip = randomIp();
    await warm(tenant, ip);
    const { response, text: file, trips } = await traced(tenant, eventPath(event.slug), {}, ip);
    expect(response.status).toBe(200);
    expect(trips).toEqual({ database: 1, redis: 1 });
    // Then from the edge cache, as the public detail: no database round trip, the same file.
    const cached = await untilCached(tenant, eventPath(event.slug), ip);
    expect(cached.trips).toEqual({ database: 0, redis: 1 });
    expect(cached.text).toBe(file);
    expect(response.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${event.slug}.ics"`);
    expect(response.headers.get('cache-control')).toBe('public, max-age=30');
    expect(response.headers.get('etag')).toMatch(/^"[\w-]{22}"$/);
    expect(response.headers.get('ratelimit-policy')).toContain('public-read-ip');
    // The join link is for ticket holders only.
    expect(file).not.toContain('meet.example.com');

    const { calendar, entries } = parse(file);
    expect(calendar.getFirstPropertyValue('version')).toBe('2.0');
    expect(calendar.getFirstPropertyValue('prodid')).toBe('-//Eventra//Calendars//EN');
    expect(calendar.getFirstPropertyValue('x-wr-timezone')).toBe('Europe/Lisbon');
    expect(calendar.getFirstPropertyValue('method')).toBeNull();
    const entry = only(entries);
    expect(entry.uid).toBe(`${event.id}@localhost`);
    // A title is one line: its line break is a space; everything else comes back as written.
    expect(entry.summary).toBe(HOSTILE_TITLE.replace('\n', ' '));
    expect(entry.description).toBe(HOSTILE_DESCRIPTION.replace('\r\n', '\n'));
    expect(entry.location).toBe('Main Hall; East, Rua 1, 2, Lisbon, PT');
    expect(text(entry, 'geo')).toEqual([38.7, -9.14]);
    expect(entry.component.getAllProperties('categories').flatMap((p): unknown[] => p.getValues())).toEqual([
      'music',
      'jazz, blues',
    ]);
    expect(entry.startDate.toJSDate().toISOString()).toBe(startsAt.toISOString());
    expect(entry.endDate.toJSDate().toISOString()).toBe(event.endsAt.toISOString());
    expect(entry.startDate.zone.tzid).toBe('UTC');
    expect(text(entry, 'status')).toBe('CONFIRMED');
    expect(entry.sequence).toBe(Math.floor((event.updatedAt.getTime() - event.createdAt.getTime()) / 1000));
    expect(String(text(entry, 'dtstamp'))).toBe(event.updatedAt.toISOString().replace(/\.\d+Z$/, 'Z'));
    // Raw text: RFC 5545 escapes (comma, semicolon, backslash, newline) in TEXT values.
    expect(unfold(file)).toContain('Rock\\, Paper\\; Scissors \\\\ "Live" Second line 🎸🎉');
    expect(unfold(file)).toContain(
      'DESCRIPTION:First line\\, with\\; punctuation \\\\ and a backslash\\nSecond line\\nThird',
    );
  });

  it('folds a 200-character title of 4-octet characters without splitting one', async () => {
    const tenant = await createTenant();
    const title = '🎸'.repeat(100); // 200 UTF-16 code units, 400 octets
    const event = await createEvent(tenant, { title });
    const response = await getPublic(tenant, eventPath(event.slug));
    const file = await response.text();
    const entry = only(parse(file).entries);
    expect(entry.summary).toBe(title);
    // Each continuation line holds whole characters: decoding every line alone loses nothing.
    for (const line of file.split('\r\n')) expect(line).not.toContain('\uFFFD');
  });

  it('says CANCELLED for a cancelled event and raises SEQUENCE with every change (through the staff API)', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const event = await createEvent(tenant, { title: 'Before' });
    const ip = randomIp();
    const first = only(parse((await traced(tenant, eventPath(event.slug), {}, ip)).text).entries);

    // updated_at moves in whole seconds for SEQUENCE: a change in the same second as the insert would not show.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const updated = await call(tenant, 'PUT', `/api/v1/events/${event.id}`, { token, body: { title: 'After' } });
    expect(updated.status).toBe(200);
    await dispatched(tenant);
    const second = only(parse((await traced(tenant, eventPath(event.slug), {}, ip)).text).entries);
    expect(second.summary).toBe('After');
    expect(second.uid).toBe(first.uid);
    expect(second.sequence).toBeGreaterThan(first.sequence);

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const cancelled = await call(tenant, 'POST', `/api/v1/events/${event.id}/cancel`, { token });
    expect(cancelled.status).toBe(200);
    await dispatched(tenant);
    const third = only(parse((await traced(tenant, eventPath(event.slug), {}, ip)).text).entries);
    expect(text(third, 'status')).toBe('CANCELLED');
    expect(third.sequence).toBeGreaterThan(second.sequence);
  });

  it('answers 404 for drafts, private events, unknown slugs and events of another organization', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const draft = await createEvent(tenant, { status: 'draft' });
    const privateEvent = await createEvent(tenant, { visibility: 'private' });
    const theirs = await createEvent(other);
    const unlisted = await createEvent(tenant, { visibility: 'unlisted' });

    for (const slug of [draft.slug, privateEvent.slug, theirs.slug, 'no-such-event']) {
      const response = await getPublic(tenant, eventPath(slug));
      expect(response.status, slug).toBe(404);
      expect((await problem(response)).code).toBe('not_found');
    }
    // As the public detail: an unlisted event by its link.
    expect((await getPublic(tenant, eventPath(unlisted.slug))).status).toBe(200);
    expect((await getPublic(other, eventPath(theirs.slug))).status).toBe(200);
    const bad = await getPublic(tenant, eventPath('Not_A_Slug'));
    expect(bad.status).toBe(400);
    expect((await problem(bad)).errors?.[0]?.pointer).toBe('/param/slug');
  });

  it('answers 304 to a matching If-None-Match, keeping the cache headers', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const ip = randomIp();
    const first = await traced(tenant, eventPath(event.slug), {}, ip);
    const tag = first.response.headers.get('etag');
    if (tag === null) throw new Error('no ETag');
    const again = await traced(tenant, eventPath(event.slug), { 'if-none-match': tag }, ip);
    expect(again.response.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.response.headers.get('etag')).toBe(tag);
    expect(again.response.headers.get('cache-control')).toBe('public, max-age=30');
    expect(again.response.headers.get('content-type')).toBeNull();
    const other = await traced(tenant, eventPath(event.slug), { 'if-none-match': '"something-else"' }, ip);
    expect(other.response.status).toBe(200);
  });
});

describe('GET /api/v1/public/calendar.ics', () => {
  it("lists the organization's upcoming public events, soonest first, as a feed to subscribe to", async () => {
    const tenant = await createTenant({ name: 'Acme, Events; "Lisbon"' });
    const other = await createTenant();
    const later = await createEvent(tenant, { title: 'Later', startsAt: daysFromNow(20) });
    const soon = await createEvent(tenant, { title: 'Soon', startsAt: daysFromNow(2) });
    const cancelled = await createEvent(tenant, {
      title: 'Called off',
      status: 'cancelled',
      publishedAt: daysFromNow(-5),
      startsAt: daysFromNow(5),
    });
    const long = await createEvent(tenant, { title: 'Long', description: 'd'.repeat(5_000), startsAt: daysFromNow(9) });
    // Never in it: ended, draft, unlisted, private, a cancelled draft, another organization's.
    await createEvent(tenant, { title: 'Ended', startsAt: daysFromNow(-3) });
    await createEvent(tenant, { title: 'Draft', status: 'draft' });
    await createEvent(tenant, { title: 'Unlisted', visibility: 'unlisted' });
    await createEvent(tenant, { title: 'Private', visibility: 'private' });
    await createEvent(tenant, { title: 'Cancelled draft', status: 'cancelled', publishedAt: null });
    await createEvent(other, { title: 'Theirs' });

    const ip = randomIp();
    await warm(tenant, ip);
    const { response, text: file, trips } = await traced(tenant, FEED, {}, ip);
    expect(response.status).toBe(200);
    expect(trips).toEqual({ database: 1, redis: 1 });
    expect(response.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${tenant.organization.slug}.ics"`);
    expect(response.headers.get('cache-control')).toBe('public, max-age=30');
    expect(file).not.toContain('meet.example.com');
    const { calendar, entries } = parse(file);
    // NAME (RFC 7986) and X-WR-CALNAME are TEXT: escaped like any other (ical.js keeps unknown properties raw).
    expect(unfold(file)).toContain('\r\nNAME:Acme\\, Events\\; "Lisbon"\r\n');
    expect(calendar.getFirstPropertyValue('x-wr-calname')).toBe('Acme\\, Events\\; "Lisbon"');
    expect(String(calendar.getFirstPropertyValue('refresh-interval'))).toBe('PT1H');
    expect(calendar.getFirstPropertyValue('x-published-ttl')).toBe('PT1H');
    expect(entries.map((entry) => entry.summary)).toEqual(['Soon', 'Called off', 'Long', 'Later']);
    expect(entries.map((entry) => entry.uid)).toEqual(
      [soon, cancelled, long, later].map((event) => `${event.id}@localhost`),
    );
    expect(entries.map((entry) => text(entry, 'status'))).toEqual(['CONFIRMED', 'CANCELLED', 'CONFIRMED', 'CONFIRMED']);
    expect(Array.from(entries[2]?.description ?? '')).toHaveLength(FEED_DESCRIPTION_MAX);
    expect(FEED_MAX_EVENTS).toBe(500);

    // The same event in the single file and in the feed: one UID, so a subscriber does not see it twice.
    const single = only(parse(await (await getPublic(tenant, eventPath(soon.slug))).text()).entries);
    expect(single.uid).toBe(entries[0]?.uid);
    expect(single.sequence).toBe(entries[0]?.sequence);
  });

  it('is an empty calendar when nothing is coming up, and 404 on the platform host', async () => {
    const tenant = await createTenant();
    const { calendar, entries } = parse(await (await getPublic(tenant, FEED)).text());
    expect(entries).toEqual([]);
    expect(calendar.getFirstPropertyValue('x-wr-calname')).toBe(tenant.organization.name);
    const platform = await fetchLink('http://localhost/api/v1/public/calendar.ics');
    expect(platform.status).toBe(404);
  });
});

describe('GET /api/v1/public/bookings/{id}/calendar.ics', () => {
  async function setup() {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const event = await createEvent(tenant, { title: 'Gala, night', timezone: 'America/New_York' });
    const general = await createTicketType(event, { name: 'General', price: 0, sortOrder: 1 });
    const vip = await createTicketType(event, { name: 'VIP; front', price: 0, sortOrder: 2 });
    const paid = await createTicketType(event, { name: 'Paid', price: 1500, sortOrder: 3 });
    return { tenant, event, general, vip, paid };
  }

  it("gives the buyer their tickets' event with counts per ticket type, the join link, and no codes or token", async () => {
    const { tenant, event, general, vip } = await setup();
    const booking = await book(tenant, event.slug, {
      items: [
        { ticketTypeId: general.id, quantity: 2 },
        { ticketTypeId: vip.id, quantity: 1 },
      ],
    });
    expect(booking.status).toBe('confirmed');
    const codes = await database()
      .select({ code: attendees.ticketCode })
      .from(attendees)
      .where(eq(attendees.bookingId, booking.id));
    expect(codes).toHaveLength(3);

    const ip = randomIp();
    await warm(tenant, ip);
    const {
      response,
      text: file,
      trips,
    } = await traced(tenant, bookingPath(booking.id), { 'booking-token': booking.token }, ip);
    expect(response.status).toBe(200);
    expect(trips).toEqual({ database: 1, redis: 1 });
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="booking-${booking.id}.ics"`);
    expect(response.headers.get('etag')).not.toBeNull();
    for (const secret of [booking.token, ...codes.map((row) => row.code)]) expect(file).not.toContain(secret);

    const { calendar, entries } = parse(file);
    expect(calendar.getFirstPropertyValue('x-wr-timezone')).toBe('America/New_York');
    const entry = only(entries);
    expect(entry.uid).toBe(`booking-${booking.id}@localhost`);
    expect(entry.summary).toBe('Gala, night');
    expect(text(entry, 'status')).toBe('CONFIRMED');
    expect(text(entry, 'url')).toBe(SECRET_URL);
    // iCalendar times have whole seconds.
    expect(entry.startDate.toJSDate().getTime()).toBe(Math.floor(event.startsAt.getTime() / 1000) * 1000);
    expect(entry.description).toContain(`Booking ${booking.id}: confirmed.`);
    expect(entry.description).toContain('3 tickets: 2 × General, 1 × VIP; front.');
    expect(entry.description).toContain(`Join online: ${SECRET_URL}`);
    expect(entry.description).toContain('An evening of music.');
  });

  it('is TENTATIVE without the join link while payment is pending, CANCELLED once the booking is', async () => {
    const { tenant, event, paid } = await setup();
    const { token } = await memberWithToken(tenant, 'organizer');
    const booking = await book(tenant, event.slug, {
      items: [{ ticketTypeId: paid.id, quantity: 1 }],
      paymentMethod: 'manual',
    });
    expect(booking.status).toBe('pending');
    const ip = randomIp();
    const pending = await traced(tenant, bookingPath(booking.id), { 'booking-token': booking.token }, ip);
    const before = only(parse(pending.text).entries);
    expect(text(before, 'status')).toBe('TENTATIVE');
    expect(text(before, 'url')).toBeNull();
    expect(pending.text).not.toContain('meet.example.com');

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const cancelled = await call(tenant, 'POST', `/api/v1/bookings/${booking.id}/cancel`, { token });
    expect(cancelled.status).toBe(200);
    const after = only(
      parse((await traced(tenant, bookingPath(booking.id), { 'booking-token': booking.token }, ip)).text).entries,
    );
    expect(text(after, 'status')).toBe('CANCELLED');
    expect(after.description).toContain('cancelled');
    expect(after.description).toContain('No valid tickets.');
    expect(after.sequence).toBeGreaterThan(before.sequence);
  });

  it('answers 400 without a token or with one in the URL, 404 for a wrong token, an unknown id or another host', async () => {
    const { tenant, event, general } = await setup();
    const other = await createTenant();
    const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: general.id, quantity: 1 }] });
    const wrong = `${booking.token.slice(0, -1)}${booking.token.endsWith('A') ? 'B' : 'A'}`;

    const missing = await getPublic(tenant, bookingPath(booking.id));
    expect(missing.status).toBe(400);
    expect((await problem(missing)).errors?.[0]?.pointer).toBe('/header/booking-token');
    const inUrl = await getPublic(tenant, `${bookingPath(booking.id)}?token=${booking.token}`, {
      headers: { 'booking-token': booking.token },
    });
    expect(inUrl.status).toBe(400);

    const answers = [
      await getPublic(tenant, bookingPath(booking.id), { headers: { 'booking-token': wrong } }),
      await getPublic(tenant, bookingPath(crypto.randomUUID()), { headers: { 'booking-token': booking.token } }),
      await getPublic(other, bookingPath(booking.id), { headers: { 'booking-token': booking.token } }),
    ];
    const details = [];
    for (const answer of answers) {
      expect(answer.status).toBe(404);
      const body = await problem(answer);
      details.push([body.code, body.detail]);
    }
    expect(new Set(details.map((detail) => JSON.stringify(detail))).size).toBe(1);
  });
});

describe('"Add to calendar" in the booking confirmation email', () => {
  async function confirmationFor(tenant: TestTenant, bookingId: string) {
    const db = database();
    const rows = (await db.batch(bookingQueries(db, tenant.organization.id, bookingId))) as unknown as BookingRows;
    const view = toBookingView(rows);
    if (!view) throw new Error('booking not found');
    const id = `email:${crypto.randomUUID()}`;
    const message: QueueMessage = {
      id,
      type: 'email.event',
      organizationId: tenant.organization.id,
      payload: { type: 'booking.confirmed', timestamp: new Date().toISOString(), data: view },
      createdAt: new Date().toISOString(),
    };
    const batch = createMessageBatch('eventra-email-local', [
      { id: `msg-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body: message },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env as unknown as Record<string, unknown>, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(1);
    const [mail] = (await mailbox(view.buyer.email)).filter((candidate) => candidate.id === id);
    if (!mail) throw new Error('no confirmation email');
    return mail;
  }

  it("links the event's public file on the organization's host, a link that answers, with no secret in it", async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { price: 0 });
    const buyer = { name: 'Ada', email: `ada-${crypto.randomUUID().slice(0, 8)}@example.test` };
    const booking = await book(tenant, event.slug, { buyer, items: [{ ticketTypeId: free.id, quantity: 1 }] });
    const mail = await confirmationFor(tenant, booking.id);

    const link = `http://${tenant.host}/api/v1/public/events/${event.slug}/calendar.ics`;
    expect(mail.text).toContain(`Add to calendar: ${link}`);
    expect(mail.html).toContain(`href="${link}"`);
    expect(mail.links).toContain(link);
    expect(link).not.toContain(booking.token);
    const answer = await fetchLink(link);
    expect(answer.status).toBe(200);
    expect(only(parse(await answer.text()).entries).uid).toBe(`${event.id}@localhost`);
  });

  it('has no calendar link for a private event (its public file does not exist)', async () => {
    const tenant = await createTenant();
    const event = await createEvent(tenant);
    const free = await createTicketType(event, { price: 0 });
    const buyer = { name: 'Ada', email: `ada-${crypto.randomUUID().slice(0, 8)}@example.test` };
    const booking = await book(tenant, event.slug, { buyer, items: [{ ticketTypeId: free.id, quantity: 1 }] });
    // Made private after the sale (a private event is not sold publicly).
    await database().update(events).set({ visibility: 'private' }).where(eq(events.id, event.id));
    expect((await fetchLink(`http://${tenant.host}${eventPath(event.slug)}`)).status).toBe(404);
    const mail = await confirmationFor(tenant, booking.id);
    expect(mail.text).not.toContain('calendar');
    expect(mail.links.some((link) => link.includes('calendar.ics'))).toBe(false);
  });
});

describe('the OpenAPI document', () => {
  interface Operation {
    operationId: string;
    tags: string[];
    parameters?: { name: string; in: string }[];
    responses: Record<
      string,
      { headers?: Record<string, unknown>; content?: Record<string, { schema: { type: string; maxLength?: number } }> }
    >;
  }

  it('describes the three files as text/calendar with bounds, ETag/304 and rate-limit headers', async () => {
    const response = await fetchLink(`${PLATFORM}/api/v1/openapi.json`);
    const document: { paths: Record<string, Record<string, Operation>> } = await response.json();
    const expected = {
      '/api/v1/public/calendar.ics': 'getPublicCalendar',
      '/api/v1/public/events/{slug}/calendar.ics': 'getPublicEventCalendar',
      '/api/v1/public/bookings/{id}/calendar.ics': 'getPublicBookingCalendar',
    };
    for (const [path, operationId] of Object.entries(expected)) {
      const operation = document.paths[path]?.get;
      if (!operation) throw new Error(`no GET ${path}`);
      expect(operation.operationId).toBe(operationId);
      expect(operation.tags).toEqual(['Calendars']);
      const success = operation.responses['200'];
      const schema = success?.content?.['text/calendar']?.schema;
      expect(schema?.type, path).toBe('string');
      expect(schema?.maxLength, path).toBeGreaterThan(0);
      expect(Object.keys(success?.headers ?? {}), path).toEqual(
        expect.arrayContaining(['content-disposition', 'ETag', 'RateLimit', 'RateLimit-Policy']),
      );
      expect(Object.keys(operation.responses), path).toEqual(expect.arrayContaining(['304', '400', '404', '429']));
      expect(
        operation.parameters?.map((parameter) => parameter.name),
        path,
      ).toContain('If-None-Match');
    }
  });
});
