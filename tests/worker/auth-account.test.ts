import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { memberships, refreshTokens, userTokens, users, type OrganizationBranding } from '../../src/db/schema/index.ts';
import { FORGOT_PASSWORD_ANSWER } from '../../src/routes/auth/forgot-password.ts';
import type { MeResponse } from '../../src/routes/auth/me.ts';
import type { RegisterResponse } from '../../src/routes/auth/register.ts';
import { AUTH_LIMITS } from '../../src/services/auth/limits.ts';
import { generateOpaqueToken, hashToken } from '../../src/services/auth/tokens.ts';
import {
  auditRows,
  claimsOf,
  createPlatformAdmin,
  linkToken,
  loginAs,
  mailbox,
  platformLogin,
  post,
  randomEmail,
  userRow,
  waitForAudits,
  waitForMail,
} from '../support/auth.ts';
import {
  answerText,
  bearer,
  createMember,
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  TEST_PASSWORD,
  type TestMember,
  type TestTenant,
  tokenFor,
} from '../support/harness.ts';

const NEW_PASSWORD = 'a brand new passphrase';

async function signUp(tenant: TestTenant) {
  const email = randomEmail(tenant);
  const response = await post(tenant.url('/api/v1/auth/register'), { email, password: TEST_PASSWORD, name: 'New' });
  expect(response.status).toBe(201);
  const session: RegisterResponse = await response.json();
  return { email, session, token: linkToken(await waitForMail(email)) };
}

function verify(tenant: TestTenant, token: string, headers: Record<string, string> = {}) {
  return post(tenant.url('/api/v1/auth/verify-email'), { token }, headers);
}

function forgot(tenant: TestTenant, email: string, headers: Record<string, string> = {}) {
  return post(tenant.url('/api/v1/auth/forgot-password'), { email }, headers);
}

function reset(tenant: TestTenant, token: string, password = NEW_PASSWORD, headers: Record<string, string> = {}) {
  return post(tenant.url('/api/v1/auth/reset-password'), { token, password }, headers);
}

function resend(url: string, accessToken: string) {
  return request(url, { method: 'POST', headers: bearer(accessToken) });
}

function login(tenant: TestTenant, email: string, password: string, headers: Record<string, string> = {}) {
  return post(tenant.url('/api/v1/auth/login'), { email, password }, headers);
}

async function tokensOf(organizationId: string, userId: string, purpose: 'verify_email' | 'reset_password') {
  return database()
    .select()
    .from(userTokens)
    .where(
      and(
        eq(userTokens.organizationId, organizationId),
        eq(userTokens.userId, userId),
        eq(userTokens.purpose, purpose),
      ),
    );
}

/** A single-use invitation token for the user's membership, stored as the invite route stores it. */
async function invitationFor(tenant: TestTenant, userId: string): Promise<string> {
  const invitation = generateOpaqueToken('inv');
  await database()
    .insert(userTokens)
    .values({
      organizationId: tenant.organization.id,
      userId,
      purpose: 'invitation',
      tokenHash: await hashToken(invitation),
      expiresAt: new Date(Date.now() + 7 * 24 * 3600 * 1000),
    });
  return invitation;
}

async function invitationUsed(invitation: string): Promise<boolean> {
  const [row] = await database()
    .select({ usedAt: userTokens.usedAt })
    .from(userTokens)
    .where(eq(userTokens.tokenHash, await hashToken(invitation)));
  if (!row) throw new Error('no invitation row');
  return row.usedAt !== null;
}

async function membershipOf(tenant: TestTenant, userId: string) {
  const [row] = await database()
    .select({ status: memberships.status, displayName: memberships.displayName })
    .from(memberships)
    .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, userId)));
  return row;
}

async function setDisplayName(tenant: TestTenant, userId: string, displayName: string): Promise<void> {
  await database()
    .update(memberships)
    .set({ displayName })
    .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, userId)));
}

async function resetLink(tenant: TestTenant, member: TestMember, count = 1): Promise<string> {
  expect((await forgot(tenant, member.email)).status).toBe(202);
  return linkToken(await waitForMail(member.email, count));
}

