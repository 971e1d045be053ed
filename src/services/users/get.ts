import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { memberNotFound, selectMember, toMember, type Member } from './members.ts';

/** One member of this organization; a user who is not a member here (of another organization, or none) is a 404. */
export async function getMember({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<Member> {
  const tenant = requireTenant(ctx);
  const db = ctx.services.db;
  const [[row]] = await scoped(db, { organizationId: tenant.id }, [selectMember(db, tenant.id, input.id)]);
  if (!row) throw memberNotFound();
  return toMember(row);
}
