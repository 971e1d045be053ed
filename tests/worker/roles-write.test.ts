import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { roles } from '../../src/db/schema/index.ts';
import type { RoleResponse } from '../../src/routes/roles/schema.ts';
import type { MemberResponse } from '../../src/routes/users/schema.ts';
import { BUILT_IN_ROLES, type Permission } from '../../src/services/auth/permissions.ts';
import { MAX_CUSTOM_ROLES } from '../../src/services/roles/create.ts';
import {
  createMember,
  createTenant,
  database,
  problem,
  request,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import {
  addMembers,
  auditRows,
  call,
  createCustomRole,
  membershipOf,
  memberWithToken,
  randomEmail,
  roleIdOf,
  sessionAlive,
} from '../support/users.ts';

async function roleRow(tenant: TestTenant, id: string) {
  const [row] = await database()
    .select()
    .from(roles)
    .where(and(eq(roles.organizationId, tenant.organization.id), eq(roles.id, id)));
  return row;
}

async function customRoleKeys(tenant: TestTenant): Promise<string[]> {
  const rows = await database()
    .select({ key: roles.key })
    .from(roles)
    .where(and(eq(roles.organizationId, tenant.organization.id), eq(roles.builtIn, false)));
  return rows.map((row) => row.key).sort();
}

// The tenants here are on the pro plan: creating custom roles is a feature of it (starter refuses with 403
// feature_unavailable, see plans-quotas.test.ts).
describe('POST /api/v1/roles', () => {
  it('creates a custom role from the catalogue, in catalogue order without duplicates', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    const response = await call(tenant, 'POST', '/api/v1/roles', {
      token,
      body: {
        key: 'box-office',
        name: ' Box office ',
        description: 'Sells and refunds tickets.',
        permissions: ['bookings:write', 'events:read', 'bookings:write', 'bookings:read'],
      },
    });
    expect(response.status).toBe(201);
    const body: RoleResponse = await response.json();
    expect(body).toEqual({
      id: expect.any(String) as string,
      key: 'box-office',
      name: 'Box office',
      description: 'Sells and refunds tickets.',
      permissions: ['events:read', 'bookings:read', 'bookings:write'],
      builtIn: false,
      memberCount: 0,
    });
    expect(await roleRow(tenant, body.id)).toMatchObject({
      key: 'box-office',
      name: 'Box office',
      permissions: ['events:read', 'bookings:read', 'bookings:write'],
      builtIn: false,
    });
    const [audit] = await auditRows(tenant, 'role.created');
    expect(audit).toMatchObject({ actorUserId: admin.userId, targetType: 'role', targetId: body.id });
    expect(audit?.metadata).toEqual({
      after: {
        key: 'box-office',
        name: 'Box office',
        description: 'Sells and refunds tickets.',
        permissions: ['events:read', 'bookings:read', 'bookings:write'],
      },
    });
  });

  it('answers 409 for a key already used, built-in keys included', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const other = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    await createCustomRole(tenant, 'taken', []);
    for (const key of ['taken', 'admin', 'owner']) {
      const response = await call(tenant, 'POST', '/api/v1/roles', {
        token,
        body: { key, name: 'Dup', permissions: [] },
      });
      expect(response.status, key).toBe(409);
      expect((await problem(response)).detail).toBe('A role with this key already exists in this organization.');
    }
    expect(await customRoleKeys(tenant)).toEqual(['taken']);
    // Keys are per organization.
    const { token: otherToken } = await memberWithToken(other, 'owner');
    const elsewhere = await call(other, 'POST', '/api/v1/roles', {
      token: otherToken,
      body: { key: 'taken', name: 'Mine', permissions: [] },
    });
    expect(elsewhere.status).toBe(201);
  });

  it('answers 400 for a permission outside the catalogue and for malformed fields', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    const cases: [Record<string, unknown>, string][] = [
      [{ key: 'a', name: 'A', permissions: ['events:delete'] }, '/body/permissions/0'],
      [{ key: 'a', name: 'A', permissions: ['events:read', '*'] }, '/body/permissions/1'],
      [{ key: 'a', name: 'A', permissions: 'events:read' }, '/body/permissions'],
      [{ key: 'a', name: 'A' }, '/body/permissions'],
      [{ key: 'Has Spaces', name: 'A', permissions: [] }, '/body/key'],
      [{ key: '-dash', name: 'A', permissions: [] }, '/body/key'],
      [{ key: 'k'.repeat(64), name: 'A', permissions: [] }, '/body/key'],
      [{ key: 'a', name: '', permissions: [] }, '/body/name'],
      [{ key: 'a', name: 'n'.repeat(101), permissions: [] }, '/body/name'],
      [{ key: 'a', name: 'A', description: 'd'.repeat(501), permissions: [] }, '/body/description'],
    ];
    for (const [body, pointer] of cases) {
      const response = await call(tenant, 'POST', '/api/v1/roles', { token, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await problem(response)).errors?.map((error) => error.pointer)).toContain(pointer);
    }
    expect(await customRoleKeys(tenant)).toEqual([]);
  });

  it('refuses fields outside the schema (mass assignment) with 400 and other content types with 415', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const other = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    for (const extra of [
      { builtIn: true },
      { organizationId: other.organization.id },
      { id: crypto.randomUUID() },
      { memberCount: 5 },
    ]) {
      const response = await call(tenant, 'POST', '/api/v1/roles', {
        token,
        body: { key: 'sneaky', name: 'Sneaky', permissions: [], ...extra },
      });
      expect(response.status, JSON.stringify(extra)).toBe(400);
      expect((await problem(response)).errors?.[0]?.pointer).toBe('/body');
    }
    const text = await request(tenant.url('/api/v1/roles'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ key: 'plain', name: 'Plain', permissions: [] }),
    });
    expect(text.status).toBe(415);
    expect(await customRoleKeys(tenant)).toEqual([]);
    expect(await customRoleKeys(other)).toEqual([]);
  });

  it('refuses to grant permissions the caller does not hold (403)', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'admin');
    const response = await call(tenant, 'POST', '/api/v1/roles', {
      token,
      body: { key: 'payer', name: 'Payer', permissions: ['events:read', 'billing:manage'] },
    });
    expect(response.status).toBe(403);
    expect((await problem(response)).detail).toBe('This role holds permissions you do not have: billing:manage.');
    expect(await customRoleKeys(tenant)).toEqual([]);

    const { token: ownerToken } = await memberWithToken(tenant, 'owner');
    const allowed = await call(tenant, 'POST', '/api/v1/roles', {
      token: ownerToken,
      body: { key: 'payer', name: 'Payer', permissions: ['billing:manage'] },
    });
    expect(allowed.status).toBe(201);
  });

  it('answers 401 without a token and 403 without roles:manage', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const body = { key: 'x', name: 'X', permissions: [] };
    expect((await call(tenant, 'POST', '/api/v1/roles', { body })).status).toBe(401);
    for (const role of ['organizer', 'staff', 'member']) {
      const { token } = await memberWithToken(tenant, role);
      const response = await call(tenant, 'POST', '/api/v1/roles', { token, body });
      expect(response.status, role).toBe(403);
      expect((await problem(response)).detail).toBe('This needs the roles:manage permission.');
    }
    expect(await customRoleKeys(tenant)).toEqual([]);
  });

  it(`allows at most ${MAX_CUSTOM_ROLES} custom roles per organization`, async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    await database()
      .insert(roles)
      .values(
        Array.from({ length: MAX_CUSTOM_ROLES - 1 }, (_, index) => ({
          organizationId: tenant.organization.id,
          key: `bulk-${index}`,
          name: `Bulk ${index}`,
        })),
      );
    const last = await call(tenant, 'POST', '/api/v1/roles', {
      token,
      body: { key: 'last', name: 'L', permissions: [] },
    });
    expect(last.status).toBe(201);
    const over = await call(tenant, 'POST', '/api/v1/roles', {
      token,
      body: { key: 'over', name: 'O', permissions: [] },
    });
    expect(over.status).toBe(409);
    expect((await problem(over)).detail).toBe(`An organization has at most ${MAX_CUSTOM_ROLES} custom roles.`);
    expect(await customRoleKeys(tenant)).toHaveLength(MAX_CUSTOM_ROLES);
    expect(await auditRows(tenant, 'role.created')).toHaveLength(1);
  });
});

