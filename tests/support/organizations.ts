import { env } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import {
  auditLogs,
  organizationDomains,
  organizations,
  refreshTokens,
  userTokens,
  users,
} from '../../src/db/schema/index.ts';
import { createRedis } from '../../src/lib/redis.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import type { EmailMessage } from '../../src/services/email/messages.ts';
import { devMailboxKey } from '../../src/services/email/send.ts';
import { hashToken, issueAccessToken, PLATFORM_TENANT } from '../../src/services/auth/tokens.ts';
import { createMember, database, randomSlug, request, type TestMember, type TestTenant } from './harness.ts';

export const PLATFORM = 'http://localhost';

const bindings = () => readBindings(env as unknown as Record<string, unknown>);

export interface PlatformAdmin {
  userId: string;
  email: string;
  token: string;
}

/** A platform administrator (a user row with `is_platform_admin`) and a platform-host access token for them. */
export async function createPlatformAdmin(): Promise<PlatformAdmin> {
  const email = `admin-${crypto.randomUUID().slice(0, 12)}@platform.test`;
  const [user] = await database()
    .insert(users)
    .values({ email, name: 'Platform Admin', isPlatformAdmin: true, emailVerifiedAt: new Date() })
    .returning({ id: users.id });
  if (!user) throw new Error('platform admin insert returned nothing');
  return { userId: user.id, email, token: await platformToken(user.id) };
}

/** A token valid on the platform host; `role` other than platform_admin makes a platform token without the power. */
export async function platformToken(userId: string, role = 'platform_admin'): Promise<string> {
  const { token } = await issueAccessToken(bindings().JWT_SIGNING_KEYS, bindings().ROOT_DOMAIN, {
    userId,
    tenant: PLATFORM_TENANT,
    sessionId: crypto.randomUUID(),
    role,
    permissions: [],
    emailVerified: true,
  });
  return token;
}

import { randomIp } from './auth.ts';

export { randomIp };

/** A request to the platform host with a platform token, from an address of its own (JSON body when given). */
export function platformCall(
  path: string,
  token: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  return request(`${PLATFORM}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${token}`,
      'cf-connecting-ip': randomIp(),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

export const OWNER_PASSWORD = 'a long and unusual passphrase 42';

export interface SignupBody {
  name: string;
  slug: string;
  plan?: string;
  owner: { email: string; password: string; name: string };
  [extra: string]: unknown;
}

export function signupBody(overrides: Partial<SignupBody> = {}): SignupBody {
  const slug = randomSlug('org');
  return {
    name: `Org ${slug}`,
    slug,
    owner: {
      email: `owner-${crypto.randomUUID().slice(0, 12)}@signup.test`,
      password: OWNER_PASSWORD,
      name: 'Olive Owner',
    },
    ...overrides,
  };
}

/** POST /api/v1/organizations on the platform host from `ip`. */
export function signup(body: unknown, ip = randomIp()): Promise<Response> {
  return request(`${PLATFORM}/api/v1/organizations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
    body: JSON.stringify(body),
  });
}

/**
 * The messages captured for `email` by the local mail provider. The Worker sends after the response
 * (`waitUntil`), so this polls briefly until `count` messages arrived.
 */
export async function mailbox(email: string, count = 1): Promise<EmailMessage[]> {
  const redis = createRedis(bindings());
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const raw = await redis.lrange<EmailMessage | string>(devMailboxKey(email), 0, -1);
    const messages = raw.map((item) => (typeof item === 'string' ? (JSON.parse(item) as EmailMessage) : item));
    if (messages.length >= count) return messages;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return [];
}

/** The row ids a tenant holds in every tenant table, created by `populateTenant`. */
export interface TenantRows {
  tenant: TestTenant;
  owner: TestMember;
  member: TestMember;
  domainId: string;
  refreshTokenId: string;
  userTokenId: string;
  auditLogId: bigint;
}

/** Gives a tenant at least one row in each tenant table (owner connection, bypassing row-level security). */
export async function populateTenant(tenant: TestTenant): Promise<TenantRows> {
  const owner = await createMember(tenant, 'owner');
  const member = await createMember(tenant, 'member');
  const db = database();
  const organizationId = tenant.organization.id;
  const [domain] = await db
    .insert(organizationDomains)
    .values({ organizationId, hostname: `${randomSlug('d')}.example.com`, verifiedAt: new Date() })
    .returning({ id: organizationDomains.id });
  const [refresh] = await db
    .insert(refreshTokens)
    .values({
      organizationId,
      userId: owner.userId,
      familyId: crypto.randomUUID(),
      tokenHash: await hashToken(crypto.randomUUID()),
      expiresAt: new Date(Date.now() + 60_000),
    })
    .returning({ id: refreshTokens.id });
  const [userToken] = await db
    .insert(userTokens)
    .values({
      organizationId,
      userId: member.userId,
      purpose: 'verify_email',
      tokenHash: await hashToken(crypto.randomUUID()),
      expiresAt: new Date(Date.now() + 60_000),
    })
    .returning({ id: userTokens.id });
  const [audit] = await db
    .insert(auditLogs)
    .values({ organizationId, actorType: 'system', action: 'test.fixture' })
    .returning({ id: auditLogs.id });
  if (!domain || !refresh || !userToken || !audit) throw new Error('fixture insert returned nothing');
  return {
    tenant,
    owner,
    member,
    domainId: domain.id,
    refreshTokenId: refresh.id,
    userTokenId: userToken.id,
    auditLogId: audit.id,
  };
}

/** SQLSTATE and message of a failed database call (wherever the driver or Drizzle put them); null if it succeeded. */
export async function sqlFailure(operation: PromiseLike<unknown>): Promise<{ code: string; message: string } | null> {
  try {
    await operation;
    return null;
  } catch (error) {
    let current: unknown = error;
    while (typeof current === 'object' && current !== null) {
      const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
      if (typeof code === 'string') return { code, message: typeof message === 'string' ? message : '' };
      current = cause;
    }
    throw error;
  }
}

/** The SQLSTATE of a failed database call, or 'none' if it succeeded. */
export async function sqlState(operation: PromiseLike<unknown>): Promise<string> {
  return (await sqlFailure(operation))?.code ?? 'none';
}

/** The organization row as the database holds it (owner connection). */
export async function organizationRow(id: string) {
  const [row] = await database().select().from(organizations).where(eq(organizations.id, id));
  if (!row) throw new Error(`no organization ${id}`);
  return row;
}
