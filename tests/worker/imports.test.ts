import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, events, importKeys, ticketTypes } from '../../src/db/schema/index.ts';
import type { ImportReportResponse } from '../../src/routes/imports/schema.ts';
import { EVENT_CSV_COLUMNS } from '../../src/routes/imports/event-rows.ts';
import { daysFromNow } from '../support/catalogue.ts';
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

const HEADER = EVENT_CSV_COLUMNS.join(',');

/** A CSV line with the given columns set (the rest empty). */
function csvLine(cells: Partial<Record<(typeof EVENT_CSV_COLUMNS)[number], string>>): string {
  return EVENT_CSV_COLUMNS.map((column) => cells[column] ?? '').join(',');
}

function postImport(
  tenant: TestTenant,
  token: string,
  body: BodyInit,
  options: { contentType: string; dryRun?: boolean; requestId?: string },
): Promise<Response> {
  const query = options.dryRun === false ? '?dryRun=false' : '';
  return request(tenant.url(`/api/v1/imports/events${query}`), {
    method: 'POST',
    headers: bearer(token, {
      'content-type': options.contentType,
      ...(options.requestId === undefined ? {} : { 'x-request-id': options.requestId }),
    }),
    body,
  });
}

async function setup(plan: 'starter' | 'pro' = 'pro') {
  const tenant = await createTenant({ plan });
  const organizer = await memberWithToken(tenant, 'organizer');
  return { tenant, token: organizer.token };
}

/** A first request of the tenant, so the measured one finds it resolved in the isolate. */
async function warm(tenant: TestTenant, token: string): Promise<void> {
  const response = await request(tenant.url('/api/v1/events'), { headers: bearer(token) });
  expect(response.status).toBe(200);
}

function eventsOf(tenant: TestTenant) {
  return database().select().from(events).where(eq(events.organizationId, tenant.organization.id));
}

const start = () => daysFromNow(30).toISOString();
const end = () => daysFromNow(30.1).toISOString();

function jsonEvent(externalId: string, overrides: Record<string, unknown> = {}) {
  return {
    externalId,
    title: `Imported ${externalId}`,
    timezone: 'Europe/Lisbon',
    startsAt: start(),
    endsAt: end(),
    ticketTypes: [{ name: 'General', price: 1500, currency: 'EUR', quantity: 50 }],
    ...overrides,
  };
}

