import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { roles } from '../../src/db/schema/index.ts';
import { createRole } from '../../src/services/roles/create.ts';
import { removeRole } from '../../src/services/roles/remove.ts';
import { updateRole } from '../../src/services/roles/update.ts';
import { createMember, createTenant, database, tokenFor } from '../support/harness.ts';
import {
  addMembers,
  auditRows,
  createCustomRole,
  memberWithToken,
  serviceContextFor,
  sessionAlive,
} from '../support/users.ts';

async function permissionsOf(roleId: string): Promise<string[] | undefined> {
  const [row] = await database().select({ permissions: roles.permissions }).from(roles).where(eq(roles.id, roleId));
  return row?.permissions;
}

describe('role changes racing with other requests', () => {
  it('refuses a change when the role changed after it was read, keeping the other change', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const role = await createCustomRole(tenant, 'desk', ['events:read']);
    const { ctx } = await serviceContextFor(tenant, token, {
      beforeBatch: async (index) => {
        if (index === 1)
          await database()
            .update(roles)
            .set({ permissions: ['billing:manage'] })
            .where(eq(roles.id, role.id));
      },
    });
    await expect(updateRole({ ctx, input: { id: role.id, name: 'Desk' } })).rejects.toMatchObject({ status: 409 });
    expect(await permissionsOf(role.id)).toEqual(['billing:manage']);
    expect(await auditRows(tenant, 'role.updated')).toEqual([]);
  });

  it('refuses a deletion when the role changed after it was read', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const role = await createCustomRole(tenant, 'desk', ['events:read']);
    const { ctx } = await serviceContextFor(tenant, token, {
      beforeBatch: async (index) => {
        if (index === 1)
          await database()
            .update(roles)
            .set({ permissions: ['audit:read'] })
            .where(eq(roles.id, role.id));
      },
    });
    await expect(removeRole({ ctx, input: { id: role.id } })).rejects.toMatchObject({ status: 409 });
    expect(await permissionsOf(role.id)).toEqual(['audit:read']);
  });

  it('refuses a deletion when a member was given the role after it was read (the foreign key holds)', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'admin');
    const role = await createCustomRole(tenant, 'desk', ['events:read']);
    const { ctx } = await serviceContextFor(tenant, token, {
      beforeBatch: async (index) => {
        if (index === 1) await addMembers(tenant, 1, { role: 'desk' });
      },
    });
    await expect(removeRole({ ctx, input: { id: role.id } })).rejects.toMatchObject({
      status: 409,
      detail: 'Members still hold this role; give them another role before deleting it.',
    });
    expect(await permissionsOf(role.id)).toEqual(['events:read']);
    expect(await auditRows(tenant, 'role.deleted')).toEqual([]);
  });

  it('saves a permission change and answers 503 when the holders’ access tokens cannot be ended', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const role = await createCustomRole(tenant, 'desk', ['users:read']);
    const holder = await createMember(tenant, 'desk');
    const holderToken = await tokenFor(tenant, holder);
    const { ctx } = await serviceContextFor(tenant, token, { redisDown: true });
    await expect(updateRole({ ctx, input: { id: role.id, permissions: [] } })).rejects.toMatchObject({ status: 503 });
    expect(await permissionsOf(role.id)).toEqual([]);
    expect(await sessionAlive(tenant, holderToken)).toBe(true);
  });

  it('passes unexpected database failures through unchanged, with nothing written', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const role = await createCustomRole(tenant, 'desk', ['events:read']);
    const injected = new Error('injected failure');
    const { ctx: create } = await serviceContextFor(tenant, token, { failBatch: { index: 0, error: injected } });
    await expect(createRole({ ctx: create, input: { key: 'new-role', name: 'New', permissions: [] } })).rejects.toBe(
      injected,
    );
    const { ctx: update } = await serviceContextFor(tenant, token, { failBatch: { index: 1, error: injected } });
    await expect(updateRole({ ctx: update, input: { id: role.id, permissions: [] } })).rejects.toBe(injected);
    const { ctx: remove } = await serviceContextFor(tenant, token, { failBatch: { index: 1, error: injected } });
    await expect(removeRole({ ctx: remove, input: { id: role.id } })).rejects.toBe(injected);
    expect(await permissionsOf(role.id)).toEqual(['events:read']);
    expect(await auditRows(tenant, 'role.created')).toEqual([]);
  });
});
