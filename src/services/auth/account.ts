import { z } from '@hono/zod-openapi';
import { and, eq, gt, isNull, sql, type SQL } from 'drizzle-orm';
import { memberships, users, userTokens, type UserPreferences } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ClientInfo } from '../../lib/client.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { principalOf } from '../../middleware/auth.ts';
import { clipText, MAX_AUDIT_ACTION } from '../audit/bounds.ts';
import { auditClient, auditInsert, auditMetadata } from '../audit/record.ts';
import { tenantLink } from '../email/links.ts';
import { passwordResetEmail, verificationEmail, type Branding } from '../email/messages.ts';
import { brandingQuery, emailBranding, sendLater } from '../email/branding.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { memberData } from '../outbox/views.ts';
import type { Tenant } from '../tenants/types.ts';
import { accountBucket, AUTH_LIMITS, clientBucket, enforceLimits, giveBackAccountAttempt } from './limits.ts';
import {
  assertPasswordPolicy,
  hashPassword,
  scryptPolicy,
  verifyAgainstDummy,
  verifyPassword,
  type PasswordCheck,
  type PasswordContext,
} from './passwords.ts';
import { writeIdentityCopies } from './identity-copies.ts';
import { revokeUserTokens } from './revocation.ts';
import { generateOpaqueToken, hashToken, PLATFORM_TENANT } from './tokens.ts';

export const VERIFICATION_TTL_SECONDS = 24 * 60 * 60;
export const RESET_TTL_SECONDS = 60 * 60;

/** Emails are stored trimmed and lowercased (a check constraint insists); every lookup normalizes the same way. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The columns of a user that the API shows (never the password hash or the platform flag). */
export const userColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  emailVerifiedAt: users.emailVerifiedAt,
  locale: users.locale,
  timezone: users.timezone,
  preferences: users.preferences,
  createdAt: users.createdAt,
};

export interface UserRow {
  id: string;
  email: string;
  name: string;
  emailVerifiedAt: Date | null;
  locale: string;
  timezone: string;
  preferences: UserPreferences;
  createdAt: Date;
}

export interface UserView {
  id: string;
  email: string;
  name: string;
  emailVerified: boolean;
  locale: string;
  timezone: string;
  preferences: UserPreferences;
  createdAt: string;
}

export function userView(row: UserRow): UserView {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.emailVerifiedAt !== null,
    locale: row.locale,
    timezone: row.timezone,
    preferences: row.preferences,
    createdAt: row.createdAt.toISOString(),
  };
}

export function sendVerificationEmail(
  ctx: ServiceContext,
  tenant: Tenant,
  recipient: { email: string; name: string },
  branding: Branding,
  token: string,
): void {
  sendLater(
    ctx,
    verificationEmail({
      id: crypto.randomUUID(),
      to: recipient.email,
      url: tenantLink(ctx, tenant, '/verify-email', token),
      branding,
    }),
  );
}

/**
 * `insert into audit_logs ... select ... from <cte>`: one audit row per row a data-modifying CTE returned, in the
 * same statement as the change, so the row exists exactly when the change happened. The CTE must return `user_id`.
 */
export function auditFromCte(
  client: ClientInfo,
  organizationId: string,
  action: string,
  cte: string,
  metadata: Record<string, unknown> = {},
): SQL {
  const { ip, userAgent, requestId, correlationId } = auditClient(client);
  return sql`insert into audit_logs (organization_id, actor_type, actor_user_id, action, target_type, target_id, ip, user_agent, request_id, correlation_id, metadata)
    select ${organizationId}::uuid, 'user', user_id, ${clipText(action, MAX_AUDIT_ACTION)}::text, 'user', user_id::text,
           ${ip}::text, ${userAgent}::text, ${requestId}::text, ${correlationId}::text,
           ${JSON.stringify(auditMetadata(client, action, metadata))}::jsonb
    from ${sql.identifier(cte)}`;
}