describe('POST /api/v1/imports/events', () => {
  it('dry-runs a CSV file: one report row per event with its lines, nothing written, one database round trip', async () => {
    const { tenant, token } = await setup();
    const csv = [
      HEADER,
      csvLine({
        externalId: 'gala',
        title: 'Spring Gala',
        timezone: 'Europe/Lisbon',
        startsAt: start(),
        endsAt: end(),
        venueName: 'Main Hall',
        venueCity: 'Lisbon',
        categories: 'music;gala',
        ticketTypeName: 'Early bird',
        ticketTypePrice: '1000',
        ticketTypeCurrency: 'EUR',
        ticketTypeQuantity: '20',
      }),
      csvLine({
        externalId: 'gala',
        ticketTypeName: 'Regular',
        ticketTypePrice: '2000',
        ticketTypeCurrency: 'EUR',
        ticketTypeQuantity: '80',
      }),
      '',
      csvLine({ externalId: 'broken', title: 'Broken', timezone: 'Mars/Olympus', startsAt: 'soon', endsAt: end() }),
    ].join('\r\n');
    await warm(tenant, token);
    const requestId = newRequestId();
    const response = await postImport(tenant, token, `\uFEFF${csv}`, { contentType: 'text/csv', requestId });
    expect(response.status, await response.clone().text()).toBe(200);
    const report: ImportReportResponse = await response.json();
    expect(report).toMatchObject({
      kind: 'events',
      format: 'csv',
      dryRun: true,
      totals: { rows: 2, create: 1, skipExisting: 0, error: 1, ticketTypes: 2, publish: 0 },
      truncated: false,
    });
    expect(report.rows[0]).toMatchObject({ row: 1, lines: [2, 3], externalId: 'gala', outcome: 'create' });
    expect(report.rows[1]).toMatchObject({ row: 2, lines: [5], externalId: 'broken', outcome: 'error' });
    const fields = report.rows[1]?.errors.map((issue) => [issue.line, issue.field]);
    expect(fields).toEqual(
      expect.arrayContaining([
        [5, 'timezone'],
        [5, 'startsAt'],
      ]),
    );
    expect(await eventsOf(tenant)).toEqual([]);
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
  });

  it('applies a JSON file all at once, audits it, and creates nothing twice when applied again', async () => {
    const { tenant, token } = await setup();
    const body = JSON.stringify({
      events: [jsonEvent('a'), jsonEvent('b', { slug: 'b-night', publish: true, capacity: 40 })],
    });
    await warm(tenant, token);
    const requestId = newRequestId();
    const applied = await postImport(tenant, token, body, {
      contentType: 'application/json',
      dryRun: false,
      requestId,
    });
    expect(applied.status, await applied.clone().text()).toBe(200);
    const report: ImportReportResponse = await applied.json();
    expect(report.totals).toEqual({ rows: 2, create: 2, skipExisting: 0, error: 0, ticketTypes: 2, publish: 1 });
    expect(report.rows.map((row) => [row.pointer, row.outcome])).toEqual([
      ['/events/0', 'create'],
      ['/events/1', 'create'],
    ]);
    // The read, then one write batch.
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 1 });

    const created = await eventsOf(tenant);
    expect(created.map((event) => [event.slug, event.status, event.capacity]).sort()).toEqual([
      ['b-night', 'published', 40],
      ['imported-a', 'draft', null],
    ]);
    const types = await database()
      .select()
      .from(ticketTypes)
      .where(eq(ticketTypes.organizationId, tenant.organization.id));
    expect(types).toHaveLength(2);
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'import.events')));
    expect(audit?.metadata).toMatchObject({ format: 'json', rows: 2, created: 2, ticketTypes: 2, published: 1 });

    const again = await postImport(tenant, token, body, { contentType: 'application/json', dryRun: false });
    expect(again.status).toBe(200);
    const second: ImportReportResponse = await again.json();
    expect(second.totals).toMatchObject({ create: 0, skipExisting: 2 });
    expect(second.rows.map((row) => row.entityId).sort()).toEqual(report.rows.map((row) => row.entityId).sort());
    expect(await eventsOf(tenant)).toHaveLength(2);
    const ledger = await database()
      .select()
      .from(importKeys)
      .where(eq(importKeys.organizationId, tenant.organization.id));
    expect(ledger).toHaveLength(2);
  });

  it('reports JSON rows by pointer and refuses to apply a file with any error (422, nothing written)', async () => {
    const { tenant, token } = await setup();
    const body = JSON.stringify({
      events: [
        jsonEvent('ok'),
        jsonEvent('bad', { endsAt: start(), ticketTypes: [{ name: 'X', price: -1, currency: 'EUR', quantity: 1 }] }),
        jsonEvent('ok'),
        'not an object',
      ],
    });
    const dry = await postImport(tenant, token, body, { contentType: 'application/json' });
    expect(dry.status).toBe(200);
    const report: ImportReportResponse = await dry.json();
    expect(report.totals).toMatchObject({ rows: 4, create: 1, error: 3 });
    expect(report.rows[1]?.errors.map((issue) => issue.field)).toEqual(
      expect.arrayContaining(['/events/1/endsAt', '/events/1/ticketTypes/0/price']),
    );
    expect(report.rows[2]?.errors[0]).toMatchObject({ field: '/events/2/externalId' });
    expect(report.rows[3]?.errors[0]).toMatchObject({ field: '/events/3' });

    const applied = await postImport(tenant, token, body, { contentType: 'application/json', dryRun: false });
    expect(applied.status).toBe(422);
    const refused = await problem(applied);
    expect(refused.errors?.map((error) => error.pointer)).toEqual(
      expect.arrayContaining(['/body/events/1/endsAt', '/body/events/1/ticketTypes/0/price']),
    );
    expect(await eventsOf(tenant)).toEqual([]);
  });

  it('refuses as a whole an import whose published events would exceed the plan quota', async () => {
    const { tenant, token } = await setup('starter');
    const body = JSON.stringify({
      events: Array.from({ length: 6 }, (_, index) => jsonEvent(`p${String(index)}`, { publish: true })),
    });
    for (const dryRun of [true, false]) {
      const response = await postImport(tenant, token, body, { contentType: 'application/json', dryRun });
      expect(response.status).toBe(403);
      expect(await problem(response)).toMatchObject({ code: 'plan_limit', quota: 'publishedEvents', limit: 5 });
    }
    expect(await eventsOf(tenant)).toEqual([]);
  });

  it('answers 400 naming the byte offset and line of bytes that are not UTF-8 (CSV and JSON)', async () => {
    const { tenant, token } = await setup();
    const head = new TextEncoder().encode(`${HEADER}\r\nx,Caf`);
    const csv = new Uint8Array([...head, 0xe9, 0x2c]);
    const response = await postImport(tenant, token, csv, { contentType: 'text/csv' });
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.errors?.[0]?.message).toBe(`Not valid UTF-8: byte offset ${String(head.length)} (line 2).`);

    const json = new Uint8Array([...new TextEncoder().encode('{"events":[{"title":"Caf'), 0xc3, 0x28, 0x22]);
    const jsonResponse = await postImport(tenant, token, json, { contentType: 'application/json' });
    expect(jsonResponse.status).toBe(400);
    expect((await problem(jsonResponse)).errors?.[0]?.message).toBe('Not valid UTF-8: byte offset 24 (line 1).');
  });

  it('answers 400 for malformed CSV and unknown columns, 415 for other media types, 413 beyond 10 MiB', async () => {
    const { tenant, token } = await setup();
    const unknown = await postImport(tenant, token, 'externalId,title,color\r\n', { contentType: 'text/csv' });
    expect(unknown.status).toBe(400);
    expect((await problem(unknown)).errors?.[0]?.message).toBe('Unknown column "color" (line 1).');
    const unclosed = await postImport(tenant, token, `${HEADER}\r\n"gala,${',x'.repeat(5)}\r\n`, {
      contentType: 'text/csv',
    });
    expect(unclosed.status).toBe(400);
    const xml = await postImport(tenant, token, '<events/>', { contentType: 'application/xml' });
    expect(xml.status).toBe(415);
    const latin = await postImport(tenant, token, `${HEADER}\r\n`, { contentType: 'text/csv; charset=iso-8859-1' });
    expect(latin.status).toBe(415);
    const huge = await postImport(tenant, token, `${HEADER}\r\n${'x'.repeat(10 * 1024 * 1024)}`, {
      contentType: 'text/csv',
    });
    expect(huge.status).toBe(413);
  });

  it('answers a 100,000-line CSV file with a clear 413, and dry-runs 10,000 lines with a report', async () => {
    const { tenant, token } = await setup();
    const line = (index: number) =>
      csvLine({
        externalId: `bulk-${String(index)}`,
        title: `Bulk ${String(index)}`,
        timezone: 'UTC',
        startsAt: start(),
        endsAt: end(),
      });
    const lines = (count: number) => [HEADER, ...Array.from({ length: count }, (_, index) => line(index))].join('\n');
    const huge = await postImport(tenant, token, lines(100_000), { contentType: 'text/csv' });
    expect(huge.status).toBe(413);
    expect(await problem(huge)).toMatchObject({ code: 'payload_too_large', limit: 10_000 });

    const csv = lines(10_000);
    const began = Date.now();
    const response = await postImport(tenant, token, csv, { contentType: 'text/csv' });
    expect(response.status, await response.clone().text()).toBe(200);
    const report: ImportReportResponse = await response.json();
    expect(report.totals).toMatchObject({ rows: 10_000, create: 10_000, error: 0 });
    expect(report.truncated).toBe(true);
    console.info(`10,000-line dry run: ${String(Date.now() - began)} ms`);

    const apply = await postImport(tenant, token, csv, { contentType: 'text/csv', dryRun: false });
    expect(apply.status).toBe(413);
  }, 60_000);

  it('keeps formula-like text as given and warns; needs events:write', async () => {
    const { tenant, token } = await setup();
    const body = JSON.stringify({ events: [jsonEvent('f', { title: '=HYPERLINK("http://evil.example")' })] });
    const applied = await postImport(tenant, token, body, { contentType: 'application/json', dryRun: false });
    expect(applied.status).toBe(200);
    const report: ImportReportResponse = await applied.json();
    expect(report.rows[0]?.warnings[0]).toMatchObject({ field: '/events/0/title' });
    const [event] = await eventsOf(tenant);
    expect(event?.title).toBe('=HYPERLINK("http://evil.example")');

    const staff = await memberWithToken(tenant, 'staff');
    const refused = await postImport(tenant, staff.token, body, { contentType: 'application/json' });
    expect(refused.status).toBe(403);
    const anonymous = await request(tenant.url('/api/v1/imports/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(anonymous.status).toBe(401);
  });

  it("treats another organization's externalIds and slugs as its own business", async () => {
    const { tenant, token } = await setup();
    const other = await setup();
    const body = JSON.stringify({ events: [jsonEvent('shared', { slug: 'shared-slug' })] });
    const first = await postImport(other.tenant, other.token, body, { contentType: 'application/json', dryRun: false });
    expect(first.status).toBe(200);
    const mine = await postImport(tenant, token, body, { contentType: 'application/json', dryRun: false });
    const report: ImportReportResponse = await mine.json();
    expect(report.totals).toMatchObject({ create: 1, skipExisting: 0 });
    // Another organization's token on this host is refused.
    const cross = await postImport(tenant, other.token, body, { contentType: 'application/json' });
    expect(cross.status).toBe(401);
  });
});
