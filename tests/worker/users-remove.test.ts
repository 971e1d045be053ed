import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { refreshTokens, userTokens } from '../../src/db/schema/index.ts';
import type { MemberResponse } from '../../src/routes/users/schema.ts';
import { createMember, createTenant, database, problem, tokenFor, type TestTenant } from '../support/harness.ts';
import {
  auditRows,
  call,
  createCustomRole,
  invitationTokens,
  membershipOf,
  memberWithToken,
  randomEmail,
  refreshTokenFor,
  refreshTokenRow,
  sessionAlive,
  userRow,
} from '../support/users.ts';

function remove(tenant: TestTenant, token: string, id: string): Promise<Response> {
  return call(tenant, 'DELETE', `/api/v1/users/${id}`, { token });
}

describe('DELETE /api/v1/users/{id}', () => {
  it('removes the membership with its tokens, ends the sessions at once, and keeps the account', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    const { member: target, token: targetToken } = await memberWithToken(tenant, 'organizer');
    await createMember(elsewhere, 'staff', { email: target.email });
    const elsewhereToken = await tokenFor(elsewhere, { ...target, role: 'staff' });
    const refreshId = await refreshTokenFor(tenant, target);
    await database()
      .insert(userTokens)
      .values({
        organizationId: tenant.organization.id,
        userId: target.userId,
        purpose: 'reset_password',
        tokenHash: 'f'.repeat(64),
        expiresAt: new Date(Date.now() + 3_600_000),
      });
    expect(await sessionAlive(tenant, targetToken)).toBe(true);

    const response = await remove(tenant, token, target.userId);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');

    expect(await membershipOf(tenant, target.userId)).toBeUndefined();
    expect(await refreshTokenRow(refreshId)).toBeUndefined();
    expect(await invitationTokens(tenant, target.userId)).toEqual([]);
    expect((await userRow(target.userId))?.email).toBe(target.email);
    expect(await sessionAlive(tenant, targetToken)).toBe(false);
    // Their membership and sessions elsewhere are untouched.
    expect(await membershipOf(elsewhere, target.userId)).toMatchObject({ role: 'staff', status: 'active' });
    expect(await sessionAlive(elsewhere, elsewhereToken)).toBe(true);

    const [audit] = await auditRows(tenant, 'membership.removed');
    expect(audit).toMatchObject({ actorUserId: admin.userId, targetType: 'user', targetId: target.userId });
    expect(audit?.metadata).toEqual({
      before: { email: target.email, name: (await userRow(target.userId))?.name, role: 'organizer', status: 'active' },
    });
    expect((await call(tenant, 'GET', `/api/v1/users/${target.userId}`, { token })).status).toBe(404);
    expect((await remove(tenant, token, target.userId)).status).toBe(404);
  });

  it('cancels a pending invitation', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const invited = await call(tenant, 'POST', '/api/v1/users', {
      token,
      body: { email: randomEmail(tenant), name: 'Pending', role: 'staff' },
    });
    const { id } = await invited.json<MemberResponse>();
    expect(await invitationTokens(tenant, id)).toHaveLength(1);
    expect((await remove(tenant, token, id)).status).toBe(204);
    expect(await invitationTokens(tenant, id)).toEqual([]);
    expect(await membershipOf(tenant, id)).toBeUndefined();
  });

  it('keeps the last active owner: removing them answers 409', async () => {
    const tenant = await createTenant();
    const { member: owner, token } = await memberWithToken(tenant, 'owner');
    const refreshId = await refreshTokenFor(tenant, owner);
    const response = await remove(tenant, token, owner.userId);
    expect(response.status).toBe(409);
    expect((await problem(response)).detail).toBe(
      'The organization must keep at least one active owner; make someone else an owner first.',
    );
    expect(await membershipOf(tenant, owner.userId)).toMatchObject({ role: 'owner', status: 'active' });
    expect((await refreshTokenRow(refreshId))?.revokedAt).toBeNull();
    expect(await sessionAlive(tenant, token)).toBe(true);
    expect(await auditRows(tenant, 'membership.removed')).toEqual([]);

    // A disabled owner does not count, so it does not save the last active one either...
    await createMember(tenant, 'owner', { status: 'disabled' });
    expect((await remove(tenant, token, owner.userId)).status).toBe(409);
    // ...but a second active owner does: then an owner may leave.
    await createMember(tenant, 'owner');
    expect((await remove(tenant, token, owner.userId)).status).toBe(204);
    expect(await membershipOf(tenant, owner.userId)).toBeUndefined();
  });

  it('refuses to remove a member whose role is beyond the caller', async () => {
    const tenant = await createTenant();
    const owner = await createMember(tenant, 'owner');
    await createCustomRole(tenant, 'treasurer', ['billing:manage']);
    const treasurer = await createMember(tenant, 'treasurer');
    const { token } = await memberWithToken(tenant, 'admin');
    for (const target of [owner, treasurer]) {
      const response = await remove(tenant, token, target.userId);
      expect(response.status).toBe(403);
      expect((await problem(response)).code).toBe('forbidden');
      expect(await membershipOf(tenant, target.userId)).toBeDefined();
    }
  });

  it('answers 404 for a member of another organization and removes nothing there', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const { member: outsider, token: outsiderToken } = await memberWithToken(other, 'staff');
    const refreshId = await refreshTokenFor(other, outsider);

    const response = await remove(tenant, token, outsider.userId);
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe('not_found');
    expect(await membershipOf(other, outsider.userId)).toMatchObject({ role: 'staff', status: 'active' });
    const [refresh] = await database()
      .select()
      .from(refreshTokens)
      .where(and(eq(refreshTokens.organizationId, other.organization.id), eq(refreshTokens.id, refreshId)));
    expect(refresh?.revokedAt).toBeNull();
    expect(await sessionAlive(other, outsiderToken)).toBe(true);
    expect(await auditRows(other, 'membership.removed')).toEqual([]);
    expect(await auditRows(tenant, 'membership.removed')).toEqual([]);
  });

  it('answers 400 for an id that is not a UUID, 401 without a token and 403 without users:manage', async () => {
    const tenant = await createTenant();
    const target = await createMember(tenant, 'member');
    const { token: ownerToken } = await memberWithToken(tenant, 'owner');
    expect((await remove(tenant, ownerToken, 'not-a-uuid')).status).toBe(400);
    expect((await call(tenant, 'DELETE', `/api/v1/users/${target.userId}`)).status).toBe(401);
    for (const role of ['organizer', 'staff', 'member']) {
      const { token } = await memberWithToken(tenant, role);
      expect((await remove(tenant, token, target.userId)).status, role).toBe(403);
    }
    expect(await membershipOf(tenant, target.userId)).toBeDefined();
  });
});
