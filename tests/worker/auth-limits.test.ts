import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import { AUTH_LIMITS } from '../../src/services/auth/limits.ts';
import { generateOpaqueToken } from '../../src/services/auth/tokens.ts';
import { loginAs, post, randomEmail, randomIp, waitForMail } from '../support/auth.ts';
import {
  bearer,
  createMember,
  createTenant,
  problem,
  request,
  TEST_PASSWORD,
  tokenFor,
  type TestTenant,
} from '../support/harness.ts';
import { signup, signupBody } from '../support/organizations.ts';
import { awayFromWindowEdge } from '../support/plans.ts';

/** The sign-in limits' fixed window (15 minutes), so a test's attempts land in one window. */
const LOGIN_WINDOW_MS = 15 * 60_000;

/** Sends `count` requests and returns their statuses. Sequential: the buckets count in order. */
async function statuses(count: number, send: (index: number) => Promise<Response>): Promise<number[]> {
  const result: number[] = [];
  for (let index = 0; index < count; index++) result.push((await send(index)).status);
  return result;
}

async function expectLimited(response: Response, rule: { name: string; limit: number }): Promise<void> {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(3600);
  expect(response.headers.get('ratelimit-policy')).toContain(`"${rule.name}";q=${rule.limit}`);
  expect(response.headers.get('ratelimit')).toContain(`"${rule.name}";r=0`);
  const body = await problem(response);
  expect(body.code).toBe('rate_limited');
}

function login(
  tenant: TestTenant,
  email: string,
  password: string,
  headers: Record<string, string>,
  ip: string | null,
) {
  return post(tenant.url('/api/v1/auth/login'), { email, password }, headers, ip);
}

