import { describe, expect, it } from 'vitest';
import type { OwnSessionListResponse } from '../../src/routes/auth/sessions.ts';
import { deviceLabel, sameDevice, UNKNOWN_DEVICE } from '../../src/services/auth/devices.ts';
import { notifyNewSignIn } from '../../src/services/auth/sign-in-notice.ts';
import type { EmailMessage } from '../../src/services/email/messages.ts';
import {
  auditRows,
  claimsOf,
  createPlatformAdmin,
  mailbox,
  platformLogin,
  poll,
  post,
  randomIp,
  waitForAudits,
  waitForPlatformAudits,
} from '../support/auth.ts';
import {
  appDatabase,
  createMember,
  createTenant,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestMember,
  type TestTenant,
} from '../support/harness.ts';
import { call } from '../support/users.ts';
import { recordingQueue } from '../support/webhooks.ts';

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_MAC = (version: number) =>
  `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${version}.0.0.0 Safari/537.36`;
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

// This file's client addresses, fresh per run: sign-ins are limited per address (30 in 15 minutes), and fixed
// addresses ran into the limit when the suite ran again within the window.
const HOME = randomIp();
const PHONE = randomIp();
const TRAVEL = randomIp();
const OFFICE = randomIp();
const CAFE = randomIp();
const HOTEL = randomIp();
const NEXT_DOOR = randomIp();

interface SignedIn {
  accessToken: string;
  refreshToken: string;
}

async function signIn(tenant: TestTenant, member: TestMember, userAgent: string, ip: string): Promise<SignedIn> {
  const response = await post(
    tenant.url('/api/v1/auth/login'),
    { email: member.email, password: member.password },
    { 'user-agent': userAgent },
    ip,
  );
  expect(response.status).toBe(200);
  return response.json();
}

function list(tenant: TestTenant, token: string, headers: Record<string, string> = {}) {
  return call(tenant, 'GET', '/api/v1/auth/sessions', { token, headers });
}

function revoke(tenant: TestTenant, token: string, id: string, headers: Record<string, string> = {}) {
  return call(tenant, 'DELETE', `/api/v1/auth/sessions/${id}`, { token, headers });
}

function me(tenant: TestTenant, token: string) {
  return call(tenant, 'GET', '/api/v1/auth/me', { token });
}

function refresh(tenant: TestTenant, refreshToken: string, userAgent?: string) {
  return post(
    tenant.url('/api/v1/auth/refresh-token'),
    { refreshToken },
    userAgent === undefined ? {} : { 'user-agent': userAgent },
  );
}

function sessionIdOf(token: string): string {
  return String(claimsOf(token).sid);
}

async function sessions(tenant: TestTenant, token: string) {
  const response = await list(tenant, token);
  expect(response.status).toBe(200);
  return (await response.json<OwnSessionListResponse>()).data;
}

describe('GET /api/v1/auth/sessions', () => {
  it('lists the live sessions with device, address and times, marks the current one and shows no token', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const laptop = await signIn(tenant, member, FIREFOX_WINDOWS, HOME);
    const phone = await signIn(tenant, member, SAFARI_IPHONE, PHONE);
    const requestId = newRequestId();
    const response = await list(tenant, laptop.accessToken, { 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 1 });
    const text = await response.text();
    expect(text).not.toContain(laptop.refreshToken);
    expect(text).not.toContain('rt_');
    const { data } = JSON.parse(text) as OwnSessionListResponse;
    expect(data).toHaveLength(2);
    const [newest, oldest] = data;
    expect(newest).toMatchObject({
      id: sessionIdOf(phone.accessToken),
      device: 'Safari on iPhone',
      userAgent: SAFARI_IPHONE,
      ip: PHONE,
      current: false,
    });
    expect(oldest).toMatchObject({
      id: sessionIdOf(laptop.accessToken),
      device: 'Firefox on Windows',
      ip: HOME,
      current: true,
    });
    for (const session of data) {
      expect(Date.parse(session.signedInAt)).toBeLessThanOrEqual(Date.parse(session.lastUsedAt));
      expect(Date.parse(session.expiresAt)).toBeGreaterThan(Date.now());
    }
  });

  it('keeps one entry per sign-in across refreshes, with the last use, agent and address of the newest', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const session = await signIn(tenant, member, CHROME_MAC(130), HOME);
    const [before] = await sessions(tenant, session.accessToken);
    const refreshed = await refresh(tenant, session.refreshToken, CHROME_MAC(131));
    expect(refreshed.status).toBe(200);
    const next = await refreshed.json<SignedIn>();
    const data = await sessions(tenant, next.accessToken);
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({
      id: before?.id,
      signedInAt: before?.signedInAt,
      userAgent: CHROME_MAC(131),
      device: 'Chrome on macOS',
      current: true,
    });
    expect(Date.parse(data[0]?.lastUsedAt ?? '')).toBeGreaterThan(Date.parse(before?.lastUsedAt ?? ''));
  });

  it('leaves out ended sessions, other users’ sessions and the sessions of other organizations', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const member = await createMember(tenant, 'member');
    await createMember(other, 'member', { email: member.email });
    const colleague = await createMember(tenant, 'member');
    const ended = await signIn(tenant, member, FIREFOX_WINDOWS, HOME);
    expect((await call(tenant, 'POST', '/api/v1/auth/logout', { token: ended.accessToken })).status).toBe(204);
    await signIn(tenant, colleague, FIREFOX_WINDOWS, OFFICE);
    await signIn(other, member, FIREFOX_WINDOWS, CAFE);
    const live = await signIn(tenant, member, SAFARI_IPHONE, HOTEL);
    const data = await sessions(tenant, live.accessToken);
    expect(data.map((session) => session.id)).toEqual([sessionIdOf(live.accessToken)]);
  });

  it('needs a signed-in user', async () => {
    const tenant = await createTenant();
    expect((await request(tenant.url('/api/v1/auth/sessions'))).status).toBe(401);
  });
});

