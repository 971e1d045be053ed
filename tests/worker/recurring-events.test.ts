import { and, asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, eventSeries, events, ticketTypes } from '../../src/db/schema/index.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { bindings } from '../support/auth.ts';
import type { z } from '@hono/zod-openapi';
import type {
  SeriesCreatedSchema,
  SeriesDatesSchema,
  SeriesSchema,
  SeriesUpdatedSchema,
} from '../../src/routes/event-series/schema.ts';
import { extendSeries } from '../../src/services/series/index.ts';
import { checkout, counters } from '../support/bookings.ts';
import { createEvent, getPublic } from '../support/catalogue.ts';
import { withCronLock } from '../support/cron.ts';
import {
  appDatabase,
  createTenant,
  database,
  newRequestId,
  problem,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

type Created = z.infer<typeof SeriesCreatedSchema>;
type Dates = z.infer<typeof SeriesDatesSchema>;
type Updated = z.infer<typeof SeriesUpdatedSchema>;
type Series = z.infer<typeof SeriesSchema>;

const DAY = 86_400_000;
const TICKETS = [{ name: 'Standard', price: 0, currency: 'EUR', quantity: 5, maxPerOrder: 5 }];

async function organizer(plan: 'starter' | 'pro' = 'pro') {
  const tenant = await createTenant({ plan });
  const { token } = await memberWithToken(tenant, 'organizer');
  return { tenant, token };
}

/** A wall-clock `YYYY-MM-DDTHH:mm` `days` from now at `hour`:00 (UTC fields; the series reads them in its timezone). */
function localDay(days: number, hour = 19): string {
  const date = new Date(Date.now() + days * DAY);
  return `${date.toISOString().slice(0, 10)}T${String(hour).padStart(2, '0')}:00`;
}

function seriesBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: `Tuesday Jazz ${crypto.randomUUID().slice(0, 6)}`,
    timezone: 'Europe/Berlin',
    rrule: 'FREQ=WEEKLY;COUNT=3',
    startLocal: localDay(2),
    durationMinutes: 120,
    ticketTypes: TICKETS,
    ...overrides,
  };
}

async function createSeries(tenant: TestTenant, token: string, overrides: Record<string, unknown> = {}) {
  const response = await call(tenant, 'POST', '/api/v1/event-series', { token, body: seriesBody(overrides) });
  if (response.status !== 201) throw new Error(`series create answered ${response.status}: ${await response.text()}`);
  return response.json<Created>();
}

async function datesOf(tenant: TestTenant, token: string, id: string) {
  const response = await call(tenant, 'GET', `/api/v1/event-series/${id}/dates`, { token });
  expect(response.status).toBe(200);
  return (await response.json<Dates>()).data;
}

/** The local wall time of an instant in a timezone, `HH:mm`. */
function localTime(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    new Date(iso),
  );
}

async function dateRows(seriesId: string) {
  return database().select().from(events).where(eq(events.seriesId, seriesId)).orderBy(asc(events.startsAt));
}

