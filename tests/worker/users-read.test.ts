import { and, asc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships } from '../../src/db/schema/index.ts';
import type { MemberListResponse, MemberResponse } from '../../src/routes/users/schema.ts';
import { encodeCursor } from '../../src/lib/cursor.ts';
import {
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { addMembers, call, memberWithToken } from '../support/users.ts';

const MEMBER_KEYS = ['createdAt', 'email', 'emailVerified', 'id', 'lastLoginAt', 'name', 'role', 'status'];

async function list(tenant: TestTenant, token: string, query = ''): Promise<Response> {
  return call(tenant, 'GET', `/api/v1/users${query}`, { token });
}

/** The tenant's member ids in the documented order, read from the database (owner connection). */
async function orderedMemberIds(tenant: TestTenant): Promise<string[]> {
  const rows = await database()
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(eq(memberships.organizationId, tenant.organization.id))
    .orderBy(asc(memberships.createdAt), asc(memberships.userId));
  return rows.map((row) => row.userId);
}

async function allPages(tenant: TestTenant, token: string, limit: number): Promise<MemberListResponse[]> {
  const pages: MemberListResponse[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const response = await list(tenant, token, query);
    expect(response.status).toBe(200);
    const page: MemberListResponse = await response.json();
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 50);
  return pages;
}

describe('GET /api/v1/users', () => {
  it('lists the members with their role, status and verification, and never a credential', async () => {
    const tenant = await createTenant();
    const { member: owner, token } = await memberWithToken(tenant, 'owner');
    const unverified = await createMember(tenant, 'staff', { emailVerified: false, status: 'disabled' });

    const response = await list(tenant, token);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const text = await response.text();
    expect(text).not.toMatch(/password|hash|scrypt/i);
    const body = JSON.parse(text) as MemberListResponse;
    expect(body.nextCursor).toBeNull();
    expect(body.data.map((member) => member.id)).toEqual([owner.userId, unverified.userId]);
    const [first, second] = body.data;
    expect(Object.keys(first ?? {}).sort()).toEqual(MEMBER_KEYS);
    expect(first).toMatchObject({
      email: owner.email,
      role: { key: 'owner', name: 'Owner' },
      status: 'active',
      emailVerified: true,
      lastLoginAt: null,
    });
    expect(Date.parse(first?.createdAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(second).toMatchObject({
      email: unverified.email,
      role: { key: 'staff', name: 'Staff' },
      status: 'disabled',
      emailVerified: false,
    });
  });

  it('answers 401 without a token and 403 to a member without users:read', async () => {
    const tenant = await createTenant();
    const anonymous = await call(tenant, 'GET', '/api/v1/users');
    expect(anonymous.status).toBe(401);
    expect((await problem(anonymous)).code).toBe('unauthorized');

    const { token: staffToken } = await memberWithToken(tenant, 'staff');
    const staff = await list(tenant, staffToken);
    expect(staff.status).toBe(403);
    const body = await problem(staff);
    expect(body.code).toBe('forbidden');
    expect(body.detail).toContain('users:read');

    const { token: organizerToken } = await memberWithToken(tenant, 'organizer');
    expect((await list(tenant, organizerToken)).status).toBe(200);
  });

  it('shows only the members of this organization', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { member: owner, token } = await memberWithToken(tenant, 'owner');
    const outsider = await createMember(other, 'admin');
    // A person in both organizations appears once, with this organization's role.
    const shared = await createMember(other, 'owner');
    await createMember(tenant, 'staff', { email: shared.email });

    const body: MemberListResponse = await (await list(tenant, token)).json();
    expect(body.data.map((member) => [member.id, member.role.key])).toEqual([
      [owner.userId, 'owner'],
      [shared.userId, 'staff'],
    ]);
    expect(body.data.some((member) => member.id === outsider.userId)).toBe(false);
  });

  it('pages through every member once, in a stable order, with an opaque cursor', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    // One insert: these memberships share one created_at, so the order rests on the user id tie-break.
    await addMembers(tenant, 10);
    const expected = await orderedMemberIds(tenant);
    expect(expected).toHaveLength(11);

    const pages = await allPages(tenant, token, 3);
    expect(pages.map((page) => page.data.length)).toEqual([3, 3, 3, 2]);
    expect(pages.at(-1)?.nextCursor).toBeNull();
    const seen = pages.flatMap((page) => page.data.map((member) => member.id));
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
    for (const page of pages.slice(0, -1)) expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);

    // The same cursor gives the same page again.
    const again = await allPages(tenant, token, 3);
    expect(again).toEqual(pages);
  });

  it('keeps pages exact when memberships differ by microseconds', async () => {
    const tenant = await createTenant();
    const { member: owner, token } = await memberWithToken(tenant, 'owner');
    const ids = await addMembers(tenant, 3);
    // Timestamps within one millisecond (.123001, .123101, .123201): a cursor rounded to milliseconds would skip or
    // repeat these rows.
    for (const [index, id] of ids.entries()) {
      const createdAt = `2026-01-01T10:00:00.123${String(index * 100 + 1).padStart(3, '0')}Z`;
      await database().execute(
        sql`update memberships set created_at = ${createdAt}::timestamptz where organization_id = ${tenant.organization.id} and user_id = ${id}`,
      );
    }
    const pages = await allPages(tenant, token, 1);
    expect(pages.flatMap((page) => page.data.map((member) => member.id))).toEqual([...ids, owner.userId]);
  });

  it('filters by a case-insensitive prefix of the email or the name', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const slug = tenant.organization.slug;
    const [ada, adam, grace, percent] = await addMembers(tenant, 4, {
      names: ['Ada Lovelace', 'Adam Smith', 'Grace Hopper', 'Zed'],
      emails: [`ada@${slug}.test`, `smith@${slug}.test`, `ghopper@${slug}.test`, `100%_sure@${slug}.test`],
    });

    const ids = async (query: string): Promise<string[]> => {
      const response = await list(tenant, token, query);
      expect(response.status).toBe(200);
      const body: MemberListResponse = await response.json();
      // One insert gave these members one created_at: the list orders them by id, so compare as sets.
      return body.data.map((member) => member.id).sort();
    };
    expect(await ids('?q=ADA')).toEqual([ada, adam].sort());
    expect(await ids('?q=smith')).toEqual([adam]);
    expect(await ids('?q=grace%20h')).toEqual([grace]);
    expect(await ids('?q=GHOP')).toEqual([grace]);
    // Not a substring search, and LIKE wildcards in the term match literally.
    expect(await ids('?q=lovelace')).toEqual([]);
    expect(await ids('?q=100%25_')).toEqual([percent]);
    expect(await ids('?q=%25')).toEqual([]);
    expect(await ids('?q=_')).toEqual([]);
  });

  it("shows and searches the name this organization gave, else the account's own", async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const slug = tenant.organization.slug;
    const [renamed, plain] = await addMembers(tenant, 2, {
      names: ['Private Person', 'Plain Name'],
      displayNames: ['Box Office Lead', null],
      emails: [`lead@${slug}.test`, `plain@${slug}.test`],
    });

    const body: MemberListResponse = await (await list(tenant, token)).json();
    const names = new Map(body.data.map((member) => [member.id, member.name]));
    expect(names.get(renamed ?? '')).toBe('Box Office Lead');
    expect(names.get(plain ?? '')).toBe('Plain Name');

    const ids = async (query: string): Promise<string[]> => {
      const page: MemberListResponse = await (await list(tenant, token, query)).json();
      return page.data.map((member) => member.id).sort();
    };
    expect(await ids('?q=box%20o')).toEqual([renamed]);
    expect(await ids('?q=private')).toEqual([]);
    expect(await ids('?q=LEAD')).toEqual([renamed]);
    expect(await ids('?q=p')).toEqual([plain]);
  });

  it('shows invited members as unverified and never signed in, whatever their account holds', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    // A verified account (e.g. a member elsewhere) with a sign-in time recorded on this membership.
    const invited = await createMember(tenant, 'staff', { status: 'invited', emailVerified: true });
    const signedInAt = new Date('2026-02-01T08:00:00.000Z');
    await database()
      .update(memberships)
      .set({ lastLoginAt: signedInAt })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, invited.userId)));

    const body: MemberListResponse = await (await list(tenant, token, '?status=invited')).json();
    expect(body.data).toEqual([
      expect.objectContaining({ id: invited.userId, status: 'invited', emailVerified: false, lastLoginAt: null }),
    ]);
    const read = await call(tenant, 'GET', `/api/v1/users/${invited.userId}`, { token });
    expect(await read.json()).toMatchObject({ emailVerified: false, lastLoginAt: null });

    // Once the membership is active, the account's verification and the sign-in show.
    await database()
      .update(memberships)
      .set({ status: 'active' })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, invited.userId)));
    const active = await call(tenant, 'GET', `/api/v1/users/${invited.userId}`, { token });
    expect(await active.json()).toMatchObject({ emailVerified: true, lastLoginAt: signedInAt.toISOString() });
  });

  it('filters by role key and by status, and combines filters', async () => {
    const tenant = await createTenant();
    const { member: owner, token } = await memberWithToken(tenant, 'owner');
    const [activeStaff] = await addMembers(tenant, 1, { role: 'staff', names: ['Sam Staff'] });
    const [disabledStaff] = await addMembers(tenant, 1, { role: 'staff', status: 'disabled', names: ['Sid Staff'] });
    const [invited] = await addMembers(tenant, 1, { role: 'organizer', status: 'invited', names: ['Ivy'] });

    const ids = async (query: string): Promise<string[]> => {
      const body: MemberListResponse = await (await list(tenant, token, query)).json();
      return body.data.map((member) => member.id);
    };
    expect(await ids('?role=staff')).toEqual([activeStaff, disabledStaff]);
    expect(await ids('?status=invited')).toEqual([invited]);
    expect(await ids('?status=active')).toEqual([owner.userId, activeStaff]);
    expect(await ids('?role=staff&status=disabled')).toEqual([disabledStaff]);
    expect(await ids('?role=staff&q=sa')).toEqual([activeStaff]);
    expect(await ids('?role=no-such-role')).toEqual([]);
  });

  it('refuses unknown, repeated and malformed query parameters with 400', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    for (const query of [
      '?sort=email',
      `?organizationId=${crypto.randomUUID()}`,
      '?status=deleted',
      '?role=Not%20A%20Key',
      '?status=active&status=invited',
      '?q=',
      `?q=${'a'.repeat(101)}`,
    ]) {
      const response = await list(tenant, token, query);
      expect(response.status, query).toBe(400);
      expect((await problem(response)).code, query).toBe('validation_failed');
    }
  });

  it('refuses a limit outside 1..100 with 400 instead of clamping it, and defaults to 20', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    await addMembers(tenant, 101);
    for (const limit of ['0', '101', '-1', '2.5', 'ten', '']) {
      const response = await list(tenant, token, `?limit=${limit}`);
      expect(response.status, limit).toBe(400);
      const body = await problem(response);
      expect(body.errors?.[0]?.pointer, limit).toBe('/query/limit');
    }
    const byDefault: MemberListResponse = await (await list(tenant, token)).json();
    expect(byDefault.data).toHaveLength(20);
    expect(byDefault.nextCursor).not.toBeNull();
    const largest: MemberListResponse = await (await list(tenant, token, '?limit=100')).json();
    expect(largest.data).toHaveLength(100);
    const smallest: MemberListResponse = await (await list(tenant, token, '?limit=1')).json();
    expect(smallest.data).toHaveLength(1);
  });

  it('refuses a malformed or tampered cursor with 400, never a 500', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const encode = (value: string): string => btoa(value).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
    const cursors = [
      'not a cursor',
      '!!!!',
      'a',
      encode('not json'),
      encode('{"createdAt":"2026-01-01T00:00:00.000000Z"}'),
      encode('["2026-01-01T00:00:00.000000Z"]'),
      encode(`["2026-01-01T00:00:00Z","${crypto.randomUUID()}"]`),
      encode(`["2026-02-31T00:00:00.000000Z","${crypto.randomUUID()}"]`),
      encode(`["0000-01-01T00:00:00.000000Z","${crypto.randomUUID()}"]`),
      encode('["2026-01-01T00:00:00.000000Z","not-a-uuid"]'),
      encode(`["2026-01-01T00:00:00.000000Z","${crypto.randomUUID()}'; drop table users; --"]`),
      'A'.repeat(201),
    ];
    for (const cursor of cursors) {
      const response = await list(tenant, token, `?cursor=${encodeURIComponent(cursor)}`);
      expect(response.status, cursor).toBe(400);
      const body = await problem(response);
      expect(body.code).toBe('validation_failed');
      expect(body.errors?.[0]?.pointer, cursor).toBe('/query/cursor');
    }
    // A well-formed cursor that matches no row is simply a position: an empty last page.
    const future = encodeCursor({ at: '2999-01-01T00:00:00.000000Z', id: crypto.randomUUID() });
    const empty: MemberListResponse = await (await list(tenant, token, `?cursor=${future}`)).json();
    expect(empty).toEqual({ data: [], nextCursor: null });
  });

  it('costs one database round trip and one Redis round trip on a warm tenant', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    await addMembers(tenant, 5, { role: 'staff' });
    expect((await list(tenant, token)).status).toBe(200);

    const first = newRequestId();
    const firstPage = await call(tenant, 'GET', '/api/v1/users?limit=2&role=staff&status=active&q=b', {
      token,
      headers: { 'x-request-id': first },
    });
    expect(firstPage.status).toBe(200);
    const body: MemberListResponse = await firstPage.json();
    expect(body.data).toHaveLength(2);
    expect(await roundTrips(first)).toEqual({ database: 1, redis: 1 });

    const next = newRequestId();
    const nextPage = await call(tenant, 'GET', `/api/v1/users?limit=2&cursor=${body.nextCursor ?? ''}`, {
      token,
      headers: { 'x-request-id': next },
    });
    expect(nextPage.status).toBe(200);
    expect(await roundTrips(next)).toEqual({ database: 1, redis: 1 });
  });
});

