import { describe, expect, it } from 'vitest';
import type { MemberListResponse, MemberResponse } from '../../src/routes/users/schema.ts';
import { eq } from 'drizzle-orm';
import { users } from '../../src/db/schema/index.ts';
import { createMember, createTenant, database, problem, tokenFor, type TestTenant } from '../support/harness.ts';
import {
  auditRows,
  call,
  createCustomRole,
  membershipOf,
  memberWithToken,
  refreshTokenFor,
  refreshTokenRow,
  sessionAlive,
  setAccountName,
  userRow,
} from '../support/users.ts';

function update(tenant: TestTenant, token: string, id: string, body: unknown): Promise<Response> {
  return call(tenant, 'PUT', `/api/v1/users/${id}`, { token, body });
}

describe('PUT /api/v1/users/{id}', () => {
  it('refuses to give a role with permissions, owner included, to a member whose email is not verified', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const customer = await createMember(tenant, 'member', { emailVerified: false });
    for (const role of ['admin', 'owner', 'staff']) {
      const refused = await update(tenant, token, customer.userId, { role });
      expect(refused.status).toBe(403);
      const body = await problem(refused);
      expect(body.code).toBe('email_not_verified');
      expect(body.detail).toContain('not verified');
    }
    expect(await membershipOf(tenant, customer.userId)).toMatchObject({ role: 'member', status: 'active' });
    expect(await auditRows(tenant, 'membership.updated')).toEqual([]);

    // A role without permissions grants nothing, so it may be given.
    await createCustomRole(tenant, 'fan', []);
    expect((await update(tenant, token, customer.userId, { role: 'fan' })).status).toBe(200);
    // An invited member verifies the address by accepting, before the role takes effect.
    const invited = await createMember(tenant, 'member', { emailVerified: false, status: 'invited' });
    expect((await update(tenant, token, invited.userId, { role: 'staff' })).status).toBe(200);
    // Once verified, the same promotion works.
    await database().update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, customer.userId));
    expect((await update(tenant, token, customer.userId, { role: 'admin' })).status).toBe(200);
  });

  it("changes a member's role, ends their sessions at once and records before and after", async () => {
    const tenant = await createTenant();
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    const { member: target, token: targetToken } = await memberWithToken(tenant, 'organizer');
    const refreshId = await refreshTokenFor(tenant, target);
    expect(await sessionAlive(tenant, targetToken)).toBe(true);

    const response = await update(tenant, token, target.userId, { role: 'staff' });
    expect(response.status).toBe(200);
    const body: MemberResponse = await response.json();
    expect(body).toMatchObject({ id: target.userId, role: { key: 'staff', name: 'Staff' }, status: 'active' });

    expect(await membershipOf(tenant, target.userId)).toMatchObject({ role: 'staff', status: 'active' });
    const ended = await call(tenant, 'GET', '/api/v1/roles/permissions', { token: targetToken });
    expect(ended.status).toBe(401);
    expect((await problem(ended)).detail).toBe('The session has ended.');
    expect((await refreshTokenRow(refreshId))?.revokedAt).toBeInstanceOf(Date);

    const [audit] = await auditRows(tenant, 'membership.updated');
    expect(audit).toMatchObject({ actorUserId: admin.userId, targetType: 'user', targetId: target.userId });
    expect(audit?.metadata).toMatchObject({
      before: { role: 'organizer', status: 'active' },
      after: { role: 'staff', status: 'active' },
      sessionsEnded: true,
    });
    // The caller's own session is untouched.
    expect(await sessionAlive(tenant, token)).toBe(true);
  });

  it('disables a member: sign-in state, sessions and refresh tokens end; re-enabling brings back access', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const { member: target, token: targetToken } = await memberWithToken(tenant, 'admin');
    const refreshId = await refreshTokenFor(tenant, target);

    const disabled = await update(tenant, token, target.userId, { status: 'disabled' });
    expect(disabled.status).toBe(200);
    expect((await disabled.json<MemberResponse>()).status).toBe('disabled');
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ role: 'admin', status: 'disabled' });
    expect(await sessionAlive(tenant, targetToken)).toBe(false);
    expect((await refreshTokenRow(refreshId))?.revokedAt).toBeInstanceOf(Date);

    const enabled = await update(tenant, token, target.userId, { status: 'active' });
    expect(enabled.status).toBe(200);
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ status: 'active' });
    // A token issued after the change works again.
    expect(await sessionAlive(tenant, await tokenFor(tenant, target))).toBe(true);
    const audits = await auditRows(tenant, 'membership.updated');
    expect(audits.map((row) => row.metadata)).toMatchObject([
      { before: { status: 'disabled' }, after: { status: 'active' }, sessionsEnded: false },
      { before: { status: 'active' }, after: { status: 'disabled' }, sessionsEnded: true },
    ]);
  });

  it("renames a member here only: the account's own name and other organizations keep theirs", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    const { member: target, token: targetToken } = await memberWithToken(tenant, 'organizer');
    // The same person is a member of another organization too.
    await createMember(other, 'staff', { email: target.email });
    await setAccountName(target.userId, 'Ada Lovelace');
    const refreshId = await refreshTokenFor(tenant, target);

    const response = await update(tenant, token, target.userId, { name: '  Ada King  ' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: target.userId, name: 'Ada King', status: 'active' });
    expect((await userRow(target.userId))?.name).toBe('Ada Lovelace');
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ displayName: 'Ada King', role: 'organizer' });
    expect(await membershipOf(other, target.userId)).toMatchObject({ displayName: null });

    // This organization shows and finds the new name; the account's own name is no longer shown here.
    const read: MemberResponse = await (await call(tenant, 'GET', `/api/v1/users/${target.userId}`, { token })).json();
    expect(read.name).toBe('Ada King');
    const found: MemberListResponse = await (await call(tenant, 'GET', '/api/v1/users?q=ada%20k', { token })).json();
    expect(found.data.map((member) => member.id)).toEqual([target.userId]);
    const byOldName: MemberListResponse = await (
      await call(tenant, 'GET', '/api/v1/users?q=lovelace', { token })
    ).json();
    expect(byOldName.data).toEqual([]);

    // The person sees their own name, and the other organization the name it knows.
    const me = await call(tenant, 'GET', '/api/v1/auth/me', { token: targetToken });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { id: target.userId, name: 'Ada Lovelace' } });
    const { token: otherToken } = await memberWithToken(other, 'admin');
    const theirs = await call(other, 'GET', `/api/v1/users/${target.userId}`, { token: otherToken });
    expect(await theirs.json()).toMatchObject({ name: 'Ada Lovelace', role: { key: 'staff' } });

    expect(await sessionAlive(tenant, targetToken)).toBe(true);
    expect((await refreshTokenRow(refreshId))?.revokedAt).toBeNull();
    const [audit] = await auditRows(tenant, 'membership.updated');
    expect(audit).toMatchObject({ actorUserId: admin.userId, targetId: target.userId });
    expect(audit?.metadata).toMatchObject({
      before: { name: 'Ada Lovelace' },
      after: { name: 'Ada King' },
      sessionsEnded: false,
    });

    // Giving the same name again changes nothing and records nothing.
    expect((await update(tenant, token, target.userId, { name: 'Ada King' })).status).toBe(200);
    expect(await auditRows(tenant, 'membership.updated')).toHaveLength(1);
  });

  it("keeps a name given here when the account's own name changes later", async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const named = await createMember(tenant, 'staff');
    const unnamed = await createMember(tenant, 'staff');
    await setAccountName(named.userId, 'Grace Hopper');
    // Giving the account's current name pins it for this organization.
    expect((await update(tenant, token, named.userId, { name: 'Grace Hopper' })).status).toBe(200);
    expect(await membershipOf(tenant, named.userId)).toMatchObject({ displayName: 'Grace Hopper' });

    await setAccountName(named.userId, 'Grace B. Hopper');
    await setAccountName(unnamed.userId, 'Alan Turing');
    const read = async (id: string) =>
      (await (await call(tenant, 'GET', `/api/v1/users/${id}`, { token })).json<MemberResponse>()).name;
    expect(await read(named.userId)).toBe('Grace Hopper');
    expect(await read(unnamed.userId)).toBe('Alan Turing');
  });

  it('renames an invited member, who still shows unverified and never signed in', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const invited = await createMember(tenant, 'staff', { status: 'invited', emailVerified: true });
    const response = await update(tenant, token, invited.userId, { name: 'Newcomer' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      name: 'Newcomer',
      status: 'invited',
      emailVerified: false,
      lastLoginAt: null,
    });
    expect((await userRow(invited.userId))?.name).not.toBe('Newcomer');
  });

  it('answers the member unchanged, with no audit row, when nothing changes', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const { member: target, token: targetToken } = await memberWithToken(tenant, 'staff');
    const response = await update(tenant, token, target.userId, { role: 'staff', status: 'active' });
    expect(response.status).toBe(200);
    expect((await response.json<MemberResponse>()).role.key).toBe('staff');
    expect(await auditRows(tenant, 'membership.updated')).toEqual([]);
    expect((await call(tenant, 'GET', '/api/v1/users', { token: targetToken })).status).toBe(403);
  });

  it('refuses changing your own role or status, and allows your own name', async () => {
    const tenant = await createTenant();
    await createMember(tenant, 'owner');
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    for (const body of [{ role: 'staff' }, { status: 'disabled' }, { role: 'member', name: 'Me' }]) {
      const response = await update(tenant, token, admin.userId, body);
      expect(response.status, JSON.stringify(body)).toBe(403);
      expect((await problem(response)).detail).toBe('You cannot change your own role or status.');
    }
    expect(await membershipOf(tenant, admin.userId)).toMatchObject({ role: 'admin', status: 'active' });
    const accountName = (await userRow(admin.userId))?.name;
    expect((await update(tenant, token, admin.userId, { name: 'Me Myself' })).status).toBe(200);
    expect(await membershipOf(tenant, admin.userId)).toMatchObject({ displayName: 'Me Myself' });
    expect((await userRow(admin.userId))?.name).toBe(accountName);
    expect(await sessionAlive(tenant, token)).toBe(true);
  });

  it('refuses privilege escalation: granting or touching a role beyond the caller', async () => {
    const tenant = await createTenant();
    const { member: owner } = await memberWithToken(tenant, 'owner');
    const { token: adminToken } = await memberWithToken(tenant, 'admin');
    const staff = await createMember(tenant, 'staff');
    await createCustomRole(tenant, 'treasurer', ['billing:manage']);
    const treasurer = await createMember(tenant, 'treasurer');

    const attempts: [string, unknown, string][] = [
      [staff.userId, { role: 'owner' }, 'Only an owner can manage the owner role.'],
      [staff.userId, { role: 'treasurer' }, 'billing:manage'],
      [owner.userId, { role: 'admin' }, 'Only an owner can manage the owner role.'],
      [owner.userId, { status: 'disabled' }, 'Only an owner can manage the owner role.'],
      [owner.userId, { name: 'Renamed by an admin' }, 'Only an owner can manage the owner role.'],
      [treasurer.userId, { role: 'member' }, 'billing:manage'],
    ];
    for (const [id, body, detail] of attempts) {
      const response = await update(tenant, adminToken, id, body);
      expect(response.status, JSON.stringify(body)).toBe(403);
      expect((await problem(response)).detail).toContain(detail);
    }
    expect(await membershipOf(tenant, staff.userId)).toMatchObject({ role: 'staff' });
    expect(await membershipOf(tenant, owner.userId)).toMatchObject({ role: 'owner', status: 'active' });
    expect(await membershipOf(tenant, treasurer.userId)).toMatchObject({ role: 'treasurer' });
    expect(await auditRows(tenant, 'membership.updated')).toEqual([]);

    // An owner may make someone an owner.
    const { token: ownerToken } = await memberWithToken(tenant, 'owner');
    expect((await update(tenant, ownerToken, staff.userId, { role: 'owner' })).status).toBe(200);
    expect(await membershipOf(tenant, staff.userId)).toMatchObject({ role: 'owner' });
  });

  it('keeps the last active owner: demoting or disabling them answers 409 and changes nothing', async () => {
    const tenant = await createTenant();
    const sole = await createMember(tenant, 'owner');
    const soleRefresh = await refreshTokenFor(tenant, sole);
    const soleToken = await tokenFor(tenant, sole);
    // An owner whose own membership is not active (an invitation not yet accepted) cannot leave the
    // organization without an active owner either.
    const { token } = await memberWithToken(tenant, 'owner', { status: 'invited' });

    for (const body of [{ role: 'admin' }, { status: 'disabled' }]) {
      const response = await update(tenant, token, sole.userId, body);
      expect(response.status, JSON.stringify(body)).toBe(409);
      expect((await problem(response)).detail).toBe(
        'The organization must keep at least one active owner; make someone else an owner first.',
      );
    }
    expect(await membershipOf(tenant, sole.userId)).toMatchObject({ role: 'owner', status: 'active' });
    expect((await refreshTokenRow(soleRefresh))?.revokedAt).toBeNull();
    expect(await sessionAlive(tenant, soleToken)).toBe(true);
    expect(await auditRows(tenant, 'membership.updated')).toEqual([]);

    // With a second active owner, the first can be demoted.
    const second = await createMember(tenant, 'owner');
    expect((await update(tenant, await tokenFor(tenant, second), sole.userId, { role: 'admin' })).status).toBe(200);
    expect(await membershipOf(tenant, sole.userId)).toMatchObject({ role: 'admin' });
  });

  it('lets only one of two owners demoting each other at the same time succeed', async () => {
    for (let round = 0; round < 3; round += 1) {
      const tenant = await createTenant();
      const first = await createMember(tenant, 'owner');
      const second = await createMember(tenant, 'owner');
      const [firstToken, secondToken] = await Promise.all([tokenFor(tenant, first), tokenFor(tenant, second)]);
      const responses = await Promise.all([
        update(tenant, firstToken, second.userId, { role: 'admin' }),
        update(tenant, secondToken, first.userId, { status: 'disabled' }),
      ]);
      const statuses = responses.map((response) => response.status);
      // One wins; the other is refused by the last-owner rule (409) or finds its session ended by the winner (401).
      expect(statuses.filter((status) => status === 200)).toHaveLength(1);
      expect(statuses.filter((status) => status === 409 || status === 401)).toHaveLength(1);
      const states = [await membershipOf(tenant, first.userId), await membershipOf(tenant, second.userId)];
      const activeOwners = states.filter((state) => state?.role === 'owner' && state.status === 'active');
      expect(activeOwners).toHaveLength(1);
    }
  });

  it('refuses to change the status of an invited member (the invitee accepts it)', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const invited = await createMember(tenant, 'staff', { status: 'invited' });
    for (const status of ['active', 'disabled']) {
      const response = await update(tenant, token, invited.userId, { status });
      expect(response.status).toBe(409);
      expect((await problem(response)).detail).toContain('accepting the invitation');
    }
    expect(await membershipOf(tenant, invited.userId)).toMatchObject({ status: 'invited' });
    // Its role may still change before it is accepted.
    expect((await update(tenant, token, invited.userId, { role: 'organizer' })).status).toBe(200);
    expect(await membershipOf(tenant, invited.userId)).toMatchObject({ role: 'organizer', status: 'invited' });
  });

  it('answers 404 for a member of another organization and changes nothing there', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const { member: outsider, token: outsiderToken } = await memberWithToken(other, 'admin');
    const before = await userRow(outsider.userId);

    for (const body of [{ role: 'member' }, { status: 'disabled' }, { name: 'Hijacked' }]) {
      const response = await update(tenant, token, outsider.userId, body);
      expect(response.status).toBe(404);
      expect((await problem(response)).code).toBe('not_found');
    }
    expect(await membershipOf(other, outsider.userId)).toMatchObject({
      role: 'admin',
      status: 'active',
      displayName: null,
    });
    expect((await userRow(outsider.userId))?.name).toBe(before?.name);
    expect(await sessionAlive(other, outsiderToken)).toBe(true);
    expect(await auditRows(tenant, 'membership.updated')).toEqual([]);
    expect(await auditRows(other, 'membership.updated')).toEqual([]);
    expect((await update(tenant, token, crypto.randomUUID(), { name: 'Nobody' })).status).toBe(404);
  });

  it('refuses fields outside the schema (mass assignment) and an empty body with 400', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const target = await createMember(tenant, 'staff', { emailVerified: false });
    const bodies: Record<string, unknown>[] = [
      { organizationId: other.organization.id },
      { emailVerified: true },
      { passwordHash: 'scrypt$1$1$1$AA$BB' },
      { id: crypto.randomUUID() },
      { email: 'new@example.com' },
      { role: 'admin', isPlatformAdmin: true },
      { status: 'invited' },
      {},
    ];
    for (const body of bodies) {
      const response = await update(tenant, token, target.userId, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await problem(response)).code).toBe('validation_failed');
    }
    const user = await userRow(target.userId);
    expect(user?.emailVerifiedAt).toBeNull();
    expect(user?.email).toBe(target.email);
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ role: 'staff', status: 'active' });
  });

  it('answers 400 for an unknown role key', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const target = await createMember(tenant, 'staff');
    const response = await update(tenant, token, target.userId, { role: 'ghost' });
    expect(response.status).toBe(400);
    expect((await problem(response)).errors?.[0]?.pointer).toBe('/body/role');
  });

  it('answers 401 without a token and 403 without users:manage', async () => {
    const tenant = await createTenant();
    const target = await createMember(tenant, 'member');
    expect((await call(tenant, 'PUT', `/api/v1/users/${target.userId}`, { body: { name: 'X' } })).status).toBe(401);
    for (const role of ['organizer', 'staff']) {
      const { token } = await memberWithToken(tenant, role);
      const response = await update(tenant, token, target.userId, { name: 'X' });
      expect(response.status, role).toBe(403);
    }
    expect((await userRow(target.userId))?.name).not.toBe('X');
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ displayName: null });
  });

  it('assigns a custom role, whose permissions the member then holds', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    await createCustomRole(tenant, 'auditor', ['users:read', 'audit:read']);
    const target = await createMember(tenant, 'member');
    const response = await update(tenant, token, target.userId, { role: 'auditor' });
    expect(response.status).toBe(200);
    expect((await response.json<MemberResponse>()).role).toEqual({ key: 'auditor', name: 'Custom auditor' });
    const fresh = await tokenFor(tenant, { ...target, role: 'auditor' });
    expect((await call(tenant, 'GET', '/api/v1/users', { token: fresh })).status).toBe(200);
  });
});