describe('POST /api/v1/event-series', () => {
  it('creates the series and its dates as events with their own ticket types, in one round trip, audited', async () => {
    const { tenant, token } = await organizer();
    // Warms the tenant lookup (its first request reads the organization), as the event tests do.
    await call(tenant, 'GET', '/api/v1/events', { token });
    const requestId = newRequestId();
    const response = await call(tenant, 'POST', '/api/v1/event-series', {
      token,
      body: seriesBody({ venue: { name: 'Kulturhaus' }, capacity: 4 }),
      headers: { 'x-request-id': requestId },
    });
    expect(response.status).toBe(201);
    const created: Created = await response.json();
    expect(created.dates).toBe(3);
    expect(created.series).toMatchObject({
      timezone: 'Europe/Berlin',
      rrule: 'FREQ=WEEKLY;COUNT=3',
      durationMinutes: 120,
      capacity: 4,
      publish: 'draft',
      horizonDays: 180,
      ticketTypes: TICKETS,
    });
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });

    const rows = await dateRows(created.series.id);
    expect(rows).toHaveLength(3);
    for (const [index, row] of rows.entries()) {
      expect(row.status).toBe('draft');
      expect(row.capacity).toBe(4);
      expect(row.venue).toEqual({ name: 'Kulturhaus' });
      expect(row.endsAt.getTime() - row.startsAt.getTime()).toBe(120 * 60_000);
      expect(row.occurrenceStart?.toISOString()).toBe(row.startsAt.toISOString());
      expect(localTime(row.startsAt.toISOString(), 'Europe/Berlin')).toBe('19:00');
      if (index > 0)
        expect(row.startsAt.getTime() - (rows[index - 1]?.startsAt.getTime() ?? 0)).toBeGreaterThan(6 * DAY);
    }
    const types = await database()
      .select()
      .from(ticketTypes)
      .where(eq(ticketTypes.organizationId, tenant.organization.id));
    expect(types).toHaveLength(3);
    expect(new Set(types.map((type) => type.eventId))).toEqual(new Set(rows.map((row) => row.id)));

    const audits = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'event_series.created')));
    expect(audits).toHaveLength(1);
    expect(audits[0]?.targetId).toBe(created.series.id);

    // The series and its dates read back.
    const got = await call(tenant, 'GET', `/api/v1/event-series/${created.series.id}`, { token });
    expect(await got.json<Series>()).toEqual(created.series);
    const dates = await datesOf(tenant, token, created.series.id);
    expect(dates.map((date) => date.id)).toEqual(rows.map((row) => row.id));
    expect(dates.every((date) => date.seriesId === created.series.id && !date.seriesDetached)).toBe(true);
  });

  it('keeps the local time across a DST change: weekly in Berlin, monthly in New York', async () => {
    const { tenant, token } = await organizer();
    const now = new Date();
    // The next March (Europe changes on its last Sunday): weekly Tuesdays through March and April.
    const year = now.getUTCMonth() >= 2 ? now.getUTCFullYear() + 1 : now.getUTCFullYear();
    const weekly = await createSeries(tenant, token, {
      rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=6',
      startLocal: `${year}-03-09T19:00`,
      horizonDays: 366,
    });
    const weeklyRows = await dateRows(weekly.series.id);
    expect(weeklyRows).toHaveLength(6);
    expect(weeklyRows.every((row) => localTime(row.startsAt.toISOString(), 'Europe/Berlin') === '19:00')).toBe(true);
    // 18:00 UTC in winter (CET, +01:00), 17:00 UTC in summer (CEST, +02:00): both occur.
    expect(new Set(weeklyRows.map((row) => row.startsAt.getUTCHours()))).toEqual(new Set([18, 17]));
    expect(weeklyRows.every((row) => row.startsAt.getUTCDay() === 2)).toBe(true);

    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const monthly = await createSeries(tenant, token, {
      timezone: 'America/New_York',
      rrule: 'FREQ=MONTHLY;BYMONTHDAY=1;COUNT=12',
      startLocal: `${next.toISOString().slice(0, 10)}T10:00`,
      horizonDays: 366,
    });
    const monthlyRows = await dateRows(monthly.series.id);
    expect(monthlyRows).toHaveLength(12);
    expect(monthlyRows.every((row) => localTime(row.startsAt.toISOString(), 'America/New_York') === '10:00')).toBe(
      true,
    );
    expect(new Set(monthlyRows.map((row) => row.startsAt.getUTCHours()))).toEqual(new Set([15, 14]));
  });

  it('materializes only up to the horizon, and bounds a COUNT=10000 rule by it', async () => {
    const { tenant, token } = await organizer();
    const daily = await createSeries(tenant, token, {
      rrule: 'FREQ=DAILY;COUNT=10000',
      startLocal: localDay(1, 12),
      timezone: 'UTC',
      horizonDays: 10,
    });
    expect(daily.dates).toBeGreaterThanOrEqual(9);
    expect(daily.dates).toBeLessThanOrEqual(10);
    const rows = await dateRows(daily.series.id);
    expect(rows).toHaveLength(daily.dates);
    const until = new Date(daily.series.materializedUntil ?? 0).getTime();
    expect(Math.abs(until - (Date.now() + 10 * DAY))).toBeLessThan(60_000);
    expect(rows.every((row) => row.startsAt.getTime() <= until)).toBe(true);
  });

  it('refuses a rule with more than 366 dates within the horizon (10,000 hourly dates), writing nothing', async () => {
    const { tenant, token } = await organizer();
    const response = await call(tenant, 'POST', '/api/v1/event-series', {
      token,
      body: seriesBody({ rrule: 'FREQ=HOURLY;COUNT=10000' }),
    });
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.errors?.[0]?.pointer).toBe('/body/rrule');
    expect(body.errors?.[0]?.message).toMatch(/more than 366 dates/);
    const rows = await database()
      .select()
      .from(eventSeries)
      .where(eq(eventSeries.organizationId, tenant.organization.id));
    expect(rows).toHaveLength(0);
  });

  it.each([
    [{ rrule: 'FREQ=FOO' }, '/body/rrule'],
    [{ rrule: 'FREQ=MINUTELY' }, '/body/rrule'],
    [{ rrule: 'BYDAY=TU' }, '/body/rrule'],
    [{ rrule: 'FREQ=WEEKLY;NOPE=1' }, '/body/rrule'],
    [{ rrule: 'FREQ=WEEKLY\nDTSTART:20270101T000000Z' }, '/body/rrule'],
    [{ rrule: 'DTSTART:20270101T000000Z;FREQ=WEEKLY' }, '/body/rrule'],
    [{ startLocal: '2027-02-30T19:00' }, '/body/startLocal'],
    [{ startLocal: '2027-03-02 19:00' }, '/body/startLocal'],
    [{ timezone: 'Mars/Olympus' }, '/body/timezone'],
    [{ durationMinutes: 0 }, '/body/durationMinutes'],
    [{ ticketTypes: [] }, '/body/ticketTypes'],
    [{ ticketTypes: [{ ...TICKETS[0], quantity: -1 }] }, '/body/ticketTypes/0/quantity'],
    [{ horizonDays: 367 }, '/body/horizonDays'],
    [{ publish: 'cancelled' }, '/body/publish'],
    [{ organizationId: '00000000-0000-4000-8000-000000000000' }, '/body'],
  ])('answers 400 with the pointer for %j', async (overrides, pointer) => {
    const { tenant, token } = await organizer();
    const response = await call(tenant, 'POST', '/api/v1/event-series', { token, body: seriesBody(overrides) });
    expect(response.status).toBe(400);
    const pointers = (await problem(response)).errors?.map((error) => error.pointer) ?? [];
    expect(pointers.some((found) => found.startsWith(pointer))).toBe(true);
  });

  it('counts published dates against the publishedEvents quota: all must fit, or nothing is written (403)', async () => {
    const { tenant, token } = await organizer('starter');
    const response = await call(tenant, 'POST', '/api/v1/event-series', {
      token,
      body: seriesBody({ rrule: 'FREQ=WEEKLY;COUNT=6', publish: 'published' }),
    });
    expect(response.status).toBe(403);
    expect((await problem(response)).code).toBe('plan_limit');
    expect(
      await database().select().from(eventSeries).where(eq(eventSeries.organizationId, tenant.organization.id)),
    ).toHaveLength(0);
    // Five fit the starter plan's five published events.
    const fits = await createSeries(tenant, token, { rrule: 'FREQ=WEEKLY;COUNT=5', publish: 'published' });
    expect(fits.dates).toBe(5);
    // Drafts do not count.
    expect((await createSeries(tenant, token, { rrule: 'FREQ=WEEKLY;COUNT=8' })).dates).toBe(8);
  });

  it('needs events:write (403) and refuses no token (401)', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'staff');
    expect((await call(tenant, 'POST', '/api/v1/event-series', { token, body: seriesBody() })).status).toBe(403);
    expect((await call(tenant, 'POST', '/api/v1/event-series', { body: seriesBody() })).status).toBe(401);
  });
});

