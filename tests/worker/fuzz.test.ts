import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { roles } from '../../src/db/schema/index.ts';
import { randomIp } from '../support/auth.ts';
import { book } from '../support/bookings.ts';
import { createEvent, createTicketType } from '../support/catalogue.ts';
import {
  requestArbitrary,
  responseValidator,
  type GeneratedRequest,
  type GenerationContext,
  type OpenApiDocument,
  type Operation,
} from '../support/fuzz.ts';
import {
  createMember,
  createTenant,
  database,
  request,
  tokenFor,
  type TestMember,
  type TestTenant,
} from '../support/harness.ts';
import { createPlatformAdmin, PLATFORM, platformToken } from '../support/organizations.ts';

// Every operation of the OpenAPI document, with generated valid and hostile inputs, as each kind of caller. Fails on
// any 5xx, any error that is not an RFC 9457 problem, and any 2xx whose body does not match its documented schema.
// FUZZ_SEED and FUZZ_RUNS (cases per operation and caller) come from the global setup; `npm run fuzz` runs more.
const { seed, runs } = inject('fuzz');

interface Target {
  method: string;
  path: string;
  operation: Operation;
}

type Principal = 'anonymous' | 'customer' | 'owner' | 'platform admin';

interface World {
  document: OpenApiDocument;
  tenant: TestTenant;
  context: GenerationContext;
  owner: TestMember;
  customer: TestMember;
  platformAdminId: string;
}

let world: World;

/** A stable number per operation and caller, so one operation's cases do not change when another is added. */
function hash(text: string): number {
  let value = 0;
  for (const character of text) value = (Math.imul(value, 31) + (character.codePointAt(0) ?? 0)) | 0;
  return value;
}

/**
 * Fuzzed on the platform host (as anonymous and as a platform admin): the organizations, the platform routes and the
 * platform's billing webhook (issue #16 part 8); the rest on the tenant host.
 */
const isPlatformOperation = (path: string): boolean =>
  path.startsWith('/api/v1/organizations') ||
  path.startsWith('/api/v1/platform/') ||
  path === '/api/v1/billing/webhooks';

/** Logout and deletes run last for each caller, so they cannot hide the rest of the surface. */
const disturbs = (target: Target): number => (target.method === 'delete' || target.path.endsWith('/logout') ? 1 : 0);

function targets(document: OpenApiDocument): Target[] {
  return Object.entries(document.paths)
    .flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({ method, path, operation })),
    )
    .sort((a, b) => disturbs(a) - disturbs(b));
}

async function registerCustomer(tenant: TestTenant): Promise<TestMember> {
  const email = `customer-${crypto.randomUUID().slice(0, 8)}@fuzz.test`;
  const password = 'violet anchor meadow 42 quartz';
  const response = await request(tenant.url('/api/v1/auth/register'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': randomIp() },
    body: JSON.stringify({ email, password, name: 'Fuzz Customer' }),
  });
  if (response.status !== 201) throw new Error(`register answered ${response.status}: ${await response.text()}`);
  const body = await response.json<{ user: { id: string } }>();
  return { userId: body.user.id, email, password, role: 'member' };
}

async function tokenOf(principal: Principal): Promise<string | undefined> {
  if (principal === 'owner') return tokenFor(world.tenant, world.owner);
  if (principal === 'customer') return tokenFor(world.tenant, world.customer);
  if (principal === 'platform admin') return platformToken(world.platformAdminId);
  return undefined;
}

/** What is wrong with one answer, or null. */
async function verdict(target: Target, response: Response): Promise<string | null> {
  if (response.status === 200 && response.headers.get('content-type')?.startsWith('text/event-stream')) {
    // A live stream (src/routes/live/) does not end by itself: its status and media type are the verdict.
    await response.body?.cancel();
    return target.operation.responses['200']?.content?.['text/event-stream'] ? null : 'undocumented event stream';
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    return `${response.status} whose body broke off: ${String(error)}`;
  }
  if (response.status >= 500) return `${response.status}: ${text.slice(0, 300)}`;
  const contentType = response.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
  if (response.status >= 400 && target.path.startsWith('/scim/v2/')) {
    // SCIM answers its errors in its own format (RFC 7644 3.12), which SCIM clients parse.
    if (contentType !== 'application/scim+json') return `${response.status} as ${contentType}, not a SCIM error`;
    const error = JSON.parse(text) as Record<string, unknown>;
    const wellFormed =
      Array.isArray(error['schemas']) &&
      error['schemas'][0] === 'urn:ietf:params:scim:api:messages:2.0:Error' &&
      error['status'] === String(response.status) &&
      typeof error['detail'] === 'string';
    return wellFormed ? null : `${response.status} SCIM error without its fields: ${text.slice(0, 300)}`;
  }
  if (response.status >= 400) {
    if (contentType !== 'application/problem+json') return `${response.status} as ${contentType}, not a problem`;
    const problem = JSON.parse(text) as Record<string, unknown>;
    const wellFormed =
      typeof problem['type'] === 'string' &&
      typeof problem['title'] === 'string' &&
      problem['status'] === response.status &&
      typeof problem['code'] === 'string' &&
      typeof problem['requestId'] === 'string';
    return wellFormed ? null : `${response.status} problem without the RFC 9457 fields: ${text.slice(0, 300)}`;
  }
  const documented = target.operation.responses[String(response.status)];
  if (!documented) return `undocumented status ${response.status}`;
  if (response.status === 204 || !documented.content) return null;
  const media = documented.content[contentType];
  if (!media) return `${response.status} as ${contentType}, documented: ${Object.keys(documented.content).join(', ')}`;
  if (!contentType.endsWith('json') || !media.schema) return null;
  const result = responseValidator(world.document, media.schema).validate(JSON.parse(text));
  return result.valid
    ? null
    : `${response.status} off its schema: ${JSON.stringify(result.errors.slice(-3)).slice(0, 600)}`;
}

