import { z } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { memberships, users, type UserPreferences } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditInsert } from '../audit/record.ts';
import { brandingQuery, emailBranding, sendLater } from '../email/branding.ts';
import { tenantOrigin } from '../email/links.ts';
import { passwordChangedEmail } from '../email/security.ts';
import { auditFromCte, checkPassword, everyTenantOf } from './account.ts';
import { writeIdentityCopies } from './identity-copies.ts';
import { deviceLabel } from './devices.ts';
import { accountBucket, AUTH_LIMITS, enforceLimits, giveBackAccountAttempt } from './limits.ts';
import { assertPasswordPolicy, hashPassword, scryptPolicy } from './passwords.ts';
import { revokeSession, revokeUserTokens } from './revocation.ts';
import { meOf, meQuery, type Me } from './sessions.ts';
import { issueAccessToken } from './tokens.ts';

/**
 * The signed-in user's own account on an organization host: profile and preferences, password, sessions. Every
 * operation acts on the caller's identity only (the principal's user), never on an id from the request, except a
 * session id, which must be one of the caller's own sessions here (404 otherwise).
 */

/** What PATCH /api/v1/auth/me may change; an absent field stays, a preference set to null is removed. */
export interface ProfileChange {
  name?: string | undefined;
  locale?: string | undefined;
  timezone?: string | undefined;
  preferences?: { [K in keyof UserPreferences]?: UserPreferences[K] | null } | undefined;
}

const ChangedRows = z.array(z.object({ user_id: z.uuid() }));

/**
 * Changes the caller's name, locale, time zone and preferences (merged key by key). The user is the global identity,
 * so the change shows in every organization the account belongs to; the audit row (`user.profile_updated`, naming
 * the fields, not their values) is written here. One database round trip: the change with its audit row, then the
 * user as changed (`me`'s read), in one batch; then the same change on the account's copies on the other databases
 * (one round trip per dedicated database, side by side, `writeIdentityCopies`). A request that names no field
 * changes nothing and writes nothing.
 */
export async function updateProfile({ ctx, input }: { ctx: ServiceContext; input: ProfileChange }): Promise<Me> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const read = meQuery(db, tenant.id, principal.userId);
  const fields = (['name', 'locale', 'timezone', 'preferences'] as const).filter((key) => input[key] !== undefined);
  if (fields.length === 0) {
    const [found] = await scoped(db, { organizationId: tenant.id }, [read]);
    return meOf(tenant.id, found);
  }
  const preferences = input.preferences === undefined ? null : JSON.stringify(input.preferences);
  const [, found] = await scoped(db, { organizationId: tenant.id }, [
    db.execute(sql`
      with changed as (
        update users u
           set name = coalesce(${input.name ?? null}::text, u.name),
               locale = coalesce(${input.locale ?? null}::text, u.locale),
               timezone = coalesce(${input.timezone ?? null}::text, u.timezone),
               preferences = case when ${preferences}::jsonb is null then u.preferences
                                  else jsonb_strip_nulls(u.preferences || ${preferences}::jsonb) end,
               updated_at = now()
         where u.id = ${principal.userId}
           and exists (select 1 from memberships m
                        where m.organization_id = ${tenant.id} and m.user_id = u.id and m.status = 'active')
        returning u.id as user_id
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'user.profile_updated', 'changed', { fields })})
      select user_id from changed`),
    read,
  ]);
  // The change and the read are one transaction: the read shows the user as changed (or 401 if no longer a member).
  const me = meOf(tenant.id, found);
  // The account's copies on the other databases show the same profile (`writeIdentityCopies`).
  await writeIdentityCopies(ctx.bindings, {
    userId: principal.userId,
    except: tenant.database,
    change: {
      profile: {
        ...(input.name === undefined ? {} : { name: input.name }),
        ...(input.locale === undefined ? {} : { locale: input.locale }),
        ...(input.timezone === undefined ? {} : { timezone: input.timezone }),
        ...(preferences === null ? {} : { preferences }),
      },
    },
  });
  return me;
}

export interface PasswordChange {
  currentPassword: string;
  newPassword: string;
}

