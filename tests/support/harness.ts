import { env, exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import { createDatabase } from '../../src/db/client.ts';
import { and, eq } from 'drizzle-orm';
import {
  memberships,
  organizationDomains,
  organizations,
  roles,
  tenantDirectory,
  users,
  type Organization,
} from '../../src/db/schema/index.ts';
import { builtInRoleRows, isPermission } from '../../src/services/auth/permissions.ts';
import { scryptPolicy } from '../../src/services/auth/passwords.ts';
import { issueAccessToken } from '../../src/services/auth/tokens.ts';
import { readBindings } from '../../src/middleware/bindings.ts';
import { TEST_PASSWORD } from '../setup/test-password.ts';

export { TEST_PASSWORD };

const bindings = () => readBindings(env as unknown as Record<string, unknown>);

/** A stored password hash made with the Worker's policy (the suite's LOCAL_PASSWORD_HASH_COST, see test-password.ts). */
export function policyHash(): RegExp {
  const { N, r, p } = scryptPolicy(bindings());
  return new RegExp(`^scrypt\\$${N}\\$${r}\\$${p}\\$`);
}

/**
 * The production driver through the local Neon gateway, logged in as the schema owner: fixtures and assertions
 * that must see every tenant. The Worker itself logs in as the application role, under row-level security.
 */
export function database() {
  return createDatabase({ ...bindings(), DATABASE_URL: inject('ownerDatabaseUrl') });
}

/** The production driver logged in as the Worker's application role (row-level security applies). */
export function appDatabase() {
  return createDatabase(bindings());
}

export function randomSlug(prefix = 't'): string {
  return `${prefix}-${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

export interface TestTenant {
  organization: Organization;
  host: string;
  /** An absolute URL on this tenant's host. */
  url(path: string): string;
}

/** Creates an organization (with its built-in roles) with a random slug, so no test depends on another's data. */
export async function createTenant(overrides: Partial<typeof organizations.$inferInsert> = {}): Promise<TestTenant> {
  const slug = overrides.slug ?? randomSlug();
  const [organization] = await database()
    .insert(organizations)
    .values({ name: `Test ${slug}`, ...overrides, slug })
    .returning();
  if (!organization) throw new Error('tenant insert returned nothing');
  await database().batch([
    database().insert(roles).values(builtInRoleRows(organization.id)),
    database().insert(tenantDirectory).values({ organizationId: organization.id }),
  ]);
  const host = `${slug}.localhost`;
  return { organization, host, url: (path) => `http://${host}${path}` };
}

export async function addDomain(organizationId: string, hostname: string, verified: boolean): Promise<void> {
  await database()
    .insert(organizationDomains)
    .values({ organizationId, hostname, verifiedAt: verified ? new Date() : null });
}

/**
 * How many databases besides the shared one the Worker knows in this run (DATABASE_URLS: the sharding tests'
 * dedicated database). A change of a person's credentials and a platform-wide end of their sessions reach every
 * database (src/services/auth/identity-copies.ts): one round trip more on each.
 */
export function otherDatabases(): number {
  return inject('dedicatedDatabase') === null ? 0 : 1;
}

export interface RoundTrips {
  database: number;
  redis: number;
}

/** How many round trips the gateways served for one request id (the Worker tags its calls in the local environment). */
export async function roundTrips(requestId: string): Promise<RoundTrips> {
  const counters = inject('gatewayCounters');
  const [database, redis] = await Promise.all(
    [counters.neon, counters.upstash].map(async (base) => {
      const response = await fetch(`${base}/${encodeURIComponent(requestId)}`);
      if (!response.ok) throw new Error(`round-trip counter answered ${response.status}`);
      const body: { requests: number } = await response.json();
      return body.requests;
    }),
  );
  return { database: database ?? -1, redis: redis ?? -1 };
}

export function newRequestId(): string {
  return `test-${crypto.randomUUID()}`;
}

/** The Worker under test (its default export), called through the runtime like a real request. */
export function request(url: string, init?: RequestInit): Promise<Response> {
  return (exports as unknown as { default: Fetcher }).default.fetch(url, init);
}

/**
 * A response body with its `requestId` blanked: every request gets its own server-made id, so two answers that must
 * not tell cases apart are compared on everything else.
 */
export async function answerText(response: Response): Promise<string> {
  return (await response.text()).replace(/"requestId":"[^"]*"/, '"requestId":"-"');
}

/** A problem+json body as the API returns it. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  requestId: string;
  errors?: { pointer: string; message: string }[];
  [extension: string]: unknown;
}

export async function problem(response: Response): Promise<ProblemBody> {
  if (response.headers.get('content-type') !== 'application/problem+json') {
    throw new Error(
      `expected a problem, got ${response.status} ${response.headers.get('content-type')}: ${await response.text()}`,
    );
  }
  return response.json();
}

export interface TestMember {
  userId: string;
  email: string;
  password: string;
  role: string;
}

/**
 * Adds a user with a membership in `role` (a built-in role key or a custom role's key) to the tenant, directly in the
 * database. Every member gets TEST_PASSWORD, stored as the scrypt hash the global setup made of it once per run with
 * the production `hashPassword` (tests/setup/global.ts): every sign-in still checks a real hash of that code.
 */
export async function createMember(
  tenant: TestTenant,
  role: string,
  options: { emailVerified?: boolean; status?: 'active' | 'invited' | 'disabled'; email?: string } = {},
): Promise<TestMember> {
  const email = options.email ?? `${role}-${crypto.randomUUID().slice(0, 8)}@${tenant.organization.slug}.test`;
  const db = database();
  const [user] = await db
    .insert(users)
    .values({
      email,
      name: `${role} ${email.split('@')[0] ?? ''}`,
      passwordHash: inject('testPasswordHash'),
      emailVerifiedAt: options.emailVerified === false ? null : new Date(),
    })
    .onConflictDoUpdate({ target: users.email, set: { updatedAt: new Date() } })
    .returning({ id: users.id });
  const [roleRow] = await db
    .select({ id: roles.id })
    .from(roles)
    .where(and(eq(roles.organizationId, tenant.organization.id), eq(roles.key, role)));
  if (!user || !roleRow) throw new Error(`cannot create a ${role} member`);
  await db.insert(memberships).values({
    organizationId: tenant.organization.id,
    userId: user.id,
    roleId: roleRow.id,
    status: options.status ?? 'active',
  });
  return { userId: user.id, email, password: TEST_PASSWORD, role };
}

/**
 * An access token for a member, signed with the Worker's keys, without going through login: for tests of routes
 * other than authentication. The session id is random (no refresh token backs it), unless `sessionId` names one.
 * `authTime` (seconds) backdates the session's sign-in (a stale session for step-up tests); by default it is now.
 */
export async function tokenFor(
  tenant: TestTenant,
  member: TestMember,
  overrides: { emailVerified?: boolean; authTime?: number; sessionId?: string } = {},
) {
  const [roleRow] = await database()
    .select({ key: roles.key, permissions: roles.permissions })
    .from(roles)
    .where(and(eq(roles.organizationId, tenant.organization.id), eq(roles.key, member.role)));
  if (!roleRow) throw new Error(`no role ${member.role}`);
  const { token } = await issueAccessToken(bindings().JWT_SIGNING_KEYS, bindings().ROOT_DOMAIN, {
    userId: member.userId,
    tenant: tenant.organization.id,
    sessionId: overrides.sessionId ?? crypto.randomUUID(),
    role: roleRow.key,
    permissions: roleRow.permissions.filter(isPermission),
    emailVerified: overrides.emailVerified ?? true,
    ...(overrides.authTime === undefined ? {} : { authTime: overrides.authTime }),
  });
  return token;
}

/** Headers for an authenticated JSON request. */
export function bearer(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...extra };
}
