import { and, eq } from 'drizzle-orm';
import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import worker from '../../src/index.ts';
import {
  auditLogs,
  memberships,
  organizations,
  roles,
  tenantDirectory,
  userTokens,
  users,
} from '../../src/db/schema/index.ts';
import type { SignupResponse } from '../../src/routes/organizations/schema.ts';
import { BUILT_IN_ROLE_KEYS, BUILT_IN_ROLES } from '../../src/services/auth/permissions.ts';
import { verifyPassword } from '../../src/services/auth/passwords.ts';
import { hashToken } from '../../src/services/auth/tokens.ts';
import { SIGNUP_CONFLICT_DETAIL } from '../../src/services/organizations/signup.ts';
import { createMember, createTenant, database, problem, request, TEST_PASSWORD } from '../support/harness.ts';
import { setFault, withFaultStack } from '../support/fault.ts';
import { mailbox, OWNER_PASSWORD, PLATFORM, randomIp, signup, signupBody } from '../support/organizations.ts';

async function userByEmail(email: string) {
  const [row] = await database().select().from(users).where(eq(users.email, email));
  return row;
}

async function organizationBySlug(slug: string) {
  const [row] = await database().select().from(organizations).where(eq(organizations.slug, slug));
  return row;
}

async function expectConflict(response: Response): Promise<void> {
  expect(response.status).toBe(409);
  const body = await problem(response);
  expect(body).toMatchObject({ code: 'conflict', title: 'Conflict', status: 409, detail: SIGNUP_CONFLICT_DETAIL });
  expect(body.errors).toBeUndefined();
}

