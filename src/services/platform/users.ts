import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { databaseFor, SHARED_DATABASE, type Database } from '../../db/client.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { base64urlDecode, base64urlEncode } from '../../lib/crypto.ts';
import { escapeLike, strictUtf8 } from '../../lib/text.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditClient, auditMetadata } from '../audit/record.ts';
import { everyTenantOf } from '../auth/account.ts';
import { otherDatabases, writeIdentityCopies } from '../auth/identity-copies.ts';
import { revokeUserTokens } from '../auth/revocation.ts';

/**
 * Platform administration of accounts (issue #16 part 1: platform-level user search and session revocation), on the
 * platform host under the `{ platform: true }` scope: an account is one identity across organizations, so only the
 * platform sees all of it. Every read names no secret (no password hash, token or factor); every change is audited
 * as a platform event (no organization).
 */

export interface PlatformUserSummary {
  id: string;
  email: string;
  name: string;
  emailVerified: boolean;
  isPlatformAdmin: boolean;
  organizations: number;
  lastLoginAt: string | null;
  createdAt: string;
}

export interface PlatformUserMembership {
  organization: { id: string; slug: string; name: string; status: string };
  role: string;
  status: string;
  lastLoginAt: string | null;
  activeSessions: number;
  joinedAt: string;
}

export interface PlatformUser extends PlatformUserSummary {
  locale: string;
  timezone: string;
  memberships: PlatformUserMembership[];
}

const Iso = z.union([z.string(), z.date()]).transform((value) => new Date(value).toISOString());
const SummaryRow = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  email_verified: z.boolean(),
  is_platform_admin: z.boolean(),
  organizations: z.coerce.number(),
  last_login_at: Iso.nullable(),
  created_at: Iso,
});

function toSummary(row: z.infer<typeof SummaryRow>): PlatformUserSummary {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.email_verified,
    isPlatformAdmin: row.is_platform_admin,
    organizations: row.organizations,
    lastLoginAt: row.last_login_at,
    createdAt: row.created_at,
  };
}

const summaryColumns = sql`u.id, u.email, u.name, u.email_verified_at is not null as email_verified,
  u.is_platform_admin, u.created_at,
  (select count(*) from memberships m where m.user_id = u.id) as organizations,
  (select max(m.last_login_at) from memberships m where m.user_id = u.id) as last_login_at`;

function userNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No account with this id.' });
}

/**
 * Accounts by email, ascending, with a cursor (the last email of the page) and an optional `q`: a prefix of the email
 * or of the name (case-insensitive). One database round trip; the email prefix is served by users_email_key.
 */
export async function searchUsers({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { q?: string | undefined; limit: number; cursor?: string | undefined };
}): Promise<{ data: PlatformUserSummary[]; nextCursor: string | null }> {
  const db = ctx.services.db;
  const conditions: SQL[] = [sql`true`];
  if (input.cursor !== undefined) conditions.push(sql`u.email > ${decodeEmailCursor(input.cursor)}`);
  if (input.q !== undefined) {
    const prefix = `${escapeLike(input.q)}%`;
    conditions.push(sql`(u.email like ${prefix.toLowerCase()} or u.name ilike ${prefix})`);
  }
  const [result] = await scoped(db, { platform: true }, [
    db.execute(sql`select ${summaryColumns} from users u where ${sql.join(conditions, sql` and `)}
      order by u.email limit ${input.limit + 1}`),
  ]);
  const rows = z.array(SummaryRow).parse(result.rows).map(toSummary);
  const data = rows.slice(0, input.limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > input.limit && last ? encodeEmailCursor(last.email) : null };
}

/** The cursor of the search: the last email of the page, as UTF-8 in base64url (opaque to clients). */
function encodeEmailCursor(email: string): string {
  return base64urlEncode(new TextEncoder().encode(email));
}

function decodeEmailCursor(cursor: string): string {
  try {
    const email = strictUtf8(base64urlDecode(cursor));
    if (email.includes('@')) return email;
  } catch {
    // not base64url, or not UTF-8: refused below
  }
  throw new ApiError('validation_failed', {
    detail: 'The cursor is not one this list gave.',
    errors: [{ pointer: '/query/cursor', message: 'invalid cursor' }],
  });
}

const MembershipRow = z.object({
  organization_id: z.string(),
  slug: z.string(),
  organization_name: z.string(),
  organization_status: z.string(),
  role: z.string(),
  status: z.string(),
  last_login_at: Iso.nullable(),
  active_sessions: z.coerce.number(),
  joined_at: Iso,
});

