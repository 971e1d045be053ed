import { and, eq, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.ts';
import { impersonations, users, type ImpersonationRow } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { cursorTimestamp, decodeCursor, encodeCursor, keysetAfter, keysetOrder, listSort } from '../../lib/cursor.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditClient, auditMetadata, type ActorType } from '../audit/record.ts';
import { heldPermissions } from '../auth/grant.ts';
import { revokeSession } from '../auth/revocation.ts';
import { issueAccessToken, MAX_IMPERSONATION_SECONDS, type ImpersonationMode } from '../auth/tokens.ts';
import { emailBranding, sendLater } from '../email/branding.ts';
import { impersonationStartedEmail } from '../email/security.ts';
import { isoText } from '../outbox/views.ts';
import { OWNER_ROLE } from '../roles/authority.ts';

/*
 * Support impersonation (issue #16 part 1): a platform administrator, on the platform host and with a recent sign-in,
 * acts as a member of an organization for a limited time, with a reason, read-only. Everything rests on the existing
 * session machinery:
 * - the impersonation is a row (`impersonations`) and its one access token (no refresh token, never refreshed) has
 *   the row's id as its session id (`sid`), the RFC 8693 `act` claim naming the administrator and `imp` naming the
 *   impersonation and its mode (src/services/auth/tokens.ts), and `exp` at the row's end;
 * - ending it early is the ordinary session revocation (`revoked:sid:<id>`), which every authenticated request
 *   already reads in its one Redis round trip: no extra round trip, effective at once; a change to the member
 *   (role, removal, password reset, logout everywhere) ends it like the member's own sessions;
 * - read-only is enforced centrally by the guards (src/middleware/auth.ts), as is the list of endpoints an
 *   impersonator may not use at all (`requireSession()`, `requireRecentAuth()`).
 * The start and the end are audited in the platform's log and in the organization's, with the administrator as actor
 * and the reason; the organization lists its impersonations; the member gets an email.
 */

export const DEFAULT_IMPERSONATION_MINUTES = 15;
export const MAX_IMPERSONATION_MINUTES = MAX_IMPERSONATION_SECONDS / 60;

export type ImpersonationStatus = 'active' | 'ended' | 'expired';

export interface ImpersonationView {
  id: string;
  organizationId: string;
  user: { id: string; email: string | null; name: string | null };
  impersonator: { id: string | null; email: string };
  reason: string;
  mode: ImpersonationMode;
  status: ImpersonationStatus;
  createdAt: string;
  expiresAt: string;
  endedAt: string | null;
}

export interface StartedImpersonation {
  impersonation: ImpersonationView;
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

const STARTED = 'impersonation.started';
const ENDED = 'impersonation.ended';

const StartRow = z.object({
  user_id: z.string(),
  email: z.string(),
  name: z.string(),
  timezone: z.string(),
  email_verified: z.boolean(),
  is_platform_admin: z.boolean(),
  role: z.string(),
  permissions: z.array(z.string()),
  organization_name: z.string(),
  branding: z.unknown(),
  actor_email: z.string().nullable(),
  id: z.string().nullable(),
  created_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  expires_epoch: z.coerce.number().nullable(),
});

/**
 * The audit rows of an impersonation's start or end, one in the organization's log and one in the platform's (no
 * organization), from the rows of `source` (a CTE with `id`, `organization_id`, `user_id`): the statement's part
 * after `insert into audit_logs`.
 */
function auditRows(
  ctx: ServiceContext,
  actor: { type: ActorType; userId: string },
  action: string,
  source: SQL,
  metadata: Record<string, unknown>,
): SQL {
  const client = auditClient(ctx.client);
  const stored = JSON.stringify(auditMetadata(ctx.client, action, metadata));
  return sql`(organization_id, actor_type, actor_user_id, action, target_type, target_id, ip, user_agent,
      request_id, correlation_id, metadata)
    select log.organization_id, ${actor.type}::text, ${actor.userId}::uuid, ${action}::text, 'user', s.user_id::text,
      ${client.ip}::text, ${client.userAgent}::text, ${client.requestId}::text, ${client.correlationId}::text,
      ${stored}::jsonb || jsonb_build_object('impersonationId', s.id, 'organizationId', s.organization_id)
    from ${source} s cross join lateral (values (s.organization_id), (null::uuid)) as log(organization_id)`;
}

function memberNotFound(): ApiError {
  return new ApiError('not_found', { detail: 'No active member with this id in an active organization with this id.' });
}

/**
 * Starts an impersonation and returns its access token. One database round trip (under the platform scope): the
 * member (active, in an active organization), the administrator (still a platform administrator in the database, not
 * only in the token), the row and both audit rows in one statement. Then the token is signed in the isolate and the
 * member's email queued after the response. 404 for an unknown or inactive member or organization; 403 for a member
 * who is a platform administrator, or for the caller acting as themselves.
 */
export async function startImpersonation({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { organizationId: string; userId: string; reason: string; durationMinutes: number; mode: ImpersonationMode };
}): Promise<StartedImpersonation> {
  const admin = principalOf({ var: { principal: ctx.principal } });
  const organizationId = input.organizationId.toLowerCase();
  const userId = input.userId.toLowerCase();
  if (userId === admin.userId) {
    throw new ApiError('forbidden', { detail: 'An administrator cannot impersonate their own account.' });
  }
  const db = ctx.services.db;
  const source = sql.raw('created');
  const [result] = await scoped(db, { platform: true }, [
    db.execute(sql`
      with target as (
        select m.organization_id, m.user_id, u.email, u.name, u.timezone,
          u.email_verified_at is not null as email_verified, u.is_platform_admin, r.key as role, r.permissions,
          o.name as organization_name, o.branding
        from memberships m
        join users u on u.id = m.user_id
        join roles r on r.organization_id = m.organization_id and r.id = m.role_id
        join organizations o on o.id = m.organization_id
        where m.organization_id = ${organizationId}::uuid and m.user_id = ${userId}::uuid
          and m.status = 'active' and o.status = 'active'
      ), actor as (
        select id, email from users where id = ${admin.userId}::uuid and is_platform_admin
      ), created as (
        insert into impersonations (organization_id, user_id, actor_user_id, actor_email, reason, mode, expires_at)
        select t.organization_id, t.user_id, a.id, a.email, ${input.reason}::text, ${input.mode}::impersonation_mode,
          now() + make_interval(mins => ${input.durationMinutes}::int)
        from target t cross join actor a
        where not t.is_platform_admin
        returning id, organization_id, user_id, created_at, expires_at
      ), audit as (
        insert into audit_logs ${auditRows(ctx, { type: 'platform_admin', userId: admin.userId }, STARTED, source, {
          reason: input.reason,
          mode: input.mode,
          durationMinutes: input.durationMinutes,
        })}
      )
      select t.user_id, t.email, t.name, t.timezone, t.email_verified, t.is_platform_admin, t.role, t.permissions,
        t.organization_name, t.branding, (select email from actor) as actor_email, c.id,
        ${isoText(sql`c.created_at`)} as created_at, ${isoText(sql`c.expires_at`)} as expires_at,
        floor(extract(epoch from c.expires_at)) as expires_epoch
      from target t left join created c on true`),
  ]);
  const row = z.array(StartRow).parse(result.rows)[0];
  if (row === undefined) throw memberNotFound();
  if (row.is_platform_admin) {
    throw new ApiError('forbidden', { detail: 'Platform administrators cannot be impersonated.' });
  }
  if (row.actor_email === null || row.id === null || row.created_at === null || row.expires_at === null) {
    throw new ApiError('forbidden', { detail: 'Platform administrators only.' });
  }
  const now = Date.now();
  const issuedAt = Math.floor(now / 1000);
  // The database's clock set the row's end; the token never outlives it, nor the longest lifetime tokens verify with.
  const expiresAt = Math.min(row.expires_epoch ?? issuedAt, issuedAt + MAX_IMPERSONATION_SECONDS);
  const { token, expiresIn } = await issueAccessToken(
    ctx.bindings.JWT_SIGNING_KEYS,
    ctx.bindings.ROOT_DOMAIN,
    {
      userId: row.user_id,
      tenant: organizationId,
      sessionId: row.id,
      role: row.role,
      permissions: heldPermissions(
        { emailVerifiedAt: row.email_verified ? new Date(0) : null },
        row.role,
        row.permissions,
      ),
      emailVerified: row.email_verified,
      impersonation: { id: row.id, actorUserId: admin.userId, mode: input.mode, expiresAt },
    },
    now,
  );
  sendLater(
    ctx,
    impersonationStartedEmail({
      id: `${STARTED}:${row.id}`,
      to: row.email,
      reason: input.reason,
      until: new Date(row.expires_at),
      timeZone: row.timezone,
      branding: emailBranding({ name: row.organization_name, branding: row.branding }),
    }),
    organizationId,
  );
  return {
    impersonation: {
      id: row.id,
      organizationId,
      user: { id: row.user_id, email: row.email, name: row.name },
      impersonator: { id: admin.userId, email: row.actor_email },
      reason: input.reason,
      mode: input.mode,
      status: 'active',
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      endedAt: null,
    },
    accessToken: token,
    tokenType: 'Bearer',
    expiresIn,
  };
}

/**
 * Ends an impersonation at once: the row is marked ended and both audit rows written (one statement, one database
 * round trip), then its token is revoked (`revoked:sid:<id>`, one Redis round trip). On an organization host
 * (`organizationId`) only that organization's impersonations are found, and only its owner may end them; on the
 * platform host any. Ending one that already ended or expired changes nothing and writes no audit row, but still
 * writes the revocation, so a retry after a failed Redis write completes it. 404 for an unknown id (another
 * organization's included).
 */
export async function endImpersonation({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; organizationId: string | null };
}): Promise<void> {
  const caller = principalOf({ var: { principal: ctx.principal } });
  if (input.organizationId !== null && caller.role !== OWNER_ROLE) {
    throw new ApiError('forbidden', { detail: "Only the organization's owner can end an impersonation." });
  }
  const id = input.id.toLowerCase();
  const db = ctx.services.db;
  const inOrganization =
    input.organizationId === null ? sql`true` : sql`i.organization_id = ${input.organizationId}::uuid`;
  const actor = { type: input.organizationId === null ? 'platform_admin' : 'user', userId: caller.userId } as const;
  // The platform scope also on an organization host: the end is recorded in the platform's log too (a row of no
  // organization, which the organization's scope cannot write); the statement names the organization itself.
  const [result] = await scoped(db, { platform: true }, [
    db.execute(sql`
      with target as (
        select i.id from impersonations i where i.id = ${id}::uuid and ${inOrganization}
      ), ended as (
        update impersonations i set ended_at = now(), ended_by_user_id = ${caller.userId}::uuid
        from target t
        where i.id = t.id and i.ended_at is null and i.expires_at > now()
        returning i.id, i.organization_id, i.user_id
      ), audit as (
        insert into audit_logs ${auditRows(ctx, actor, ENDED, sql.raw('ended'), {
          endedBy: input.organizationId === null ? 'platform' : 'organization',
        })}
      )
      select t.id from target t`),
  ]);
  if (result.rows.length === 0) throw new ApiError('not_found', { detail: 'No impersonation with this id.' });
  try {
    await revokeSession(ctx.services.redis, id);
  } catch (error) {
    ctx.logger.error('impersonation revocation write failed', { error });
    throw new ApiError('service_unavailable', {
      detail: 'The impersonation is ended in the database, but its token is not revoked yet: repeat the request.',
      headers: { 'retry-after': '5' },
    });
  }
}

const STATUS = sql<ImpersonationStatus>`case when ${impersonations.endedAt} is not null then 'ended'
  when ${impersonations.expiresAt} <= now() then 'expired' else 'active' end`;

const NEWEST_FIRST = listSort('-createdAt');

/** Impersonations with the member's current address and name (null once no longer visible), newest first. */
function selectImpersonations(db: Database, conditions: SQL[], limit: number) {
  return db
    .select({
      row: impersonations,
      email: users.email,
      name: users.name,
      status: STATUS,
      cursorAt: cursorTimestamp(impersonations.createdAt),
    })
    .from(impersonations)
    .leftJoin(users, eq(users.id, impersonations.userId))
    .where(and(...conditions))
    .orderBy(...keysetOrder(impersonations.createdAt, impersonations.id, NEWEST_FIRST))
    .limit(limit);
}

function toView({
  row,
  email,
  name,
  status,
}: {
  row: ImpersonationRow;
  email: string | null;
  name: string | null;
  status: ImpersonationStatus;
}): ImpersonationView {
  return {
    id: row.id,
    organizationId: row.organizationId,
    user: { id: row.userId, email, name },
    impersonator: { id: row.actorUserId, email: row.actorEmail },
    reason: row.reason,
    mode: row.mode,
    status,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
  };
}

/** One impersonation, any organization's (platform host). 404 for an unknown id. One database round trip. */
export async function getImpersonation({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<ImpersonationView> {
  const db = ctx.services.db;
  const [rows] = await scoped(db, { platform: true }, [
    selectImpersonations(db, [eq(impersonations.id, input.id.toLowerCase())], 1),
  ]);
  const row = rows[0];
  if (row === undefined) throw new ApiError('not_found', { detail: 'No impersonation with this id.' });
  return toView(row);
}

/**
 * The organization's impersonations, newest first, with cursor pagination: who (the member and the administrator),
 * when, why, the mode and the status. One database round trip.
 */
export async function listImpersonations({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { limit: number; cursor?: string | undefined };
}): Promise<{ data: ImpersonationView[]; nextCursor: string | null }> {
  const organizationId = ctx.tenant?.id;
  if (organizationId === undefined) throw new ApiError('not_found', { detail: 'No such resource.' });
  const conditions: SQL[] = [eq(impersonations.organizationId, organizationId)];
  if (input.cursor !== undefined) {
    conditions.push(keysetAfter(impersonations.createdAt, impersonations.id, decodeCursor(input.cursor), NEWEST_FIRST));
  }
  const db = ctx.services.db;
  const [rows] = await scoped(db, { organizationId }, [selectImpersonations(db, conditions, input.limit + 1)]);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    data: page.map(toView),
    nextCursor:
      rows.length > input.limit && last !== undefined ? encodeCursor({ at: last.cursorAt, id: last.row.id }) : null,
  };
}