/** A stored hash that cannot be read (corrupt, unknown parameters) is a failed check, never an error. */
export async function checkPassword(
  ctx: ServiceContext,
  password: string,
  stored: string | null,
): Promise<PasswordCheck> {
  if (stored === null) {
    await verifyAgainstDummy(password, scryptPolicy(ctx.bindings));
    return { valid: false, needsRehash: false };
  }
  return verifyPassword(password, stored, scryptPolicy(ctx.bindings)).catch((error: unknown) => {
    ctx.logger.warn('stored password hash unreadable', { error });
    return { valid: false, needsRehash: false };
  });
}

/** The one answer of every failed password check: sign-in, and an invitation to an existing account. */
export function invalidCredentials(): ApiError {
  return new ApiError('invalid_credentials', { detail: 'The email address or the password is incorrect.' });
}

const UserIdRows = z.array(z.object({ user_id: z.uuid() }));
const RecipientRows = z.array(z.object({ user_id: z.uuid(), email: z.string(), name: z.string() }));

function invalidLink(): ApiError {
  // Unknown, used and expired links answer alike: the answer says nothing about which tokens exist.
  return new ApiError('bad_request', { detail: 'This link is invalid or has expired; ask for a new one.' });
}

/**
 * Redeems a verification token (single use, 24 hours) and marks the user's address verified, with its audit row, in
 * one statement. The access tokens already issued keep `emailVerified: false` until the next refresh or login.
 */
export async function verifyEmail({ ctx, input }: { ctx: ServiceContext; input: { token: string } }): Promise<void> {
  const tenant = requireTenant(ctx);
  await enforceLimits(ctx, [[AUTH_LIMITS.verifyClient, clientBucket(ctx)]]);
  const tokenHash = await hashToken(input.token);
  const db = ctx.services.db;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute(sql`
      with spent as (
        update user_tokens set used_at = now()
         where organization_id = ${tenant.id} and purpose = 'verify_email' and token_hash = ${tokenHash}
           and used_at is null and expires_at > now()
        returning user_id
      ), verified as (
        update users set email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
         where id in (select user_id from spent)
        returning id as user_id
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.email_verified', 'verified')})
      select user_id from verified`),
  ]);
  const [verified] = UserIdRows.parse(result.rows);
  if (verified === undefined) throw invalidLink();
  await writeIdentityCopies(ctx.bindings, {
    userId: verified.user_id,
    except: tenant.database,
    change: { emailVerified: true },
  });
}

/** Sends a new verification link to the signed-in user (409 when the address is verified already). */
export async function resendVerification({ ctx }: { ctx: ServiceContext }): Promise<void> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  await enforceLimits(ctx, [[AUTH_LIMITS.resendAccount, principal.userId]]);
  const token = generateOpaqueToken('ev');
  const tokenHash = await hashToken(token);
  const db = ctx.services.db;
  const [result, organization] = await scoped(db, { organizationId: tenant.id }, [
    db.execute(
      issueOneTimeToken(
        ctx,
        tenant.id,
        sql`select u.id as user_id, u.email, u.name from users u
             where u.id = ${principal.userId} and u.email_verified_at is null
               and exists (select 1 from memberships m where m.organization_id = ${tenant.id} and m.user_id = u.id)`,
        { hash: tokenHash, purpose: 'verify_email', ttlSeconds: VERIFICATION_TTL_SECONDS },
        'auth.verification_resent',
      ),
    ),
    brandingQuery(db, tenant.id),
  ]);
  const [recipient] = RecipientRows.parse(result.rows);
  if (!recipient) throw new ApiError('conflict', { detail: 'This email address is verified already.' });
  sendVerificationEmail(ctx, tenant, recipient, emailBranding(organization[0]), token);
}

/**
 * One statement that issues a one-time token (stored hashed) to the user the `target` query finds, with its audit
 * row, and returns that user; for no user it issues and audits nothing. Returns rows of { user_id, email, name }.
 */
