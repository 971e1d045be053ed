import { NeonDbError } from '@neondatabase/serverless';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { memberships, refreshTokens, roles, userTokens, users } from '../../db/schema/index.ts';
import { scoped, type Scope } from '../../db/tenant.ts';
import { ApiError } from '../../errors/api-error.ts';
import { requireTenant, type ServiceContext } from '../../lib/context.ts';
import { principalOf } from '../../middleware/auth.ts';
import { auditInsert } from '../audit/record.ts';
import { brandingQuery, emailBranding } from '../email/branding.ts';
import type { Tenant } from '../tenants/types.ts';
import {
  auditFromCte,
  checkPassword,
  invalidCredentials,
  normalizeEmail,
  sendVerificationEmail,
  userColumns,
  userView,
  VERIFICATION_TTL_SECONDS,
  type UserRow,
  type UserView,
} from './account.ts';
import { afterResponseDatabase, LOGIN_TIME, recordLogin } from './login-record.ts';
import { accountBucket, AUTH_LIMITS, clientBucket, enforceLimits, giveBackAccountAttempt } from './limits.ts';
import { assertPasswordPolicy, hashPassword, scryptPolicy } from './passwords.ts';
import { BUILT_IN_ROLES, SELF_REGISTRATION_ROLE, type Permission } from './permissions.ts';
import { heldPermissions, permissionsOf, session, type Session } from './grant.ts';
import { issueChallenge } from './mfa-challenge.ts';
import { mfaEnrolmentColumns, secondStep, secondStepDue, type MfaRequired } from './mfa-policy.ts';
import { revokeSession, revokeUserTokens } from './revocation.ts';
import { hasFeature } from '../plans/quotas.ts';
import { OWNER_ROLE } from '../roles/authority.ts';
import { enforcedSsoQuery, ssoEnforcedSql, ssoRequired } from '../sso/enforcement.ts';
import {
  generateOpaqueToken,
  hashToken,
  PLATFORM_TENANT,
  REFRESH_TOKEN_TTL_SECONDS,
  SESSION_LIFETIME_SECONDS,
  type Principal,
} from './tokens.ts';

/** A spent refresh token presented again within this many seconds is a concurrent refresh, not a replay. */
export const REFRESH_REUSE_LEEWAY_SECONDS = 10;
/** The role claim of platform-administrator tokens (tenant PLATFORM_TENANT). */
export const PLATFORM_ADMIN_ROLE = 'platform_admin';

/** The insert of a new refresh family's first token (the family id is the access tokens' `sessionId`). */
function newFamily(db: Database, ctx: ServiceContext, organizationId: string, userId: string, tokenHash: string) {
  const familyId = crypto.randomUUID();
  return {
    familyId,
    insert: db.insert(refreshTokens).values({
      organizationId,
      userId,
      familyId,
      tokenHash,
      expiresAt: sql`now() + make_interval(secs => ${REFRESH_TOKEN_TTL_SECONDS})`,
      sessionExpiresAt: sql`now() + make_interval(secs => ${SESSION_LIFETIME_SECONDS})`,
      ip: ctx.client.ip,
      userAgent: ctx.client.userAgent,
    }),
  };
}

function registrationConflict(): ApiError {
  return new ApiError('conflict', {
    detail:
      'An account with this email address exists already. Sign in instead (or register with that account’s ' +
      'password to join this organization).',
  });
}

/** A concurrent registration of the same address (or membership) lost the race on a unique key. */
function isUniqueViolation(error: unknown): boolean {
  return error instanceof NeonDbError && error.code === '23505';
}

/**
 * Self-service sign-up on a tenant host, with the `member` role and a verification email (24 hours).
 *
 * What it reveals about existing addresses (the issue asks us to decide): sign-up cannot hide that an address is
 * taken without breaking, so it answers one 409 problem, with the same body, when the address is already a member
 * here and when it belongs to an account elsewhere whose password was not given. Whoever knows the account's
 * password joins this organization with it (201): the same proof a login asks for. Every branch does one password
 * hash or verification, so timing does not tell them apart either, and the endpoint allows 10 sign-ups per client
 * address an hour, so it cannot enumerate addresses at scale. Every sign-up that does not succeed also counts
 * against the address's sign-in limit (the account bucket), so it is no side door for guessing a password.
 */