async function send(principal: Principal, host: string, generated: GeneratedRequest, method: string) {
  const token = await tokenOf(principal);
  const headers: Record<string, string> = { ...generated.headers, 'cf-connecting-ip': randomIp() };
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (generated.contentType) headers['content-type'] = generated.contentType;
  const url = `${host}${generated.path}${generated.query ? `?${generated.query}` : ''}`;
  return request(url, {
    method: method.toUpperCase(),
    headers,
    ...(generated.body === undefined ? {} : { body: generated.body }),
  });
}

/** Runs every target as `principal`; answers one line per operation that failed. */
async function fuzz(principal: Principal, host: string, selected: Target[]): Promise<string[]> {
  const failures: string[] = [];
  for (const target of selected) {
    const label = `${target.method.toUpperCase()} ${target.path} as ${principal}`;
    const operationSeed = (seed ^ hash(label)) | 0;
    const details = await fc.check(
      fc.asyncProperty(requestArbitrary(world.context, target.path, target.operation), async (generated) => {
        const response = await send(principal, host, generated, target.method);
        const problem = await verdict(target, response);
        if (problem) throw new Error(problem);
      }),
      { seed: operationSeed, numRuns: runs, endOnFailure: true },
    );
    if (details.failed) {
      const error =
        details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      const example = JSON.stringify(details.counterexample?.[0]).slice(0, 400);
      failures.push(`${label}: ${error}\n    request: ${example}`);
    }
  }
  return failures;
}

function report(failures: string[]): string {
  return `${failures.length} operation(s) failed; reproduce with FUZZ_SEED=${seed} FUZZ_RUNS=${runs}\n${failures.join('\n')}`;
}

beforeAll(async () => {
  const tenant = await createTenant({ plan: 'enterprise' });
  const other = await createTenant();
  const owner = await createMember(tenant, 'owner');
  const staff = await createMember(tenant, 'staff');
  const customer = await registerCustomer(tenant);
  const event = await createEvent(tenant);
  const free = await createTicketType(event, { name: 'Free', price: 0 });
  const paid = await createTicketType(event, { name: 'Paid', price: 2500 });
  const booking = await book(tenant, event.slug, { items: [{ ticketTypeId: free.id, quantity: 1 }] });
  const foreignEvent = await createEvent(other);
  const foreignType = await createTicketType(foreignEvent);
  const roleIds = (
    await database().select({ id: roles.id }).from(roles).where(eq(roles.organizationId, tenant.organization.id))
  ).map((row) => row.id);
  const response = await request(`${PLATFORM}/api/v1/openapi.json`);
  const document = await response.json<OpenApiDocument>();
  const userIds = [owner.userId, staff.userId, customer.userId];
  const admin = await createPlatformAdmin();
  world = {
    document,
    tenant,
    owner,
    customer,
    platformAdminId: admin.userId,
    context: {
      document,
      foreignIds: [foreignEvent.id, foreignType.id, other.organization.id],
      ids: {
        events: [event.id],
        eventId: [event.id],
        'ticket-types': [free.id, paid.id],
        ticketTypeId: [free.id, paid.id],
        ticketTypeIds: [free.id, paid.id],
        bookings: [booking.id],
        bookingId: [booking.id],
        users: userIds,
        actor: userIds,
        userId: userIds,
        roles: roleIds,
        roleId: roleIds,
        organizations: [other.organization.id],
        // POST /api/v1/platform/impersonations: the members above, in their organization.
        organizationId: [tenant.organization.id],
        slug: [event.slug],
      },
    },
  };
}, 60_000);

const timeout = Math.max(60_000, runs * 80 * 400);

describe(`fuzzing every operation (FUZZ_SEED=${seed}, FUZZ_RUNS=${runs})`, () => {
  const tenantTargets = () => targets(world.document).filter((target) => !isPlatformOperation(target.path));

  it.each(['anonymous', 'customer', 'owner'] as const)(
    'never answers 5xx, a non-problem error or an off-schema success on a tenant host, as %s',
    async (principal) => {
      const failures = await fuzz(principal, `http://${world.tenant.host}`, tenantTargets());
      expect(failures, report(failures)).toEqual([]);
    },
    timeout,
  );

  it.each(['anonymous', 'platform admin'] as const)(
    'never answers 5xx, a non-problem error or an off-schema success on the platform host, as %s',
    async (principal) => {
      const platformTargets = targets(world.document).filter((target) => isPlatformOperation(target.path));
      const failures = await fuzz(principal, PLATFORM, platformTargets);
      expect(failures, report(failures)).toEqual([]);
    },
    timeout,
  );
});