describe('POST /api/v1/auth/verify-email', () => {
  it('marks the address verified once, spending the token, and the next refresh says so', async () => {
    const tenant = await createTenant();
    const { email, session, token } = await signUp(tenant);
    const response = await verify(tenant, token);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ emailVerified: true });
    const user = await userRow(email);
    expect(user.emailVerifiedAt).not.toBeNull();
    const [stored] = await tokensOf(tenant.organization.id, user.id, 'verify_email');
    expect(stored?.usedAt).not.toBeNull();
    const [audit] = await auditRows(tenant.organization.id, 'auth.email_verified');
    expect(audit).toMatchObject({ actorUserId: user.id, targetId: user.id });

    const me = await request(tenant.url('/api/v1/auth/me'), { headers: bearer(session.accessToken) });
    expect((await me.json<{ user: { emailVerified: boolean } }>()).user.emailVerified).toBe(true);
    const refreshed = await post(tenant.url('/api/v1/auth/refresh-token'), { refreshToken: session.refreshToken });
    expect(claimsOf((await refreshed.json<RegisterResponse>()).accessToken).ev).toBe(true);
  });

  it('answers used, unknown, expired and foreign tokens with the same 400', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const used = await signUp(tenant);
    expect((await verify(tenant, used.token)).status).toBe(200);
    const expired = await signUp(tenant);
    await database()
      .update(userTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(userTokens.tokenHash, await hashToken(expired.token)));
    const foreign = await signUp(elsewhere);

    const requestId = newRequestId();
    const answers = new Set<string>();
    for (const token of [used.token, generateOpaqueToken('ev'), expired.token, foreign.token]) {
      const response = await verify(tenant, token, { 'x-request-id': requestId });
      expect(response.status).toBe(400);
      answers.add(await answerText(response));
    }
    expect(answers.size).toBe(1);
    expect(JSON.parse([...answers][0] ?? '')).toMatchObject({
      code: 'bad_request',
      detail: 'This link is invalid or has expired; ask for a new one.',
    });
    expect((await userRow(expired.email)).emailVerifiedAt).toBeNull();
    expect((await userRow(foreign.email)).emailVerifiedAt).toBeNull();
    expect(await auditRows(tenant.organization.id, 'auth.email_verified')).toHaveLength(1);
  });

  it('refuses extra fields such as a user id', async () => {
    const tenant = await createTenant();
    const { token, email } = await signUp(tenant);
    const response = await post(tenant.url('/api/v1/auth/verify-email'), { token, userId: crypto.randomUUID() });
    expect(response.status).toBe(400);
    expect((await userRow(email)).emailVerifiedAt).toBeNull();
  });
});

describe('POST /api/v1/auth/resend-verification', () => {
  it('sends a new working link to an unverified member', async () => {
    const tenant = await createTenant();
    const { email, session } = await signUp(tenant);
    const response = await resend(tenant.url('/api/v1/auth/resend-verification'), session.accessToken);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ status: 'accepted', message: 'A new verification link is on its way.' });
    const token = linkToken(await waitForMail(email, 2));
    const user = await userRow(email);
    expect(await tokensOf(tenant.organization.id, user.id, 'verify_email')).toHaveLength(2);
    const [audit] = await auditRows(tenant.organization.id, 'auth.verification_resent');
    expect(audit).toMatchObject({ actorUserId: user.id });
    expect((await verify(tenant, token)).status).toBe(200);
  });

  it('answers 409 when the address is verified already, sending nothing', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await loginAs(tenant, member);
    const response = await resend(tenant.url('/api/v1/auth/resend-verification'), session.accessToken);
    expect(response.status).toBe(409);
    expect(await tokensOf(tenant.organization.id, member.userId, 'verify_email')).toEqual([]);
    expect(await mailbox(member.email)).toEqual([]);
  });

  it('answers 401 without a token and 404 on the platform host', async () => {
    const tenant = await createTenant();
    const anonymous = await request(tenant.url('/api/v1/auth/resend-verification'), { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const accessToken = await platformLogin(await createPlatformAdmin());
    expect((await resend('http://localhost/api/v1/auth/resend-verification', accessToken)).status).toBe(404);
  });
});

