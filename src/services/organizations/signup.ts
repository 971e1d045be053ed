import { eq } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import {
  memberships,
  organizations,
  roles,
  tenantDirectory,
  userTokens,
  users,
  type Organization,
} from '../../db/schema/index.ts';
import { scoped } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import type { ServiceContext } from '../../lib/context.ts';
import { takeToken, type LimitRule } from '../../lib/rate-limit.ts';
import { auditInsert } from '../audit/record.ts';
import { checkPassword } from '../auth/account.ts';
import { assertPasswordPolicy, hashPassword, scryptPolicy } from '../auth/passwords.ts';
import { accountBucket, AUTH_LIMITS, enforceLimits, giveBackAccountAttempt } from '../auth/limits.ts';
import { builtInRoleRows } from '../auth/permissions.ts';
import { generateOpaqueToken, hashToken } from '../auth/tokens.ts';
import { tenantLink } from '../email/links.ts';
import { verificationEmail } from '../email/messages.ts';
import { emailBranding, sendLater } from '../email/branding.ts';
import { notifyOutbox } from '../outbox/dispatch.ts';
import { outboxInsertSelect } from '../outbox/record.ts';
import { memberData } from '../outbox/views.ts';
import { forgetHost } from '../tenants/resolve.ts';
import { isUniqueViolation } from './database-errors.ts';
import { isReservedSlug } from './reserved.ts';

/** Plans a visitor may choose at sign-up; `enterprise` is contracted and set by a platform administrator. */
export type SelfServePlan = 'starter' | 'pro';

export interface SignupInput {
  name: string;
  slug: string;
  plan: SelfServePlan;
  owner: { email: string; password: string; name: string };
}

export interface SignupResult {
  organization: Organization;
  owner: { id: string; email: string; name: string; emailVerified: boolean; role: 'owner' };
}

/**
 * Sign-up is a sensitive flow (OWASP API6): per client IP, and per owner email, because an existing email turns
 * sign-up into a password check of that account (see `signUpOrganization`). Both fail closed.
 */
export const SIGNUP_LIMITS = {
  perIp: { name: 'signup-ip', limit: 5, window: '1 h' },
  perEmail: { name: 'signup-email', limit: 5, window: '1 h' },
} as const satisfies Record<string, LimitRule>;

export const VERIFY_EMAIL_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * One body for every sign-up conflict (reserved slug, taken slug, existing email without its password): the answer
 * never says which one it was, so it tells an attacker nothing about an account's password.
 */
export const SIGNUP_CONFLICT_DETAIL =
  'The organization cannot be created with these details. Choose another slug; if the owner email already has an ' +
  "Eventra account, sign up with that account's password.";

function conflict(): ApiError {
  return new ApiError('conflict', { detail: SIGNUP_CONFLICT_DETAIL });
}

interface OwnerAccount {
  id: string;
  name: string;
  emailVerified: boolean;
  /** Set for a new account (its password hash); undefined when an existing account joins as owner. */
  passwordHash: string | undefined;
}

/**
 * Self-serve sign-up on the platform host: the organization (id generated here), its built-in roles, its
 * tenant-directory row, the owner account when the email is new, the owner membership, a verification token, the
 * `organization.created` audit row and the owner's `membership.created` event (outbox), all in ONE batch (one
 * transaction) under the scope of the new organization plus the owner's email, which is exactly what row-level
 * security lets this request write.
 *
 * Existing email: the organization joins that account only when the password verifies (the person owns it);
 * otherwise the same 409 as any other conflict. The name in the body is then ignored.
 */