describe('PUT /api/v1/roles/{id}', () => {
  it("changes a role's permissions and ends the sessions of every member holding it", async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    const role = await createCustomRole(tenant, 'desk', ['users:read', 'events:read']);
    const holderA = await createMember(tenant, 'desk');
    const holderB = await createMember(tenant, 'desk');
    const bystander = await createMember(tenant, 'organizer');
    const [tokenA, tokenB, bystanderToken] = await Promise.all([
      tokenFor(tenant, holderA),
      tokenFor(tenant, holderB),
      tokenFor(tenant, bystander),
    ]);
    expect(await sessionAlive(tenant, tokenA)).toBe(true);

    const response = await call(tenant, 'PUT', `/api/v1/roles/${role.id}`, {
      token,
      body: { permissions: ['events:read'] },
    });
    expect(response.status).toBe(200);
    const body: RoleResponse = await response.json();
    expect(body).toMatchObject({ id: role.id, key: 'desk', permissions: ['events:read'], memberCount: 2 });
    expect((await roleRow(tenant, role.id))?.permissions).toEqual(['events:read']);

    expect(await sessionAlive(tenant, tokenA)).toBe(false);
    expect(await sessionAlive(tenant, tokenB)).toBe(false);
    expect(await sessionAlive(tenant, bystanderToken)).toBe(true);
    expect(await sessionAlive(tenant, token)).toBe(true);
    // A new token carries the new permissions: users:read is gone.
    const fresh = await tokenFor(tenant, holderA);
    expect((await call(tenant, 'GET', '/api/v1/users', { token: fresh })).status).toBe(403);

    const [audit] = await auditRows(tenant, 'role.updated');
    expect(audit).toMatchObject({ actorUserId: admin.userId, targetType: 'role', targetId: role.id });
    expect(audit?.metadata).toMatchObject({
      before: { key: 'desk', permissions: ['users:read', 'events:read'] },
      after: { key: 'desk', permissions: ['events:read'] },
      sessionsEnded: 2,
    });
  });

  it('renames a role without ending anyone’s session', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    const role = await createCustomRole(tenant, 'desk', ['events:read']);
    const holder = await createMember(tenant, 'desk');
    const holderToken = await tokenFor(tenant, holder);
    const response = await call(tenant, 'PUT', `/api/v1/roles/${role.id}`, {
      token,
      body: { name: 'Front desk', description: 'Welcomes guests.', permissions: ['events:read', 'events:read'] },
    });
    expect(response.status).toBe(200);
    expect(await response.json<RoleResponse>()).toMatchObject({
      name: 'Front desk',
      description: 'Welcomes guests.',
      permissions: ['events:read'],
      memberCount: 1,
    });
    expect(await roleRow(tenant, role.id)).toMatchObject({ name: 'Front desk', description: 'Welcomes guests.' });
    expect(await sessionAlive(tenant, holderToken)).toBe(true);
    const [audit] = await auditRows(tenant, 'role.updated');
    expect(audit?.metadata).toMatchObject({ sessionsEnded: 0 });

    // The same values again change nothing and write nothing.
    const again = await call(tenant, 'PUT', `/api/v1/roles/${role.id}`, { token, body: { name: 'Front desk' } });
    expect(again.status).toBe(200);
    expect(await auditRows(tenant, 'role.updated')).toHaveLength(1);
  });

  it('refuses to change a built-in role with 409', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    const staffId = await roleIdOf(tenant, 'staff');
    const response = await call(tenant, 'PUT', `/api/v1/roles/${staffId}`, {
      token,
      body: { permissions: ['users:manage'] },
    });
    expect(response.status).toBe(409);
    expect((await problem(response)).detail).toBe(
      'Built-in roles cannot be changed or deleted; create a custom role instead.',
    );
    expect((await roleRow(tenant, staffId))?.permissions).toEqual([...BUILT_IN_ROLES.staff.permissions]);
  });

  it('refuses to add permissions the caller lacks, or to touch a role beyond the caller (403)', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'admin');
    const desk = await createCustomRole(tenant, 'desk', ['events:read']);
    const treasurer = await createCustomRole(tenant, 'treasurer', ['billing:manage', 'events:read']);
    const attempts: [string, Record<string, unknown>][] = [
      [desk.id, { permissions: ['events:read', 'billing:manage'] }],
      [treasurer.id, { permissions: ['events:read'] }],
      [treasurer.id, { name: 'Renamed' }],
    ];
    for (const [id, body] of attempts) {
      const response = await call(tenant, 'PUT', `/api/v1/roles/${id}`, { token, body });
      expect(response.status, JSON.stringify(body)).toBe(403);
      expect((await problem(response)).detail).toContain('billing:manage');
    }
    expect((await roleRow(tenant, desk.id))?.permissions).toEqual(['events:read']);
    expect(await roleRow(tenant, treasurer.id)).toMatchObject({
      name: 'Custom treasurer',
      permissions: ['billing:manage', 'events:read'],
    });
  });

  it("answers 404 for another organization's role and changes nothing", async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const other = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    const theirs = await createCustomRole(other, 'theirs', ['events:read']);
    const holder = await createMember(other, 'theirs');
    const holderToken = await tokenFor(other, holder);
    for (const id of [theirs.id, await roleIdOf(other, 'staff'), crypto.randomUUID()]) {
      const response = await call(tenant, 'PUT', `/api/v1/roles/${id}`, {
        token,
        body: { name: 'Hijacked', permissions: [] },
      });
      expect(response.status).toBe(404);
      expect((await problem(response)).detail).toBe('No role with this id in this organization.');
    }
    expect(await roleRow(other, theirs.id)).toMatchObject({ name: 'Custom theirs', permissions: ['events:read'] });
    expect(await sessionAlive(other, holderToken)).toBe(true);
    expect(await auditRows(other, 'role.updated')).toEqual([]);
  });

  it('refuses unknown fields, an empty body and permissions outside the catalogue with 400', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    const role = await createCustomRole(tenant, 'desk', ['events:read']);
    for (const body of [
      {},
      { key: 'renamed' },
      { builtIn: true },
      { permissions: ['root'] },
      { organizationId: 'x' },
    ]) {
      const response = await call(tenant, 'PUT', `/api/v1/roles/${role.id}`, { token, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect(await roleRow(tenant, role.id)).toMatchObject({ key: 'desk', builtIn: false, permissions: ['events:read'] });
    expect((await call(tenant, 'PUT', '/api/v1/roles/desk', { token, body: { name: 'X' } })).status).toBe(400);
  });

  it('answers 401 without a token and 403 without roles:manage', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const role = await createCustomRole(tenant, 'desk', []);
    expect((await call(tenant, 'PUT', `/api/v1/roles/${role.id}`, { body: { name: 'X' } })).status).toBe(401);
    const { token } = await memberWithToken(tenant, 'organizer');
    expect((await call(tenant, 'PUT', `/api/v1/roles/${role.id}`, { token, body: { name: 'X' } })).status).toBe(403);
    expect((await roleRow(tenant, role.id))?.name).toBe('Custom desk');
  });
});

