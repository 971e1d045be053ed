import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import { memberships, refreshTokens, roles, users, userTokens } from '../../src/db/schema/index.ts';
import type { RegisterResponse } from '../../src/routes/auth/register.ts';
import { hashToken } from '../../src/services/auth/tokens.ts';
import {
  auditRows,
  claimsOf,
  linkToken,
  mailbox,
  post,
  randomEmail,
  randomIp,
  userRow,
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
  policyHash,
} from '../support/harness.ts';

const PASSWORD = 'violet anchor meadow';

async function membershipOf(organizationId: string, userId: string) {
  const [row] = await database()
    .select({ status: memberships.status, role: roles.key })
    .from(memberships)
    .innerJoin(roles, eq(roles.id, memberships.roleId))
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
  return row;
}

describe('POST /api/v1/auth/register', () => {
  it('signs a new user up as a member, signs them in and sends a verification link', async () => {
    const tenant = await createTenant({
      branding: {
        displayName: 'Acme Tickets',
        emailSenderName: 'Acme',
        primaryColor: '#112233',
        logoUrl: 'https://cdn.example/logo.png',
      },
    });
    const email = randomEmail(tenant);
    const response = await post(tenant.url('/api/v1/auth/register'), {
      email,
      password: PASSWORD,
      name: 'Ada Lovelace',
    });
    expect(response.status).toBe(201);
    const text = await response.text();
    expect(text).not.toContain('scrypt$');
    expect(text).not.toMatch(/passwordHash|tokenHash/);
    const body = JSON.parse(text) as RegisterResponse;
    expect(body).toMatchObject({
      user: { email, name: 'Ada Lovelace', emailVerified: false, locale: 'en', preferences: {} },
      expiresIn: 900,
      tokenType: 'Bearer',
    });
    expect(body.refreshToken).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);

    const user = await userRow(email);
    expect(user.id).toBe(body.user.id);
    expect(user.passwordHash).toMatch(policyHash());
    expect(user.emailVerifiedAt).toBeNull();
    expect(body.user.createdAt).toBe(user.createdAt.toISOString());
    expect(await membershipOf(tenant.organization.id, user.id)).toEqual({ status: 'active', role: 'member' });

    const claims = claimsOf(body.accessToken);
    expect(claims).toMatchObject({ sub: user.id, org: tenant.organization.id, role: 'member', perms: [], ev: false });
    const [family] = await database()
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, await hashToken(body.refreshToken)));
    expect(family).toMatchObject({ organizationId: tenant.organization.id, userId: user.id, familyId: claims.sid });
    // 14 days unused, 30 days at most from sign-up.
    expect(family?.expiresAt.getTime()).toBeGreaterThan(Date.now() + 13 * 24 * 3600 * 1000);
    expect(family?.sessionExpiresAt.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3600 * 1000);

    const message = await waitForMail(email);
    expect(message.subject).toBe('Verify your email for Acme Tickets');
    expect(message.fromName).toBe('Acme');
    expect(message.html).toContain('#112233');
    const token = linkToken(message);
    expect(message.links[0]).toBe(`http://${tenant.host}/verify-email?token=${token}`);
    expect(token).toMatch(/^ev_/);
    const [stored] = await database().select().from(userTokens).where(eq(userTokens.userId, user.id));
    expect(stored).toMatchObject({ purpose: 'verify_email', tokenHash: await hashToken(token), usedAt: null });
    const lifetime = (stored?.expiresAt.getTime() ?? 0) - (stored?.createdAt.getTime() ?? 0);
    expect(Math.abs(lifetime - 24 * 3600 * 1000)).toBeLessThan(1000);

    const [audit] = await auditRows(tenant.organization.id, 'auth.register');
    expect(audit).toMatchObject({ actorType: 'user', actorUserId: user.id, targetId: user.id });
    expect(audit?.metadata).toEqual({ existingAccount: false, sessionId: claims.sid });

    const me = await request(tenant.url('/api/v1/auth/me'), { headers: bearer(body.accessToken) });
    expect(me.status).toBe(200);
  });

  it('stores the address trimmed and lowercased, and brands emails with the organization name by default', async () => {
    const tenant = await createTenant();
    const email = randomEmail(tenant);
    const response = await post(tenant.url('/api/v1/auth/register'), {
      email: `  ${email.toUpperCase()} `,
      password: PASSWORD,
      name: '  Grace  ',
    });
    expect(response.status).toBe(201);
    const body: RegisterResponse = await response.json();
    expect(body.user).toMatchObject({ email, name: 'Grace' });
    expect((await userRow(email)).email).toBe(email);
    const message = await waitForMail(email);
    expect(message.subject).toBe(`Verify your email for ${tenant.organization.name}`);
    expect(message.fromName).toBe(tenant.organization.name);
  });

  it('answers the same 409 for a member here and for an account elsewhere with another password', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const member = await createMember(tenant, 'organizer');
    const outsider = await createMember(elsewhere, 'member');
    const requestId = newRequestId();
    const headers = { 'x-request-id': requestId };

    const asMember = await post(
      tenant.url('/api/v1/auth/register'),
      { email: member.email, password: TEST_PASSWORD, name: 'X' },
      headers,
    );
    const asOutsider = await post(
      tenant.url('/api/v1/auth/register'),
      { email: outsider.email, password: PASSWORD, name: 'X' },
      headers,
    );
    expect(asMember.status).toBe(409);
    expect(asOutsider.status).toBe(409);
    const memberText = await answerText(asMember);
    expect(await answerText(asOutsider)).toBe(memberText);
    const conflict = JSON.parse(memberText) as { code: string; detail: string };
    expect(conflict.code).toBe('conflict');
    expect(conflict.detail).toContain('Sign in instead');

    expect(await membershipOf(tenant.organization.id, outsider.userId)).toBeUndefined();
    expect(await membershipOf(tenant.organization.id, member.userId)).toEqual({ status: 'active', role: 'organizer' });
  });

  it('answers 409 for an invited member, who accepts the invitation instead', async () => {
    const tenant = await createTenant();
    const invited = await createMember(tenant, 'staff', { status: 'invited' });
    const response = await post(tenant.url('/api/v1/auth/register'), {
      email: invited.email,
      password: PASSWORD,
      name: 'X',
    });
    expect(response.status).toBe(409);
    expect(await membershipOf(tenant.organization.id, invited.userId)).toEqual({ status: 'invited', role: 'staff' });
  });

  it('lets an account of another organization join with its own password, keeping its identity', async () => {
    const tenant = await createTenant();
    const elsewhere = await createTenant();
    const outsider = await createMember(elsewhere, 'admin');
    const before = await userRow(outsider.email);
    const response = await post(tenant.url('/api/v1/auth/register'), {
      email: outsider.email,
      password: TEST_PASSWORD,
      name: 'Another Name',
    });
    expect(response.status).toBe(201);
    const body: RegisterResponse = await response.json();
    expect(body.user).toMatchObject({ id: outsider.userId, name: before.name, emailVerified: true });
    expect(claimsOf(body.accessToken)).toMatchObject({ org: tenant.organization.id, role: 'member', ev: true });
    expect(await membershipOf(tenant.organization.id, outsider.userId)).toEqual({ status: 'active', role: 'member' });
    expect(await membershipOf(elsewhere.organization.id, outsider.userId)).toEqual({ status: 'active', role: 'admin' });
    const after = await userRow(outsider.email);
    expect(after.passwordHash).toBe(before.passwordHash);
    expect(after.name).toBe(before.name);
    const [audit] = await auditRows(tenant.organization.id, 'auth.register');
    expect(audit?.metadata).toMatchObject({ existingAccount: true });
    // Verified already: no verification token, no email.
    const tokens = await database()
      .select()
      .from(userTokens)
      .where(and(eq(userTokens.organizationId, tenant.organization.id), eq(userTokens.userId, outsider.userId)));
    expect(tokens).toEqual([]);
    expect(await mailbox(outsider.email)).toEqual([]);
  });

  it('sends a joining account that is not verified yet a verification link', async () => {
    const tenant = await createTenant();
    const outsider = await createMember(await createTenant(), 'member', { emailVerified: false });
    const response = await post(tenant.url('/api/v1/auth/register'), {
      email: outsider.email,
      password: TEST_PASSWORD,
      name: 'X',
    });
    expect(response.status).toBe(201);
    const message = await waitForMail(outsider.email);
    const [stored] = await database()
      .select()
      .from(userTokens)
      .where(and(eq(userTokens.organizationId, tenant.organization.id), eq(userTokens.userId, outsider.userId)));
    expect(stored?.tokenHash).toBe(await hashToken(linkToken(message)));
  });

  it('refuses role, emailVerified, organizationId and ids in the body (mass assignment), creating nothing', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    for (const extra of [
      { role: 'owner' },
      { emailVerified: true },
      { organizationId: other.organization.id },
      { id: crypto.randomUUID() },
      { isPlatformAdmin: true },
    ]) {
      const email = randomEmail(tenant);
      const response = await post(tenant.url('/api/v1/auth/register'), {
        email,
        password: PASSWORD,
        name: 'X',
        ...extra,
      });
      expect(response.status).toBe(400);
      const body = await problem(response);
      expect(body.code).toBe('validation_failed');
      expect(body.errors?.[0]?.pointer).toBe('/body');
      expect(body.errors?.[0]?.message).toContain(Object.keys(extra)[0]);
      expect(await database().select().from(users).where(eq(users.email, email))).toEqual([]);
    }
  });

  it('enforces the password policy before hashing, and refuses a 1 MB password quickly', async () => {
    const tenant = await createTenant();
    const cases: [string, string][] = [
      ['short1!', 'at least 8'],
      ['password123', 'too common'],
      ['x'.repeat(129), 'at most 128'],
      ['y'.repeat(600), 'at most 128'],
      ['z'.repeat(1_000_000), 'Too big'],
    ];
    for (const [password, message] of cases) {
      const email = randomEmail(tenant);
      const started = Date.now();
      const response = await post(tenant.url('/api/v1/auth/register'), { email, password, name: 'X' });
      expect(response.status).toBe(400);
      expect(Date.now() - started).toBeLessThan(1000);
      const body = await problem(response);
      expect(body.errors?.[0]).toMatchObject({ pointer: '/body/password' });
      expect(body.errors?.[0]?.message).toContain(message);
      expect(await database().select().from(users).where(eq(users.email, email))).toEqual([]);
    }
    const tooLarge = await post(tenant.url('/api/v1/auth/register'), {
      email: randomEmail(tenant),
      password: 'p'.repeat(1_100_000),
      name: 'X',
    });
    expect(tooLarge.status).toBe(413);
  });

  it('refuses whitespace, weak passwords and passwords built from the account, organization or product name', async () => {
    const tenant = await createTenant({ name: 'Harborview Concerts' });
    const email = `ada.lovelace.${crypto.randomUUID().slice(0, 8)}@example.com`;
    const local = email.split('@')[0] ?? '';
    const cases: [string, string][] = [
      [' \t \t \t \t ', 'only whitespace'],
      ['aaaaaaaaaaaa', 'Repeated characters'],
      ['kx7#qz9!', 'too easy to guess'],
      [email, 'contains your email address'],
      [`${local}!!`, 'your email address'],
      ['Lovelace-Ada-2026', 'built from your email address, your name'],
      ['harborview-concerts-2026', 'organization’s or product’s name'],
      [`${tenant.organization.slug}!!2026`, 'organization’s or product’s name'],
      ['Eventra!Harborview!2026', 'organization’s or product’s name'],
    ];
    for (const [password, message] of cases) {
      const response = await post(tenant.url('/api/v1/auth/register'), { email, password, name: 'Ada Lovelace' });
      expect(response.status, password).toBe(400);
      const body = await problem(response);
      expect(body.errors?.[0]).toMatchObject({ pointer: '/body/password' });
      expect(body.errors?.[0]?.message).toContain(message);
    }
    expect(await database().select().from(users).where(eq(users.email, email))).toEqual([]);
    // The organization's name among uncommon words: what is left once it is taken out is still strong.
    const strong = await post(tenant.url('/api/v1/auth/register'), {
      email,
      password: 'Harborview lantern quarry 2026',
      name: 'Ada Lovelace',
    });
    expect(strong.status).toBe(201);
  });

  it('accepts a 128-character password and counts characters, not UTF-16 units', async () => {
    const tenant = await createTenant();
    const long = await post(tenant.url('/api/v1/auth/register'), {
      email: randomEmail(tenant),
      password: 'velvet quarry whistles at dawn; '.repeat(4),
      name: 'X',
    });
    expect(long.status).toBe(201);
    // 100 characters, 200 UTF-16 units: within the policy.
    const emoji = await post(tenant.url('/api/v1/auth/register'), {
      email: randomEmail(tenant),
      password: Array.from({ length: 100 }, (_, index) => String.fromCodePoint(0x1f300 + ((index * 37) % 200))).join(
        '',
      ),
      name: 'X',
    });
    expect(emoji.status).toBe(201);
  });

  it('refuses malformed addresses and names with 400 and field pointers', async () => {
    const tenant = await createTenant();
    const cases = [
      [{ email: 'not-an-email', password: PASSWORD, name: 'X' }, '/body/email'],
      [{ email: randomEmail(tenant), password: PASSWORD, name: '' }, '/body/name'],
      [{ email: randomEmail(tenant), password: PASSWORD, name: 'a\u0000b' }, '/body/name'],
      [{ email: randomEmail(tenant), password: PASSWORD, name: 'n'.repeat(201) }, '/body/name'],
      [{ email: randomEmail(tenant), name: 'X' }, '/body/password'],
    ] as const;
    for (const [body, pointer] of cases) {
      const response = await post(tenant.url('/api/v1/auth/register'), body);
      expect(response.status).toBe(400);
      expect((await problem(response)).errors?.map((error) => error.pointer)).toContain(pointer);
    }
    const malformed = await post(tenant.url('/api/v1/auth/register'), '{"email":');
    expect(malformed.status).toBe(400);
  });

  it('answers 404 on the platform host', async () => {
    const response = await post('http://localhost/api/v1/auth/register', {
      email: randomEmail(),
      password: PASSWORD,
      name: 'X',
    });
    expect(response.status).toBe(404);
  });

  it('lets exactly one of several concurrent sign-ups with one address win, the others get the 409', async () => {
    const tenant = await createTenant();
    const email = randomEmail(tenant);
    const responses = await Promise.all(
      [1, 2, 3, 4].map(() => post(tenant.url('/api/v1/auth/register'), { email, password: PASSWORD, name: 'X' })),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409, 409, 409]);
    const conflicts = responses.filter((response) => response.status === 409);
    const details = await Promise.all(conflicts.map(async (response) => (await problem(response)).detail));
    // Whether a loser saw the winner's row or lost on the unique key, it gets the same answer.
    expect(new Set(details).size).toBe(1);
    expect(await database().select().from(users).where(eq(users.email, email))).toHaveLength(1);
  });

  it('answers an opaque 500 when the organization lacks its member role, leaking no SQL and creating nothing', async () => {
    const tenant = await createTenant();
    await database()
      .delete(roles)
      .where(and(eq(roles.organizationId, tenant.organization.id), eq(roles.key, 'member')));
    const email = randomEmail(tenant);
    const response = await post(tenant.url('/api/v1/auth/register'), { email, password: PASSWORD, name: 'X' });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toMatch(/role_id|null value|insert|select/i);
    expect(await database().select().from(users).where(eq(users.email, email))).toEqual([]);
  });
});

