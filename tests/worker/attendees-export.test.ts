import { parse } from 'csv-parse/sync';
import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { attendees, auditLogs } from '../../src/db/schema/index.ts';
import { book } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { createTenant, database, newRequestId, problem, roundTrips, type TestTenant } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

const FIXED_COLUMNS = [
  'ticket_id',
  'name',
  'email',
  'ticket_code',
  'ticket_status',
  'ticket_type_id',
  'ticket_type',
  'booking_id',
  'booking_status',
  'checked_in_at',
  'created_at',
];

async function addQuestion(tenant: TestTenant, token: string, eventId: string, body: Record<string, unknown>) {
  const response = await call(tenant, 'POST', `/api/v1/events/${eventId}/questions`, { token, body });
  expect(response.status, await response.clone().text()).toBe(201);
}

/**
 * A pro tenant (the `exports` feature) with an event, four questions (three per attendee, one per booking), door
 * staff, and two confirmed bookings whose answers and names test the CSV's quoting and formula neutralization.
 */
async function setup(plan: 'starter' | 'pro' = 'pro') {
  const tenant = await createTenant({ plan });
  const organizer = await memberWithToken(tenant, 'organizer');
  const staff = await memberWithToken(tenant, 'staff');
  const event = await createEvent(tenant);
  const general = await createTicketType(event, { name: 'General, standing', price: 0 });
  const vip = await createTicketType(event, { name: 'VIP', price: 0 });
  await addQuestion(tenant, organizer.token, event.id, { key: 'company', label: 'Company', type: 'text', position: 0 });
  await addQuestion(tenant, organizer.token, event.id, {
    key: 'talks',
    label: 'Talks',
    type: 'multi_choice',
    options: ['keynote', 'workshop', 'panel'],
    position: 1,
  });
  await addQuestion(tenant, organizer.token, event.id, {
    key: 'newsletter',
    label: 'Newsletter',
    type: 'checkbox',
    position: 2,
  });
  await addQuestion(tenant, organizer.token, event.id, {
    key: 'invoice_vat',
    label: 'VAT number',
    type: 'text',
    level: 'booking',
    position: 0,
  });
  const tag = crypto.randomUUID().slice(0, 8);
  const first = await book(tenant, event.slug, {
    items: [
      {
        ticketTypeId: general.id,
        quantity: 2,
        attendees: [
          {
            name: '=HYPERLINK("http://evil.example","x")',
            email: `mallory.${tag}@example.com`,
            answers: { company: 'Acme, "Inc"', talks: ['keynote', 'panel'], newsletter: true },
          },
          { name: 'Alan Turing', email: `alan.${tag}@example.com`, answers: { company: 'Bletchley' } },
        ],
      },
    ],
    answers: { invoice_vat: 'PT123456789' },
  });
  const second = await book(tenant, event.slug, {
    items: [
      {
        ticketTypeId: vip.id,
        quantity: 1,
        attendees: [{ name: 'Ada Lovelace', email: `ada.${tag}@example.com`, answers: { newsletter: false } }],
      },
    ],
  });
  return { tenant, organizer, staff, event, general, vip, first, second, tag };
}

function exportAttendees(tenant: TestTenant, token: string, eventId: string, query = '', requestId?: string) {
  return call(tenant, 'GET', `/api/v1/events/${eventId}/attendees/export${query}`, {
    token,
    ...(requestId === undefined ? {} : { headers: { 'x-request-id': requestId } }),
  });
}

function parseCsv(text: string): string[][] {
  return parse(text, { record_delimiter: '\r\n' });
}