// Each test may first wait out a window edge (up to 30 s, `awayFromWindowEdge`) and then signs in a few dozen times
// (scrypt): the default 30 s would time out whenever a run straddles a quarter hour.
describe('authentication rate limits', { timeout: 90_000 }, () => {
  it('limits sign-in attempts per client address, whatever X-Forwarded-For says', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const ip = randomIp();
    const rule = AUTH_LIMITS.loginClient;
    const answers = await statuses(rule.limit, (index) =>
      login(tenant, randomEmail(tenant), 'wrong password', { 'x-forwarded-for': `198.51.100.${index}` }, ip),
    );
    expect(answers).toEqual(Array.from({ length: rule.limit }, () => 401));
    await expectLimited(
      await login(tenant, randomEmail(tenant), 'wrong password', { 'x-forwarded-for': randomIp() }, ip),
      rule,
    );
    // Another client is not affected.
    const member = await createMember(tenant, 'member');
    expect((await login(tenant, member.email, TEST_PASSWORD, {}, randomIp())).status).toBe(200);
  });

  it('puts requests without CF-Connecting-IP in one bucket per host, never one chosen by X-Forwarded-For', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const rule = AUTH_LIMITS.loginClient;
    await statuses(rule.limit, (index) =>
      login(tenant, randomEmail(tenant), 'wrong password', { 'x-forwarded-for': `203.0.113.${index}` }, null),
    );
    await expectLimited(
      await login(tenant, randomEmail(tenant), 'wrong password', { 'x-forwarded-for': '192.0.2.1' }, null),
      rule,
    );
  });

  it('limits sign-in attempts per account across client addresses, the right password included', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const other = await createMember(tenant, 'member');
    const rule = AUTH_LIMITS.loginAccount;
    const answers = await statuses(rule.limit, () => login(tenant, member.email, 'wrong password', {}, randomIp()));
    expect(answers).toEqual(Array.from({ length: rule.limit }, () => 401));
    await expectLimited(await login(tenant, member.email.toUpperCase(), TEST_PASSWORD, {}, randomIp()), rule);
    expect((await login(tenant, other.email, TEST_PASSWORD, {}, randomIp())).status).toBe(200);
  });

  it('does not count successful sign-ins against the account limit, only failed ones', async () => {
    await awayFromWindowEdge(30_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const rule = AUTH_LIMITS.loginAccount;
    // One person on many devices: more sign-ins than the limit, all fine.
    const successes = await statuses(rule.limit + 5, () => login(tenant, member.email, TEST_PASSWORD, {}, randomIp()));
    expect(successes).toEqual(Array.from({ length: rule.limit + 5 }, () => 200));
    // Failures still fill the bucket, and then even the right password waits.
    const failures = await statuses(rule.limit, () => login(tenant, member.email, 'wrong password', {}, randomIp()));
    expect(failures).toEqual(Array.from({ length: rule.limit }, () => 401));
    await expectLimited(await login(tenant, member.email, TEST_PASSWORD, {}, randomIp()), rule);
  });

  it('bounds concurrent guesses at the account limit', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const rule = AUTH_LIMITS.loginAccount;
    const answers = await Promise.all(
      Array.from({ length: rule.limit + 5 }, () => login(tenant, member.email, 'wrong password', {}, randomIp())),
    );
    const counts = answers.map((response) => response.status).sort();
    // Exactly `limit` guesses reach the password check. The others are refused: 429, or 503 when the limiter's answer
    // reached the isolate after its deadline (the isolate runs the admitted guesses' scrypt one after the other, and
    // the login limits fail closed) — a refusal either way, and never a password check.
    expect(counts.slice(0, rule.limit)).toEqual(Array.from({ length: rule.limit }, () => 401));
    expect(counts.slice(rule.limit)).toHaveLength(5);
    for (const status of counts.slice(rule.limit)) expect([429, 503]).toContain(status);
  });

  it('keeps counting a right password that is refused (no membership here), so the limit tells nothing', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const home = await createTenant();
    const away = await createTenant();
    const member = await createMember(home, 'member');
    const rule = AUTH_LIMITS.loginAccount;
    const answers = await statuses(rule.limit, () => login(away, member.email, TEST_PASSWORD, {}, randomIp()));
    expect(answers).toEqual(Array.from({ length: rule.limit }, () => 401));
    await expectLimited(await login(home, member.email, TEST_PASSWORD, {}, randomIp()), rule);
  });

  it('charges sign-ups that check an existing account’s password to that account’s sign-in limit', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const home = await createTenant();
    const away = await createTenant();
    const member = await createMember(home, 'member');
    const rule = AUTH_LIMITS.loginAccount;
    const register = (password: string) =>
      post(away.url('/api/v1/auth/register'), { email: member.email, password, name: 'Guesser' }, {}, randomIp());
    // Each from its own address: the per-address sign-up limit never comes into play.
    const guesses = await statuses(rule.limit, (index) => register(`not the password, guess ${index} of many`));
    expect(guesses).toEqual(Array.from({ length: rule.limit }, () => 409));
    await expectLimited(await register(TEST_PASSWORD), rule);
    await expectLimited(await login(home, member.email, TEST_PASSWORD, {}, randomIp()), rule);
  });

  it('charges every sign-up to the address’s account bucket, whether or not an account exists', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const email = randomEmail(tenant);
    const rule = AUTH_LIMITS.loginAccount;
    const register = (password: string) =>
      post(tenant.url('/api/v1/auth/register'), { email, password, name: 'New' }, {}, randomIp());
    expect(await statuses(rule.limit, () => register('short'))).toEqual(Array.from({ length: rule.limit }, () => 400));
    await expectLimited(await register(TEST_PASSWORD), rule);
  });

  it('charges organization sign-ups with an existing owner address to that account’s sign-in limit', async () => {
    await awayFromWindowEdge(15_000, LOGIN_WINDOW_MS);
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const rule = AUTH_LIMITS.loginAccount;
    await statuses(rule.limit, () => login(tenant, member.email, 'wrong password', {}, randomIp()));
    const body = signupBody();
    await expectLimited(
      await signup({ ...body, owner: { ...body.owner, email: member.email, password: TEST_PASSWORD } }),
      rule,
    );
    // A new owner address signs up as before (its unit given back afterwards).
    expect((await signup(signupBody())).status).toBe(201);
  });

  it('limits sign-ups per client address', async () => {
    const tenant = await createTenant();
    const ip = randomIp();
    const rule = AUTH_LIMITS.registerClient;
    const register = (headers: Record<string, string> = {}) =>
      post(
        tenant.url('/api/v1/auth/register'),
        { email: randomEmail(tenant), password: 'short', name: 'X' },
        headers,
        ip,
      );
    expect(await statuses(rule.limit, () => register())).toEqual(Array.from({ length: rule.limit }, () => 400));
    await expectLimited(await register({ 'x-forwarded-for': randomIp() }), rule);
  });

  it('limits reset requests per address asked about and per client address', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const account = AUTH_LIMITS.forgotAccount;
    const forgot = (email: string, ip: string) => post(tenant.url('/api/v1/auth/forgot-password'), { email }, {}, ip);
    expect(await statuses(account.limit, () => forgot(member.email, randomIp()))).toEqual(
      Array.from({ length: account.limit }, () => 202),
    );
    await expectLimited(await forgot(member.email, randomIp()), account);
    // Unknown addresses are limited the same way: the limit reveals nothing either.
    const unknown = randomEmail(tenant);
    await statuses(account.limit, () => forgot(unknown, randomIp()));
    await expectLimited(await forgot(unknown, randomIp()), account);

    const client = AUTH_LIMITS.forgotClient;
    const ip = randomIp();
    expect(await statuses(client.limit, () => forgot(randomEmail(tenant), ip))).toEqual(
      Array.from({ length: client.limit }, () => 202),
    );
    await expectLimited(await forgot(randomEmail(tenant), ip), client);
    await waitForMail(member.email, account.limit);
  });

  it('limits password resets and email verifications per client address', async () => {
    const tenant = await createTenant();
    const ip = randomIp();
    const reset = AUTH_LIMITS.resetClient;
    const resetOnce = () =>
      post(tenant.url('/api/v1/auth/reset-password'), { token: 'guess', password: 'a long passphrase' }, {}, ip);
    expect(await statuses(reset.limit, resetOnce)).toEqual(Array.from({ length: reset.limit }, () => 400));
    await expectLimited(await resetOnce(), reset);

    const verify = AUTH_LIMITS.verifyClient;
    const verifyOnce = () =>
      post(tenant.url('/api/v1/auth/verify-email'), { token: generateOpaqueToken('ev') }, {}, ip);
    expect(await statuses(verify.limit, verifyOnce)).toEqual(Array.from({ length: verify.limit }, () => 400));
    await expectLimited(await verifyOnce(), verify);
  });

  it('limits verification emails per user', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member', { emailVerified: false });
    const session = await loginAs(tenant, member);
    const rule = AUTH_LIMITS.resendAccount;
    const resend = () =>
      request(tenant.url('/api/v1/auth/resend-verification'), {
        method: 'POST',
        headers: bearer(session.accessToken, { 'cf-connecting-ip': randomIp() }),
      });
    expect(await statuses(rule.limit, resend)).toEqual(Array.from({ length: rule.limit }, () => 202));
    await expectLimited(await resend(), rule);
    await waitForMail(member.email, rule.limit);
  });
});

