import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships, users } from '../../src/db/schema/index.ts';
import type { MemberListResponse, MemberResponse } from '../../src/routes/users/schema.ts';
import { hashToken } from '../../src/services/auth/tokens.ts';
import { INVITATION_LIMIT } from '../../src/services/users/invite.ts';
import {
  bearer,
  createMember,
  createTenant,
  database,
  problem,
  request,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import {
  auditRows,
  call,
  createCustomRole,
  invitationTokens,
  mailbox,
  membershipOf,
  memberWithToken,
  randomEmail,
  setAccountName,
  userByEmail,
  userRow,
  waitForMail,
} from '../support/users.ts';

function invite(tenant: TestTenant, token: string, body: unknown): Promise<Response> {
  return call(tenant, 'POST', '/api/v1/users', { token, body });
}

async function membershipCount(tenant: TestTenant): Promise<number> {
  const rows = await database()
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(eq(memberships.organizationId, tenant.organization.id));
  return rows.length;
}

describe('POST /api/v1/users', () => {
  it('invites a new person: an account without password, an invited membership, a hashed token and an email', async () => {
    const tenant = await createTenant();
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    const email = randomEmail(tenant);
    const before = Date.now();

    const response = await invite(tenant, token, {
      email: email.toUpperCase(),
      name: '  Grace Hopper ',
      role: 'staff',
    });
    expect(response.status).toBe(201);
    const body: MemberResponse = await response.json();
    expect(body).toMatchObject({
      email,
      name: 'Grace Hopper',
      role: { key: 'staff', name: 'Staff' },
      status: 'invited',
      emailVerified: false,
      lastLoginAt: null,
    });
    expect(JSON.stringify(body)).not.toMatch(/password|hash|inv_/i);

    const user = await userByEmail(email);
    expect(user).toMatchObject({ id: body.id, name: 'Grace Hopper', passwordHash: null, emailVerifiedAt: null });
    const [membership] = await database()
      .select()
      .from(memberships)
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, body.id)));
    expect(membership).toMatchObject({ status: 'invited', invitedBy: admin.userId, displayName: 'Grace Hopper' });

    const [message] = await waitForMail(email);
    expect(message?.subject).toBe(`You are invited to ${tenant.organization.name}`);
    expect(message?.text).toContain(`${(await userByEmail(admin.email))?.name ?? '?'} invited you`);
    expect(message?.text).toContain('as Staff');
    const link = new URL(message?.links[0] ?? '');
    expect(`${link.origin}${link.pathname}`).toBe(tenant.url('/accept-invitation'));
    const token_ = link.searchParams.get('token') ?? '';
    expect(token_).toMatch(/^inv_[A-Za-z0-9_-]{43}$/);

    const tokens = await invitationTokens(tenant, body.id);
    expect(tokens).toHaveLength(1);
    const [stored] = tokens;
    expect(stored?.purpose).toBe('invitation');
    expect(stored?.usedAt).toBeNull();
    expect(stored?.tokenHash).toBe(await hashToken(token_));
    expect(stored?.tokenHash).not.toContain(token_);
    const lifetime = (stored?.expiresAt.getTime() ?? 0) - before;
    expect(lifetime).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(lifetime).toBeLessThanOrEqual(7 * 86_400_000 + 60_000);

    const [audit] = await auditRows(tenant, 'membership.invited');
    expect(audit).toMatchObject({
      actorUserId: admin.userId,
      actorType: 'user',
      targetType: 'user',
      targetId: body.id,
    });
    expect(audit?.metadata).toMatchObject({
      after: { email, name: 'Grace Hopper', role: 'staff', status: 'invited' },
    });
    expect(JSON.stringify(audit?.metadata)).not.toContain(token_);
    expect(JSON.stringify(audit?.metadata)).not.toContain(stored?.tokenHash ?? 'missing');
  });

  it('invites an existing account under the given name, revealing neither its name nor its verification', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const person = await createMember(elsewhere, 'owner');
    await setAccountName(person.userId, 'Secret Name');
    const account = await userByEmail(person.email);
    expect(account?.emailVerifiedAt).toBeInstanceOf(Date);

    const response = await invite(tenant, token, { email: person.email, name: ' Given Name ', role: 'organizer' });
    expect(response.status).toBe(201);
    const text = await response.text();
    expect(text).not.toContain('Secret');
    expect(JSON.parse(text)).toMatchObject({
      id: person.userId,
      email: person.email,
      name: 'Given Name',
      role: { key: 'organizer' },
      status: 'invited',
      emailVerified: false,
      lastLoginAt: null,
    });

    // The account is untouched; the given name lives on this organization's membership.
    const rows = await database().select().from(users).where(eq(users.email, person.email));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      name: 'Secret Name',
      passwordHash: account?.passwordHash,
      emailVerifiedAt: account?.emailVerifiedAt,
    });
    expect(await membershipOf(tenant, person.userId)).toMatchObject({
      role: 'organizer',
      status: 'invited',
      displayName: 'Given Name',
    });
    expect(await membershipOf(elsewhere, person.userId)).toMatchObject({
      role: 'owner',
      status: 'active',
      displayName: null,
    });

    // Listed and read the same way, and searchable only by the name this organization gave.
    const listed = await call(tenant, 'GET', '/api/v1/users', { token });
    const listText = await listed.text();
    expect(listText).not.toContain('Secret');
    const invitee = (JSON.parse(listText) as MemberListResponse).data.find((member) => member.id === person.userId);
    expect(invitee).toMatchObject({ name: 'Given Name', status: 'invited', emailVerified: false, lastLoginAt: null });
    const read: MemberResponse = await (await call(tenant, 'GET', `/api/v1/users/${person.userId}`, { token })).json();
    expect(read).toMatchObject({ name: 'Given Name', emailVerified: false, lastLoginAt: null });
    const search = async (q: string) => {
      const page: MemberListResponse = await (await call(tenant, 'GET', `/api/v1/users?q=${q}`, { token })).json();
      return page.data.map((member) => member.id);
    };
    expect(await search('secret')).toEqual([]);
    expect(await search('given')).toEqual([person.userId]);

    // The other organization still sees the person's own name and verified address.
    const theirs = await call(elsewhere, 'GET', `/api/v1/users/${person.userId}`, {
      token: await tokenFor(elsewhere, person),
    });
    expect(await theirs.json()).toMatchObject({ name: 'Secret Name', emailVerified: true, status: 'active' });

    const [audit] = await auditRows(tenant, 'membership.invited');
    expect(audit?.metadata).toMatchObject({ after: { name: 'Given Name' } });
    // Whether the address already had an account is not recorded either: a future audit API must not reveal it.
    expect(audit?.metadata).not.toHaveProperty('account');
    expect(JSON.stringify(audit?.metadata)).not.toContain('Secret');
    const [message] = await waitForMail(person.email);
    expect(message?.text).not.toContain('Secret');
  });

  it('shows an accepted invitation with the account’s verification and still the given name', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const person = await createMember(elsewhere, 'member');
    await setAccountName(person.userId, 'Secret Name');
    expect((await invite(tenant, token, { email: person.email, name: 'Given Name', role: 'staff' })).status).toBe(201);
    const [message] = await waitForMail(person.email);
    const invitation = new URL(message?.links[0] ?? '').searchParams.get('token') ?? '';

    // An existing account accepts with its current password (an invitation never replaces it).
    const accepted = await call(tenant, 'POST', '/api/v1/auth/reset-password', {
      body: { token: invitation, password: person.password },
    });
    expect(accepted.status).toBe(204);
    const read: MemberResponse = await (await call(tenant, 'GET', `/api/v1/users/${person.userId}`, { token })).json();
    expect(read).toMatchObject({ name: 'Given Name', status: 'active', emailVerified: true });
    expect((await userRow(person.userId))?.name).toBe('Secret Name');
  });

  it('invites the same new email into two organizations at once: one account, two memberships', async () => {
    const first = await createTenant();
    const second = await createTenant();
    const { token: firstToken } = await memberWithToken(first, 'owner');
    const { token: secondToken } = await memberWithToken(second, 'owner');
    const email = randomEmail(first, 'both');
    for (let round = 0; round < 3; round += 1) {
      const address = round === 0 ? email : randomEmail(first, `both${round}`);
      const responses = await Promise.all([
        invite(first, firstToken, { email: address, name: 'First', role: 'member' }),
        invite(second, secondToken, { email: address, name: 'Second', role: 'staff' }),
      ]);
      expect(responses.map((response) => response.status)).toEqual([201, 201]);
      const [one, two] = await Promise.all(responses.map((response) => response.json<MemberResponse>()));
      expect(one?.id).toBe(two?.id);
      // Each organization shows the name it gave, whichever invitation created the account.
      expect([one?.name, two?.name]).toEqual(['First', 'Second']);
      const rows = await database().select().from(users).where(eq(users.email, address));
      expect(rows).toHaveLength(1);
      expect(await membershipOf(first, rows[0]?.id ?? '')).toMatchObject({ role: 'member', status: 'invited' });
      expect(await membershipOf(second, rows[0]?.id ?? '')).toMatchObject({ role: 'staff', status: 'invited' });
    }
  });

  it('invites the same person twice at once into one organization: one membership, one 409', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const email = randomEmail(tenant);
    const responses = await Promise.all([
      invite(tenant, token, { email, name: 'Once', role: 'member' }),
      invite(tenant, token, { email, name: 'Twice', role: 'member' }),
    ]);
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
    const user = await userByEmail(email);
    expect(await invitationTokens(tenant, user?.id ?? '')).toHaveLength(1);
    expect(await auditRows(tenant, 'membership.invited')).toHaveLength(1);
  });

  it('answers 409 for a person who is already a member, and changes nothing', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const existing = await createMember(tenant, 'staff', { status: 'disabled' });

    const response = await invite(tenant, token, { email: existing.email, name: 'Again', role: 'admin' });
    expect(response.status).toBe(409);
    expect((await problem(response)).code).toBe('conflict');
    expect(await membershipOf(tenant, existing.userId)).toMatchObject({ role: 'staff', status: 'disabled' });
    expect(await invitationTokens(tenant, existing.userId)).toEqual([]);
    expect(await auditRows(tenant, 'membership.invited')).toEqual([]);
    expect(await mailbox(existing.email)).toEqual([]);
  });

  it('answers 400 for a role that does not exist in this organization', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    await createCustomRole(other, 'theirs', []);
    const { token } = await memberWithToken(tenant, 'owner');
    for (const role of ['superuser', 'theirs']) {
      const response = await invite(tenant, token, { email: randomEmail(tenant), name: 'N', role });
      expect(response.status).toBe(400);
      const body = await problem(response);
      expect(body.errors).toEqual([{ pointer: '/body/role', message: 'No role with this key in this organization' }]);
    }
    expect(await membershipCount(tenant)).toBe(1);
  });

  it('invites with a custom role', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    await createCustomRole(tenant, 'box-office', ['events:read', 'bookings:read']);
    const response = await invite(tenant, token, { email: randomEmail(tenant), name: 'Box', role: 'box-office' });
    expect(response.status).toBe(201);
    expect((await response.json<MemberResponse>()).role).toEqual({ key: 'box-office', name: 'Custom box-office' });
  });

  it('answers 401 without a token, 403 without users:manage, and 403 before the email is verified', async () => {
    const tenant = await createTenant();
    const body = { email: randomEmail(tenant), name: 'Nobody', role: 'member' };
    const anonymous = await call(tenant, 'POST', '/api/v1/users', { body });
    expect(anonymous.status).toBe(401);

    for (const role of ['staff', 'organizer', 'member']) {
      const { token } = await memberWithToken(tenant, role);
      const response = await invite(tenant, token, body);
      expect(response.status, role).toBe(403);
      expect((await problem(response)).detail).toBe('This needs the users:manage permission.');
    }

    const { token: unverified } = await memberWithToken(tenant, 'admin', { emailVerified: false });
    const refused = await invite(tenant, unverified, body);
    expect(refused.status).toBe(403);
    expect((await problem(refused)).code).toBe('email_not_verified');
    expect(await userByEmail(body.email)).toBeUndefined();
  });

  it('refuses to grant a role with permissions the caller lacks, and the owner role to non-owners', async () => {
    const tenant = await createTenant();
    const { token: adminToken } = await memberWithToken(tenant, 'admin');
    await createCustomRole(tenant, 'billing', ['billing:manage']);
    // A custom manager may invite, but only into roles within its own permissions.
    await createCustomRole(tenant, 'manager', ['users:read', 'users:manage', 'events:read']);
    const { token: managerToken } = await memberWithToken(tenant, 'manager');

    const attempts: [string, string, string][] = [
      [adminToken, 'owner', 'Only an owner can manage the owner role.'],
      [adminToken, 'billing', 'This role holds permissions you do not have: billing:manage.'],
      [
        managerToken,
        'staff',
        'This role holds permissions you do not have: organization:read, bookings:read, checkins:write.',
      ],
      [managerToken, 'admin', 'This role holds permissions you do not have'],
    ];
    for (const [token, role, detail] of attempts) {
      const email = randomEmail(tenant);
      const response = await invite(tenant, token, { email, name: 'Escalation', role });
      expect(response.status, role).toBe(403);
      const body = await problem(response);
      expect(body.code).toBe('forbidden');
      expect(body.detail).toContain(detail);
      expect(await userByEmail(email)).toBeUndefined();
    }
    expect(await membershipCount(tenant)).toBe(2);

    const allowed = await invite(tenant, managerToken, { email: randomEmail(tenant), name: 'Ok', role: 'member' });
    expect(allowed.status).toBe(201);
    const { token: ownerToken } = await memberWithToken(tenant, 'owner');
    const coOwner = await invite(tenant, ownerToken, { email: randomEmail(tenant), name: 'Co', role: 'owner' });
    expect(coOwner.status).toBe(201);
  });

  it('refuses fields outside the schema (mass assignment) with 400 and creates nothing', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const extras: Record<string, unknown>[] = [
      { organizationId: other.organization.id },
      { emailVerified: true },
      { passwordHash: 'scrypt$16384$8$1$AAAA$BBBB' },
      { password: 'correct horse battery staple' },
      { id: crypto.randomUUID() },
      { status: 'active' },
      { isPlatformAdmin: true },
    ];
    for (const extra of extras) {
      const email = randomEmail(tenant);
      const response = await invite(tenant, token, { email, name: 'Mass', role: 'member', ...extra });
      expect(response.status, JSON.stringify(extra)).toBe(400);
      const body = await problem(response);
      expect(body.code).toBe('validation_failed');
      expect(body.errors?.[0]?.pointer).toBe('/body');
      expect(await userByEmail(email)).toBeUndefined();
    }
  });

  it('validates the email, the name, the role key and the body format', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const cases: [Record<string, unknown>, string][] = [
      [{ email: 'not-an-email', name: 'N', role: 'member' }, '/body/email'],
      [{ email: `${'a'.repeat(250)}@x.test`, name: 'N', role: 'member' }, '/body/email'],
      [{ email: randomEmail(tenant), name: '   ', role: 'member' }, '/body/name'],
      [{ email: randomEmail(tenant), name: 'a'.repeat(201), role: 'member' }, '/body/name'],
      [{ email: randomEmail(tenant), name: 'Line\nbreak', role: 'member' }, '/body/name'],
      [{ email: randomEmail(tenant), name: 'N', role: 'Owner' }, '/body/role'],
      [{ email: randomEmail(tenant), name: 'N' }, '/body/role'],
    ];
    for (const [body, pointer] of cases) {
      const response = await invite(tenant, token, body);
      expect(response.status, pointer).toBe(400);
      expect((await problem(response)).errors?.map((error) => error.pointer)).toContain(pointer);
    }
    const malformed = await request(tenant.url('/api/v1/users'), {
      method: 'POST',
      headers: bearer(token),
      body: '{"email":',
    });
    expect(malformed.status).toBe(400);
    expect((await problem(malformed)).code).toBe('invalid_json');
    const email = randomEmail(tenant);
    const form = await request(tenant.url('/api/v1/users'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `email=${email}&name=Form&role=member`,
    });
    expect(form.status).toBe(415);
    expect((await problem(form)).code).toBe('unsupported_media_type');
    expect(await userByEmail(email)).toBeUndefined();
  });

  // Fifty invitations one after the other: a few seconds alone, but past the default 30 s when the run shares a busy
  // machine with other test files (files run side by side) and coverage instrumentation.
  it(`rate-limits invitations to ${INVITATION_LIMIT.limit} an hour per organization`, { timeout: 90_000 }, async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    for (let index = 0; index < INVITATION_LIMIT.limit; index += 1) {
      const response = await invite(tenant, token, { email: randomEmail(tenant), name: `N${index}`, role: 'member' });
      expect(response.status).toBe(201);
    }
    const email = randomEmail(tenant);
    const limited = await invite(tenant, token, { email, name: 'One too many', role: 'member' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit-policy')).toBe('"invitations";q=50;w=3600');
    expect((await problem(limited)).code).toBe('rate_limited');
    expect(await userByEmail(email)).toBeUndefined();
    expect(await membershipCount(tenant)).toBe(INVITATION_LIMIT.limit + 1);

    // Another organization has its own budget.
    const { token: otherToken } = await memberWithToken(other, 'owner');
    expect((await invite(other, otherToken, { email, name: 'Fine', role: 'member' })).status).toBe(201);
  });
});
