import { describe, expect, it } from 'vitest';
import type { PermissionCatalogueResponse, RoleListResponse } from '../../src/routes/roles/schema.ts';
import { BUILT_IN_ROLES, PERMISSIONS } from '../../src/services/auth/permissions.ts';
import { createMember, createTenant, newRequestId, problem, roundTrips } from '../support/harness.ts';
import { addMembers, call, createCustomRole, memberWithToken } from '../support/users.ts';

describe('GET /api/v1/roles', () => {
  it('lists the built-in roles first, then custom roles by key, with permissions and member counts', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    await createMember(tenant, 'owner');
    await addMembers(tenant, 3, { role: 'staff' });
    const zeta = await createCustomRole(tenant, 'zeta', ['events:read']);
    const alpha = await createCustomRole(tenant, 'alpha', ['bookings:read', 'events:read']);
    await addMembers(tenant, 2, { role: 'alpha', status: 'invited' });

    const response = await call(tenant, 'GET', '/api/v1/roles', { token });
    expect(response.status).toBe(200);
    const body: RoleListResponse = await response.json();
    expect(body.data.map((role) => role.key)).toEqual([
      'owner',
      'admin',
      'organizer',
      'staff',
      'member',
      'alpha',
      'zeta',
    ]);
    const byKey = new Map(body.data.map((role) => [role.key, role]));
    expect(byKey.get('owner')).toMatchObject({
      name: 'Owner',
      description: BUILT_IN_ROLES.owner.description,
      permissions: [...BUILT_IN_ROLES.owner.permissions],
      builtIn: true,
      memberCount: 1,
    });
    expect(byKey.get('organizer')?.memberCount).toBe(1);
    expect(byKey.get('staff')).toMatchObject({ memberCount: 3, permissions: [...BUILT_IN_ROLES.staff.permissions] });
    expect(byKey.get('member')?.memberCount).toBe(0);
    expect(byKey.get('alpha')).toEqual({
      id: alpha.id,
      key: 'alpha',
      name: 'Custom alpha',
      description: '',
      permissions: ['bookings:read', 'events:read'],
      builtIn: false,
      memberCount: 2,
    });
    expect(byKey.get('zeta')).toMatchObject({ id: zeta.id, memberCount: 0 });
  });

  it("never shows another organization's custom roles or counts its members", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    await createCustomRole(other, 'secret', ['audit:read']);
    await addMembers(other, 4, { role: 'staff' });
    const body: RoleListResponse = await (await call(tenant, 'GET', '/api/v1/roles', { token })).json();
    expect(body.data.map((role) => role.key)).not.toContain('secret');
    expect(body.data.find((role) => role.key === 'staff')?.memberCount).toBe(0);
  });

  it('answers 401 without a token and 403 without users:read', async () => {
    const tenant = await createTenant();
    expect((await call(tenant, 'GET', '/api/v1/roles')).status).toBe(401);
    const { token } = await memberWithToken(tenant, 'staff');
    const response = await call(tenant, 'GET', '/api/v1/roles', { token });
    expect(response.status).toBe(403);
    expect((await problem(response)).detail).toBe('This needs the users:read permission.');
  });

  it('costs one database round trip and one Redis round trip on a warm tenant', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    expect((await call(tenant, 'GET', '/api/v1/roles', { token })).status).toBe(200);
    const id = newRequestId();
    const response = await call(tenant, 'GET', '/api/v1/roles', { token, headers: { 'x-request-id': id } });
    expect(response.status).toBe(200);
    expect(await roundTrips(id)).toEqual({ database: 1, redis: 1 });
  });
});

describe('GET /api/v1/roles/permissions', () => {
  it('answers the whole permission catalogue without touching the database', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    expect((await call(tenant, 'GET', '/api/v1/roles/permissions', { token })).status).toBe(200);
    const id = newRequestId();
    const response = await call(tenant, 'GET', '/api/v1/roles/permissions', {
      token,
      headers: { 'x-request-id': id },
    });
    expect(response.status).toBe(200);
    const body: PermissionCatalogueResponse = await response.json();
    expect(body.data).toEqual(Object.entries(PERMISSIONS).map(([key, description]) => ({ key, description })));
    expect(await roundTrips(id)).toEqual({ database: 0, redis: 1 });
  });

  it('answers 401 without a token, 403 without users:read, and 404 on the platform host', async () => {
    const tenant = await createTenant();
    expect((await call(tenant, 'GET', '/api/v1/roles/permissions')).status).toBe(401);
    const { token } = await memberWithToken(tenant, 'member');
    expect((await call(tenant, 'GET', '/api/v1/roles/permissions', { token })).status).toBe(403);
    // The route does not exist on the platform host, whatever token comes along.
    const platform = await call(
      { ...tenant, url: (path: string) => `http://localhost${path}` },
      'GET',
      '/api/v1/roles/permissions',
      { token },
    );
    expect(platform.status).toBe(404);
  });
});