/** A new access token of the caller's session, issued after the password change ended every older one. */
export interface SessionToken {
  accessToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

function wrongCurrentPassword(): ApiError {
  const message = 'The current password is incorrect.';
  return new ApiError('validation_failed', {
    detail: message,
    errors: [{ pointer: '/body/currentPassword', message }],
  });
}

const ChangedPasswordRows = z.array(z.object({ user_id: z.uuid(), tenants: z.array(z.string()) }));

/**
 * Changes the caller's password (the route asks for step-up too). The current password is checked against the
 * account's sign-in limit (the same global bucket as sign-in: guesses here are guesses at the password), a wrong one
 * answers 400 at `/body/currentPassword` and is audited (`auth.password_change_failed`, after the response). The new
 * one must differ and pass the password policy. The password is the global identity's, so the change ends the
 * user's sessions in every organization (and on the platform host): every refresh family but the caller's is revoked
 * and every access token issued until now ends (src/services/auth/revocation.ts), the caller's included, so the
 * answer carries a new access token of the same session (its refresh token stays valid). Outstanding reset links of
 * the account are spent too. Writes `auth.password_changed` and sends "your password was changed".
 *
 * Round trips: two database (the account's read with the branding; the change, compare-and-set on the hash that was
 * verified, so a concurrent change answers 409), plus one per other database the Worker knows (the account's copies
 * there take the new hash and their sessions end, `writeIdentityCopies`; in parallel), and two Redis (the limit; the revocation records), beside the
 * authentication's one. A password check cannot go without the read, nor the revocation before the commit.
 */
export async function changePassword({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: PasswordChange;
}): Promise<SessionToken> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [found, organization] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ email: users.email, name: users.name, passwordHash: users.passwordHash, timezone: users.timezone })
      .from(users)
      .innerJoin(memberships, and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, users.id)))
      .where(and(eq(users.id, principal.userId), eq(memberships.status, 'active'))),
    brandingQuery(db, tenant.id),
  ]);
  const account = found[0];
  if (!account) throw new ApiError('unauthorized', { detail: 'The session has ended.' });
  const accountKey = await accountBucket(account.email);
  await enforceLimits(ctx, [[AUTH_LIMITS.loginAccount, accountKey]]);
  const check = await checkPassword(ctx, input.currentPassword, account.passwordHash);
  if (!check.valid) {
    ctx.waitUntil(
      scoped(db, { organizationId: tenant.id }, [
        auditInsert(db, ctx.client, {
          organizationId: tenant.id,
          actor: { type: 'user', userId: principal.userId },
          action: 'auth.password_change_failed',
          target: { type: 'user', id: principal.userId },
          metadata: { reason: 'wrong_password', sessionId: principal.sessionId },
        }),
      ]),
    );
    throw wrongCurrentPassword();
  }
  if (input.newPassword === input.currentPassword) {
    const message = 'The new password must differ from the current one.';
    throw new ApiError('validation_failed', { detail: message, errors: [{ pointer: '/body/newPassword', message }] });
  }
  await assertPasswordPolicy(
    ctx,
    input.newPassword,
    { email: account.email, name: account.name, organization: { name: tenant.name, slug: tenant.slug } },
    '/body/newPassword',
  );
  const newHash = await hashPassword(input.newPassword, scryptPolicy(ctx.bindings));
  const [result] = await scoped(db, { platform: true }, [
    db.execute(sql`
      with changed as (
        update users set password_hash = ${newHash}, updated_at = now()
         where id = ${principal.userId} and password_hash = ${account.passwordHash}
        returning id as user_id
      ), sessions as (
        update refresh_tokens set revoked_at = now()
         where user_id in (select user_id from changed) and revoked_at is null
           and not (organization_id = ${tenant.id} and family_id = ${principal.sessionId})
      ), links as (
        update user_tokens set used_at = now()
         where user_id in (select user_id from changed) and purpose = 'reset_password' and used_at is null
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.password_changed', 'changed', { sessionId: principal.sessionId })})
      select c.user_id, ${everyTenantOf(sql`c.user_id`, sql`u`)} as tenants
        from changed c join users u on u.id = c.user_id`),
  ]);
  const [changed] = ChangedPasswordRows.parse(result.rows);
  if (!changed) throw new ApiError('conflict', { detail: 'The password was changed meanwhile; sign in again.' });
  // The other databases' copies of the account take the new password too, and their sessions end.
  const copies = await writeIdentityCopies(ctx.bindings, {
    userId: principal.userId,
    except: tenant.database,
    change: { passwordHash: newHash, endSessions: true },
  });
  const endedAt = Date.now();
  await revokeUserTokens(ctx.services.redis, [...changed.tenants, ...copies.tenants], [principal.userId], endedAt);
  giveBackAccountAttempt(ctx, accountKey);
  sendLater(
    ctx,
    passwordChangedEmail({
      id: crypto.randomUUID(),
      to: account.email,
      facts: {
        device: deviceLabel(ctx.client.userAgent),
        ip: ctx.client.ip,
        at: new Date(endedAt),
        timeZone: account.timezone,
      },
      resetUrl: new URL('/forgot-password', tenantOrigin(ctx, tenant)).toString(),
      branding: emailBranding(organization[0]),
    }),
  );
  // Issued after the revocation time, so the records that end every older token let this one through.
  const { token, expiresIn } = await issueAccessToken(
    ctx.bindings.JWT_SIGNING_KEYS,
    ctx.bindings.ROOT_DOMAIN,
    {
      userId: principal.userId,
      tenant: tenant.id,
      sessionId: principal.sessionId,
      role: principal.role,
      permissions: [...principal.permissions],
      emailVerified: principal.emailVerified,
      authTime: principal.authTime,
      amr: principal.amr,
    },
    endedAt + 1,
  );
  return { accessToken: token, expiresIn, tokenType: 'Bearer' };
}

