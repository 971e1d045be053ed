import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, users } from '../../src/db/schema/index.ts';
import type { AccountDataExportSchema } from '../../src/routes/platform/data-rights.ts';
import type { z } from '@hono/zod-openapi';
import { book } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import {
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  otherDatabases,
  problem,
  request,
  roundTrips,
  tokenFor,
} from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM } from '../support/organizations.ts';

// Issue #16 part 6, platform-wide: a platform administrator exports and erases an account across every organization.

function platform(path: string, token: string, init: { method?: string; body?: unknown; requestId?: string } = {}) {
  return request(`${PLATFORM}${path}`, {
    method: init.method ?? 'GET',
    headers: bearer(token, { 'x-request-id': init.requestId ?? newRequestId() }),
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

/** Every text, varchar and jsonb value in the database that contains `needle` (table.column), owner connection. */
async function occurrences(needle: string): Promise<string[]> {
  const columns = await database().execute<{ table_name: string; column_name: string }>(
    sql`select table_name, column_name from information_schema.columns where table_schema = 'public'
      and data_type in ('text', 'character varying', 'jsonb', 'ARRAY') order by 1, 2`,
  );
  const found: string[] = [];
  for (const { table_name: table, column_name: column } of columns.rows) {
    const result = await database().execute<{ n: number }>(
      sql`select count(*)::int as n from ${sql.identifier(table)}
        where ${sql.identifier(column)}::text ilike ${`%${needle}%`}`,
    );
    if ((result.rows[0]?.n ?? 0) > 0) found.push(`${table}.${column}`);
  }
  return found;
}

/** A person who is a member of two organizations and bought a ticket as a guest in a third. */
async function personInThree() {
  const [first, second, third] = await Promise.all([createTenant(), createTenant(), createTenant()]);
  await Promise.all([first, second].map((tenant) => createMember(tenant, 'owner')));
  const email = `subject-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const person = await createMember(first, 'organizer', { email });
  await createMember(second, 'member', { email });
  for (const tenant of [first, third]) {
    const event = await createEvent(tenant);
    const seats = await createTicketType(event, { price: 0, quantity: 10 });
    await book(tenant, event.slug, {
      buyer: { name: 'Sam Subject', email },
      items: [{ ticketTypeId: seats.id, quantity: 1 }],
    });
  }
  // An audit entry of something they did, with their address and agent.
  await database().insert(auditLogs).values({
    organizationId: first.organization.id,
    actorType: 'user',
    actorUserId: person.userId,
    action: 'test.fixture',
    ip: '203.0.113.9',
    userAgent: 'Subject Browser',
  });
  return { first, second, third, person, email };
}

describe('GET /api/v1/platform/users/{id}/export', () => {
  it('gives the account and, per organization that holds something of it, the per-organization document', async () => {
    const { first, second, third, person, email } = await personInThree();
    const admin = await createPlatformAdmin();
    const requestId = newRequestId();
    const response = await platform(`/api/v1/platform/users/${person.userId}/export`, admin.token, { requestId });
    expect(response.status).toBe(200);
    // Two on the control database, and a read on each dedicated one (which holds nothing of this person here).
    expect(await roundTrips(requestId)).toEqual({ database: 2 + otherDatabases(), redis: 1 });
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="eventra-account-/);
    const body = await response.json<z.infer<typeof AccountDataExportSchema>>();
    expect(body.account).toMatchObject({ id: person.userId, email });
    const byOrganization = new Map(body.organizations.map((document) => [document.organization.id, document]));
    expect(new Set(byOrganization.keys())).toEqual(
      new Set([first.organization.id, second.organization.id, third.organization.id]),
    );
    expect(byOrganization.get(first.organization.id)?.membership?.role.key).toBe('organizer');
    expect(byOrganization.get(third.organization.id)?.membership).toBeNull();
    expect(byOrganization.get(third.organization.id)?.bookings).toHaveLength(1);
    expect(JSON.stringify(body)).not.toMatch(/passwordHash|password_hash|scrypt/);
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(eq(auditLogs.action, 'platform.user_data_exported'))
      .orderBy(sql`${auditLogs.id} desc`)
      .limit(1);
    expect(audit?.targetId).toBe(person.userId);

    expect((await platform(`/api/v1/platform/users/${crypto.randomUUID()}/export`, admin.token)).status).toBe(404);
    const owner = await createMember(first, 'admin');
    const onTenant = await request(first.url(`/api/v1/platform/users/${person.userId}/export`), {
      headers: bearer(await tokenFor(first, owner)),
    });
    expect(onTenant.status).toBe(404);
  });
});

describe('POST /api/v1/platform/users/{id}/erase', () => {
  it('erases the account and every trace of its address in every organization', async () => {
    const { first, second, third, person, email } = await personInThree();
    const admin = await createPlatformAdmin();
    expect((await occurrences(email)).length).toBeGreaterThan(0);
    const requestId = newRequestId();
    const response = await platform(`/api/v1/platform/users/${person.userId}/erase`, admin.token, {
      method: 'POST',
      body: { reason: 'DSR #88: erasure requested' },
      requestId,
    });
    expect(response.status).toBe(200);
    // 2 reads/writes of its own, and per membership its removal and its API keys, plus its access tokens in Redis;
    // a read and a write on each other database the Worker knows (its copies there, none here).
    expect(await roundTrips(requestId)).toEqual({ database: 2 + 2 * 2 + 2 * otherDatabases(), redis: 1 + 2 });
    expect(await response.json()).toEqual({
      bookings: 2,
      tickets: 2,
      waitlistEntries: 0,
      auditEntries: 1,
      organizations: 3,
      membershipsRemoved: 2,
    });
    expect(await database().select().from(users).where(eq(users.id, person.userId))).toEqual([]);
    // No text anywhere holds the address any more, except the outbox's `membership.deleted` payloads (the webhook
    // event of each removal, which names the member that left).
    expect(await occurrences(email)).toEqual(['outbox.payload']);
    const erasures = await database()
      .select({ organizationId: auditLogs.organizationId, metadata: auditLogs.metadata })
      .from(auditLogs)
      .where(eq(auditLogs.action, 'account.data_erased'))
      .orderBy(sql`${auditLogs.id} desc`)
      .limit(3);
    expect(new Set(erasures.map((row) => row.organizationId))).toEqual(
      new Set([first.organization.id, second.organization.id, third.organization.id]),
    );
    expect(
      (
        await platform(`/api/v1/platform/users/${person.userId}/erase`, admin.token, {
          method: 'POST',
          body: { reason: 'again' },
        })
      ).status,
    ).toBe(404);
  });

  it('refuses, erasing nothing, when the account is the last active owner of an organization', async () => {
    const [alone, shared] = await Promise.all([createTenant(), createTenant()]);
    const email = `owner-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const owner = await createMember(alone, 'owner', { email });
    await createMember(shared, 'owner', { email });
    await createMember(shared, 'owner');
    const admin = await createPlatformAdmin();
    const response = await platform(`/api/v1/platform/users/${owner.userId}/erase`, admin.token, {
      method: 'POST',
      body: { reason: 'DSR #89' },
    });
    expect(response.status).toBe(409);
    const body = await problem(response);
    expect(body.organizations).toEqual([alone.organization.slug]);
    expect(body.detail).toContain(alone.organization.slug);
    expect(body.detail).not.toContain(shared.organization.slug);
    const [still] = await database().select().from(users).where(eq(users.id, owner.userId));
    expect(still?.email).toBe(email);
    expect((await occurrences(email)).length).toBeGreaterThan(0);
    expect(
      (
        await platform(`/api/v1/platform/users/${crypto.randomUUID()}/erase`, admin.token, {
          method: 'POST',
          body: { reason: 'DSR #90' },
        })
      ).status,
    ).toBe(404);
  });
});
