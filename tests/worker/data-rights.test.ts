import { and, eq, like } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { attendees, auditLogs, bookings, memberships, users, waitlistEntries } from '../../src/db/schema/index.ts';
import type { PersonalDataExportResponse } from '../../src/routes/auth/data-export.ts';
import { scoped } from '../../src/db/tenant.ts';
import { issueAccessToken } from '../../src/services/auth/tokens.ts';
import { bindings, loginAs, randomIp, waitForAudits } from '../support/auth.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { appDatabase, createTenant, database, newRequestId, problem, request, roundTrips } from '../support/harness.ts';
import { sqlState } from '../support/organizations.ts';
import { call, memberWithToken } from '../support/users.ts';

// Issue #16 part 6 (data rights): GET /api/v1/auth/me/export, what an organization holds about the signed-in person,
// and POST /api/v1/auth/me/erase, leaving the organization with that data erased.

describe('GET /api/v1/auth/me/export', () => {
  it('gives the person their account, membership, sessions, keys, bookings, tickets and audit trail, and no secret', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const { member, token } = await memberWithToken(tenant, 'owner');
    const someone = await memberWithToken(tenant, 'organizer');
    const event = await createEvent(tenant);
    const seats = await createTicketType(event, { price: 1500, quantity: 20 });
    // A sign-in (a session row), an API key of theirs, a booking of theirs and a ticket in their name in another's.
    const session = await loginAs(tenant, member);
    const key = await call(tenant, 'POST', '/api/v1/api-keys', {
      token,
      body: { name: 'CRM', environment: 'live', permissions: ['events:read'] },
    });
    expect(key.status).toBe(201);
    const { key: secretKey } = await key.json<{ key: string }>();
    const mine = await book(tenant, event.slug, {
      buyer: { name: 'Me Myself', email: member.email.toUpperCase() },
      items: [{ ticketTypeId: seats.id, quantity: 1 }],
    });
    const theirs = await book(tenant, event.slug, {
      buyer: { name: 'A Friend', email: someone.member.email },
      items: [
        {
          ticketTypeId: seats.id,
          quantity: 2,
          attendees: [
            { name: 'A Friend', email: someone.member.email },
            { name: 'Me As Guest', email: member.email },
          ],
        },
      ],
    });

    const requestId = newRequestId();
    const response = await call(tenant, 'GET', '/api/v1/auth/me/export', {
      token,
      headers: { 'x-request-id': requestId },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-disposition')).toMatch(
      new RegExp(`^attachment; filename="eventra-data-${tenant.organization.slug}-\\d{4}-\\d{2}-\\d{2}\\.json"$`),
    );
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const text = await response.text();
    const data = JSON.parse(text) as PersonalDataExportResponse;

    expect(data.organization).toMatchObject({ id: tenant.organization.id, slug: tenant.organization.slug });
    expect(data.account).toMatchObject({ id: member.userId, email: member.email });
    expect(data.membership).toMatchObject({ role: { key: 'owner' }, status: 'active' });
    expect(data.mfa).toEqual({ totp: { enabled: false, enrolledAt: null }, recoveryCodesRemaining: 0 });
    expect(data.sessions.length).toBeGreaterThanOrEqual(1);
    expect(data.sessions[0]).toMatchObject({ signInMethods: ['pwd'], revokedAt: null });
    expect(data.apiKeys).toMatchObject([{ name: 'CRM', environment: 'live', permissions: ['events:read'] }]);
    expect(data.bookings.map((booking) => booking.id)).toEqual([mine.id]);
    expect(data.bookings[0]?.attendees).toMatchObject([{ ticketCode: mine.attendees[0]?.ticketCode }]);
    expect(data.tickets).toMatchObject([{ bookingId: theirs.id, name: 'Me As Guest', email: member.email }]);
    expect(data.tickets[0]).not.toHaveProperty('ticketCode');
    expect(data.auditEntries.map((entry) => entry.action)).toContain('api_key.created');
    expect(data.truncated).toEqual([]);

    // Never a secret: no password hash, no refresh token, no API key, no ticket code of the friend's own ticket.
    expect(text).not.toContain('scrypt$');
    expect(text).not.toContain(session.refreshToken);
    expect(text).not.toContain(secretKey);
    expect(text).not.toContain(theirs.attendees[0]?.ticketCode ?? 'missing');
    expect(text).not.toContain(theirs.token);

    // Audited; the next export lists the first.
    await waitForAudits(tenant.organization.id, 'account.data_exported');
    const again = await call(tenant, 'GET', '/api/v1/auth/me/export', { token });
    const second = await again.json<PersonalDataExportResponse>();
    expect(second.auditEntries[0]?.action).toBe('account.data_exported');

    // The other member sees their own data only.
    const theirsExport = await call(tenant, 'GET', '/api/v1/auth/me/export', { token: someone.token });
    const other = await theirsExport.json<PersonalDataExportResponse>();
    expect(other.account.email).toBe(someone.member.email);
    expect(other.bookings.map((booking) => booking.id)).toEqual([theirs.id]);
    expect(other.apiKeys).toEqual([]);
    expect(other.tickets).toEqual([]);
  });

  it('is a person’s own (API keys 403), needs a token of this organization (401), and is not on the platform host', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const created = await call(tenant, 'POST', '/api/v1/api-keys', {
      token,
      body: { name: 'Key', environment: 'live', permissions: ['events:read'] },
    });
    const { key } = await created.json<{ key: string }>();
    const byKey = await call(tenant, 'GET', '/api/v1/auth/me/export', { token: key });
    expect(byKey.status).toBe(403);
    expect((await problem(byKey)).code).toBe('forbidden');

    const anonymous = await request(tenant.url('/api/v1/auth/me/export'), {
      headers: { 'cf-connecting-ip': randomIp() },
    });
    expect(anonymous.status).toBe(401);
    const other = await createTenant();
    const foreign = await call(other, 'GET', '/api/v1/auth/me/export', { token });
    expect(foreign.status).toBe(401);
    const platform = await request('http://localhost/api/v1/auth/me/export', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(platform.status).toBe(404);
  });
});

