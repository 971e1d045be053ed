import { NeonDbError } from '@neondatabase/serverless';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships, roles } from '../../src/db/schema/index.ts';
import { ApiError } from '../../src/errors/api-error.ts';
import { callerOf } from '../../src/services/roles/authority.ts';
import { databaseError, failedGuard } from '../../src/services/users/guards.ts';
import { inviteMember } from '../../src/services/users/invite.ts';
import { removeMember } from '../../src/services/users/remove.ts';
import { updateMember } from '../../src/services/users/update.ts';
import { createMember, createTenant, database, type TestTenant } from '../support/harness.ts';
import {
  auditRows,
  membershipOf,
  memberWithToken,
  randomEmail,
  refreshTokenFor,
  refreshTokenRow,
  roleIdOf,
  serviceContextFor,
  sessionAlive,
  userByEmail,
  userRow,
} from '../support/users.ts';

/** Another request's change, committed between the service's read batch (0) and its write batch (1). */
async function setMembership(tenant: TestTenant, userId: string, values: Partial<typeof memberships.$inferInsert>) {
  await database()
    .update(memberships)
    .set(values)
    .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, userId)));
}

const STALE = 'The member or role changed while this request ran; try again.';

describe('member changes racing with other requests', () => {
  it('refuses a role change when the member changed after it was read, keeping the other change', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const target = await createMember(tenant, 'staff');
    const refreshId = await refreshTokenFor(tenant, target);
    const ownerRoleId = await roleIdOf(tenant, 'owner');
    const { ctx } = await serviceContextFor(tenant, token, {
      // Someone made the staff member an owner meanwhile: an admin must not be able to demote them now.
      beforeBatch: async (index) => {
        if (index === 1) await setMembership(tenant, target.userId, { roleId: ownerRoleId });
      },
    });
    await expect(updateMember({ ctx, input: { id: target.userId, role: 'member' } })).rejects.toMatchObject({
      status: 409,
      detail: STALE,
    });
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ role: 'owner', status: 'active' });
    expect((await refreshTokenRow(refreshId))?.revokedAt).toBeNull();
    expect(await auditRows(tenant, 'membership.updated')).toEqual([]);
  });

  it('refuses to give a role whose permissions changed after they were checked', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const target = await createMember(tenant, 'member');
    const [custom] = await database()
      .insert(roles)
      .values({ organizationId: tenant.organization.id, key: 'desk', name: 'Desk', permissions: ['events:read'] })
      .returning({ id: roles.id });
    const { ctx } = await serviceContextFor(tenant, token, {
      beforeBatch: async (index) => {
        if (index === 1) {
          await database()
            .update(roles)
            .set({ permissions: ['events:read', 'billing:manage'] })
            .where(eq(roles.id, custom?.id ?? ''));
        }
      },
    });
    await expect(updateMember({ ctx, input: { id: target.userId, role: 'desk' } })).rejects.toMatchObject({
      status: 409,
    });
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ role: 'member' });
  });

  it('refuses a removal when the member changed after it was read', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const target = await createMember(tenant, 'staff');
    const { ctx } = await serviceContextFor(tenant, token, {
      beforeBatch: async (index) => {
        if (index === 1) await setMembership(tenant, target.userId, { status: 'disabled' });
      },
    });
    await expect(removeMember({ ctx, input: { id: target.userId } })).rejects.toMatchObject({
      status: 409,
      detail: STALE,
    });
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ status: 'disabled' });
    expect(await auditRows(tenant, 'membership.removed')).toEqual([]);
  });

  it('refuses an invitation when the role changed after it was checked, and creates nothing', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const staffRoleId = await roleIdOf(tenant, 'staff');
    const email = randomEmail(tenant);
    const { ctx, background } = await serviceContextFor(tenant, token, {
      beforeBatch: async (index) => {
        if (index === 1) {
          await database()
            .update(roles)
            .set({ permissions: ['billing:manage'] })
            .where(eq(roles.id, staffRoleId));
        }
      },
    });
    await expect(inviteMember({ ctx, input: { email, name: 'Late', role: 'staff' } })).rejects.toMatchObject({
      status: 409,
      detail: 'The role changed while the invitation was made; try again.',
    });
    expect(await userByEmail(email)).toBeUndefined();
    expect(await auditRows(tenant, 'membership.invited')).toEqual([]);
    expect(background).toEqual([]);
  });
  it('answers 409 when the person became a member between the read and the write', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    // An existing account (member elsewhere) joins this organization while the invitation is being written.
    const person = await createMember(elsewhere, 'member');
    const { ctx } = await serviceContextFor(tenant, token, {
      beforeBatch: async (index) => {
        if (index === 1) await createMember(tenant, 'staff', { email: person.email });
      },
    });
    await expect(
      inviteMember({ ctx, input: { email: person.email, name: 'Twice', role: 'member' } }),
    ).rejects.toMatchObject({
      status: 409,
      detail: 'This email address already belongs to a member of this organization.',
    });
    expect(await membershipOf(tenant, person.userId)).toMatchObject({ role: 'staff', status: 'active' });
    expect(await auditRows(tenant, 'membership.invited')).toEqual([]);
  });

  it('invites the account that another request registered with the same email in the meantime', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const email = randomEmail(tenant);
    let registered: string | undefined;
    const { ctx, background } = await serviceContextFor(tenant, token, {
      beforeBatch: async (index) => {
        if (index === 1) registered = (await createMember(elsewhere, 'member', { email })).userId;
      },
    });
    const member = await inviteMember({ ctx, input: { email, name: 'Raced', role: 'organizer' } });
    expect(registered).toBeDefined();
    // The account registered in the meantime is reused, and still not described to the inviting organization.
    expect(member).toMatchObject({ id: registered, email, name: 'Raced', status: 'invited', emailVerified: false });
    expect(await membershipOf(tenant, registered ?? '')).toMatchObject({ displayName: 'Raced' });
    expect((await userRow(registered ?? ''))?.name).not.toBe('Raced');
    expect(await membershipOf(tenant, registered ?? '')).toMatchObject({ role: 'organizer', status: 'invited' });
    expect(await auditRows(tenant, 'membership.invited')).toHaveLength(1);
    await Promise.all(background);
  });
});