describe('per-date inventory and the public catalogue', () => {
  it('lists published dates publicly and sells each from its own ticket types', async () => {
    const { tenant, token } = await organizer();
    const created = await createSeries(tenant, token, { publish: 'published', rrule: 'FREQ=WEEKLY;COUNT=2' });
    const [first, second] = await dateRows(created.series.id);
    if (!first || !second) throw new Error('two dates expected');

    const other = await createSeries(tenant, token, { publish: 'published', rrule: 'FREQ=WEEKLY;COUNT=1' });
    const oneOffId = (await createEvent(tenant, { startsAt: first.startsAt, endsAt: first.endsAt })).id;

    type Listed = { data: { id: string; slug: string; seriesId: string | null }[] };
    const listed = await getPublic(tenant, '/api/v1/public/events');
    expect(listed.status).toBe(200);
    const all = (await listed.json<Listed>()).data;
    expect(all.map((event) => event.slug)).toEqual(expect.arrayContaining([first.slug, second.slug]));
    // Each date names its series; a one-off event none.
    expect(all.find((event) => event.id === first.id)?.seriesId).toBe(created.series.id);
    expect(
      all.find((event) => event.id === oneOffId),
      JSON.stringify(all),
    ).toMatchObject({ seriesId: null });
    // The dates of one series, and only those.
    const dates = await getPublic(tenant, `/api/v1/public/events?seriesId=${created.series.id.toUpperCase()}`);
    expect((await dates.json<Listed>()).data.map((event) => event.id)).toEqual([first.id, second.id]);
    const otherDates = await getPublic(tenant, `/api/v1/public/events?seriesId=${other.series.id}`);
    expect((await otherDates.json<Listed>()).data.map((event) => event.seriesId)).toEqual([other.series.id]);
    const detail = await getPublic(tenant, `/api/v1/public/events/${second.slug}`);
    expect((await detail.json<{ seriesId: string | null }>()).seriesId).toBe(created.series.id);
    const staffView = await call(tenant, 'GET', `/api/v1/events/${first.id}`, { token });
    expect((await staffView.json<{ seriesId: string | null }>()).seriesId).toBe(created.series.id);
    expect((await getPublic(tenant, '/api/v1/public/events?seriesId=nope')).status).toBe(400);

    const [firstType] = await database().select().from(ticketTypes).where(eq(ticketTypes.eventId, first.id));
    const [secondType] = await database().select().from(ticketTypes).where(eq(ticketTypes.eventId, second.id));
    if (!firstType || !secondType) throw new Error('ticket types expected');
    const booked = await checkout(tenant, first.slug, { items: [{ ticketTypeId: firstType.id, quantity: 5 }] });
    expect(booked.status).toBe(201);
    const one = await counters(first.id);
    const two = await counters(second.id);
    expect((one.ticketTypes[firstType.id]?.sold ?? 0) + (one.ticketTypes[firstType.id]?.held ?? 0)).toBe(5);
    expect(two.ticketTypes[secondType.id]).toEqual({ sold: 0, held: 0 });
    // The first date is sold out; the second still sells, and a ticket type of one date is not sold on the other.
    expect((await checkout(tenant, first.slug, { items: [{ ticketTypeId: firstType.id, quantity: 1 }] })).status).toBe(
      409,
    );
    expect(
      (await checkout(tenant, second.slug, { items: [{ ticketTypeId: firstType.id, quantity: 1 }] })).status,
    ).not.toBe(201);
    expect(
      (await checkout(tenant, second.slug, { items: [{ ticketTypeId: secondType.id, quantity: 1 }] })).status,
    ).toBe(201);
  });
});