describe('authentication while Redis is down', () => {
  // The same Worker with its Upstash URL pointing at a closed port: every Redis call fails.
  async function callWithoutRedis(url: string, init?: RequestInit): Promise<Response> {
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(url, init),
      { ...(env as unknown as Record<string, unknown>), UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return response;
  }

  it('refuses limited operations with 503 (fail closed) and authenticated requests with 503', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const json = (body: unknown) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
      body: JSON.stringify(body),
    });
    const calls: [string, unknown][] = [
      ['/api/v1/auth/login', { email: member.email, password: TEST_PASSWORD }],
      ['/api/v1/auth/register', { email: randomEmail(tenant), password: TEST_PASSWORD, name: 'X' }],
      ['/api/v1/auth/forgot-password', { email: member.email }],
      ['/api/v1/auth/reset-password', { token: generateOpaqueToken('pr'), password: TEST_PASSWORD }],
      ['/api/v1/auth/verify-email', { token: generateOpaqueToken('ev') }],
    ];
    for (const [path, body] of calls) {
      const response = await callWithoutRedis(tenant.url(path), json(body));
      expect(response.status, path).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect((await problem(response)).detail).toBe('This operation is temporarily unavailable.');
    }
    const me = await callWithoutRedis(tenant.url('/api/v1/auth/me'), {
      headers: bearer(await tokenFor(tenant, member)),
    });
    expect(me.status).toBe(503);
    expect((await problem(me)).detail).toBe('Sessions cannot be checked right now.');
  });
});