describe('GET /api/v1/users/{id}', () => {
  it('answers one member', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const staff = await createMember(tenant, 'staff');
    const response = await call(tenant, 'GET', `/api/v1/users/${staff.userId}`, { token });
    expect(response.status).toBe(200);
    const body: MemberResponse = await response.json();
    expect(Object.keys(body).sort()).toEqual(MEMBER_KEYS);
    expect(body).toMatchObject({
      id: staff.userId,
      email: staff.email,
      role: { key: 'staff', name: 'Staff' },
      status: 'active',
      emailVerified: true,
    });
  });

  it('answers 404 for a member of another organization and for an unknown id', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const outsider = await createMember(other, 'owner');
    for (const id of [outsider.userId, crypto.randomUUID()]) {
      const response = await call(tenant, 'GET', `/api/v1/users/${id}`, { token });
      expect(response.status).toBe(404);
      const body = await problem(response);
      expect(body.code).toBe('not_found');
      expect(body.detail).toBe('No member with this id in this organization.');
    }
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const response = await call(tenant, 'GET', "/api/v1/users/1'%20or%201=1", { token });
    expect(response.status).toBe(400);
    expect((await problem(response)).errors?.[0]?.pointer).toBe('/param/id');
  });

  it('answers 401 without a token and 403 without users:read', async () => {
    const tenant = await createTenant();
    const { member, token } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'GET', `/api/v1/users/${member.userId}`)).status).toBe(401);
    expect((await call(tenant, 'GET', `/api/v1/users/${member.userId}`, { token })).status).toBe(403);
  });

  it('costs one database round trip and one Redis round trip on a warm tenant', async () => {
    const tenant = await createTenant();
    const { member, token } = await memberWithToken(tenant, 'owner');
    expect((await call(tenant, 'GET', `/api/v1/users/${member.userId}`, { token })).status).toBe(200);
    const id = newRequestId();
    const response = await call(tenant, 'GET', `/api/v1/users/${member.userId}`, {
      token,
      headers: { 'x-request-id': id },
    });
    expect(response.status).toBe(200);
    expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });
  });
});
