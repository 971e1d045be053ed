import { z } from '@hono/zod-openapi';
import { eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { organizations, users, type UserPreferences } from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ClientInfo } from '../../lib/client.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { principalOf } from '../../middleware/auth.ts';
import { tenantLink } from '../email/links.ts';
import { passwordResetEmail, verificationEmail, type Branding, type EmailMessage } from '../email/messages.ts';
import { emailProvider } from '../email/send.ts';
import type { Tenant } from '../tenants/types.ts';
import { accountBucket, AUTH_LIMITS, clientBucket, enforceLimits } from './limits.ts';
import { assertPasswordPolicy, hashPassword } from './passwords.ts';
import { revokeUserTokens } from './revocation.ts';
import { generateOpaqueToken, hashToken } from './tokens.ts';

export const VERIFICATION_TTL_SECONDS = 24 * 60 * 60;
export const RESET_TTL_SECONDS = 60 * 60;
const DEFAULT_EMAIL_COLOR = '#4f46e5';

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
  preferences: users.preferences,
  createdAt: users.createdAt,
};

export interface UserRow {
  id: string;
  email: string;
  name: string;
  emailVerifiedAt: Date | null;
  locale: string;
  preferences: UserPreferences;
  createdAt: Date;
}

export interface UserView {
  id: string;
  email: string;
  name: string;
  emailVerified: boolean;
  locale: string;
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
    preferences: row.preferences,
    createdAt: row.createdAt.toISOString(),
  };
}

/** The organization's name and branding, for the emails it sends (one more statement in the caller's batch). */
export function brandingQuery(db: Database, organizationId: string) {
  return db
    .select({ name: organizations.name, branding: organizations.branding })
    .from(organizations)
    .where(eq(organizations.id, organizationId));
}

// Branding is settings data: a malformed field falls back to the default instead of failing the email (a failure
// only for existing members would also tell them apart from unknown addresses).
const optionalText = z.string().min(1).optional().catch(undefined);
const OrganizationEmailRow = z.object({
  name: z.string(),
  branding: z
    .object({
      displayName: optionalText,
      emailSenderName: optionalText,
      primaryColor: optionalText,
      logoUrl: optionalText,
    })
    .catch({}),
});

/** The branding of the organization's emails, from a `brandingQuery` row (its own sender name, colors and logo). */
export function emailBranding(row: unknown): Branding {
  const { name, branding } = OrganizationEmailRow.parse(row);
  const displayName = branding.displayName ?? name;
  return {
    displayName,
    senderName: branding.emailSenderName ?? displayName,
    primaryColor: branding.primaryColor ?? DEFAULT_EMAIL_COLOR,
    logoUrl: branding.logoUrl ?? null,
  };
}

/**
 * Sends after the response: the caller never waits for the provider, and any failure (a misconfigured provider
 * included) is logged by `waitUntil`, never answered, so a send cannot tell members from unknown addresses.
 */
export function sendLater(ctx: ServiceContext, message: EmailMessage): void {
  ctx.waitUntil(
    Promise.resolve().then(() => emailProvider(ctx.bindings, ctx.services.redis, ctx.logger).send(message)),
  );
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
      name: recipient.name,
      url: tenantLink(ctx.bindings, tenant, '/verify-email', token),
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
  return sql`insert into audit_logs (organization_id, actor_type, actor_user_id, action, target_type, target_id, ip, user_agent, request_id, metadata)
    select ${organizationId}::uuid, 'user', user_id, ${action}::text, 'user', user_id::text, ${client.ip}::text,
           ${client.userAgent}::text, ${client.requestId}::text, ${JSON.stringify(metadata)}::jsonb
    from ${sql.identifier(cte)}`;
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
  if (UserIdRows.parse(result.rows).length === 0) throw invalidLink();
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
    db.execute(sql`
      with target as (
        select u.id as user_id, u.email, u.name from users u
         where u.id = ${principal.userId} and u.email_verified_at is null
           and exists (select 1 from memberships m where m.organization_id = ${tenant.id} and m.user_id = u.id)
      ), issued as (
        insert into user_tokens (organization_id, user_id, purpose, token_hash, expires_at)
        select ${tenant.id}::uuid, user_id, 'verify_email'::user_token_purpose, ${tokenHash}::text,
               now() + make_interval(secs => ${VERIFICATION_TTL_SECONDS})
          from target
        returning user_id
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.verification_resent', 'issued')})
      select user_id, email, name from target`),
    brandingQuery(db, tenant.id),
  ]);
  const [recipient] = RecipientRows.parse(result.rows);
  if (!recipient) throw new ApiError('conflict', { detail: 'This email address is verified already.' });
  sendVerificationEmail(ctx, tenant, recipient, emailBranding(organization[0]), token);
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
    db.execute(sql`
      with target as (
        select u.id as user_id, u.email, u.name from users u
          join memberships m on m.user_id = u.id and m.organization_id = ${tenant.id}
         where u.email = ${email} and m.status = 'active'
      ), issued as (
        insert into user_tokens (organization_id, user_id, purpose, token_hash, expires_at)
        select ${tenant.id}::uuid, user_id, 'reset_password'::user_token_purpose, ${tokenHash}::text,
               now() + make_interval(secs => ${RESET_TTL_SECONDS})
          from target
        returning user_id
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.password_reset_requested', 'issued')})
      select user_id, email, name from target`),
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
      name: recipient.name,
      url: tenantLink(ctx.bindings, tenant, '/reset-password', token),
      branding,
    }),
  );
}

const REDEEMABLE = {
  pr_: { purpose: 'reset_password', membership: 'active', action: 'auth.password_reset_completed' },
  inv_: { purpose: 'invitation', membership: 'invited', action: 'auth.invitation_accepted' },
} as const;

/**
 * Sets a new password from a reset token (`pr_...`) or an invitation token (`inv_...`), in one statement: spends the
 * token, stores the hash, marks the address verified (the link proved the mailbox), activates an invited membership,
 * spends the user's other outstanding reset and invitation tokens here, revokes every refresh family of the user
 * here, and writes the audit row. Then every access token of the user here ends.
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
  assertPasswordPolicy(input.password);
  const kind = input.token.startsWith('inv_') ? REDEEMABLE.inv_ : input.token.startsWith('pr_') ? REDEEMABLE.pr_ : null;
  if (!kind) throw invalidLink();
  const [tokenHash, passwordHash] = await Promise.all([hashToken(input.token), hashPassword(input.password)]);
  const db = ctx.services.db;
  const [result] = await scoped(db, { organizationId: tenant.id }, [
    db.execute(sql`
      with spent as (
        update user_tokens t set used_at = now()
         where t.organization_id = ${tenant.id} and t.purpose = ${kind.purpose}::user_token_purpose
           and t.token_hash = ${tokenHash} and t.used_at is null and t.expires_at > now()
           and exists (
             select 1 from memberships m
              where m.organization_id = t.organization_id and m.user_id = t.user_id
                and m.status = ${kind.membership}::membership_status)
        returning t.user_id
      ), credentials as (
        update users set password_hash = ${passwordHash},
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
         where organization_id = ${tenant.id} and user_id in (select user_id from spent) and revoked_at is null
      ), audit as (${auditFromCte(ctx.client, tenant.id, kind.action, 'spent')})
      select user_id from spent`),
  ]);
  const [spent] = UserIdRows.parse(result.rows);
  if (!spent) throw invalidLink();
  await revokeUserTokens(ctx.services.redis, tenant.id, [spent.user_id]);
}