export async function register({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { email: string; password: string; name: string };
}): Promise<Session> {
  const tenant = requireTenant(ctx);
  const email = normalizeEmail(input.email);
  // Every sign-up charges the address's account bucket, taken or not: joining an existing account checks its
  // password, and the bucket must not tell which addresses exist.
  const accountKey = await accountBucket(email);
  await enforceLimits(ctx, [
    [AUTH_LIMITS.registerClient, clientBucket(ctx)],
    [AUTH_LIMITS.loginAccount, accountKey],
  ]);
  await assertPasswordPolicy(ctx, input.password, {
    email,
    name: input.name,
    organization: { name: tenant.name, slug: tenant.slug },
  });
  const db = ctx.services.db;
  const [found, organization] = await scoped(db, { organizationId: tenant.id, lookupEmail: email }, [
    db
      .select({ ...userColumns, passwordHash: users.passwordHash, membership: memberships.status })
      .from(users)
      .leftJoin(memberships, and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, users.id)))
      .where(eq(users.email, email))
      .limit(1),
    brandingQuery(db, tenant.id),
  ]);
  const existing = found[0];
  let user: UserRow;
  let createUser = null;
  if (existing) {
    const check = await checkPassword(ctx, input.password, existing.passwordHash);
    if (existing.membership !== null || !check.valid) throw registrationConflict();
    user = existing;
  } else {
    user = {
      id: crypto.randomUUID(),
      email,
      name: input.name,
      emailVerifiedAt: null,
      locale: 'en',
      timezone: 'UTC',
      preferences: {},
      createdAt: new Date(),
    };
    createUser = db.insert(users).values({
      id: user.id,
      email,
      name: user.name,
      passwordHash: await hashPassword(input.password, scryptPolicy(ctx.bindings)),
      createdAt: user.createdAt,
    });
  }
  const refreshToken = generateOpaqueToken('rt');
  const verification = user.emailVerifiedAt === null ? generateOpaqueToken('ev') : null;
  const [refreshHash, verificationHash] = await Promise.all([
    hashToken(refreshToken),
    verification === null ? null : hashToken(verification),
  ]);
  const family = newFamily(db, ctx, tenant.id, user.id, refreshHash);
  const join = [
    db.insert(memberships).values({
      organizationId: tenant.id,
      userId: user.id,
      roleId: sql`(select ${roles.id} from ${roles} where ${roles.organizationId} = ${tenant.id} and ${roles.key} = ${SELF_REGISTRATION_ROLE})`,
      status: 'active',
    }),
    family.insert,
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: { type: 'user', userId: user.id },
      action: 'auth.register',
      target: { type: 'user', id: user.id },
      metadata: { existingAccount: existing !== undefined, sessionId: family.familyId },
    }),
    ...(verificationHash === null
      ? []
      : [
          db.insert(userTokens).values({
            organizationId: tenant.id,
            userId: user.id,
            purpose: 'verify_email',
            tokenHash: verificationHash,
            expiresAt: sql`now() + make_interval(secs => ${VERIFICATION_TTL_SECONDS})`,
          }),
        ]),
  ] as const;
  // The user row (a new identity) and the membership commit together, or neither does.
  await scoped(db, { organizationId: tenant.id, lookupEmail: email }, createUser ? [createUser, ...join] : join).catch(
    (error: unknown) => {
      throw isUniqueViolation(error) ? registrationConflict() : error;
    },
  );
  if (verification !== null) {
    sendVerificationEmail(ctx, tenant, user, emailBranding(organization[0]), verification);
  }
  giveBackAccountAttempt(ctx, accountKey);
  return session(
    ctx,
    user,
    {
      tenant: tenant.id,
      sessionId: family.familyId,
      role: SELF_REGISTRATION_ROLE,
      // Built-in roles cannot be edited, so the member role's permissions are known without reading them.
      permissions: BUILT_IN_ROLES[SELF_REGISTRATION_ROLE].permissions,
    },
    refreshToken,
  );
}

