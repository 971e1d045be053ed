import { and, asc, desc, eq, gt, ilike, like, lt, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { organizations, type Organization } from '../../db/schema/index.ts';
import { databaseFor, SHARED_DATABASE, type Database } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { escapeLike } from '../../lib/text.ts';
import { effectivePlan, evaluateFlags, type EffectivePlan } from '../plans/catalogue.ts';
import { isoText } from '../outbox/views.ts';
import { readUsage, type UsageDay } from '../plans/usage.ts';
import { FLAG_DEFINITIONS } from '../flags/cache.ts';
import { registryOf } from '../flags/evaluate.ts';

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

export interface OrganizationDetail {
  organization: Organization;
  /** The effective plan and every feature flag evaluated for the organization. */
  plan: EffectivePlan & { flags: ReturnType<typeof evaluateFlags> };
  members: { total: number; active: number; invited: number; disabled: number; owners: number };
  events: { total: number; published: number };
  lastSignInAt: string | null;
  lastActivityAt: string | null;
  usage: UsageDay[];
}

const DetailCounts = z.object({
  members_total: z.coerce.number(),
  members_active: z.coerce.number(),
  members_invited: z.coerce.number(),
  members_disabled: z.coerce.number(),
  owners: z.coerce.number(),
  events_total: z.coerce.number(),
  events_published: z.coerce.number(),
  last_sign_in_at: z.string().nullable(),
  last_activity_at: z.string().nullable(),
});

/** Members, events, the latest sign-in and audited activity of one organization, on the database holding its rows. */
function detailCounts(db: Database, id: string) {
  return db.execute(sql`select m.*, e.*,
          (select ${isoText(sql`max(created_at)`)} from audit_logs where organization_id = ${id}) as last_activity_at
        from (select count(*) as members_total,
                count(*) filter (where m.status = 'active') as members_active,
                count(*) filter (where m.status = 'invited') as members_invited,
                count(*) filter (where m.status = 'disabled') as members_disabled,
                count(*) filter (where m.status = 'active' and r.key = 'owner') as owners,
                ${isoText(sql`max(m.last_login_at)`)} as last_sign_in_at
              from memberships m join roles r on r.organization_id = m.organization_id and r.id = m.role_id
              where m.organization_id = ${id}) m,
          (select count(*) as events_total, count(*) filter (where status = 'published') as events_published
              from events where organization_id = ${id}) e`);
}

/**
 * One organization as platform administrators see it (issue #16 part 1, tenant detail): the row, its effective plan
 * (limits), member and event counts, the latest sign-in and audited activity, and the last 30 days of usage
 * (`readUsage`). Two database round trips side by side (the organization's counts under the platform scope, the usage
 * under the organization's) and one Redis round trip; for an organization on a dedicated database (its tenant
 * directory entry, read in the first), one more: the counts from that database. 404 for an unknown id.
 */
export async function getOrganizationDetail({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<OrganizationDetail> {
  const { db } = ctx.services;
  const id = input.id.toLowerCase();
  const to = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10);
  const [[rows, counts, flags], usage] = await Promise.all([
    scoped(db, { platform: true }, [
      db.select().from(organizations).where(eq(organizations.id, id)).limit(1),
      detailCounts(db, id),
      db.execute(sql`select ${FLAG_DEFINITIONS} as flags,
        (select database from tenant_directory where organization_id = ${id}) as database`),
    ]),
    readUsage({ db, redis: ctx.services.redis, logger: ctx.logger }, id, { from, to }),
  ]);
  const organization = rows[0];
  if (!organization) throw new ApiError('not_found', { detail: 'No such organization.' });
  // An organization on a dedicated database: its members, events and audit log are there (one more round trip).
  const database = z.string().nullable().catch(null).parse(flags.rows[0]?.database);
  let countsRow: unknown = counts.rows[0];
  if (database !== null && database !== SHARED_DATABASE) {
    const dedicated = databaseFor(ctx.bindings, database);
    const [moved] = await scoped(dedicated, { platform: true }, [detailCounts(dedicated, id)]);
    countsRow = moved.rows[0];
  }
  const c = DetailCounts.parse(countsRow);
  const registry = registryOf(flags.rows[0]?.flags);
  return {
    organization,
    plan: { ...effectivePlan(organization, registry), flags: evaluateFlags(organization, registry) },
    members: {
      total: c.members_total,
      active: c.members_active,
      invited: c.members_invited,
      disabled: c.members_disabled,
      owners: c.owners,
    },
    events: { total: c.events_total, published: c.events_published },
    lastSignInAt: c.last_sign_in_at,
    lastActivityAt: c.last_activity_at,
    usage,
  };
}