describe('DELETE /api/v1/auth/sessions/{id}', () => {
  it('ends another of your sessions at once (refresh and access tokens), audited', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const mine = await signIn(tenant, member, FIREFOX_WINDOWS, HOME);
    const lost = await signIn(tenant, member, SAFARI_IPHONE, PHONE);
    const lostId = sessionIdOf(lost.accessToken);
    expect((await me(tenant, lost.accessToken)).status).toBe(200);
    const requestId = newRequestId();
    const response = await revoke(tenant, mine.accessToken, lostId, { 'x-request-id': requestId });
    expect(response.status).toBe(204);
    // Authentication, then the revocation after the database proved the session is the caller's.
    expect(await roundTrips(requestId)).toEqual({ database: 1, redis: 2 });
    expect((await me(tenant, lost.accessToken)).status).toBe(401);
    expect((await refresh(tenant, lost.refreshToken)).status).toBe(401);
    expect((await me(tenant, mine.accessToken)).status).toBe(200);
    expect((await sessions(tenant, mine.accessToken)).map((session) => session.id)).toEqual([
      sessionIdOf(mine.accessToken),
    ]);
    const [audit] = await auditRows(tenant.organization.id, 'auth.session_revoked');
    expect(audit).toMatchObject({ actorUserId: member.userId, targetId: member.userId });
    expect(audit?.metadata).toMatchObject({ sessionId: lostId, current: false });
    // Ended already: 404 now.
    expect((await revoke(tenant, mine.accessToken, lostId)).status).toBe(404);
  });

  it('ends the calling session too (a sign-out)', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const mine = await signIn(tenant, member, FIREFOX_WINDOWS, HOME);
    expect((await revoke(tenant, mine.accessToken, sessionIdOf(mine.accessToken))).status).toBe(204);
    expect((await me(tenant, mine.accessToken)).status).toBe(401);
    const [audit] = await auditRows(tenant.organization.id, 'auth.session_revoked');
    expect(audit?.metadata).toMatchObject({ current: true });
  });

  it('answers 404 for another user’s session, an unknown one, or one of another organization; nothing changes', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const member = await createMember(tenant, 'member');
    const colleague = await createMember(tenant, 'admin');
    await createMember(other, 'member', { email: member.email });
    const mine = await signIn(tenant, member, FIREFOX_WINDOWS, HOME);
    const theirs = await signIn(tenant, colleague, SAFARI_IPHONE, PHONE);
    const elsewhere = await signIn(other, member, SAFARI_IPHONE, TRAVEL);
    for (const id of [sessionIdOf(theirs.accessToken), sessionIdOf(elsewhere.accessToken), crypto.randomUUID()]) {
      const response = await revoke(tenant, mine.accessToken, id);
      expect(response.status).toBe(404);
      expect((await problem(response)).code).toBe('not_found');
    }
    expect((await me(tenant, theirs.accessToken)).status).toBe(200);
    expect((await refresh(tenant, theirs.refreshToken)).status).toBe(200);
    expect((await me(other, elsewhere.accessToken)).status).toBe(200);
    expect(await auditRows(tenant.organization.id, 'auth.session_revoked')).toHaveLength(0);
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const mine = await signIn(tenant, member, FIREFOX_WINDOWS, HOME);
    const response = await revoke(tenant, mine.accessToken, 'not-a-session');
    expect(response.status).toBe(400);
  });
});