/**
 * Sign-in with email and password. Unknown address, wrong password, no membership here, an invited (no password
 * yet) or disabled membership: one 401 with one body, after the same password work (a dummy verification when there
 * is no hash). Failures of a known member are audited after the response, so the audit write cannot time them.
 * On the platform host only platform administrators sign in (see `platformLogin`).
 *
 * One database round trip and one Redis round trip (the limits). The statement that reads the account also stores
 * the new session's refresh token (a token only this Worker knows, revealed only once the password verifies; a
 * failed attempt deletes its row after the response, with the failure's audit row). What only a success writes, the
 * `auth.login` audit row and the last-login time, is queued on AUDIT_QUEUE (the send awaited, so it is durable
 * before the tokens leave) with the sign-in's time and written by its consumer (`recordLogin`); a rare rehash of a password stored with older parameters is written after the response too,
 * before that record, which says whether it happened.
 */
export async function login({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { email: string; password: string };
}): Promise<Session | MfaRequired> {
  const email = normalizeEmail(input.email);
  const accountKey = await accountBucket(email);
  await enforceLimits(ctx, [
    [AUTH_LIMITS.loginClient, clientBucket(ctx)],
    [AUTH_LIMITS.loginAccount, accountKey],
  ]);
  if (ctx.tenant === null) return platformLogin(ctx, email, input.password, accountKey);
  const tenant = ctx.tenant;
  const db = ctx.services.db;
  const ssoEnforced = hasFeature(tenant, 'sso');
  // The refresh token's row is written before the password is checked, in the same statement that reads the account
  // (one snapshot, one round trip), and only for an active member with a role and a password; its token exists only
  // in this Worker and is revealed only after the password verifies. A failed attempt deletes the row again.
  const refreshToken = generateOpaqueToken('rt');
  const familyId = crypto.randomUUID();
  const stored = db.$with('stored', { familyId: refreshTokens.familyId }).as(sql`
    insert into refresh_tokens (organization_id, user_id, family_id, token_hash, expires_at, session_expires_at, ip,
                                user_agent)
    select m.organization_id, m.user_id, ${familyId}::uuid, ${await hashToken(refreshToken)}::text,
           now() + make_interval(secs => ${REFRESH_TOKEN_TTL_SECONDS}),
           now() + make_interval(secs => ${SESSION_LIFETIME_SECONDS}), ${ctx.client.ip}::text,
           ${ctx.client.userAgent}::text
      from users u
      join memberships m on m.organization_id = ${tenant.id}::uuid and m.user_id = u.id and m.status = 'active'
      join roles r on r.organization_id = m.organization_id and r.id = m.role_id
     where u.email = ${email} and u.password_hash is not null
       and not ${secondStepDue(tenant, sql`m`, sql`r`)}
       and (r.key = ${OWNER_ROLE} or not ${ssoEnforced ? ssoEnforcedSql(tenant.id, email) : sql`false`})
    returning family_id`);
  const [found, enforcement] = await scoped(db, { organizationId: tenant.id, lookupEmail: email }, [
    db
      .with(stored)
      .select({
        ...userColumns,
        passwordHash: users.passwordHash,
        membership: memberships.status,
        roleKey: roles.key,
        permissions: roles.permissions,
        sessionStored: sql<boolean>`exists (select 1 from ${stored})`,
        ...mfaEnrolmentColumns(tenant.id),
        at: LOGIN_TIME,
      })
      .from(users)
      .leftJoin(memberships, and(eq(memberships.organizationId, tenant.id), eq(memberships.userId, users.id)))
      .leftJoin(roles, and(eq(roles.organizationId, tenant.id), eq(roles.id, memberships.roleId)))
      .where(eq(users.email, email))
      .limit(1),
    // SSO enforced for the address's domain (a plan with `sso` only): a query of its own, so that the answer does
    // not depend on whether the account exists.
    enforcedSsoQuery(db, ssoEnforced ? tenant.id : null, email),
  ]);
  const account = found[0];
  const check = await checkPassword(ctx, input.password, account?.passwordHash ?? null);
  const sso = enforcement[0];
  // Where SSO is enforced only an owner's right password signs in (the break-glass way in); everyone else, known or
  // not, hears where to sign in instead.
  if (sso !== undefined && !(check.valid && account?.membership === 'active' && account.roleKey === OWNER_ROLE)) {
    if (account?.membership) failedLogin(ctx, tenant.id, account.id, 'sso_required', account.sessionStored, familyId);
    throw ssoRequired(sso);
  }
  if (!account?.membership) throw invalidCredentials();
  const { roleKey, permissions } = account;
  const usable = check.valid && account.membership === 'active' && roleKey !== null && permissions !== null;
  const challenge = usable ? secondStep(tenant, { ...account, permissions }) : null;
  if (!usable || (challenge === null && !account.sessionStored)) {
    const reason = account.membership === 'active' ? 'wrong_password' : `membership_${account.membership}`;
    failedLogin(ctx, tenant.id, account.id, reason, account.sessionStored, familyId);
    throw invalidCredentials();
  }
  const rehashed = check.needsRehash
    ? rehashLater(ctx, { organizationId: tenant.id }, account.id, account.passwordHash, input.password)
    : false;
  if (challenge !== null) {
    // The password is right and a second factor is due: no session yet (none was stored), a challenge instead. The
    // sign-in is recorded when the second step completes it.
    giveBackAccountAttempt(ctx, accountKey);
    const { mfaToken, expiresIn } = await issueChallenge(ctx, {
      organizationId: tenant.id,
      userId: account.id,
      amr: ['pwd'],
      ...challenge,
    });
    return {
      mfaRequired: true,
      mfaToken,
      expiresIn,
      methods: challenge.methods,
      enrollmentRequired: challenge.enrollmentRequired,
    };
  }
  await recordLogin(ctx, tenant.id, { userId: account.id, sessionId: familyId, rehashed, at: account.at });
  giveBackAccountAttempt(ctx, accountKey);
  return session(
    ctx,
    account,
    {
      tenant: tenant.id,
      sessionId: familyId,
      role: roleKey,
      permissions: permissionsOf(permissions),
    },
    refreshToken,
  );
}

