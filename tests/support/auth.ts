import { env } from 'cloudflare:workers';
import { and, desc, eq, isNull } from 'drizzle-orm';
import { expect, inject } from 'vitest';
import { auditLogs, users } from '../../src/db/schema/index.ts';
import { createRedis } from '../../src/lib/redis.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import type { LoginResponse } from '../../src/routes/auth/login.ts';
import type { EmailMessage } from '../../src/services/email/messages.ts';
import { devMailboxKey } from '../../src/services/email/send.ts';
import { database, request, TEST_PASSWORD, type TestMember, type TestTenant } from './harness.ts';

export const bindings = () => readBindings(env as unknown as Record<string, unknown>);

/**
 * A random client address in a /64 of its own: rate-limit buckets are keyed on CF-Connecting-IP (an IPv6 client on
 * its /64), so each test brings its own and no test can exhaust another's (or a previous run's) bucket. 3fff::/20 is
 * the IPv6 documentation prefix with room for 44 random network bits (2001:db8::/32 leaves 32).
 */
export function randomIp(): string {
  const hex = crypto.randomUUID().replaceAll('-', '');
  return `3fff:0${hex.slice(0, 3)}:${hex.slice(3, 7)}:${hex.slice(7, 11)}::${hex.slice(11, 15)}`;
}

/** A POST with a JSON body from a client address (random unless given). */
export function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  ip: string | null = randomIp(),
): Promise<Response> {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(ip === null ? {} : { 'cf-connecting-ip': ip }), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function loginAs(tenant: TestTenant, member: Pick<TestMember, 'email' | 'password'>) {
  const response = await post(tenant.url('/api/v1/auth/login'), { email: member.email, password: member.password });
  expect(response.status).toBe(200);
  return response.json<LoginResponse & { refreshToken: string }>();
}

export function randomEmail(tenant?: TestTenant): string {
  return `user-${crypto.randomUUID().slice(0, 12)}@${tenant?.organization.slug ?? 'example'}.test`;
}

/**
 * Reads until `read` gives a value (work a request left after its response), failing after `timeoutMs`. The default is
 * generous because that work can pass through the outbox, a queue and its consumer, which take seconds when two cores
 * run the whole suite (a fresh-clone CI run timed out at 3 s on a waitlist offer email); it bounds a failure, a pass
 * returns as soon as the value is there.
 */
export async function poll<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The messages captured for an address by the local email provider (sent after the response). */
export async function mailbox(email: string): Promise<EmailMessage[]> {
  const raw = await createRedis(bindings()).lrange<EmailMessage>(devMailboxKey(email), 0, -1);
  return raw;
}

/** Waits until the address has at least `count` messages and returns the last one. */
export async function waitForMail(email: string, count = 1): Promise<EmailMessage> {
  return poll(async () => {
    const messages = await mailbox(email);
    return messages.length >= count ? messages[messages.length - 1] : undefined;
  }, `${count} email(s) to ${email}`);
}

/** The `token` query parameter of the message's link. */
export function linkToken(message: EmailMessage): string {
  const link = message.links[0];
  if (!link) throw new Error('the message has no link');
  const token = new URL(link).searchParams.get('token');
  if (!token) throw new Error(`no token in ${link}`);
  return token;
}

/** The organization's audit rows with this action, newest first (owner connection). */
export function auditRows(organizationId: string, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, organizationId), eq(auditLogs.action, action)))
    .orderBy(desc(auditLogs.id));
}

/** Waits until `count` audit rows with this action exist (rows written after the response, by `waitUntil`). */
export function waitForAudits(organizationId: string, action: string, count = 1) {
  return poll(async () => {
    const rows = await auditRows(organizationId, action);
    return rows.length >= count ? rows : undefined;
  }, `${count} audit row(s) ${action}`);
}

/** Platform audit rows (no organization) about this user with this action, newest first (owner connection). */
export function platformAuditRows(userId: string, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(isNull(auditLogs.organizationId), eq(auditLogs.targetId, userId), eq(auditLogs.action, action)))
    .orderBy(desc(auditLogs.id));
}

/** Waits until `count` platform audit rows about the user with this action exist (rows written by `waitUntil`). */
export function waitForPlatformAudits(userId: string, action: string, count = 1) {
  return poll(async () => {
    const rows = await platformAuditRows(userId, action);
    return rows.length >= count ? rows : undefined;
  }, `${count} platform audit row(s) ${action}`);
}

export async function userRow(email: string) {
  const [row] = await database().select().from(users).where(eq(users.email, email));
  if (!row) throw new Error(`no user ${email}`);
  return row;
}

/** Base64url of a JSON value, for hand-made JWT parts. */
export function base64url(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

/** The claims of a JWT, unverified (tests read what the Worker signed). */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(atob(payload.replaceAll('-', '+').replaceAll('_', '/'))) as Record<string, unknown>;
}

/** A platform administrator (no membership anywhere) with TEST_PASSWORD (the run's hash of it), or the given stored hash. */
export async function createPlatformAdmin(passwordHash?: string) {
  const email = `admin-${crypto.randomUUID().slice(0, 12)}@platform.test`;
  const [user] = await database()
    .insert(users)
    .values({
      email,
      name: 'Platform Admin',
      passwordHash: passwordHash ?? inject('testPasswordHash'),
      emailVerifiedAt: new Date(),
      isPlatformAdmin: true,
    })
    .returning({ id: users.id });
  if (!user) throw new Error('no platform administrator');
  return { userId: user.id, email, password: TEST_PASSWORD };
}

/** Signs in on the platform host and returns the access token. */
export async function platformLogin(admin: { email: string; password: string }): Promise<string> {
  const response = await post('http://localhost/api/v1/auth/login', { email: admin.email, password: admin.password });
  expect(response.status).toBe(200);
  return (await response.json<{ accessToken: string }>()).accessToken;
}