describe('DELETE /api/v1/roles/{id}', () => {
  it('deletes an unassigned custom role', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { member: admin, token } = await memberWithToken(tenant, 'admin');
    const role = await createCustomRole(tenant, 'temp', ['events:read']);
    const response = await call(tenant, 'DELETE', `/api/v1/roles/${role.id}`, { token });
    expect(response.status).toBe(204);
    expect(await roleRow(tenant, role.id)).toBeUndefined();
    const [audit] = await auditRows(tenant, 'role.deleted');
    expect(audit).toMatchObject({ actorUserId: admin.userId, targetType: 'role', targetId: role.id });
    expect(audit?.metadata).toEqual({
      before: { key: 'temp', name: 'Custom temp', description: '', permissions: ['events:read'] },
    });
    expect((await call(tenant, 'DELETE', `/api/v1/roles/${role.id}`, { token })).status).toBe(404);
  });

  it('refuses a role still held by members (invited ones included) and built-in roles with 409', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'owner');
    const role = await createCustomRole(tenant, 'held', []);
    await addMembers(tenant, 1, { role: 'held', status: 'invited' });
    const held = await call(tenant, 'DELETE', `/api/v1/roles/${role.id}`, { token });
    expect(held.status).toBe(409);
    expect((await problem(held)).detail).toBe(
      'Members still hold this role; give them another role before deleting it.',
    );
    expect(await roleRow(tenant, role.id)).toBeDefined();

    for (const key of ['owner', 'member']) {
      const response = await call(tenant, 'DELETE', `/api/v1/roles/${await roleIdOf(tenant, key)}`, { token });
      expect(response.status, key).toBe(409);
    }
    expect(await auditRows(tenant, 'role.deleted')).toEqual([]);
  });

  it('refuses a role beyond the caller (403) and answers 404 for another organization’s role', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const other = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'admin');
    const treasurer = await createCustomRole(tenant, 'treasurer', ['billing:manage']);
    const theirs = await createCustomRole(other, 'theirs', []);
    const refused = await call(tenant, 'DELETE', `/api/v1/roles/${treasurer.id}`, { token });
    expect(refused.status).toBe(403);
    expect(await roleRow(tenant, treasurer.id)).toBeDefined();
    const foreign = await call(tenant, 'DELETE', `/api/v1/roles/${theirs.id}`, { token });
    expect(foreign.status).toBe(404);
    expect(await roleRow(other, theirs.id)).toBeDefined();
  });

  it('answers 401 without a token and 403 without roles:manage', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const role = await createCustomRole(tenant, 'desk', []);
    expect((await call(tenant, 'DELETE', `/api/v1/roles/${role.id}`)).status).toBe(401);
    const { token } = await memberWithToken(tenant, 'staff');
    expect((await call(tenant, 'DELETE', `/api/v1/roles/${role.id}`, { token })).status).toBe(403);
    expect(await roleRow(tenant, role.id)).toBeDefined();
  });
});