/** One of the caller's sessions (a refresh family) as the session list shows it: never a token. */
export interface OwnSession {
  id: string;
  device: string;
  userAgent: string | null;
  ip: string | null;
  signedInAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

/** The most sessions the list shows (the most recently used first); a person has a handful. */
export const MAX_LISTED_SESSIONS = 100;

const SessionRows = z.array(
  z.object({
    family_id: z.uuid(),
    user_agent: z.string().nullable(),
    ip: z.string().nullable(),
    signed_in_at: z.string(),
    last_used_at: z.string(),
    expires_at: z.string(),
  }),
);

const iso = (postgresTime: string) => new Date(postgresTime).toISOString();

/**
 * The caller's live sessions in this organization: refresh families with no revoked token, not past their idle or
 * absolute deadline. Sign-in time is the family's first token, last use its newest (a refresh; access tokens are
 * not tracked per request), address and agent those of the newest. The session of the calling token is `current`.
 * One database round trip (beside the authentication's Redis one).
 */
export async function listSessions({ ctx }: { ctx: ServiceContext }): Promise<OwnSession[]> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute(sql`
      select t.family_id,
             (array_agg(t.user_agent order by t.created_at desc))[1] as user_agent,
             (array_agg(t.ip order by t.created_at desc))[1] as ip,
             min(t.created_at) as signed_in_at, max(t.created_at) as last_used_at,
             least(max(t.expires_at), max(t.session_expires_at)) as expires_at
        from refresh_tokens t
       where t.organization_id = ${tenant.id} and t.user_id = ${principal.userId} and t.revoked_at is null
         and not exists (
           select 1 from refresh_tokens f
            where f.organization_id = t.organization_id and f.family_id = t.family_id and f.revoked_at is not null)
       group by t.family_id
      having least(max(t.expires_at), max(t.session_expires_at)) > now()
       order by max(t.created_at) desc, t.family_id
       limit ${MAX_LISTED_SESSIONS}`),
  ]);
  return SessionRows.parse(result.rows).map((row) => ({
    id: row.family_id,
    device: deviceLabel(row.user_agent),
    userAgent: row.user_agent,
    ip: row.ip,
    signedInAt: iso(row.signed_in_at),
    lastUsedAt: iso(row.last_used_at),
    expiresAt: iso(row.expires_at),
    current: row.family_id === principal.sessionId,
  }));
}

/**
 * Ends one of the caller's sessions here: its refresh family is revoked (with an `auth.session_revoked` audit row,
 * in one statement) and then every access token of the session ends (Redis). A session that is not the caller's, is
 * unknown or has ended already answers 404 and nothing changes; ending the current session is a sign-out. One
 * database and one Redis round trip beside the authentication's; the Redis record waits for the database, since
 * only a session proved to be the caller's may be ended.
 */
export async function revokeOwnSession({ ctx, input }: { ctx: ServiceContext; input: { id: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute(sql`
      with ended as (
        update refresh_tokens set revoked_at = now()
         where organization_id = ${tenant.id} and user_id = ${principal.userId} and family_id = ${input.id}
           and revoked_at is null
        returning user_id
      ), session as (select distinct user_id from ended),
      audit as (${auditFromCte(ctx.client, tenant.id, 'auth.session_revoked', 'session', {
        sessionId: input.id,
        current: input.id === principal.sessionId,
      })})
      select user_id from session`),
  ]);
  if (ChangedRows.parse(result.rows).length === 0) {
    throw new ApiError('not_found', { detail: 'No such session.' });
  }
  await revokeSession(ctx.services.redis, input.id);
}