function issueOneTimeToken(
  ctx: ServiceContext,
  organizationId: string,
  target: SQL,
  token: { hash: string; purpose: 'verify_email' | 'reset_password'; ttlSeconds: number },
  action: string,
): SQL {
  return sql`
      with target as (${target}), issued as (
        insert into user_tokens (organization_id, user_id, purpose, token_hash, expires_at)
        select ${organizationId}::uuid, user_id, ${token.purpose}::user_token_purpose, ${token.hash}::text,
               now() + make_interval(secs => ${token.ttlSeconds})
          from target
        returning user_id
      ), audit as (${auditFromCte(ctx.client, organizationId, action, 'issued')})
      select user_id, email, name from target`;
}

/**
 * Starts a password reset. The answer is the same whether or not the address belongs to an active member here (no
 * enumeration), and so is the work: one statement that issues the token (1 hour, single use) and its audit row only
 * when the member exists. The email leaves after the response. Invited members use their invitation instead;
 * disabled members get nothing.
 */
export async function forgotPassword({ ctx, input }: { ctx: ServiceContext; input: { email: string } }) {
  const tenant = requireTenant(ctx);
  const email = normalizeEmail(input.email);
  await enforceLimits(ctx, [
    [AUTH_LIMITS.forgotClient, clientBucket(ctx)],
    [AUTH_LIMITS.forgotAccount, await accountBucket(email)],
  ]);
  const token = generateOpaqueToken('pr');
  const tokenHash = await hashToken(token);
  const db = ctx.services.db;
  const [result, organization] = await scoped(db, { organizationId: tenant.id }, [
    db.execute(
      issueOneTimeToken(
        ctx,
        tenant.id,
        sql`select u.id as user_id, u.email, u.name from users u
              join memberships m on m.user_id = u.id and m.organization_id = ${tenant.id}
             where u.email = ${email} and m.status = 'active'`,
        { hash: tokenHash, purpose: 'reset_password', ttlSeconds: RESET_TTL_SECONDS },
        'auth.password_reset_requested',
      ),
    ),
    brandingQuery(db, tenant.id),
  ]);
  const [recipient] = RecipientRows.parse(result.rows);
  // The same work whether or not the address is a member: only the send itself depends on it.
  const branding = emailBranding(organization[0]);
  if (!recipient) return;
  sendLater(
    ctx,
    passwordResetEmail({
      id: crypto.randomUUID(),
      to: recipient.email,
      url: tenantLink(ctx, tenant, '/reset-password', token),
      branding,
    }),
  );
}

const REDEEMABLE = {
  pr_: { purpose: 'reset_password', membership: 'active', action: 'auth.password_reset_completed' },
  inv_: { purpose: 'invitation', membership: 'invited', action: 'auth.invitation_accepted' },
} as const;
type Redeemable = (typeof REDEEMABLE)[keyof typeof REDEEMABLE];

const RedeemedRows = z.array(z.object({ user_id: z.uuid(), tenants: z.array(z.string()) }));

/** The first row, or the 400 of an unknown, used or expired link (a link lost to a concurrent redemption too). */
function firstOrInvalid<T>(rows: readonly T[]): T {
  const [first] = rows;
  if (first === undefined) throw invalidLink();
  return first;
}

/**
 * Redeems a password-reset link (`pr_...`) or an invitation (`inv_...`).
 *
 * A reset sets a new password (policy checked). An invitation to a new account (no password yet) sets its first
 * password the same way. An invitation to an existing account never touches its password: the `password` field must
 * be the account's current password (checked against the account's sign-in limit), and a wrong one answers the 401
 * of a failed sign-in and changes nothing, so an invitation can never take an account over.
 */
export async function resetPassword({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { token: string; password: string };
}): Promise<void> {
  const tenant = requireTenant(ctx);
  await enforceLimits(ctx, [[AUTH_LIMITS.resetClient, clientBucket(ctx)]]);
  if (input.token.startsWith('inv_')) return acceptInvitation(ctx, tenant, input);
  if (!input.token.startsWith('pr_')) throw invalidLink();
  // The holder is read first (one round trip more than a blind redemption) so the policy can check the new password
  // against the account's own email and name; a reset is rare and limited per client, so the cost is small.
  const tokenHash = await hashToken(input.token);
  const holder = await linkHolder(ctx, tenant, REDEEMABLE.pr_, tokenHash);
  await assertPasswordPolicy(ctx, input.password, passwordContext(tenant, holder));
  const passwordHash = await hashPassword(input.password, scryptPolicy(ctx.bindings));
  await redeem(ctx, tenant, REDEEMABLE.pr_, tokenHash, { newPasswordHash: passwordHash });
}

