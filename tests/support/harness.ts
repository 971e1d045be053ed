import { env, exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import { createDatabase } from '../../src/db/client.ts';
import { organizationDomains, organizations, type Organization } from '../../src/db/schema/index.ts';
import { readBindings } from '../../src/middleware/bindings.ts';

/** The Worker's own database client (the production driver through the local Neon gateway), for fixtures. */
export function database() {
  return createDatabase(readBindings(env as unknown as Record<string, unknown>));
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

/** Creates an organization with a random slug, so no test depends on another's data. */
export async function createTenant(overrides: Partial<typeof organizations.$inferInsert> = {}): Promise<TestTenant> {
  const slug = overrides.slug ?? randomSlug();
  const [organization] = await database()
    .insert(organizations)
    .values({ name: `Test ${slug}`, ...overrides, slug })
    .returning();
  if (!organization) throw new Error('tenant insert returned nothing');
  const host = `${slug}.localhost`;
  return { organization, host, url: (path) => `http://${host}${path}` };
}

export async function addDomain(organizationId: string, hostname: string, verified: boolean): Promise<void> {
  await database()
    .insert(organizationDomains)
    .values({ organizationId, hostname, verifiedAt: verified ? new Date() : null });
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