describe('the door list export', () => {
  it('streams CSV with a column per question, RFC 4180 quoting and neutralized formulas; audited', async () => {
    const { tenant, staff, event, general, vip, first, second, tag } = await setup();
    const requestId = newRequestId();
    const response = await exportAttendees(tenant, staff.token, event.id, '', requestId);
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(
      new RegExp(`^attachment; filename="attendees-${event.slug}-\\d{8}T\\d{6}Z\\.csv"$`),
    );
    const text = await response.text();
    expect(text.endsWith('\r\n')).toBe(true);
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([
      ...FIXED_COLUMNS,
      'answer:company',
      'answer:talks',
      'answer:newsletter',
      'booking_answer:invoice_vat',
    ]);
    expect(rows).toHaveLength(3);
    const byEmail = new Map(rows.map((row) => [row[2], row]));
    const mallory = byEmail.get(`mallory.${tag}@example.com`);
    // The formula is shown as text: a leading apostrophe, the rest as written.
    expect(mallory?.[1]).toBe(`'=HYPERLINK("http://evil.example","x")`);
    expect(mallory?.slice(4, 9)).toEqual(['valid', general.id, 'General, standing', first.id, 'confirmed']);
    expect(mallory?.[9]).toBe('');
    expect(mallory?.slice(11)).toEqual(['Acme, "Inc"', 'keynote; panel', 'true', 'PT123456789']);
    expect(byEmail.get(`alan.${tag}@example.com`)?.slice(11)).toEqual(['Bletchley', '', '', 'PT123456789']);
    const ada = byEmail.get(`ada.${tag}@example.com`);
    expect(ada?.slice(5, 8)).toEqual([vip.id, 'VIP', second.id]);
    expect(ada?.slice(11)).toEqual(['', '', 'false', '']);
    // The ticket codes are the tickets' own.
    const codes = await database()
      .select({ id: attendees.id, code: attendees.ticketCode })
      .from(attendees)
      .where(eq(attendees.organizationId, tenant.organization.id));
    expect(new Set(rows.map((row) => `${row[0]}:${row[3]}`))).toEqual(
      new Set(codes.map((row) => `${row.id}:${row.code}`)),
    );

    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'attendees.exported')));
    expect(audit).toMatchObject({
      actorType: 'user',
      actorUserId: staff.member.userId,
      targetType: 'event',
      targetId: event.id,
      correlationId: requestId,
      metadata: { format: 'csv' },
    });
    // One batch before the stream (event, questions, first page, count, audit row): one database round trip.
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
  });

  it('exports JSON with answers, and filters as the list does', async () => {
    const { tenant, staff, event, vip, second, tag } = await setup();
    const all = await exportAttendees(tenant, staff.token, event.id, '?format=json');
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const entries: Record<string, unknown>[] = await all.json();
    expect(entries).toHaveLength(3);
    expect(entries.find((entry) => entry.email === `mallory.${tag}@example.com`)).toMatchObject({
      answers: { company: 'Acme, "Inc"', talks: ['keynote', 'panel'], newsletter: true },
      bookingAnswers: { invoice_vat: 'PT123456789' },
      checkedIn: false,
    });

    const vips = await exportAttendees(tenant, staff.token, event.id, `?format=json&ticketTypeId=${vip.id}`);
    expect(await vips.json()).toEqual([
      expect.objectContaining({ email: `ada.${tag}@example.com`, booking: { id: second.id, status: 'confirmed' } }),
    ]);
    const none = await exportAttendees(tenant, staff.token, event.id, '?format=json&checkedIn=true');
    expect(await none.json()).toEqual([]);
    const pending = await exportAttendees(tenant, staff.token, event.id, '?bookingStatus=pending');
    expect(parseCsv(await pending.text())).toHaveLength(1);

    const unknown = await exportAttendees(tenant, staff.token, event.id, '?format=xml');
    expect(unknown.status).toBe(400);
    const search = await exportAttendees(tenant, staff.token, event.id, '?q=ada');
    expect(search.status).toBe(400);
  });

  it('reads page after page: 1,003 tickets stream whole, in booking order, each once', async () => {
    const { tenant, staff, event, first } = await setup();
    // 1,000 more tickets on the first booking (as the database owner): the export's pages hold 1,000.
    await database().execute(sql`
      insert into ${attendees} (organization_id, booking_id, ticket_type_id, name, email, ticket_code, status, position)
      select a.organization_id, a.booking_id, a.ticket_type_id, 'Guest ' || g, 'guest' || g || '@example.com',
        upper(substr(md5(random()::text || g), 1, 12)), 'valid', a.position + g
      from ${attendees} a, generate_series(1, 1000) g
      where a.organization_id = ${tenant.organization.id} and a.booking_id = ${first.id}
        and a.email like 'alan.%'`);
    const response = await exportAttendees(tenant, staff.token, event.id, '?format=json');
    expect(response.status).toBe(200);
    const entries: { id: string; booking: { id: string } }[] = await response.json();
    expect(entries).toHaveLength(1003);
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(1003);
    // The first booking's tickets first (booked earlier), then the second's.
    expect(entries.slice(0, 1002).every((entry) => entry.booking.id === first.id)).toBe(true);
    expect(entries[1002]?.booking.id).not.toBe(first.id);
    const csv = parseCsv(await (await exportAttendees(tenant, staff.token, event.id)).text());
    expect(csv).toHaveLength(1004);
  });

  it("is 404 for another organization's event, 403 without the feature or the permission", async () => {
    const { tenant, staff, event } = await setup();
    const other = await setup();
    const foreign = await exportAttendees(tenant, staff.token, other.event.id);
    expect(foreign.status).toBe(404);
    expect(
      await database()
        .select()
        .from(auditLogs)
        .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, 'attendees.exported'))),
    ).toEqual([]);

    const starter = await setup('starter');
    const refused = await exportAttendees(starter.tenant, starter.staff.token, starter.event.id);
    expect(refused.status).toBe(403);
    expect(await problem(refused)).toMatchObject({ code: 'feature_unavailable', feature: 'exports' });

    const { token: outsider } = await memberWithToken(tenant, 'member');
    const forbidden = await exportAttendees(tenant, outsider, event.id);
    expect(forbidden.status).toBe(403);
  });
});