describe('custom role lifecycle', () => {
  it('creates a role, assigns it, refuses to delete it while held, then deletes it once released', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, 'admin');
    const permissions: Permission[] = ['users:read', 'events:read'];
    const created = await call(tenant, 'POST', '/api/v1/roles', {
      token,
      body: { key: 'viewer', name: 'Viewer', permissions },
    });
    expect(created.status).toBe(201);
    const role: RoleResponse = await created.json();

    const invited = await call(tenant, 'POST', '/api/v1/users', {
      token,
      body: { email: randomEmail(tenant), name: 'Vera Viewer', role: 'viewer' },
    });
    expect(invited.status).toBe(201);
    const vera: MemberResponse = await invited.json();
    const existing = await createMember(tenant, 'member');
    expect(
      (await call(tenant, 'PUT', `/api/v1/users/${existing.userId}`, { token, body: { role: 'viewer' } })).status,
    ).toBe(200);
    const viewerToken = await tokenFor(tenant, { ...existing, role: 'viewer' });
    expect((await call(tenant, 'GET', '/api/v1/users?role=viewer', { token: viewerToken })).status).toBe(200);

    const list = await call(tenant, 'GET', '/api/v1/roles', { token });
    expect((await list.json<{ data: RoleResponse[] }>()).data.find((item) => item.id === role.id)?.memberCount).toBe(2);
    expect((await call(tenant, 'DELETE', `/api/v1/roles/${role.id}`, { token })).status).toBe(409);

    expect((await call(tenant, 'DELETE', `/api/v1/users/${vera.id}`, { token })).status).toBe(204);
    expect(
      (await call(tenant, 'PUT', `/api/v1/users/${existing.userId}`, { token, body: { role: 'staff' } })).status,
    ).toBe(200);
    expect(await membershipOf(tenant, existing.userId)).toMatchObject({ role: 'staff' });
    expect((await call(tenant, 'DELETE', `/api/v1/roles/${role.id}`, { token })).status).toBe(204);
    expect(await roleRow(tenant, role.id)).toBeUndefined();
    expect((await auditRows(tenant, 'role.created')).length).toBe(1);
    expect((await auditRows(tenant, 'role.deleted')).length).toBe(1);
  });
});