describe('the common-password list (a static asset read on the first password check)', () => {
  const realAssets = (env as unknown as { ASSETS: Fetcher }).ASSETS;

  /** The Worker with its ASSETS binding replaced (or removed, for undefined). */
  async function registerWith(
    assets: Fetcher | undefined,
    url: string,
    password: string,
    email = `list.${crypto.randomUUID()}@example.com`,
  ): Promise<Response> {
    const bindings: Record<string, unknown> = { ...(env as unknown as Record<string, unknown>), ASSETS: assets };
    if (assets === undefined) delete bindings.ASSETS;
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
        body: JSON.stringify({ email, password, name: 'X' }),
      }),
      bindings,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return response;
  }

  /** A binding that answers the list's path with `answer` (or the real asset once `answer` is null), counting reads. */
  function fakeAssets(answer: () => Response | null): Fetcher & { reads: number } {
    const fake = {
      reads: 0,
      async fetch(input: RequestInfo | URL): Promise<Response> {
        fake.reads += 1;
        return answer() ?? realAssets.fetch(input);
      },
      connect(): never {
        throw new Error('not used');
      },
    };
    return fake;
  }

  it('is published to the Worker through the binding only, not to clients', async () => {
    const asset = await realAssets.fetch('https://assets.invalid/_internal/common-passwords.json');
    expect(asset.status).toBe(200);
    const list = await asset.json<string[]>();
    expect(list).toContain('password123');
    const tenant = await createTenant();
    const response = await request(tenant.url('/_internal/common-passwords.json'));
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('password123');
  });

  it('fails closed: 503 while the list cannot be read, never a password accepted unchecked', async () => {
    const tenant = await createTenant();
    const url = tenant.url('/api/v1/auth/register');
    const answers = [
      new Response('gone', { status: 500 }),
      Response.json({ passwords: [] }),
      Response.json([]),
      Response.json(['fine', 42]),
    ];
    const broken = fakeAssets(() => answers.shift() ?? null);
    const email = randomEmail(tenant);
    for (const assets of [undefined, broken, broken, broken, broken]) {
      const response = await registerWith(assets, url, PASSWORD, email);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect((await problem(response)).code).toBe('service_unavailable');
    }
    expect(await database().select().from(users).where(eq(users.email, email))).toEqual([]);
    // A failed read is not kept: once the asset answers, the next check reads it (once) and applies it.
    expect(broken.reads).toBe(4);
    const common = await registerWith(broken, url, 'password123');
    expect(common.status).toBe(400);
    expect((await problem(common)).errors?.[0]?.message).toContain('too common');
    expect((await registerWith(broken, url, PASSWORD)).status).toBe(201);
    expect(broken.reads).toBe(5);
  });

  it('a too-short password is refused without the list', async () => {
    const tenant = await createTenant();
    const response = await registerWith(undefined, tenant.url('/api/v1/auth/register'), 'short1!');
    expect(response.status).toBe(400);
    expect((await problem(response)).errors?.[0]?.message).toContain('at least 8');
  });
});