describe('POST /api/v1/auth/me/erase', () => {
  it('erases the person here in one transaction: bookings, tickets, waitlist and audit details; ends access', async () => {
    const tenant = await createTenant();
    await enableManualPayment(tenant);
    const owner = await memberWithToken(tenant, 'owner');
    const { member, token } = await memberWithToken(tenant, 'admin');
    const event = await createEvent(tenant);
    const seats = await createTicketType(event, { price: 1500, quantity: 3 });
    const address = '203.0.113.77';
    const key = await call(tenant, 'POST', '/api/v1/api-keys', {
      token,
      body: { name: 'Sync', environment: 'live', permissions: ['events:read'] },
      headers: { 'cf-connecting-ip': address },
    });
    expect(key.status).toBe(201);
    const { key: apiKey } = await key.json<{ key: string }>();
    const mine = await book(tenant, event.slug, {
      buyer: { name: 'Erin Erasable', email: member.email },
      items: [{ ticketTypeId: seats.id, quantity: 1 }],
    });
    const ownersBooking = await book(tenant, event.slug, {
      buyer: { name: 'The Owner', email: owner.member.email },
      items: [
        {
          ticketTypeId: seats.id,
          quantity: 2,
          attendees: [
            { name: 'The Owner', email: owner.member.email },
            { name: 'Erin As Guest', email: member.email },
          ],
        },
      ],
    });
    // Sold out: the member joins the waitlist.
    const joined = await request(tenant.url(`/api/v1/public/events/${event.slug}/waitlist`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
      body: JSON.stringify({ ticketTypeId: seats.id, name: 'Erin', email: member.email, groupSize: 1 }),
    });
    expect(joined.status).toBe(202);
    const org = tenant.organization.id;
    const [created] = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, org), eq(auditLogs.action, 'api_key.created')));
    expect(created).toMatchObject({ actorUserId: member.userId, ip: address });

    const wrong = await call(tenant, 'POST', '/api/v1/auth/me/erase', { token, body: { confirm: 'not-the-slug' } });
    expect(wrong.status).toBe(400);
    expect((await problem(wrong)).errors).toEqual([
      { pointer: '/body/confirm', message: "must be this organization's slug, to confirm" },
    ]);
    expect(await bookingOf(mine.id)).toMatchObject({ buyerName: 'Erin Erasable' });

    const requestId = newRequestId();
    const erased = await call(tenant, 'POST', '/api/v1/auth/me/erase', {
      token,
      body: { confirm: tenant.organization.slug },
      headers: { 'x-request-id': requestId },
    });
    expect(erased.status).toBe(200);
    expect(await erased.json()).toEqual({ bookings: 1, tickets: 2, waitlistEntries: 1, auditEntries: 1 });
    expect(await roundTrips(requestId)).toEqual({ database: 3, redis: 3 });

    // Access ends at once: the session's token and the API key.
    expect((await call(tenant, 'GET', '/api/v1/auth/me', { token })).status).toBe(401);
    expect((await call(tenant, 'GET', '/api/v1/events', { token: apiKey })).status).toBe(401);
    const membership = await database()
      .select()
      .from(memberships)
      .where(and(eq(memberships.organizationId, org), eq(memberships.userId, member.userId)));
    expect(membership).toEqual([]);
    // The account stays (one identity across organizations).
    expect(await database().select({ id: users.id }).from(users).where(eq(users.id, member.userId))).toHaveLength(1);

    // The booking keeps its money and seats, not the person.
    const booking = await bookingOf(mine.id);
    expect(booking).toMatchObject({ buyerName: 'Erased', answers: {}, total: 1500, status: 'pending' });
    expect(booking?.buyerEmail).toMatch(/^erased-[0-9a-f]{8}@erased\.invalid$/);
    const tickets = await database()
      .select()
      .from(attendees)
      .where(eq(attendees.bookingId, ownersBooking.id))
      .orderBy(attendees.position);
    expect(tickets.map((ticket) => ticket.name)).toEqual(['The Owner', 'Erased']);
    expect(tickets[0]?.email).toBe(owner.member.email);
    const [entry] = await database().select().from(waitlistEntries).where(eq(waitlistEntries.organizationId, org));
    expect(entry).toMatchObject({ name: 'Erased', status: 'left' });
    const leftovers = await database()
      .select({ id: bookings.id })
      .from(bookings)
      .where(and(eq(bookings.organizationId, org), like(bookings.buyerName, '%Erin%')));
    expect(leftovers).toEqual([]);

    // The audit trail keeps what, when and who, not where from.
    const trail = await database()
      .select()
      .from(auditLogs)
      .where(and(eq(auditLogs.organizationId, org), eq(auditLogs.actorUserId, member.userId)));
    expect(trail.map((row) => row.action).sort()).toEqual(['account.data_erased', 'api_key.created']);
    expect(trail.every((row) => row.ip === null && row.userAgent === null)).toBe(true);
    // Still append-only otherwise: the application role may not put an address back nor change what happened.
    const app = appDatabase();
    const scope = { organizationId: org };
    const rowId = created?.id ?? 0n;
    const putBack = app.update(auditLogs).set({ ip: '198.51.100.1' }).where(eq(auditLogs.id, rowId));
    expect(await sqlState(scoped(app, scope, [putBack]))).toBe('42501');
    const rewrite = app.update(auditLogs).set({ action: 'rewritten' }).where(eq(auditLogs.id, rowId));
    expect(await sqlState(scoped(app, scope, [rewrite]))).toBe('42501');
    const owners = database();
    const ownerRewrite = owners
      .update(auditLogs)
      .set({ ip: null, userAgent: null, action: 'rewritten' })
      .where(eq(auditLogs.id, rowId));
    expect(await sqlState(ownerRewrite)).toBe('42501');
  });

  it('refuses the last owner (409), a stale sign-in (401) and an API key (403), erasing nothing', async () => {
    const tenant = await createTenant();
    const { member, token } = await memberWithToken(tenant, 'owner');
    const confirm = { confirm: tenant.organization.slug };
    const last = await call(tenant, 'POST', '/api/v1/auth/me/erase', { token, body: confirm });
    expect(last.status).toBe(409);
    expect((await problem(last)).detail).toContain('at least one active owner');

    const { token: stale } = await issueAccessToken(bindings().JWT_SIGNING_KEYS, bindings().ROOT_DOMAIN, {
      userId: member.userId,
      tenant: tenant.organization.id,
      sessionId: crypto.randomUUID(),
      role: member.role,
      permissions: [],
      emailVerified: true,
      authTime: Math.floor(Date.now() / 1000) - 3600,
    });
    const old = await call(tenant, 'POST', '/api/v1/auth/me/erase', { token: stale, body: confirm });
    expect(old.status).toBe(401);
    expect((await problem(old)).code).toBe('reauthentication_required');

    const created = await call(tenant, 'POST', '/api/v1/api-keys', {
      token,
      body: { name: 'Key', environment: 'live', permissions: ['events:read'] },
    });
    const { key } = await created.json<{ key: string }>();
    expect((await call(tenant, 'POST', '/api/v1/auth/me/erase', { token: key, body: confirm })).status).toBe(403);
    const membership = await database()
      .select()
      .from(memberships)
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    expect(membership).toHaveLength(1);
  });
});

async function bookingOf(id: string) {
  const [row] = await database().select().from(bookings).where(eq(bookings.id, id));
  return row;
}