/** The account's memberships on one database, with their organizations (copied beside them on a dedicated one). */
function membershipsQuery(db: Database, id: string) {
  return db.execute(sql`select o.id as organization_id, o.slug, o.name as organization_name,
        o.status::text as organization_status, r.key as role, m.status::text as status, m.last_login_at,
        m.created_at as joined_at,
        (select count(distinct t.family_id) from refresh_tokens t where t.organization_id = m.organization_id
          and t.user_id = m.user_id and t.revoked_at is null and t.expires_at > now()
          and t.session_expires_at > now()) as active_sessions
      from memberships m join organizations o on o.id = m.organization_id
      join roles r on r.organization_id = m.organization_id and r.id = m.role_id
      where m.user_id = ${id} order by o.slug`);
}

/**
 * One account with its memberships (organization, role, status, last sign-in, live sessions) on every database:
 * one round trip on the control database and one on each dedicated database, side by side. The membership count
 * and the latest sign-in count them all.
 */
export async function getPlatformUser({ ctx, input }: { ctx: ServiceContext; input: { id: string } }) {
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const [[user, memberships], ...elsewhere] = await Promise.all([
    scoped(db, { platform: true }, [
      db.execute(sql`select ${summaryColumns}, u.locale, u.timezone from users u where u.id = ${id}`),
      membershipsQuery(db, id),
    ]),
    ...otherDatabases(ctx.bindings, SHARED_DATABASE).map(async (key) => {
      const other = databaseFor(ctx.bindings, key);
      const [rows] = await scoped(other, { platform: true }, [membershipsQuery(other, id)]);
      return rows;
    }),
  ]);
  const row = user.rows[0];
  if (row === undefined) throw userNotFound();
  const summary = toSummary(SummaryRow.parse(row));
  const extra = z.object({ locale: z.string(), timezone: z.string() }).parse(row);
  const every = z
    .array(MembershipRow)
    .parse([...memberships.rows, ...elsewhere.flatMap((result) => result.rows)])
    .sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  const lastLogins = every.map((m) => m.last_login_at).filter((at): at is string => at !== null);
  return {
    ...summary,
    organizations: every.length,
    lastLoginAt: lastLogins.length === 0 ? null : lastLogins.reduce((a, b) => (a > b ? a : b)),
    ...extra,
    memberships: every.map((m): PlatformUserMembership => ({
      organization: { id: m.organization_id, slug: m.slug, name: m.organization_name, status: m.organization_status },
      role: m.role,
      status: m.status,
      lastLoginAt: m.last_login_at,
      activeSessions: m.active_sessions,
      joinedAt: m.joined_at,
    })),
  } satisfies PlatformUser;
}

/**
 * Ends every session of an account everywhere (each organization and the platform host): every refresh token is
 * revoked and the platform audit row written in one statement on the control database, then the same on every
 * dedicated database (`writeIdentityCopies`: the sessions and memberships of organizations moved there live there;
 * one round trip per database, in parallel), then the access tokens end in every tenant the account holds them in,
 * on any database (one Redis round trip). A platform administrator's own sessions included, the caller's too when it
 * is their own account. 404 for an unknown account.
 */
export async function revokePlatformUserSessions({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason: string };
}): Promise<{ sessionsRevoked: number; tenants: number }> {
  const db = ctx.services.db;
  const id = input.id.toLowerCase();
  const admin = principalOf({ var: { principal: ctx.principal } });
  const action = 'platform.user_sessions_revoked';
  const client = auditClient(ctx.client);
  const metadata = JSON.stringify(auditMetadata(ctx.client, action, { reason: input.reason }));
  const [result] = await scoped(db, { platform: true }, [
    db.execute(sql`
      with target as (select id from users where id = ${id}),
      revoked as (
        update refresh_tokens set revoked_at = now()
         where user_id in (select id from target) and revoked_at is null
        returning family_id, organization_id
      ), audit as (
        insert into audit_logs (organization_id, actor_type, actor_user_id, action, target_type, target_id, ip,
          user_agent, request_id, correlation_id, metadata)
        select null, 'user', ${admin.userId}::uuid, ${action}::text, 'user', id::text, ${client.ip}::text,
          ${client.userAgent}::text, ${client.requestId}::text, ${client.correlationId}::text, ${metadata}::jsonb
        from target
      )
      select t.id, (select count(distinct (r.organization_id, r.family_id)) from revoked r) as sessions,
        ${everyTenantOf(sql`t.id`, sql`u`)} as tenants
        from target t join users u on u.id = t.id`),
  ]);
  const [row] = z
    .array(z.object({ id: z.string(), sessions: z.coerce.number(), tenants: z.array(z.string()) }))
    .parse(result.rows);
  if (row === undefined) throw userNotFound();
  // The sessions and memberships of the account's organizations on dedicated databases are there, not here.
  const copies = await writeIdentityCopies(ctx.bindings, {
    userId: row.id,
    except: SHARED_DATABASE,
    change: { endSessions: true },
  });
  const tenants = [...new Set([...row.tenants, ...copies.tenants])];
  await revokeUserTokens(ctx.services.redis, tenants, [row.id]);
  return { sessionsRevoked: row.sessions + copies.sessions, tenants: tenants.length };
}