describe('the "new sign-in" email', () => {
  const newSignIns = async (email: string) =>
    (await mailbox(email)).filter((message) => message.subject.startsWith('New sign-in'));

  it('is sent for a device the account has not used here before, not for a known one or a browser update', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    const first = await signIn(tenant, member, CHROME_MAC(130), HOME);
    await signIn(tenant, member, CHROME_MAC(130), NEXT_DOOR);
    await signIn(tenant, member, CHROME_MAC(131), HOME);
    await signIn(tenant, member, FIREFOX_WINDOWS, PHONE);
    await signIn(tenant, member, SAFARI_IPHONE, TRAVEL);
    await waitForAudits(tenant.organization.id, 'auth.login', 5);
    const notices = await poll(async () => {
      const found = await newSignIns(member.email);
      return found.length >= 2 ? found : undefined;
    }, 'two new sign-in emails');
    // Give any stray notice for the known devices time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await newSignIns(member.email)).toHaveLength(2);
    const devices = notices.map((message: EmailMessage) => /Device: (.*)/.exec(message.text)?.[1]).sort();
    expect(devices).toEqual(['Firefox on Windows', 'Safari on iPhone']);
    const [notice] = notices;
    expect(notice?.subject).toBe(`New sign-in to your Test ${tenant.organization.slug} account`);
    expect([`Address: ${PHONE}`, `Address: ${TRAVEL}`].some((line) => notice?.text.includes(line))).toBe(true);
    expect(notice?.text).not.toContain(first.refreshToken);
    expect(notice?.links).toEqual([]);
  });

  it('is not sent for the account’s first sign-in here, nor for platform sign-ins', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    await signIn(tenant, member, FIREFOX_WINDOWS, HOME);
    await waitForAudits(tenant.organization.id, 'auth.login');
    const admin = await createPlatformAdmin();
    await platformLogin(admin);
    await waitForPlatformAudits(admin.userId, 'auth.login');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await mailbox(member.email)).toHaveLength(0);
    expect(await mailbox(admin.email)).toHaveLength(0);
  });

  it('sends nothing for a platform sign-in or an account that is gone, and one message per session', async () => {
    const tenant = await createTenant();
    const member = await createMember(tenant, 'member');
    await signIn(tenant, member, FIREFOX_WINDOWS, HOME);
    const queue = recordingQueue();
    const bindings = { EMAIL_QUEUE: queue as unknown as Queue };
    const recorded = (userId: string) => ({
      userId,
      sessionId: crypto.randomUUID(),
      at: new Date().toISOString(),
      client: { ip: '198.51.100.1', userAgent: SAFARI_IPHONE },
    });
    await notifyNewSignIn(appDatabase(), bindings, null, recorded(member.userId));
    await notifyNewSignIn(appDatabase(), bindings, tenant.organization.id, recorded(crypto.randomUUID()));
    expect(queue.messages).toHaveLength(0);
    const fresh = recorded(member.userId);
    await notifyNewSignIn(appDatabase(), bindings, tenant.organization.id, fresh);
    expect(queue.messages.map((message) => message.id)).toEqual([`auth.new_sign_in:${fresh.sessionId}`]);
    expect(queue.messages[0]).toMatchObject({ type: 'email.send', organizationId: tenant.organization.id });
  });
});

describe('device labels', () => {
  it.each([
    [FIREFOX_WINDOWS, 'Firefox on Windows'],
    [CHROME_MAC(131), 'Chrome on macOS'],
    [SAFARI_IPHONE, 'Safari on iPhone'],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
      'Edge on Windows',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 OPR/85.0',
      'Opera on Android',
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36',
      'Samsung Internet on Android',
    ],
    [
      'Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1',
      'Chrome on iPad',
    ],
    [
      'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Chrome on ChromeOS',
    ],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox on Linux'],
    ['curl/8.5.0', 'curl'],
    ['Mozilla/5.0 (X11; Linux x86_64) SomeBrowser/1.0', 'Linux'],
    ['okhttp/4.12.0', UNKNOWN_DEVICE],
    [null, UNKNOWN_DEVICE],
  ])('labels %s as %s', (userAgent, label) => {
    expect(deviceLabel(userAgent)).toBe(label);
  });

  it('takes a browser update for the same device, an unknown agent only when it is the same', () => {
    expect(sameDevice(CHROME_MAC(130), CHROME_MAC(131))).toBe(true);
    expect(sameDevice(CHROME_MAC(130), FIREFOX_WINDOWS)).toBe(false);
    expect(sameDevice('okhttp/4.12.0', 'okhttp/4.12.0')).toBe(true);
    expect(sameDevice('okhttp/4.12.0', 'okhttp/4.11.0')).toBe(false);
    expect(sameDevice(null, null)).toBe(true);
  });
});
