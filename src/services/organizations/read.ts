import { and, asc, desc, eq, gt, ilike, like, lt, or, type SQL } from 'drizzle-orm';
import { organizations, type Organization } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { escapeLike } from '../../lib/text.ts';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const CURSOR_PREFIX = 's:';

/** The organization served on this host, with its branding and settings (one round trip). */
export async function getOwnOrganization({ ctx }: { ctx: ServiceContext }): Promise<Organization> {
  const tenant = requireTenant(ctx);
  const { db } = ctx.services;
  const [rows] = await scoped(db, { organizationId: tenant.id }, [
    db.select().from(organizations).where(eq(organizations.id, tenant.id)).limit(1),
  ]);
  const row = rows[0];
  if (!row) throw new ApiError('not_found', { detail: 'No such organization.' });
  return row;
}

export interface ListOrganizationsInput {
  limit: number;
  cursor?: string | undefined;
  status?: Organization['status'] | undefined;
  plan?: Organization['plan'] | undefined;
  q?: string | undefined;
  /** `slug` (default) or `-slug`. */
  sort?: OrganizationSort | undefined;
}

export type OrganizationSort = 'slug' | '-slug';
/** A cursor of the `-slug` order: the prefix names the order, so a cursor is refused under the other one. */
const DESCENDING_CURSOR_PREFIX = '-s:';

/** Cursors are opaque to clients: the last slug of the page and its order, base64url-encoded. */
export function encodeCursor(slug: string, sort: OrganizationSort = 'slug'): string {
  return btoa(`${sort === 'slug' ? CURSOR_PREFIX : DESCENDING_CURSOR_PREFIX}${slug}`)
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

export function decodeCursor(cursor: string, sort: OrganizationSort = 'slug'): string {
  let decoded: string;
  try {
    decoded = atob(cursor.replaceAll('-', '+').replaceAll('_', '/'));
  } catch {
    decoded = '';
  }
  const prefix = sort === 'slug' ? CURSOR_PREFIX : DESCENDING_CURSOR_PREFIX;
  const slug = decoded.slice(prefix.length);
  if (!decoded.startsWith(prefix) || !SLUG.test(slug)) {
    const message = 'Not a cursor from this list; pass nextCursor as it was returned.';
    throw new ApiError('validation_failed', { detail: message, errors: [{ pointer: '/query/cursor', message }] });
  }
  return slug;
}

/**
 * Platform administration: every organization, ordered by slug (`-slug`: descending; the unique index on slug serves
 * the order and the keyset cursor `slug > $cursor`, read backwards when descending), filtered by status, plan and a slug or name prefix. Platform scope.
 */
export async function listOrganizations({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListOrganizationsInput;
}): Promise<{ data: Organization[]; nextCursor: string | null }> {
  const sort = input.sort ?? 'slug';
  const conditions: SQL[] = [];
  if (input.cursor !== undefined) {
    const after = decodeCursor(input.cursor, sort);
    conditions.push(sort === 'slug' ? gt(organizations.slug, after) : lt(organizations.slug, after));
  }
  if (input.status !== undefined) conditions.push(eq(organizations.status, input.status));
  if (input.plan !== undefined) conditions.push(eq(organizations.plan, input.plan));
  if (input.q !== undefined) {
    const prefix = `${escapeLike(input.q)}%`;
    const bySlugOrName = or(like(organizations.slug, prefix.toLowerCase()), ilike(organizations.name, prefix));
    if (bySlugOrName) conditions.push(bySlugOrName);
  }
  const { db } = ctx.services;
  const [rows] = await scoped(db, { platform: true }, [
    db
      .select()
      .from(organizations)
      .where(and(...conditions))
      .orderBy(sort === 'slug' ? asc(organizations.slug) : desc(organizations.slug))
      .limit(input.limit + 1),
  ]);
  const data = rows.slice(0, input.limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > input.limit && last ? encodeCursor(last.slug, sort) : null };
}