describe('member changes when Redis is down', () => {
  it('refuses invitations (the rate limit fails closed) and creates nothing', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const email = randomEmail(tenant);
    const { ctx } = await serviceContextFor(tenant, token, { redisDown: true });
    await expect(inviteMember({ ctx, input: { email, name: 'N', role: 'member' } })).rejects.toMatchObject({
      status: 503,
    });
    expect(await userByEmail(email)).toBeUndefined();
  });

  it('saves a role change and revokes refresh tokens, then says with 503 that access tokens could not be ended', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const { member: target, token: targetToken } = await memberWithToken(tenant, 'organizer');
    const refreshId = await refreshTokenFor(tenant, target);
    const { ctx } = await serviceContextFor(tenant, token, { redisDown: true });
    const failure = updateMember({ ctx, input: { id: target.userId, role: 'staff' } });
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({
      status: 503,
      headers: { 'retry-after': '5' },
      detail:
        'The change is saved and no session can be renewed, but access tokens already issued could not be ended; ' +
        'they expire within 15 minutes.',
    });
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ role: 'staff' });
    expect((await refreshTokenRow(refreshId))?.revokedAt).toBeInstanceOf(Date);
    expect(await auditRows(tenant, 'membership.updated')).toHaveLength(1);
    // The record could not be written: the access token still passes until it expires.
    expect(await sessionAlive(tenant, targetToken)).toBe(true);
  });

  it('removes a member and answers 503 when their access tokens cannot be ended', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const target = await createMember(tenant, 'staff');
    const { ctx } = await serviceContextFor(tenant, token, { redisDown: true });
    await expect(removeMember({ ctx, input: { id: target.userId } })).rejects.toMatchObject({ status: 503 });
    expect(await membershipOf(tenant, target.userId)).toBeUndefined();
  });
});