describe('editing this date vs all future dates', () => {
  it('detaches a date edited on its own; the series edit skips it and dates with bookings; cancel is per date', async () => {
    const { tenant, token } = await organizer();
    const created = await createSeries(tenant, token, { publish: 'published', rrule: 'FREQ=WEEKLY;COUNT=4' });
    const [booked, edited, cancelled, plain] = await dateRows(created.series.id);
    if (!booked || !edited || !cancelled || !plain) throw new Error('four dates expected');

    // "This date": the ordinary event update, which marks the date detached.
    const requestId = newRequestId();
    const put = await call(tenant, 'PUT', `/api/v1/events/${edited.id}`, {
      token,
      body: { title: 'Special guest night' },
      headers: { 'x-request-id': requestId },
    });
    expect(put.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 1 });
    const [type] = await database().select().from(ticketTypes).where(eq(ticketTypes.eventId, booked.id));
    expect(
      (await checkout(tenant, booked.slug, { items: [{ ticketTypeId: type?.id ?? '', quantity: 1 }] })).status,
    ).toBe(201);
    // Cancel one date: the ordinary cancel.
    expect((await call(tenant, 'POST', `/api/v1/events/${cancelled.id}/cancel`, { token })).status).toBe(200);

    // "All future dates".
    const seriesRequest = newRequestId();
    const response = await call(tenant, 'PUT', `/api/v1/event-series/${created.series.id}`, {
      token,
      body: { title: 'Renamed series', capacity: 3 },
      headers: { 'x-request-id': seriesRequest },
    });
    expect(response.status).toBe(200);
    const updated: Updated = await response.json();
    expect(updated).toMatchObject({ updated: 1, skipped: 2 });
    expect(updated.series).toMatchObject({ title: 'Renamed series', capacity: 3 });
    expect(await roundTrips(seriesRequest)).toEqual({ database: 1, redis: 1 });

    const after = new Map((await dateRows(created.series.id)).map((row) => [row.id, row]));
    expect(after.get(plain.id)).toMatchObject({ title: 'Renamed series', capacity: 3, seriesDetached: false });
    expect(after.get(edited.id)).toMatchObject({ title: 'Special guest night', seriesDetached: true });
    expect(after.get(booked.id)?.title).toBe(booked.title);
    expect(after.get(cancelled.id)).toMatchObject({ status: 'cancelled', title: cancelled.title });

    // A `from` after every date changes none of them.
    const late = await call(tenant, 'PUT', `/api/v1/event-series/${created.series.id}`, {
      token,
      body: { from: new Date(Date.now() + 400 * DAY).toISOString(), description: 'Later' },
    });
    expect(await late.json<Updated>()).toMatchObject({ updated: 0, skipped: 0 });

    const bad = await call(tenant, 'PUT', `/api/v1/event-series/${created.series.id}`, { token, body: { from: 'x' } });
    expect(bad.status).toBe(400);
    expect((await problem(bad)).errors?.[0]?.pointer).toBe('/body/from');
  });
});

