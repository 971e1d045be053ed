import { and, eq, sql, type SQL } from 'drizzle-orm';
import { memberships, roles, users } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { memberColumns, shownName, toMember, type Member, type MembershipStatus } from './members.ts';
import { escapeLike } from '../../lib/text.ts';

export interface ListMembersInput {
  /** Case-insensitive prefix of the email address or the shown name (this organization's, else the account's). */
  q?: string | undefined;
  /** Role key. */
  role?: string | undefined;
  status?: MembershipStatus | undefined;
  limit: number;
  cursor?: string | undefined;
  /** `createdAt` (default, membership order) or `-createdAt`. */
  sort?: MemberSort | undefined;
}

export type MemberSort = 'createdAt' | '-createdAt';
const DEFAULT_SORT: MemberSort = 'createdAt';

export interface MemberPage {
  data: Member[];
  nextCursor: string | null;
}

/**
 * One page of the organization's members, in membership order (created_at, user_id), ascending by default or
 * descending with sort=-createdAt, after the cursor (which remembers its sort).
 * One database round trip: a single query in one scoped batch, served by memberships_organization_id_created_at_idx.
 */
export async function listMembers({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListMembersInput;
}): Promise<MemberPage> {
  const tenant = requireTenant(ctx);
  const sort = listSort(input.sort ?? DEFAULT_SORT);
  const after =
    input.cursor === undefined ? null : decodeCursor(input.cursor, { current: sort, defaultSort: DEFAULT_SORT });
  const conditions: SQL[] = [eq(memberships.organizationId, tenant.id)];
  if (input.q !== undefined) {
    const pattern = sql`lower(${`${escapeLike(input.q)}%`})`;
    // The name matched is the one shown: an account's own name stays unsearchable where this organization renamed it.
    conditions.push(sql`(lower(${users.email}) like ${pattern} or lower(${shownName}) like ${pattern})`);
  }
  if (input.role !== undefined) conditions.push(eq(roles.key, input.role));
  if (input.status !== undefined) conditions.push(eq(memberships.status, input.status));
  if (after !== null) conditions.push(keysetAfter(memberships.createdAt, memberships.userId, after, sort));

  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        ...memberColumns,
        cursorAt: cursorTimestamp(memberships.createdAt),
      })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
      .where(and(...conditions))
      .orderBy(...keysetOrder(memberships.createdAt, memberships.userId, sort))
      .limit(input.limit + 1),
  ]);

  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map(toMember),
    nextCursor:
      rows.length > input.limit && last !== undefined ? encodeCursor({ at: last.cursorAt, id: last.id }, sort) : null,
  };
}