describe('unexpected database failures', () => {
  it('pass through unchanged (the error handler answers 500 or 503), with nothing written', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const target = await createMember(tenant, 'staff');
    const injected = new Error('injected failure');
    const calls = [
      (ctx: Awaited<ReturnType<typeof serviceContextFor>>['ctx']) =>
        updateMember({ ctx, input: { id: target.userId, role: 'organizer' } }),
      (ctx: Awaited<ReturnType<typeof serviceContextFor>>['ctx']) =>
        removeMember({ ctx, input: { id: target.userId } }),
      (ctx: Awaited<ReturnType<typeof serviceContextFor>>['ctx']) =>
        inviteMember({ ctx, input: { email: randomEmail(tenant), name: 'N', role: 'member' } }),
    ];
    for (const call of calls) {
      const { ctx } = await serviceContextFor(tenant, token, { failBatch: { index: 1, error: injected } });
      await expect(call(ctx)).rejects.toBe(injected);
    }
    expect(await membershipOf(tenant, target.userId)).toMatchObject({ role: 'staff', status: 'active' });
  });
});

describe('service guards', () => {
  it('refuses a service call without a caller with 401', async () => {
    const tenant = await createTenant();
    const { ctx } = await serviceContextFor(tenant, null);
    expect(() => callerOf(ctx)).toThrow(ApiError);
    await expect(removeMember({ ctx, input: { id: crypto.randomUUID() } })).rejects.toMatchObject({ status: 401 });
  });

  it('recognizes only its own guard failures and PostgreSQL errors', () => {
    const neonError = (code: string, message: string, constraint?: string): NeonDbError => {
      const error = new NeonDbError(message);
      error.code = code;
      error.constraint = constraint;
      return error;
    };
    const guardFailure = neonError('22P02', 'invalid input syntax for type integer: "eventra_guard:last_owner"');
    expect(failedGuard(guardFailure)).toBe('last_owner');
    expect(failedGuard(new Error('wrapped', { cause: guardFailure }))).toBe('last_owner');
    expect(failedGuard(neonError('22P02', 'invalid input syntax for type integer: "abc"'))).toBeNull();
    expect(
      failedGuard(neonError('22P02', 'invalid input syntax for type integer: "eventra_guard:unknown"')),
    ).toBeNull();
    expect(failedGuard(neonError('23505', 'duplicate key', 'users_email_key'))).toBeNull();
    expect(failedGuard(new Error('not a database error'))).toBeNull();
    expect(databaseError(neonError('23505', 'duplicate key', 'users_email_key'))).toEqual({
      code: '23505',
      constraint: 'users_email_key',
      message: 'duplicate key',
    });
    expect(databaseError(neonError('', 'Error connecting to database'))).toBeNull();
    expect(databaseError('a string')).toBeNull();
  });
});

describe('arrays as one bound parameter (textArray, uuidArray)', () => {
  it('round-trips texts the array literal must quote, and uuids, through the production driver', async () => {
    const { database } = await import('../support/harness.ts');
    const { sql } = await import('drizzle-orm');
    const { PgDialect } = await import('drizzle-orm/pg-core');
    const { textArray, uuidArray } = await import('../../src/db/params.ts');
    const texts = ['a,b', 'q"uote', 'back\\slash', 'NULL', '{x}', ' padded ', '', 'ünï'];
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    // One parameter each, however many elements.
    expect(new PgDialect().sqlToQuery(sql`select ${textArray(texts)}, ${uuidArray(ids)}`).params).toHaveLength(2);
    const db = database();
    const { rows } = await db.execute<{ texts: string[]; ids: string[]; none: string[]; found: boolean }>(
      sql`select ${textArray(texts)} as texts, ${uuidArray(ids)} as ids, ${uuidArray([])} as none,
        ${ids[1]}::uuid = any(${uuidArray(ids)}) as found`,
    );
    const [row] = rows;
    expect(row).toEqual({ texts, ids, none: [], found: true });
  });
});
