import { describe, expect, it } from 'vitest';
import type { PersonalDataExportResponse } from '../../src/routes/auth/data-export.ts';
import { loginAs, randomIp, waitForAudits } from '../support/auth.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import { createTenant, newRequestId, problem, request, roundTrips } from '../support/harness.ts';
import { call, memberWithToken } from '../support/users.ts';

// Issue #16 part 6 (data rights): GET /api/v1/auth/me/export, what an organization holds about the signed-in person.

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