/** What the password policy checks a new password against: the account's email and name, and the organization. */
function passwordContext(tenant: Tenant, holder: { email: string; name: string }): PasswordContext {
  return { email: holder.email, name: holder.name, organization: { name: tenant.name, slug: tenant.slug } };
}

/** The account an unspent, unexpired link belongs to (one round trip), or the 400 of an invalid link. */
async function linkHolder(ctx: ServiceContext, tenant: Tenant, kind: Redeemable, tokenHash: string) {
  const db = ctx.services.db;
  const [found] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({ userId: users.id, email: users.email, name: users.name, passwordHash: users.passwordHash })
      .from(userTokens)
      .innerJoin(
        memberships,
        and(eq(memberships.organizationId, userTokens.organizationId), eq(memberships.userId, userTokens.userId)),
      )
      .innerJoin(users, eq(users.id, userTokens.userId))
      .where(
        and(
          eq(userTokens.organizationId, tenant.id),
          eq(userTokens.purpose, kind.purpose),
          eq(userTokens.tokenHash, tokenHash),
          isNull(userTokens.usedAt),
          gt(userTokens.expiresAt, sql`now()`),
          eq(memberships.status, kind.membership),
        ),
      )
      .limit(1),
  ]);
  return firstOrInvalid(found);
}

async function acceptInvitation(ctx: ServiceContext, tenant: Tenant, input: { token: string; password: string }) {
  const tokenHash = await hashToken(input.token);
  const db = ctx.services.db;
  const invitee = await linkHolder(ctx, tenant, REDEEMABLE.inv_, tokenHash);
  if (invitee.passwordHash === null) {
    await assertPasswordPolicy(ctx, input.password, passwordContext(tenant, invitee));
    const newPasswordHash = await hashPassword(input.password, scryptPolicy(ctx.bindings));
    await redeem(ctx, tenant, REDEEMABLE.inv_, tokenHash, { newPasswordHash, currentPasswordHash: null });
    return;
  }
  // Guesses here count against the account like sign-in attempts do (the same global bucket).
  const accountKey = await accountBucket(invitee.email);
  await enforceLimits(ctx, [[AUTH_LIMITS.loginAccount, accountKey]]);
  const check = await checkPassword(ctx, input.password, invitee.passwordHash);
  if (!check.valid) {
    ctx.waitUntil(
      scoped(db, { organizationId: tenant.id }, [
        auditInsert(db, ctx.client, {
          organizationId: tenant.id,
          actor: { type: 'anonymous' },
          action: 'auth.invitation_failed',
          target: { type: 'user', id: invitee.userId },
          metadata: { reason: 'wrong_password' },
        }),
      ]),
    );
    throw invalidCredentials();
  }
  await redeem(ctx, tenant, REDEEMABLE.inv_, tokenHash, {
    newPasswordHash: null,
    currentPasswordHash: invitee.passwordHash,
  });
  giveBackAccountAttempt(ctx, accountKey);
}

/**
 * Every tenant a user holds access tokens in: the organizations of their memberships, and the platform for a
 * platform administrator (`user` is the alias of their `users` row). What a new password ends everywhere.
 */
export function everyTenantOf(userId: SQL, user: SQL): SQL {
  return sql`(array(select m.organization_id::text from memberships m where m.user_id = ${userId})
    || case when ${user}.is_platform_admin then array[${PLATFORM_TENANT}::text] else array[]::text[] end)`;
}

interface Credentials {
  /** The new password's hash; null when an existing account keeps its password (an accepted invitation). */
  newPasswordHash: string | null;
  /** Invitations: the password hash read before (null: none), so a concurrent change makes the redemption fail. */
  currentPasswordHash?: string | null;
}