export async function signUpOrganization({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: SignupInput;
}): Promise<SignupResult> {
  const email = input.owner.email.trim().toLowerCase();
  const { db, redis } = ctx.services;

  await takeToken(redis, ctx.logger, SIGNUP_LIMITS.perIp, ctx.client.addressKey ?? 'unknown', {
    failClosed: true,
    record: ctx.recordRateLimits,
  });
  // An existing address makes this a password check: it charges the account's sign-in bucket like a login.
  const accountKey = await accountBucket(email);
  await enforceLimits(ctx, [
    [SIGNUP_LIMITS.perEmail, email],
    [AUTH_LIMITS.loginAccount, accountKey],
  ]);
  if (isReservedSlug(input.slug)) throw conflict();
  await assertPasswordPolicy(
    ctx,
    input.owner.password,
    { email, name: input.owner.name, organization: { name: input.name, slug: input.slug } },
    '/body/owner/password',
  );

  const organizationId = crypto.randomUUID();
  const scope = { organizationId, lookupEmail: email };
  const [existingRows] = await scoped(db, scope, [
    db
      .select({
        id: users.id,
        name: users.name,
        passwordHash: users.passwordHash,
        emailVerifiedAt: users.emailVerifiedAt,
      })
      .from(users)
      .where(eq(users.email, email))
      .limit(1),
  ]);
  const owner = await ownerAccount(ctx, existingRows[0], input);

  const roleRows = builtInRoleRows(organizationId).map((row) => ({ ...row, id: crypto.randomUUID() }));
  const ownerRole = roleRows.find((row) => row.key === 'owner');
  if (!ownerRole) throw new Error('the built-in roles have no owner');
  const verification = owner.emailVerified ? null : { id: crypto.randomUUID(), token: generateOpaqueToken('ev') };

  const writes: BatchItem<'pg'>[] = [
    db.insert(roles).values(roleRows),
    db.insert(tenantDirectory).values({ organizationId }),
  ];
  if (owner.passwordHash !== undefined) {
    // No RETURNING: the id is generated here, and the new row is visible only through the lookup-email scope.
    writes.push(db.insert(users).values({ id: owner.id, email, name: owner.name, passwordHash: owner.passwordHash }));
  }
  writes.push(
    db.insert(memberships).values({ organizationId, userId: owner.id, roleId: ownerRole.id, status: 'active' }),
  );
  if (verification) {
    writes.push(
      db.insert(userTokens).values({
        id: verification.id,
        organizationId,
        userId: owner.id,
        purpose: 'verify_email',
        tokenHash: await hashToken(verification.token),
        expiresAt: new Date(Date.now() + VERIFY_EMAIL_TTL_MS),
      }),
    );
  }
  writes.push(
    auditInsert(db, ctx.client, {
      organizationId,
      actor: { type: 'user', userId: owner.id },
      action: 'organization.created',
      target: { type: 'organization', id: organizationId },
      metadata: {
        slug: input.slug,
        plan: input.plan,
        ownerUserId: owner.id,
        ownerAccount: owner.passwordHash === undefined ? 'existing' : 'new',
      },
    }),
    // The owner as GET /api/v1/users/{id} shows them, read after the inserts above.
    outboxInsertSelect(db, { organizationId, type: 'membership.created', data: memberData(organizationId, owner.id) }),
  );

  let organization: Organization | undefined;
  try {
    [[organization]] = await scoped(db, scope, [
      db
        .insert(organizations)
        .values({ id: organizationId, slug: input.slug, name: input.name, plan: input.plan })
        .returning(),
      ...writes,
    ]);
  } catch (error) {
    // A slug taken by a concurrent sign-up, or an email registered in between: a conflict, never a 500.
    if (isUniqueViolation(error, 'organizations_slug_unique', 'users_email_key')) throw conflict();
    throw error;
  }
  if (!organization) throw new Error('the organization insert returned nothing');

  giveBackAccountAttempt(ctx, accountKey);
  // A host probed before the sign-up may be cached as unknown in this isolate; serve the new tenant at once.
  forgetHost({ slug: organization.slug });
  notifyOutbox(ctx, organizationId);

  if (verification) {
    const url = tenantLink(ctx, organization, '/verify-email', verification.token);
    const message = verificationEmail({
      id: `verify-email:${verification.id}`,
      to: email,
      url,
      branding: emailBranding(organization),
    });
    sendLater(ctx, message);
  }

  return {
    organization,
    owner: { id: owner.id, email, name: owner.name, emailVerified: owner.emailVerified, role: 'owner' },
  };
}

async function ownerAccount(
  ctx: ServiceContext,
  existing: { id: string; name: string; passwordHash: string | null; emailVerifiedAt: Date | null } | undefined,
  input: SignupInput,
): Promise<OwnerAccount> {
  if (!existing) {
    return {
      id: crypto.randomUUID(),
      name: input.owner.name,
      emailVerified: false,
      passwordHash: await hashPassword(input.owner.password, scryptPolicy(ctx.bindings)),
    };
  }
  // An invited account without a password yet costs the same work as a check and gets a wrong password's answer.
  const { valid } = await checkPassword(ctx, input.owner.password, existing.passwordHash);
  if (!valid) {
    ctx.logger.warn('organization sign-up refused: existing account, password did not verify', {
      userId: existing.id,
    });
    throw conflict();
  }
  return {
    id: existing.id,
    name: existing.name,
    emailVerified: existing.emailVerifiedAt !== null,
    passwordHash: undefined,
  };
}
