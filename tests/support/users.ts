import { env } from 'cloudflare:workers';
import { and, desc, eq } from 'drizzle-orm';
import { auditLogs, memberships, refreshTokens, roles, userTokens, users } from '../../src/db/schema/index.ts';
import { createDatabase, type Database } from '../../src/db/client.ts';
import type { ServiceContext } from '../../src/lib/context.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createRedis } from '../../src/lib/redis.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import type { Permission } from '../../src/services/auth/permissions.ts';
import { hashToken, verifyAccessToken } from '../../src/services/auth/tokens.ts';
import type { EmailMessage } from '../../src/services/email/messages.ts';
import { devMailboxKey } from '../../src/services/email/send.ts';
import { bearer, createMember, database, request, tokenFor, type TestMember, type TestTenant } from './harness.ts';

const bindings = () => readBindings(env as unknown as Record<string, unknown>);

/** A JSON request to the tenant's host, authenticated when `token` is given. */
export function call(
  tenant: TestTenant,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers =
    options.token === undefined
      ? { 'content-type': 'application/json', ...options.headers }
      : bearer(options.token, options.headers);
  return request(tenant.url(path), {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

/** A member and an access token of theirs. */
export async function memberWithToken(
  tenant: TestTenant,
  role: string,
  options: { emailVerified?: boolean; status?: 'active' | 'invited' | 'disabled' } = {},
): Promise<{ member: TestMember; token: string }> {
  const member = await createMember(tenant, role, options);
  return { member, token: await tokenFor(tenant, member, { emailVerified: options.emailVerified ?? true }) };
}

/** A custom role, straight into the database (owner connection). */
export async function createCustomRole(
  tenant: TestTenant,
  key: string,
  permissions: Permission[],
): Promise<{ id: string; key: string }> {
  const [row] = await database()
    .insert(roles)
    .values({ organizationId: tenant.organization.id, key, name: `Custom ${key}`, permissions })
    .returning({ id: roles.id, key: roles.key });
  if (!row) throw new Error('role insert returned nothing');
  return row;
}

export async function roleIdOf(tenant: TestTenant, key: string): Promise<string> {
  const [row] = await database()
    .select({ id: roles.id })
    .from(roles)
    .where(and(eq(roles.organizationId, tenant.organization.id), eq(roles.key, key)));
  if (!row) throw new Error(`no role ${key}`);
  return row.id;
}

/** The membership as stored, with its role key and display name (owner connection); undefined when there is none. */
export async function membershipOf(tenant: TestTenant, userId: string) {
  const [row] = await database()
    .select({
      status: memberships.status,
      role: roles.key,
      displayName: memberships.displayName,
      updatedAt: memberships.updatedAt,
    })
    .from(memberships)
    .innerJoin(roles, eq(roles.id, memberships.roleId))
    .where(and(eq(memberships.organizationId, tenant.organization.id), eq(memberships.userId, userId)));
  return row;
}

export async function userRow(userId: string) {
  const [row] = await database().select().from(users).where(eq(users.id, userId));
  return row;
}

export async function userByEmail(email: string) {
  const [row] = await database().select().from(users).where(eq(users.email, email));
  return row;
}

/** The organization's audit rows with this action, newest first (owner connection). */
export async function auditRows(tenant: TestTenant, action: string) {
  return database()
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.organizationId, tenant.organization.id), eq(auditLogs.action, action)))
    .orderBy(desc(auditLogs.id));
}

/** A live refresh token row for the member (as a login would leave), to watch revocation. */
export async function refreshTokenFor(tenant: TestTenant, member: TestMember): Promise<string> {
  const [row] = await database()
    .insert(refreshTokens)
    .values({
      organizationId: tenant.organization.id,
      userId: member.userId,
      familyId: crypto.randomUUID(),
      tokenHash: await hashToken(`rt_${crypto.randomUUID()}`),
      expiresAt: new Date(Date.now() + 86_400_000),
    })
    .returning({ id: refreshTokens.id });
  if (!row) throw new Error('refresh token insert returned nothing');
  return row.id;
}

export async function refreshTokenRow(id: string) {
  const [row] = await database().select().from(refreshTokens).where(eq(refreshTokens.id, id));
  return row;
}

export async function invitationTokens(tenant: TestTenant, userId: string) {
  return database()
    .select()
    .from(userTokens)
    .where(and(eq(userTokens.organizationId, tenant.organization.id), eq(userTokens.userId, userId)));
}

/** The messages captured for an address by the local email provider. */
export async function mailbox(email: string): Promise<EmailMessage[]> {
  const raw = await createRedis(bindings()).lrange<EmailMessage | string>(devMailboxKey(email), 0, -1);
  return raw.map((item) => (typeof item === 'string' ? (JSON.parse(item) as EmailMessage) : item));
}