/**
 * A failed sign-in of a known member, after the response: its `auth.login_failed` audit row, and the refresh token
 * the sign-in's statement stored (if it did) deleted again. Off the request's round trips (afterResponseDatabase,
 * like the success's record), so a refusal's count is the request's own.
 */
function failedLogin(
  ctx: ServiceContext,
  organizationId: string,
  userId: string,
  reason: string,
  sessionStored: boolean,
  familyId: string,
): void {
  // After the response, on its own trace: the refusal's round trips stay the request's own (one database).
  const db = afterResponseDatabase(ctx);
  const failed = auditInsert(db, ctx.client, {
    organizationId,
    actor: { type: 'anonymous' },
    action: 'auth.login_failed',
    target: { type: 'user', id: userId },
    metadata: { reason },
  });
  const discard = db
    .delete(refreshTokens)
    .where(and(eq(refreshTokens.organizationId, organizationId), eq(refreshTokens.familyId, familyId)));
  ctx.waitUntil(scoped(db, { organizationId }, [failed, ...(sessionStored ? [discard] : [])]));
}

/**
 * Stores the password again with the policy's parameters, after the response (off the sign-in's round trips): only
 * if the stored hash is still the one that was verified, so a password changed meanwhile is never overwritten.
 * Resolves to whether the hash was replaced, which the sign-in's audit row reports as `rehashed` (a failure is
 * logged by `waitUntil` and the sign-in is still recorded, with `rehashed: false`).
 */