describe('POST /api/v1/auth/forgot-password', () => {
  it('emails an active member a single-use reset link valid for an hour', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const response = await forgot(tenant, `  ${member.email.toUpperCase()}`);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual(FORGOT_PASSWORD_ANSWER);
    const message = await waitForMail(member.email);
    const token = linkToken(message);
    expect(token).toMatch(/^pr_/);
    expect(message.links[0]).toBe(`http://${tenant.host}/reset-password?token=${token}`);
    expect(message.subject).toBe(`Reset your ${tenant.organization.name} password`);
    const [stored] = await tokensOf(tenant.organization.id, member.userId, 'reset_password');
    expect(stored).toMatchObject({ tokenHash: await hashToken(token), usedAt: null });
    const lifetime = (stored?.expiresAt.getTime() ?? 0) - (stored?.createdAt.getTime() ?? 0);
    expect(Math.abs(lifetime - 3600 * 1000)).toBeLessThan(1000);
    const [audit] = await auditRows(tenant.organization.id, 'auth.password_reset_requested');
    expect(audit).toMatchObject({ targetId: member.userId });
  });

  it('answers unknown addresses, outsiders, invited and disabled members exactly alike, sending nothing', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const outsider = await createMember(await createTenant(), 'member');
    const invited = await createMember(tenant, 'member', { status: 'invited' });
    const disabled = await createMember(tenant, 'member', { status: 'disabled' });
    const unknown = randomEmail(tenant);
    const requestId = newRequestId();
    const answers = new Set<string>();
    for (const email of [unknown, outsider.email, invited.email, disabled.email, member.email]) {
      const response = await forgot(tenant, email, { 'x-request-id': requestId });
      expect(response.status).toBe(202);
      answers.add(await answerText(response));
    }
    expect(answers.size).toBe(1);
    // The member's email was sent last; by the time it arrives the others would have too.
    await waitForMail(member.email);
    for (const email of [unknown, outsider.email, invited.email, disabled.email]) {
      expect(await mailbox(email)).toEqual([]);
    }
    const issued = await database()
      .select()
      .from(userTokens)
      .where(eq(userTokens.organizationId, tenant.organization.id));
    expect(issued.map((row) => row.userId)).toEqual([member.userId]);
  });

  it('falls back to the default branding when the stored branding is malformed', async () => {
    const malformed = {
      displayName: 42,
      emailSenderName: '',
      primaryColor: ['red'],
    } as unknown as OrganizationBranding;
    const tenant = await createTenant({ branding: malformed });
    const member = await createMember(tenant, 'member');
    expect((await forgot(tenant, member.email)).status).toBe(202);
    const message = await waitForMail(member.email);
    expect(message.subject).toBe(`Reset your ${tenant.organization.name} password`);
    expect(message.fromName).toBe(tenant.organization.name);
    expect(message.html).toContain('#4f46e5');
  });

  it('refuses a malformed address and extra fields with 400', async () => {
    const tenant = await createTenant();
    expect((await forgot(tenant, 'nope')).status).toBe(400);
    const extra = await post(tenant.url('/api/v1/auth/forgot-password'), { email: randomEmail(), userId: 'x' });
    expect(extra.status).toBe(400);
  });
});