describe('POST /api/v1/organizations (self-serve sign-up)', () => {
  it('creates the organization, its roles, directory row, owner, membership, token and audit row in one go', async () => {
    const body = signupBody();
    const ip = randomIp();
    const response = await signup(body, ip);
    expect(response.status).toBe(201);
    const created = await response.json<SignupResponse>();
    expect(response.headers.get('location')).toBe(`http://${body.slug}.localhost/api/v1/organization`);
    expect(created.organization).toMatchObject({
      slug: body.slug,
      name: body.name,
      plan: 'starter',
      status: 'active',
      branding: {},
      settings: {},
    });
    expect(created.owner.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.owner).toEqual({
      id: created.owner.id,
      email: body.owner.email,
      name: body.owner.name,
      emailVerified: false,
      role: 'owner',
    });
    expect(Object.keys(created.owner)).not.toContain('passwordHash');

    const db = database();
    const organizationId = created.organization.id;
    const organization = await organizationBySlug(body.slug);
    expect(organization?.id).toBe(organizationId);

    const roleRows = await db.select().from(roles).where(eq(roles.organizationId, organizationId));
    expect(roleRows.map((role) => role.key).sort()).toEqual([...BUILT_IN_ROLE_KEYS].sort());
    expect(roleRows.every((role) => role.builtIn)).toBe(true);

    const directory = await db.select().from(tenantDirectory).where(eq(tenantDirectory.organizationId, organizationId));
    expect(directory).toEqual([expect.objectContaining({ organizationId, database: 'shared' })]);

    const owner = await userByEmail(body.owner.email);
    expect(owner).toMatchObject({ id: created.owner.id, name: body.owner.name, emailVerifiedAt: null });
    expect(owner?.isPlatformAdmin).toBe(false);
    expect(owner?.passwordHash).toMatch(/^scrypt\$/);

    // The owner is found with the owner role, with the owner's permissions.
    const [membership] = await db
      .select({ status: memberships.status, key: roles.key, permissions: roles.permissions })
      .from(memberships)
      .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
      .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, created.owner.id)));
    expect(membership).toEqual({
      status: 'active',
      key: 'owner',
      permissions: [...BUILT_IN_ROLES.owner.permissions],
    });

    const [audit] = await db.select().from(auditLogs).where(eq(auditLogs.organizationId, organizationId));
    expect(audit).toMatchObject({
      action: 'organization.created',
      actorType: 'user',
      actorUserId: created.owner.id,
      targetType: 'organization',
      targetId: organizationId,
      ip,
      metadata: { slug: body.slug, plan: 'starter', ownerUserId: created.owner.id, ownerAccount: 'new' },
    });

    // The verification email links to the new organization's host; only the token's hash is stored.
    const [message] = await mailbox(body.owner.email);
    expect(message?.subject).toBe(`Verify your email for ${body.name}`);
    const link = new URL(message?.links[0] ?? '');
    expect(`${link.origin}${link.pathname}`).toBe(`http://${body.slug}.localhost/verify-email`);
    const token = link.searchParams.get('token') ?? '';
    expect(token).toMatch(/^ev_[A-Za-z0-9_-]{43}$/);
    const [stored] = await db.select().from(userTokens).where(eq(userTokens.organizationId, organizationId));
    expect(stored).toMatchObject({ userId: created.owner.id, purpose: 'verify_email', usedAt: null });
    expect(stored?.tokenHash).toBe(await hashToken(token));
    const lifetime = (stored?.expiresAt.getTime() ?? 0) - Date.now();
    expect(lifetime).toBeGreaterThan(23.9 * 3600_000);
    expect(lifetime).toBeLessThanOrEqual(24 * 3600_000);

    // The new organization is served on its host at once.
    const ready = await request(`http://${body.slug}.localhost/health/ready`);
    expect(ready.status).toBe(200);
  });

  it('accepts the pro plan at sign-up', async () => {
    const body = signupBody({ plan: 'pro' });
    const response = await signup(body);
    expect(response.status).toBe(201);
    expect((await response.json<SignupResponse>()).organization.plan).toBe('pro');
    expect((await organizationBySlug(body.slug))?.plan).toBe('pro');
  });

  it('refuses the enterprise plan at sign-up with 400 (set by platform administrators)', async () => {
    const body = signupBody({ plan: 'enterprise' });
    const response = await signup(body);
    expect(response.status).toBe(400);
    const failure = await problem(response);
    expect(failure.code).toBe('validation_failed');
    expect(failure.errors?.map((error) => error.pointer)).toEqual(['/body/plan']);
    expect(await organizationBySlug(body.slug)).toBeUndefined();
  });

  it.each(['www', 'api', 'admin', 'support', 'billing', 'eventra', 'www2', 'xn--80ak6aa92e'])(
    'answers 409 for the reserved slug %s',
    async (slug) => {
      const body = signupBody({ slug });
      await expectConflict(await signup(body));
      expect(await userByEmail(body.owner.email)).toBeUndefined();
    },
  );

  it('answers 409 for a taken slug (the unique violation) and creates nothing', async () => {
    const taken = await createTenant();
    const body = signupBody({ slug: taken.organization.slug });
    await expectConflict(await signup(body));
    expect(await userByEmail(body.owner.email)).toBeUndefined();
    const [organization] = await database()
      .select()
      .from(organizations)
      .where(eq(organizations.slug, taken.organization.slug));
    expect(organization?.id).toBe(taken.organization.id);
    expect(organization?.name).toBe(taken.organization.name);
  });

  it('gives exactly one of two concurrent sign-ups of the same slug', async () => {
    const slug = signupBody().slug;
    const responses = await Promise.all([signup(signupBody({ slug })), signup(signupBody({ slug }))]);
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
    const rows = await database().select().from(organizations).where(eq(organizations.slug, slug));
    expect(rows).toHaveLength(1);
  });

  it.each([
    ['uppercase letters', 'Acme'],
    ['a leading hyphen', '-acme'],
    ['a trailing hyphen', 'acme-'],
    ['an underscore', 'ac_me'],
    ['a dot', 'ac.me'],
    ['64 characters', 'a'.repeat(64)],
    ['an empty string', ''],
    ['an injection', "acme'; drop table organizations;--"],
  ])('refuses a slug with %s with 400', async (_case, slug) => {
    const response = await signup(signupBody({ slug }));
    expect(response.status).toBe(400);
    const failure = await problem(response);
    expect(failure.code).toBe('validation_failed');
    expect(failure.errors?.some((error) => error.pointer === '/body/slug')).toBe(true);
  });

  it.each([
    ['status', { status: 'active' }],
    ['id', { id: '00000000-0000-4000-8000-000000000000' }],
    ['isPlatformAdmin', { isPlatformAdmin: true }],
    ['organizationId', { organizationId: '00000000-0000-4000-8000-000000000000' }],
  ])('refuses a body that tries to set %s with 400 and creates nothing', async (_field, extra) => {
    const body = { ...signupBody(), ...extra };
    const response = await signup(body);
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
    expect(await organizationBySlug(body.slug)).toBeUndefined();
    expect(await userByEmail(body.owner.email)).toBeUndefined();
  });

  it.each([
    ['isPlatformAdmin', { isPlatformAdmin: true }],
    ['emailVerified', { emailVerified: true }],
    ['role', { role: 'admin' }],
  ])('refuses an owner that tries to set %s with 400', async (_field, extra) => {
    const body = signupBody();
    const response = await signup({ ...body, owner: { ...body.owner, ...extra } });
    expect(response.status).toBe(400);
    expect(await userByEmail(body.owner.email)).toBeUndefined();
  });

  it.each([
    ['too short', 'short1'],
    ['too common', 'password123'],
    ['too long', 'x'.repeat(129)],
    ['only whitespace', ' '.repeat(12)],
  ])('refuses an owner password that is %s with 400', async (_case, password) => {
    const body = signupBody();
    const response = await signup({ ...body, owner: { ...body.owner, password } });
    expect(response.status).toBe(400);
    const failure = await problem(response);
    expect(failure.errors?.map((error) => error.pointer)).toEqual(['/body/owner/password']);
    expect(await organizationBySlug(body.slug)).toBeUndefined();
  });

  it('refuses an owner password built from the new organization’s name, naming the field', async () => {
    const body = signupBody({ name: 'Riverside Festival' });
    const response = await signup({ ...body, owner: { ...body.owner, password: 'Riverside-Festival-2026' } });
    expect(response.status).toBe(400);
    const failure = await problem(response);
    expect(failure.errors?.[0]).toMatchObject({
      pointer: '/body/owner/password',
      message: expect.stringContaining('organization’s or product’s name') as unknown,
    });
    expect(await organizationBySlug(body.slug)).toBeUndefined();
  });

  it('refuses a megabyte password cheaply, before any hashing', async () => {
    const body = signupBody();
    const started = Date.now();
    const response = await signup({ ...body, owner: { ...body.owner, password: 'x'.repeat(1_000_000) } });
    expect(response.status).toBe(400);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses malformed JSON with 400 and a wrong content type with 415', async () => {
    const broken = await request(`${PLATFORM}/api/v1/organizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
      body: '{"name": ',
    });
    expect(broken.status).toBe(400);
    expect((await problem(broken)).code).toBe('invalid_json');
    const text = await request(`${PLATFORM}/api/v1/organizations`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'cf-connecting-ip': randomIp() },
      body: JSON.stringify(signupBody()),
    });
    expect(text.status).toBe(415);
  });

  it('stores the owner email lowercased', async () => {
    const body = signupBody();
    const mixed = body.owner.email.replace('owner', 'Owner').toUpperCase();
    const response = await signup({ ...body, owner: { ...body.owner, email: mixed } });
    expect(response.status).toBe(201);
    expect((await response.json<SignupResponse>()).owner.email).toBe(body.owner.email);
    expect((await userByEmail(body.owner.email))?.email).toBe(body.owner.email);
  });

  it('answers an existing email with a wrong password with the same 409 as any conflict, and creates nothing', async () => {
    const tenant = await createTenant();
    const existing = await createMember(tenant, 'member');
    const body = signupBody();
    const response = await signup({ ...body, owner: { ...body.owner, email: existing.email } });
    await expectConflict(response);
    expect(await organizationBySlug(body.slug)).toBeUndefined();
    expect((await userByEmail(existing.email))?.id).toBe(existing.userId);
  });

  it('answers an invited account without a password with the same 409', async () => {
    const email = `invited-${crypto.randomUUID().slice(0, 8)}@signup.test`;
    await database().insert(users).values({ email, name: 'Invited' });
    const body = signupBody();
    await expectConflict(await signup({ ...body, owner: { ...body.owner, email } }));
    expect(await organizationBySlug(body.slug)).toBeUndefined();
  });

  it("adds the organization to an existing account when the body carries that account's password", async () => {
    const tenant = await createTenant();
    const existing = await createMember(tenant, 'member');
    const before = await userByEmail(existing.email);
    const body = signupBody();
    const response = await signup({
      ...body,
      owner: { email: existing.email, password: TEST_PASSWORD, name: 'Someone Else' },
    });
    expect(response.status).toBe(201);
    const created = await response.json<SignupResponse>();
    expect(created.owner).toEqual({
      id: existing.userId,
      email: existing.email,
      name: before?.name,
      emailVerified: true,
      role: 'owner',
    });
    // No new account, no change to it; the owner membership is in the new organization.
    const after = await userByEmail(existing.email);
    expect(after).toEqual(before);
    const rows = await database()
      .select({ organizationId: memberships.organizationId, key: roles.key })
      .from(memberships)
      .innerJoin(roles, and(eq(roles.organizationId, memberships.organizationId), eq(roles.id, memberships.roleId)))
      .where(eq(memberships.userId, existing.userId));
    expect(rows).toEqual(
      expect.arrayContaining([
        { organizationId: tenant.organization.id, key: 'member' },
        { organizationId: created.organization.id, key: 'owner' },
      ]),
    );
    // Already verified: no verification token.
    const tokens = await database()
      .select()
      .from(userTokens)
      .where(eq(userTokens.organizationId, created.organization.id));
    expect(tokens).toEqual([]);
    const [audit] = await database()
      .select()
      .from(auditLogs)
      .where(eq(auditLogs.organizationId, created.organization.id));
    expect(audit?.metadata).toMatchObject({ ownerAccount: 'existing' });
  });

  it('sends a verification email to an existing account that is not verified yet', async () => {
    const tenant = await createTenant();
    const existing = await createMember(tenant, 'member', { emailVerified: false });
    const body = signupBody();
    const response = await signup({
      ...body,
      owner: { ...body.owner, email: existing.email, password: TEST_PASSWORD },
    });
    expect(response.status).toBe(201);
    const created = await response.json<SignupResponse>();
    expect(created.owner.emailVerified).toBe(false);
    const messages = await mailbox(existing.email);
    expect(messages.at(-1)?.links[0]).toContain(`http://${body.slug}.localhost/verify-email?token=ev_`);
  });

  it('limits sign-ups per client IP: the sixth attempt in an hour answers 429', async () => {
    const ip = randomIp();
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await expectConflict(await signup(signupBody({ slug: 'www' }), ip));
    }
    const limited = await signup(signupBody(), ip);
    expect(limited.status).toBe(429);
    expect((await problem(limited)).code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit-policy')).toBe('"signup-ip";q=5;w=3600');
    // Another client is not affected.
    expect((await signup(signupBody({ slug: 'www' }), randomIp())).status).toBe(409);
  });

  it('limits sign-ups per owner email across IPs (password guessing of an existing account)', async () => {
    const tenant = await createTenant();
    const existing = await createMember(tenant, 'member');
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const body = signupBody();
      await expectConflict(await signup({ ...body, owner: { ...body.owner, email: existing.email } }));
    }
    const body = signupBody();
    const limited = await signup({ ...body, owner: { ...body.owner, email: existing.email, password: TEST_PASSWORD } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-policy')).toBe('"signup-email";q=5;w=3600');
    expect(await organizationBySlug(body.slug)).toBeUndefined();
  });

  it('answers 404 on an organization host, like an unknown path', async () => {
    const tenant = await createTenant();
    const body = signupBody();
    const response = await request(tenant.url('/api/v1/organizations'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(404);
    expect((await problem(response)).detail).toBe('No such resource.');
    expect(await organizationBySlug(body.slug)).toBeUndefined();
  });

  it('stores a password hash for a new owner that verifies the chosen password', async () => {
    const body = signupBody();
    expect((await signup(body)).status).toBe(201);
    const owner = await userByEmail(body.owner.email);
    expect((await verifyPassword(OWNER_PASSWORD, owner?.passwordHash ?? '')).valid).toBe(true);
  });

  it.skipIf(inject('faultWorkerVars') === null)(
    'fails closed with 503 when the rate limiter cannot be reached, and creates nothing',
    async () => {
      const body = signupBody();
      const ctx = createExecutionContext();
      const response = await withFaultStack(async () => {
        await setFault('redis', 'down');
        const answer = await worker.fetch(
          new Request(`${PLATFORM}/api/v1/organizations`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
            body: JSON.stringify(body),
          }),
          { ...(env as unknown as Record<string, unknown>), ...inject('faultWorkerVars') },
          ctx,
        );
        await waitOnExecutionContext(ctx);
        return answer;
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect((await problem(response)).code).toBe('service_unavailable');
      expect(await organizationBySlug(body.slug)).toBeUndefined();
    },
  );
});