function rehashLater(
  ctx: ServiceContext,
  scope: Scope,
  userId: string,
  verified: string | null,
  password: string,
): Promise<boolean> {
  const rehash = hashPassword(password, scryptPolicy(ctx.bindings)).then((passwordHash) => {
    const db = afterResponseDatabase(ctx);
    return scoped(db, scope, [
      db
        .update(users)
        .set({ passwordHash, updatedAt: sql`now()` })
        .where(and(eq(users.id, userId), sql`${users.passwordHash} is not distinct from ${verified}`))
        .returning({ id: users.id }),
    ]);
  });
  ctx.waitUntil(rehash);
  return Promise.allSettled([rehash]).then(
    ([outcome]) => outcome.status === 'fulfilled' && outcome.value[0].length > 0,
  );
}

/**
 * Sign-in on the platform host: platform administrators only, with the same 401 for everyone else. The token has
 * tenant PLATFORM_TENANT, role `platform_admin` and no permissions; no refresh token is stored (the session lasts
 * the access token's 15 minutes). Sign-ins and failed attempts on a platform administrator's account are platform
 * audit rows (no organization), written after the response like a tenant's (a sign-in's through AUDIT_QUEUE): one
 * database round trip, the read.
 */
async function platformLogin(
  ctx: ServiceContext,
  email: string,
  password: string,
  accountKey: string,
): Promise<Session> {
  const db = ctx.services.db;
  const [found] = await scoped(db, { platform: true }, [
    db
      .select({
        ...userColumns,
        passwordHash: users.passwordHash,
        isPlatformAdmin: users.isPlatformAdmin,
        at: LOGIN_TIME,
      })
      .from(users)
      .where(eq(users.email, email))
      .limit(1),
  ]);
  const account = found[0];
  const check = await checkPassword(ctx, password, account?.passwordHash ?? null);
  if (!account?.isPlatformAdmin) throw invalidCredentials();
  if (!check.valid) {
    ctx.waitUntil(
      scoped(db, { platform: true }, [
        auditInsert(db, ctx.client, {
          organizationId: null,
          actor: { type: 'anonymous' },
          action: 'auth.login_failed',
          target: { type: 'user', id: account.id },
          metadata: { reason: 'wrong_password' },
        }),
      ]),
    );
    throw invalidCredentials();
  }
  const sessionId = crypto.randomUUID();
  const rehashed = check.needsRehash
    ? rehashLater(ctx, { platform: true }, account.id, account.passwordHash, password)
    : false;
  await recordLogin(ctx, null, { userId: account.id, sessionId, rehashed, at: account.at });
  giveBackAccountAttempt(ctx, accountKey);
  return session(ctx, account, { tenant: PLATFORM_TENANT, sessionId, role: PLATFORM_ADMIN_ROLE, permissions: [] });
}

function refreshRefused(): ApiError {
  return new ApiError('unauthorized', {
    detail: 'The refresh token is invalid, expired or revoked; sign in again.',
  });
}

/**
 * Rotates a refresh token in one round trip: a conditional UPDATE spends the presented token and the same
 * statement inserts its child and the audit row, so two refreshes can never both win from a token that was unused
 * (row lock + re-check). A token spent less than REFRESH_REUSE_LEEWAY_SECONDS ago still rotates (concurrent refreshes
 * from one client: each gets a pair); after that, presenting it is a replay: the whole family is revoked, the access
 * tokens of that session end, and the answer is the same 401 as for any unknown token. A rotation re-reads the role,
 * the permissions, the verification state and the membership (disabled members cannot refresh). A child token
 * inherits the family's absolute deadline and expires at the earlier of the idle timeout and that deadline, so no
 * amount of refreshing keeps a session past SESSION_LIFETIME_SECONDS after sign-in. A revoked token anywhere in the
 * family ends it: a child that a refresh wrote while a logout revoked the family (READ COMMITTED, so the logout's
 * UPDATE did not see the new row) cannot carry the session on.
 */