describe('POST /api/v1/auth/reset-password', () => {
  it('sets the new password, spends every outstanding link and ends every session in every organization', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const bystander = await createTenant();
    const member = await createMember(tenant, 'member', { emailVerified: false });
    await createMember(elsewhere, 'member', { email: member.email });
    const other = await createMember(bystander, 'member');
    const session = await loginAs(tenant, member);
    const away = await loginAs(elsewhere, member);
    const unrelated = await loginAs(bystander, other);
    const older = await resetLink(tenant, member, 1);
    const token = await resetLink(tenant, member, 2);

    const response = await reset(tenant, token);
    expect(response.status).toBe(204);

    // Both organizations' sessions end: access tokens at once, refresh tokens revoked in the database.
    for (const [host, ended] of [
      [tenant, session],
      [elsewhere, away],
    ] as const) {
      expect((await request(host.url('/api/v1/auth/me'), { headers: bearer(ended.accessToken) })).status).toBe(401);
      const refreshed = await post(host.url('/api/v1/auth/refresh-token'), { refreshToken: ended.refreshToken });
      expect(refreshed.status).toBe(401);
    }
    const families = await database().select().from(refreshTokens).where(eq(refreshTokens.userId, member.userId));
    expect(new Set(families.map((row) => row.organizationId))).toEqual(
      new Set([tenant.organization.id, elsewhere.organization.id]),
    );
    expect(families.every((row) => row.revokedAt !== null)).toBe(true);
    // Nobody else's session is touched.
    const [untouched] = await database()
      .select({ revokedAt: refreshTokens.revokedAt })
      .from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, await hashToken(unrelated.refreshToken)));
    expect(untouched?.revokedAt).toBeNull();
    expect((await request(bystander.url('/api/v1/auth/me'), { headers: bearer(unrelated.accessToken) })).status).toBe(
      200,
    );

    expect((await login(tenant, member.email, NEW_PASSWORD)).status).toBe(200);
    expect((await login(elsewhere, member.email, NEW_PASSWORD)).status).toBe(200);
    expect((await login(tenant, member.email, TEST_PASSWORD)).status).toBe(401);
    const user = await userRow(member.email);
    expect(user.emailVerifiedAt).not.toBeNull();
    const resets = await tokensOf(tenant.organization.id, member.userId, 'reset_password');
    expect(resets).toHaveLength(2);
    expect(resets.every((row) => row.usedAt !== null)).toBe(true);
    expect((await reset(tenant, older, 'yet another passphrase')).status).toBe(400);

    const [audit] = await auditRows(tenant.organization.id, 'auth.password_reset_completed');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetId: member.userId });
    expect(audit?.metadata).toEqual({ passwordChanged: true });
    expect(await auditRows(elsewhere.organization.id, 'auth.password_reset_completed')).toEqual([]);
  });

  it('also ends the platform sessions of a platform administrator who resets a password in an organization', async () => {
    const tenant = await createTenant();
    const admin = await createPlatformAdmin();
    await createMember(tenant, 'member', { email: admin.email });
    const platformToken = await platformLogin(admin);
    const token = await resetLink(tenant, { ...admin, role: 'member' });
    expect((await reset(tenant, token)).status).toBe(204);
    // A live platform token would sign out with 204; this one has ended.
    const ended = await request('http://localhost/api/v1/auth/logout', {
      method: 'POST',
      headers: bearer(platformToken),
    });
    expect(ended.status).toBe(401);
    expect((await problem(ended)).detail).toBe('The session has ended.');
    expect(claimsOf(await platformLogin({ email: admin.email, password: NEW_PASSWORD }))).toMatchObject({
      sub: admin.userId,
      role: 'platform_admin',
    });
  });

  it('answers used, unknown, expired, foreign and unprefixed tokens with the same 400', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const member = await createMember(tenant, 'member');
    const used = await resetLink(tenant, member, 1);
    expect((await reset(tenant, used)).status).toBe(204);
    const expired = await resetLink(tenant, member, 2);
    await database()
      .update(userTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(userTokens.tokenHash, await hashToken(expired)));
    const stranger = await createMember(elsewhere, 'member');
    const foreign = await resetLink(elsewhere, stranger);

    const requestId = newRequestId();
    const answers = new Set<string>();
    for (const token of [
      used,
      generateOpaqueToken('pr'),
      expired,
      foreign,
      'no-prefix-token',
      generateOpaqueToken('ev'),
    ]) {
      const response = await reset(tenant, token, 'one more passphrase', { 'x-request-id': requestId });
      expect(response.status).toBe(400);
      answers.add(await answerText(response));
    }
    expect(answers.size).toBe(1);
    expect((await login(elsewhere, stranger.email, TEST_PASSWORD)).status).toBe(200);
    expect((await login(tenant, member.email, NEW_PASSWORD)).status).toBe(200);
  });

  it('applies the password policy without spending the token', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const token = await resetLink(tenant, member);
    const weak = await reset(tenant, token, 'password123');
    expect(weak.status).toBe(400);
    expect((await problem(weak)).errors?.[0]?.pointer).toBe('/body/password');
    const ownAddress = await reset(tenant, token, `${member.email}!`);
    expect(ownAddress.status).toBe(400);
    expect((await problem(ownAddress)).errors?.[0]).toMatchObject({
      pointer: '/body/password',
      message: expect.stringContaining('your email address') as unknown,
    });
    const [stored] = await tokensOf(tenant.organization.id, member.userId, 'reset_password');
    expect(stored?.usedAt).toBeNull();
    expect((await reset(tenant, token)).status).toBe(204);
  });

  it('refuses the link of a member disabled since it was sent', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const token = await resetLink(tenant, member);
    const before = await userRow(member.email);
    await database()
      .update(memberships)
      .set({ status: 'disabled' })
      .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, member.userId)));
    expect((await reset(tenant, token)).status).toBe(400);
    expect((await userRow(member.email)).passwordHash).toBe(before.passwordHash);
    const [stored] = await tokensOf(tenant.organization.id, member.userId, 'reset_password');
    expect(stored?.usedAt).toBeNull();
  });

  it('redeems an invitation to a new account: sets the password, verifies the address, activates the membership', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const invited = await createMember(tenant, 'staff', { status: 'invited', emailVerified: false });
    await database().update(users).set({ passwordHash: null }).where(eq(users.id, invited.userId));
    await setDisplayName(tenant, invited.userId, 'Staff Nickname');
    // A session elsewhere (an account without a password can still hold an access token, e.g. issued by an admin tool).
    const away = await createMember(elsewhere, 'member', { email: invited.email });
    const awayToken = await tokenFor(elsewhere, away);
    const invitation = await invitationFor(tenant, invited.userId);
    expect((await login(tenant, invited.email, NEW_PASSWORD)).status).toBe(401);

    const response = await reset(tenant, invitation);
    expect(response.status).toBe(204);
    expect(await membershipOf(tenant, invited.userId)).toEqual({ status: 'active', displayName: 'Staff Nickname' });
    const user = await userRow(invited.email);
    expect(user.emailVerifiedAt).not.toBeNull();
    expect(user.passwordHash).toMatch(/^scrypt\$/);
    expect(await invitationUsed(invitation)).toBe(true);
    const [audit] = await auditRows(tenant.organization.id, 'auth.invitation_accepted');
    expect(audit).toMatchObject({ actorUserId: invited.userId, targetId: invited.userId });
    expect(audit?.metadata).toEqual({ passwordChanged: true });
    // Setting the global password ends the account's sessions everywhere.
    expect((await request(elsewhere.url('/api/v1/auth/me'), { headers: bearer(awayToken) })).status).toBe(401);

    const signedIn = await login(tenant, invited.email, NEW_PASSWORD);
    expect(signedIn.status).toBe(200);
    const session: RegisterResponse = await signedIn.json();
    expect(claimsOf(session.accessToken)).toMatchObject({ role: 'staff', ev: true });
    // /me shows the person's own global name, not the name this organization gave the membership.
    const me = await request(tenant.url('/api/v1/auth/me'), { headers: bearer(session.accessToken) });
    expect((await me.json<MeResponse>()).user.name).toBe(user.name);
    expect(user.name).not.toBe('Staff Nickname');
    expect((await reset(tenant, invitation, 'second passphrase here')).status).toBe(400);
  });

  it('applies the password policy to a new account’s invitation without spending it', async () => {
    const tenant = await createTenant();
    const invited = await createMember(tenant, 'member', { status: 'invited', emailVerified: false });
    await database().update(users).set({ passwordHash: null }).where(eq(users.id, invited.userId));
    const invitation = await invitationFor(tenant, invited.userId);
    const weak = await reset(tenant, invitation, 'password123');
    expect(weak.status).toBe(400);
    expect((await problem(weak)).errors?.[0]?.pointer).toBe('/body/password');
    const ownAddress = await reset(tenant, invitation, `${invited.email.split('@')[0] ?? ''}-eventra`);
    expect(ownAddress.status).toBe(400);
    expect((await problem(ownAddress)).errors?.[0]).toMatchObject({
      pointer: '/body/password',
      message: expect.stringContaining('your email address') as unknown,
    });
    expect(await invitationUsed(invitation)).toBe(false);
    expect(await membershipOf(tenant, invited.userId)).toMatchObject({ status: 'invited' });
    expect((await userRow(invited.email)).passwordHash).toBeNull();
    expect((await reset(tenant, invitation)).status).toBe(204);
  });

  it('accepts an invitation to an existing account with its current password, which stays as it is', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const account = await createMember(elsewhere, 'member', { emailVerified: false });
    const away = await loginAs(elsewhere, account);
    await createMember(tenant, 'organizer', { email: account.email, status: 'invited' });
    await setDisplayName(tenant, account.userId, 'Given Name');
    const before = await userRow(account.email);
    const invitation = await invitationFor(tenant, account.userId);

    const response = await reset(tenant, invitation, account.password);
    expect(response.status).toBe(204);
    expect(await membershipOf(tenant, account.userId)).toEqual({ status: 'active', displayName: 'Given Name' });
    const after = await userRow(account.email);
    expect(after.passwordHash).toBe(before.passwordHash);
    expect(after.emailVerifiedAt).not.toBeNull();
    expect(await invitationUsed(invitation)).toBe(true);
    const [audit] = await auditRows(tenant.organization.id, 'auth.invitation_accepted');
    expect(audit).toMatchObject({ actorUserId: account.userId, targetId: account.userId });
    expect(audit?.metadata).toEqual({ passwordChanged: false });
    // The password did not change, so the account's sessions elsewhere go on.
    expect((await request(elsewhere.url('/api/v1/auth/me'), { headers: bearer(away.accessToken) })).status).toBe(200);
    expect((await post(elsewhere.url('/api/v1/auth/refresh-token'), { refreshToken: away.refreshToken })).status).toBe(
      200,
    );

    const session = await loginAs(tenant, account);
    expect(claimsOf(session.accessToken)).toMatchObject({ role: 'organizer', ev: true });
    const me = await request(tenant.url('/api/v1/auth/me'), { headers: bearer(session.accessToken) });
    expect((await me.json<MeResponse>()).user.name).toBe(before.name);
    expect((await reset(tenant, invitation, account.password)).status).toBe(400);
  });

  it('refuses an invitation to an existing account with any other password, like a failed sign-in, changing nothing', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const account = await createMember(elsewhere, 'member', { emailVerified: false });
    const away = await loginAs(elsewhere, account);
    await createMember(tenant, 'admin', { email: account.email, status: 'invited' });
    const before = await userRow(account.email);
    const invitation = await invitationFor(tenant, account.userId);

    const requestId = newRequestId();
    const failedLogin = await login(elsewhere, account.email, NEW_PASSWORD, { 'x-request-id': requestId });
    expect(failedLogin.status).toBe(401);
    const refused = await reset(tenant, invitation, NEW_PASSWORD, { 'x-request-id': requestId });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(await answerText(refused)).toBe(await answerText(failedLogin));
    expect((await reset(tenant, invitation, 'x')).status).toBe(401);

    // Nothing changed: the password, the verification, the membership, the invitation, the sessions elsewhere.
    const after = await userRow(account.email);
    expect(after.passwordHash).toBe(before.passwordHash);
    expect(after.emailVerifiedAt).toBeNull();
    expect(await membershipOf(tenant, account.userId)).toMatchObject({ status: 'invited' });
    expect(await invitationUsed(invitation)).toBe(false);
    expect(await auditRows(tenant.organization.id, 'auth.invitation_accepted')).toEqual([]);
    const failures = await waitForAudits(tenant.organization.id, 'auth.invitation_failed', 2);
    expect(failures[1]).toMatchObject({ actorType: 'anonymous', targetId: account.userId, correlationId: requestId });
    expect(failures[1]?.metadata).toEqual({ reason: 'wrong_password' });
    expect((await request(elsewhere.url('/api/v1/auth/me'), { headers: bearer(away.accessToken) })).status).toBe(200);
    expect((await login(elsewhere, account.email, NEW_PASSWORD)).status).toBe(401);
    expect((await login(elsewhere, account.email, account.password)).status).toBe(200);

    // The invitation is still good for the account's owner.
    expect((await reset(tenant, invitation, account.password)).status).toBe(204);
    expect(await membershipOf(tenant, account.userId)).toMatchObject({ status: 'active' });
  });

  it('counts password checks of an invitation against the account’s sign-in limit', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const account = await createMember(elsewhere, 'member');
    await createMember(tenant, 'member', { email: account.email, status: 'invited' });
    const invitation = await invitationFor(tenant, account.userId);
    for (let attempt = 0; attempt < AUTH_LIMITS.loginAccount.limit; attempt += 1) {
      expect((await login(elsewhere, account.email, `wrong guess ${attempt}`)).status).toBe(401);
    }
    const limited = await reset(tenant, invitation, account.password);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await invitationUsed(invitation)).toBe(false);
    expect(await membershipOf(tenant, account.userId)).toMatchObject({ status: 'invited' });
  });

  it('refuses an invitation token once the membership is active', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const invitation = generateOpaqueToken('inv');
    await database()
      .insert(userTokens)
      .values({
        organizationId: tenant.organization.id,
        userId: member.userId,
        purpose: 'invitation',
        tokenHash: await hashToken(invitation),
        expiresAt: new Date(Date.now() + 3600 * 1000),
      });
    expect((await reset(tenant, invitation)).status).toBe(400);
    expect((await login(tenant, member.email, TEST_PASSWORD)).status).toBe(200);
  });

  it('refuses extra fields and answers 404 on the platform host', async () => {
    const tenant = await createTenant();
    const extra = await post(tenant.url('/api/v1/auth/reset-password'), {
      token: generateOpaqueToken('pr'),
      password: NEW_PASSWORD,
      emailVerified: true,
    });
    expect(extra.status).toBe(400);
    const platform = await post('http://localhost/api/v1/auth/reset-password', {
      token: generateOpaqueToken('pr'),
      password: NEW_PASSWORD,
    });
    expect(platform.status).toBe(404);
  });
});