/**
 * One statement: spends the token, stores the new password (if any), marks the address verified (the link proved
 * the mailbox), activates an invited membership (its display name and everything else stay as they are), spends the
 * user's other outstanding reset and invitation links here, and writes the audit row. An accepted invitation also
 * writes the `membership.updated` event (outbox) in the same batch: a second statement that reads the member after
 * the change, found through the invitation this transaction spent (none spent: no event).
 *
 * A new password is the global identity's, so it ends the user's sessions in every organization, not only here:
 * every refresh token of the user is revoked in the same statement, which also returns every organization the user
 * belongs to (and the platform, for a platform administrator), whose access tokens then end in Redis. That is
 * cross-tenant work, hence the platform scope; every other clause names this tenant explicitly.
 */
async function redeem(
  ctx: ServiceContext,
  tenant: Tenant,
  kind: Redeemable,
  tokenHash: string,
  { newPasswordHash, currentPasswordHash }: Credentials,
): Promise<void> {
  const passwordUnchanged =
    currentPasswordHash === undefined
      ? sql``
      : sql`and exists (select 1 from users u where u.id = t.user_id and u.password_hash is not distinct from ${currentPasswordHash}::text)`;
  const db = ctx.services.db;
  const invitation = kind.purpose === 'invitation';
  // The invitee, through the invitation spent by THIS transaction (`used_at = now()`): nothing when it spent none.
  const acceptedBy = sql`(select t.user_id from user_tokens t
    where t.organization_id = ${tenant.id}::uuid and t.purpose = 'invitation' and t.token_hash = ${tokenHash}
      and t.used_at = now() limit 1)`;
  const redemption = db.execute(sql`
      with spent as (
        update user_tokens t set used_at = now()
         where t.organization_id = ${tenant.id} and t.purpose = ${kind.purpose}::user_token_purpose
           and t.token_hash = ${tokenHash} and t.used_at is null and t.expires_at > now()
           and exists (
             select 1 from memberships m
              where m.organization_id = t.organization_id and m.user_id = t.user_id
                and m.status = ${kind.membership}::membership_status)
           ${passwordUnchanged}
        returning t.user_id
      ), credentials as (
        update users set password_hash = coalesce(${newPasswordHash}::text, password_hash),
               email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
         where id in (select user_id from spent)
      ), activated as (
        update memberships set status = 'active', updated_at = now()
         where organization_id = ${tenant.id} and user_id in (select user_id from spent) and status = 'invited'
      ), others as (
        update user_tokens set used_at = now()
         where organization_id = ${tenant.id} and user_id in (select user_id from spent)
           and purpose in ('reset_password', 'invitation') and used_at is null and token_hash <> ${tokenHash}
      ), sessions as (
        update refresh_tokens set revoked_at = now()
         where ${newPasswordHash}::text is not null and user_id in (select user_id from spent) and revoked_at is null
      ), audit as (${auditFromCte(ctx.client, tenant.id, kind.action, 'spent', { passwordChanged: newPasswordHash !== null })})
      select s.user_id, ${everyTenantOf(sql`s.user_id`, sql`u`)} as tenants
        from spent s join users u on u.id = s.user_id`);
  const scope = { platform: true } as const;
  const [result] = invitation
    ? await scoped(db, scope, [
        redemption,
        // After the redemption in the same transaction: reads the member as it left it (active, address verified).
        outboxInsertSelect(db, {
          organizationId: tenant.id,
          type: 'membership.updated',
          data: memberData(tenant.id, acceptedBy),
        }),
      ])
    : await scoped(db, scope, [redemption]);
  const redeemed = firstOrInvalid(RedeemedRows.parse(result.rows));
  if (invitation) notifyOutbox(ctx, tenant.id);
  if (newPasswordHash === null) return;
  // The account's copies on the other databases take the new password (and the proven address), and their sessions
  // end (`writeIdentityCopies`, one round trip per other database).
  const copies = await writeIdentityCopies(ctx.bindings, {
    userId: redeemed.user_id,
    except: tenant.database,
    change: { passwordHash: newPasswordHash, emailVerified: true, endSessions: true },
  });
  const redis = ctx.services.redis;
  await revokeUserTokens(redis, [...redeemed.tenants, ...copies.tenants], [redeemed.user_id]);
}