export async function refresh({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { refreshToken: string };
}): Promise<Session> {
  const tenant = requireTenant(ctx);
  const nextToken = generateOpaqueToken('rt');
  const [presentedHash, nextHash] = await Promise.all([hashToken(input.refreshToken), hashToken(nextToken)]);
  const db = ctx.services.db;
  const leeway = sql`make_interval(secs => ${REFRESH_REUSE_LEEWAY_SECONDS})`;
  const [before, , after] = await scoped(db, { organizationId: tenant.id }, [
    db
      .select({
        userId: refreshTokens.userId,
        familyId: refreshTokens.familyId,
        replayed: sql<boolean>`(${refreshTokens.revokedAt} is null and ${refreshTokens.usedAt} <= now() - ${leeway})`,
      })
      .from(refreshTokens)
      .where(and(eq(refreshTokens.organizationId, tenant.id), eq(refreshTokens.tokenHash, presentedHash))),
    db.execute(sql`
      with spent as (
        update refresh_tokens t set used_at = coalesce(t.used_at, now())
         where t.organization_id = ${tenant.id} and t.token_hash = ${presentedHash}
           and t.revoked_at is null and t.expires_at > now() and t.session_expires_at > now()
           and (t.used_at is null or t.used_at > now() - ${leeway})
           and exists (
             select 1 from memberships m
              where m.organization_id = t.organization_id and m.user_id = t.user_id and m.status = 'active')
           and not exists (
             select 1 from refresh_tokens f
              where f.organization_id = t.organization_id and f.family_id = t.family_id and f.revoked_at is not null)
        returning t.id, t.user_id, t.family_id, t.session_expires_at, t.auth_time, t.amr
      ), child as (
        insert into refresh_tokens (organization_id, user_id, family_id, parent_id, token_hash, expires_at,
                                    session_expires_at, auth_time, amr, ip, user_agent)
        select ${tenant.id}::uuid, user_id, family_id, id, ${nextHash}::text,
               least(now() + make_interval(secs => ${REFRESH_TOKEN_TTL_SECONDS}), session_expires_at),
               session_expires_at, auth_time, amr, ${ctx.client.ip}::text, ${ctx.client.userAgent}::text
          from spent
        returning user_id
      ), audit as (${auditFromCte(ctx.client, tenant.id, 'auth.refresh', 'child')})
      select user_id from child`),
    db
      .select({
        ...userColumns,
        familyId: refreshTokens.familyId,
        authTime: sql<number>`floor(extract(epoch from ${refreshTokens.authTime}))::float8`,
        amr: refreshTokens.amr,
        roleKey: roles.key,
        permissions: roles.permissions,
      })
      .from(refreshTokens)
      .innerJoin(
        memberships,
        and(eq(memberships.organizationId, refreshTokens.organizationId), eq(memberships.userId, refreshTokens.userId)),
      )
      .innerJoin(users, eq(users.id, refreshTokens.userId))
      .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
      .where(and(eq(refreshTokens.organizationId, tenant.id), eq(refreshTokens.tokenHash, nextHash))),
  ]);
  const rotated = after[0];
  if (rotated) {
    return session(
      ctx,
      rotated,
      {
        tenant: tenant.id,
        sessionId: rotated.familyId,
        role: rotated.roleKey,
        permissions: permissionsOf(rotated.permissions),
        authTime: rotated.authTime,
        amr: rotated.amr,
      },
      nextToken,
    );
  }
  const presented = before[0];
  if (presented?.replayed) await revokeFamily(ctx, tenant, presented);
  throw refreshRefused();
}