describe('tenancy', () => {
  it("answers 404 for another organization's series, and changes nothing", async () => {
    const { tenant, token } = await organizer();
    const created = await createSeries(tenant, token);
    const other = await organizer();
    const id = created.series.id;
    expect((await call(other.tenant, 'GET', `/api/v1/event-series/${id}`, { token: other.token })).status).toBe(404);
    expect((await call(other.tenant, 'GET', `/api/v1/event-series/${id}/dates`, { token: other.token })).status).toBe(
      404,
    );
    const put = await call(other.tenant, 'PUT', `/api/v1/event-series/${id}`, {
      token: other.token,
      body: { title: 'Hijacked' },
    });
    expect(put.status).toBe(404);
    expect((await dateRows(id)).every((row) => row.title === created.series.title)).toBe(true);
    const audits = await database()
      .select()
      .from(auditLogs)
      .where(eq(auditLogs.organizationId, other.tenant.organization.id));
    expect(audits.filter((row) => row.action.startsWith('event_series'))).toHaveLength(0);
    expect((await call(tenant, 'GET', '/api/v1/event-series/not-a-uuid', { token })).status).toBe(400);
  });
});

describe('GET /api/v1/event-series', () => {
  it('lists the series newest first with a cursor, filters running and ended, in one round trip', async () => {
    const { tenant, token } = await organizer();
    const first = await createSeries(tenant, token);
    const second = await createSeries(tenant, token);
    const third = await createSeries(tenant, token);
    expect((await call(tenant, 'POST', `/api/v1/event-series/${first.series.id}/end`, { token })).status).toBe(200);
    const other = await organizer();
    await createSeries(other.tenant, other.token);

    const requestId = newRequestId();
    const page1 = await call(tenant, 'GET', '/api/v1/event-series?limit=2', {
      token,
      headers: { 'x-request-id': requestId },
    });
    expect(page1.status).toBe(200);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const body1 = await page1.json<{ data: Series[]; nextCursor: string | null }>();
    expect(body1.data.map((series) => series.id)).toEqual([third.series.id, second.series.id]);
    expect(body1.nextCursor).not.toBeNull();
    const page2 = await call(tenant, 'GET', `/api/v1/event-series?limit=2&cursor=${body1.nextCursor ?? ''}`, { token });
    const body2 = await page2.json<{ data: Series[]; nextCursor: string | null }>();
    expect(body2.data.map((series) => series.id)).toEqual([first.series.id]);
    expect(body2.data[0]?.endedAt).not.toBeNull();
    expect(body2.nextCursor).toBeNull();

    const running = await call(tenant, 'GET', '/api/v1/event-series?ended=false', { token });
    expect((await running.json<{ data: Series[] }>()).data.map((series) => series.id)).toEqual([
      third.series.id,
      second.series.id,
    ]);
    const ended = await call(tenant, 'GET', '/api/v1/event-series?ended=true', { token });
    expect((await ended.json<{ data: Series[] }>()).data.map((series) => series.id)).toEqual([first.series.id]);
    for (const query of ['?limit=0', '?limit=101', '?ended=yes', '?cursor=%%%', '?title=x']) {
      expect((await call(tenant, 'GET', `/api/v1/event-series${query}`, { token })).status, query).toBe(400);
    }
    const { token: memberToken } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'GET', '/api/v1/event-series', { token: memberToken })).status).toBe(403);
  });
});