/** Email goes out after the response (waitUntil): polls briefly until `count` messages arrived. */
export async function waitForMail(email: string, count = 1, timeoutMs = 3000): Promise<EmailMessage[]> {
  const started = Date.now();
  for (;;) {
    const messages = await mailbox(email);
    if (messages.length >= count) return messages;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${count} email(s) to ${email}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function randomEmail(tenant: TestTenant, prefix = 'invitee'): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 12)}@${tenant.organization.slug}.test`;
}

/** Sets an account's own (global) name, as the person would through their profile (owner connection). */
export async function setAccountName(userId: string, name: string): Promise<void> {
  await database().update(users).set({ name }).where(eq(users.id, userId));
}

/**
 * Adds `count` members straight into the database (no password; owner connection), for pagination and filters.
 * Returns their user ids in insertion order.
 */
export async function addMembers(
  tenant: TestTenant,
  count: number,
  options: {
    role?: string;
    status?: 'active' | 'invited' | 'disabled';
    names?: string[];
    /** This organization's names for them (memberships.display_name); null or missing: none. */
    displayNames?: (string | null)[];
    emails?: string[];
    /** Verified addresses unless false (an unverified account cannot be given a staff role). */
    emailVerified?: boolean;
  } = {},
): Promise<string[]> {
  const roleId = await roleIdOf(tenant, options.role ?? 'member');
  const rows = Array.from({ length: count }, (_, index) => ({
    id: crypto.randomUUID(),
    email: options.emails?.[index] ?? randomEmail(tenant, 'bulk'),
    name: options.names?.[index] ?? `Bulk member ${index}`,
    emailVerifiedAt: options.emailVerified === false ? null : new Date(),
  }));
  const db = database();
  await db.insert(users).values(rows);
  await db.insert(memberships).values(
    rows.map((row, index) => ({
      organizationId: tenant.organization.id,
      userId: row.id,
      roleId,
      status: options.status ?? 'active',
      displayName: options.displayNames?.[index] ?? null,
    })),
  );
  return rows.map((row) => row.id);
}

/**
 * Whether a token's session is alive: any authenticated request answers 401 once it has ended, whatever the
 * permissions (a live token without the permission gets 403 instead).
 */
export async function sessionAlive(tenant: TestTenant, token: string): Promise<boolean> {
  const response = await call(tenant, 'GET', '/api/v1/roles/permissions', { token });
  if (response.status !== 401 && response.status !== 200 && response.status !== 403) {
    throw new Error(`unexpected status ${response.status}`);
  }
  return response.status !== 401;
}

export interface ServiceHarnessOptions {
  /** Runs before the database batch with this index (0 = the service's first batch): a concurrent change lands there. */
  beforeBatch?: (index: number) => Promise<void>;
  /** Makes the batch with this index fail with this error instead of running. */
  failBatch?: { index: number; error: Error };
  /** Points Redis at a closed port: every Redis call fails. */
  redisDown?: boolean;
}

/**
 * A ServiceContext for calling a service directly, as the member holding `token`, against the real database and
 * Redis, with hooks between the service's batches: how races (a change landing between a read and a write) and
 * outages are made deterministic.
 */
export async function serviceContextFor(
  tenant: TestTenant,
  token: string | null,
  options: ServiceHarnessOptions = {},
): Promise<{ ctx: ServiceContext; background: Promise<unknown>[] }> {
  const config = bindings();
  const real = createDatabase(config);
  let batches = 0;
  const db = new Proxy(real, {
    get(target, property, receiver) {
      if (property === 'batch') {
        return async (queries: Parameters<Database['batch']>[0]) => {
          const index = batches;
          batches += 1;
          await options.beforeBatch?.(index);
          if (options.failBatch?.index === index) throw options.failBatch.error;
          return target.batch(queries);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const redis = createRedis(options.redisDown ? { ...config, UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9' } : config);
  const principal =
    token === null
      ? null
      : await verifyAccessToken(config.JWT_SIGNING_KEYS, config.ROOT_DOMAIN, token, tenant.organization.id);
  const background: Promise<unknown>[] = [];
  const { id, slug, name, plan, status, settings } = tenant.organization;
  return {
    ctx: {
      bindings: config,
      services: { db, redis },
      logger: createLogger({ test: 'service' }),
      client: {
        ip: '203.0.113.9',
        addressKey: '203.0.113.9',
        userAgent: 'vitest',
        requestId: `test-${crypto.randomUUID()}`,
      },
      tenant: { id, slug, name, plan, status, settings },
      principal,
      origin: null,
      waitUntil: (promise) => {
        background.push(promise);
      },
    },
    background,
  };
}