async function revokeFamily(ctx: ServiceContext, tenant: Tenant, family: { userId: string; familyId: string }) {
  const db = ctx.services.db;
  await scoped(db, { organizationId: tenant.id }, [
    db
      .update(refreshTokens)
      .set({ revokedAt: sql`now()` })
      .where(
        and(
          eq(refreshTokens.organizationId, tenant.id),
          eq(refreshTokens.familyId, family.familyId),
          isNull(refreshTokens.revokedAt),
        ),
      ),
    auditInsert(db, ctx.client, {
      organizationId: tenant.id,
      actor: { type: 'anonymous' },
      action: 'auth.refresh_reuse_detected',
      target: { type: 'user', id: family.userId },
      metadata: { sessionId: family.familyId },
    }),
  ]);
  // Access tokens carry their family as `sessionId`: only this session's end, the user's others go on.
  await revokeSession(ctx.services.redis, family.familyId);
}

/**
 * Ends the caller's session at once: every access token of the session (not only the one presented) and its
 * refresh family.
 * With `all`, every refresh family of the user here and every access token the user holds here end.
 * On the platform host there are no refresh tokens, only the access tokens to end (and a platform audit row).
 */
export async function logout({ ctx, input }: { ctx: ServiceContext; input: { all: boolean } }): Promise<void> {
  const principal: Principal = principalOf({ var: { principal: ctx.principal } });
  const redis = ctx.services.redis;
  const db = ctx.services.db;
  const endAccess = (tenantId: string) =>
    input.all ? revokeUserTokens(redis, tenantId, [principal.userId]) : revokeSession(redis, principal.sessionId);
  const audit = (organizationId: string | null) =>
    auditInsert(db, ctx.client, {
      organizationId,
      actor: { type: organizationId === null ? 'platform_admin' : 'user', userId: principal.userId },
      action: 'auth.logout',
      target: { type: 'user', id: principal.userId },
      metadata: { sessionId: principal.sessionId, all: input.all },
    });
  if (ctx.tenant === null) {
    await Promise.all([scoped(db, { platform: true }, [audit(null)]), endAccess(PLATFORM_TENANT)]);
    return;
  }
  const tenant = ctx.tenant;
  await Promise.all([
    scoped(db, { organizationId: tenant.id }, [
      db
        .update(refreshTokens)
        .set({ revokedAt: sql`now()` })
        .where(
          and(
            eq(refreshTokens.organizationId, tenant.id),
            eq(refreshTokens.userId, principal.userId),
            isNull(refreshTokens.revokedAt),
            input.all ? undefined : eq(refreshTokens.familyId, principal.sessionId),
          ),
        ),
      audit(tenant.id),
    ]),
    endAccess(tenant.id),
  ]);
}

export interface Me {
  user: UserView;
  organizationId: string;
  role: { key: string; name: string };
  permissions: Permission[];
}

/**
 * The signed-in user, the membership's role and its current permissions: one statement in one batch (one database
 * round trip); the only Redis round trip is the authentication middleware's revocation check.
 */
export async function me({ ctx }: { ctx: ServiceContext }): Promise<Me> {
  const tenant = requireTenant(ctx);
  const principal = principalOf({ var: { principal: ctx.principal } });
  const db = ctx.services.db;
  const [found] = await scoped(db, { organizationId: tenant.id }, [meQuery(db, tenant.id, principal.userId)]);
  return meOf(tenant.id, found);
}

/** The read behind `me`, to put in a batch (after a change to the user, it reads the user as changed). */
export function meQuery(db: Database, organizationId: string, userId: string) {
  return db
    .select({ ...userColumns, roleKey: roles.key, roleName: roles.name, permissions: roles.permissions })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
    .where(
      and(
        eq(memberships.organizationId, organizationId),
        eq(memberships.userId, userId),
        eq(memberships.status, 'active'),
      ),
    );
}

/** `me`'s answer from `meQuery`'s rows: 401 when the membership is no longer active. */
export function meOf(organizationId: string, rows: Awaited<ReturnType<typeof meQuery>>): Me {
  const row = rows[0];
  if (!row) throw new ApiError('unauthorized', { detail: 'The session has ended.' });
  return {
    user: userView(row),
    organizationId,
    role: { key: row.roleKey, name: row.roleName },
    permissions: heldPermissions(row, row.roleKey, row.permissions),
  };
}