describe('the cron extends the horizon', () => {
  it('inserts the dates that came within the horizon, and nothing twice', async () => {
    const { tenant, token } = await organizer();
    const created = await createSeries(tenant, token, {
      rrule: 'FREQ=DAILY',
      timezone: 'UTC',
      startLocal: localDay(1, 12),
      horizonDays: 5,
    });
    const before = (await dateRows(created.series.id)).length;
    const logger = createLogger({}, 'error');
    const later = new Date(Date.now() + 3 * DAY);
    await withCronLock(async () => {
      await extendSeries(appDatabase(), bindings(), logger, later);
      const once = await dateRows(created.series.id);
      expect(once.length).toBe(before + 3);
      expect(new Set(once.map((row) => row.occurrenceStart?.toISOString())).size).toBe(once.length);
      // Run again, and again with the horizon marker reset: the statement itself inserts nothing twice.
      await extendSeries(appDatabase(), bindings(), logger, later);
      await database()
        .update(eventSeries)
        .set({ materializedUntil: new Date() })
        .where(eq(eventSeries.id, created.series.id));
      await extendSeries(appDatabase(), bindings(), logger, later);
      expect(await dateRows(created.series.id)).toHaveLength(once.length);
      const types = await database()
        .select()
        .from(ticketTypes)
        .where(eq(ticketTypes.organizationId, tenant.organization.id));
      expect(types).toHaveLength(once.length);
    });
  });

  it('extends published dates only as far as the publishedEvents quota allows', async () => {
    const { tenant, token } = await organizer('starter');
    const created = await createSeries(tenant, token, {
      rrule: 'FREQ=DAILY',
      timezone: 'UTC',
      startLocal: localDay(1, 12),
      horizonDays: 3,
      publish: 'published',
    });
    expect(created.dates).toBeLessThanOrEqual(3);
    await withCronLock(() =>
      extendSeries(appDatabase(), bindings(), createLogger({}, 'error'), new Date(Date.now() + 10 * DAY)),
    );
    const rows = await dateRows(created.series.id);
    expect(rows.filter((row) => row.status === 'published')).toHaveLength(5);
  });
});

describe('POST /api/v1/event-series/{id}/end', () => {
  it('deletes future drafts, cancels future published dates without bookings, keeps those with bookings', async () => {
    const { tenant, token } = await organizer();
    const published = await createSeries(tenant, token, { publish: 'published', rrule: 'FREQ=WEEKLY;COUNT=3' });
    const [booked] = await dateRows(published.series.id);
    const [type] = await database()
      .select()
      .from(ticketTypes)
      .where(eq(ticketTypes.eventId, booked?.id ?? ''));
    expect(
      (await checkout(tenant, booked?.slug ?? '', { items: [{ ticketTypeId: type?.id ?? '', quantity: 1 }] })).status,
    ).toBe(201);
    const response = await call(tenant, 'POST', `/api/v1/event-series/${published.series.id}/end`, { token });
    expect(response.status).toBe(200);
    const ended = await response.json<{ series: Series; deleted: number; cancelled: number; kept: number }>();
    expect(ended).toMatchObject({ deleted: 0, cancelled: 2, kept: 1 });
    expect(ended.series.endedAt).not.toBeNull();
    const rows = await dateRows(published.series.id);
    expect(rows.map((row) => row.status)).toEqual(['published', 'cancelled', 'cancelled']);
    expect((await call(tenant, 'POST', `/api/v1/event-series/${published.series.id}/end`, { token })).status).toBe(409);

    const drafts = await createSeries(tenant, token, { rrule: 'FREQ=WEEKLY;COUNT=2' });
    const other = await organizer();
    expect(
      (await call(other.tenant, 'POST', `/api/v1/event-series/${drafts.series.id}/end`, { token: other.token })).status,
    ).toBe(404);
    const endDrafts = await call(tenant, 'POST', `/api/v1/event-series/${drafts.series.id}/end`, { token });
    expect(await endDrafts.json()).toMatchObject({ deleted: 2, cancelled: 0, kept: 0 });
    expect(await dateRows(drafts.series.id)).toHaveLength(0);
    // An ended series is not extended by the cron.
    await withCronLock(() =>
      extendSeries(appDatabase(), bindings(), createLogger({}, 'error'), new Date(Date.now() + 30 * DAY)),
    );
    expect(await dateRows(drafts.series.id)).toHaveLength(0);
  });
});
