import { and, eq, sql } from 'drizzle-orm';
import { roles } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { actorOf, auditInsert } from '../audit/record.ts';
import type { Permission } from '../auth/permissions.ts';
import { databaseError, failedGuard, guard, UNIQUE_VIOLATION } from '../users/guards.ts';
import { assertAuthority, callerOf } from './authority.ts';
import { canonicalPermissions, type RoleView } from './roles.ts';

export interface CreateRoleInput {
  key: string;
  name: string;
  description?: string | undefined;
  permissions: Permission[];
}

/** Custom roles per organization: the role list is unpaginated, so it stays bounded. */
export const MAX_CUSTOM_ROLES = 50;

/** Creates a custom role from the catalogue; the caller must hold every permission it grants. */
export async function createRole({ ctx, input }: { ctx: ServiceContext; input: CreateRoleInput }): Promise<RoleView> {
  const tenant = requireTenant(ctx);
  const caller = callerOf(ctx);
  const permissions = canonicalPermissions(input.permissions);
  assertAuthority(caller, { key: input.key, permissions });
  const values = {
    id: crypto.randomUUID(),
    organizationId: tenant.id,
    key: input.key,
    name: input.name.trim(),
    description: input.description?.trim() ?? '',
    permissions,
    builtIn: false,
  };

  const db = ctx.services.db;
  try {
    await scoped(db, { organizationId: tenant.id }, [
      guard(
        db,
        sql`(${db
          .select({ count: sql`count(*)` })
          .from(roles)
          .where(and(eq(roles.organizationId, tenant.id), eq(roles.builtIn, false)))}) < ${MAX_CUSTOM_ROLES}`,
        'role_limit',
      ),
      db.insert(roles).values(values),
      auditInsert(db, ctx.client, {
        organizationId: tenant.id,
        actor: actorOf(caller),
        action: 'role.created',
        target: { type: 'role', id: values.id },
        metadata: { after: { key: values.key, name: values.name, description: values.description, permissions } },
      }),
    ]);
  } catch (error) {
    if (failedGuard(error) === 'role_limit') {
      throw new ApiError('conflict', { detail: `An organization has at most ${MAX_CUSTOM_ROLES} custom roles.` });
    }
    const info = databaseError(error);
    if (info?.code === UNIQUE_VIOLATION && info.constraint === 'roles_organization_id_key_key') {
      throw new ApiError('conflict', { detail: 'A role with this key already exists in this organization.' });
    }
    throw error;
  }
  return {
    id: values.id,
    key: values.key,
    name: values.name,
    description: values.description,
    permissions,
    builtIn: false,
    memberCount: 0,
  };
}
