import { gql } from 'graphql-request';
import { env } from 'cloudflare:workers';
import { printSchema } from 'graphql';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { webhookDeliveries, webhookEndpoints } from '../../src/db/schema/index.ts';
import { GRAPHQL_LIMITS } from '../../src/routes/graphql/cost.ts';
import { ApiError } from '../../src/errors/api-error.ts';
import { ERROR_CODES } from '../../src/errors/codes.ts';
import { prepareOperation } from '../../src/routes/graphql/prepare.ts';
import { graphqlSchema } from '../../src/routes/graphql/schema.ts';
import { book, enableManualPayment } from '../support/bookings.ts';
import { insertEvent, insertTicketType } from '../support/events.ts';
import { graphqlClient, postGraphql, type GraphqlError } from '../support/graphql.ts';
import {
  createTenant,
  database,
  newRequestId,
  problem,
  request,
  roundTrips,
  type TestTenant,
} from '../support/harness.ts';
import { parseRateLimitHeader } from '../support/plans.ts';
import { memberWithToken } from '../support/users.ts';

interface Raw<T> {
  data?: T | null;
  errors?: GraphqlError[];
}

async function run<T = Record<string, unknown>>(
  tenant: TestTenant,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Raw<T>> {
  const result = await graphqlClient(tenant, token, headers).rawRequest<T>(query, variables);
  return { data: result.data, ...(result.errors ? { errors: result.errors as GraphqlError[] } : {}) };
}

async function body(response: Response): Promise<Raw<Record<string, unknown>>> {
  return response.json();
}

const codes = (errors: GraphqlError[] | undefined) => (errors ?? []).map((error) => error.extensions?.code);

/** A published event with one ticket type and a confirmed-pending manual booking of two tickets. */
async function bookedEvent(tenant: TestTenant) {
  await enableManualPayment(tenant);
  const event = await insertEvent(tenant, { status: 'published', publishedAt: new Date(), visibility: 'public' });
  const ticketType = await insertTicketType(tenant, event.id, { quantity: 20 });
  const booking = await book(tenant, event.slug, {
    items: [{ ticketTypeId: ticketType.id, quantity: 2 }],
    paymentMethod: 'manual',
  });
  return { event, ticketType, booking };
}

const EVERYTHING = gql`
  query Everything($bookingId: ID!) {
    organization {
      id
      slug
      name
      plan
      status
      branding
      settings
      createdAt
      updatedAt
    }
    events(first: 10) {
      nodes {
        id
        slug
        title
        status
        visibility
        venue {
          name
          city
        }
        categories
        capacity
        publishedAt
        ticketTypes {
          id
          name
          price
          currency
          quantity
          sold
          held
          remaining
          accessCode
        }
        capacityPools {
          id
          name
          capacity
          remaining
          ticketTypeIds
        }
        availability {
          quantity
          sold
          held
          remaining
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
    bookings(first: 5) {
      nodes {
        id
        status
        buyer {
          name
          email
        }
        total
        items {
          ticketTypeId
          quantity
          unitPrice
        }
        attendees {
          id
          ticketCode
          status
          answers
        }
        payment {
          provider
          status
          amount
        }
        refunds {
          id
        }
        event {
          id
        }
      }
    }
    booking(id: $bookingId) {
      id
    }
    members {
      nodes {
        id
        email
        role {
          key
          name
        }
        status
      }
    }
    roles {
      key
      permissions
      builtIn
      memberCount
    }
    webhookEndpoints {
      nodes {
        id
        url
        enabled
        deliveries(first: 5) {
          nodes {
            id
            eventType
            status
            attempts {
              attempt
            }
          }
          pageInfo {
            hasNextPage
          }
        }
      }
    }
    usage {
      from
      to
      days {
        day
        apiCalls
        bookings
      }
      totals {
        apiCalls
        bookings
        emails
        webhookDeliveries
      }
    }
    auditLog(first: 5) {
      nodes {
        id
        action
        actor {
          type
          userId
        }
        target {
          type
          id
        }
        metadata
      }
    }
  }
`;

describe('POST /api/v1/graphql: the caller', () => {
  it('answers an anonymous request with the REST 401 problem, before looking at the document', async () => {
    const tenant = await createTenant();
    const response = await postGraphql(tenant, null, { query: '{ nonsense' });
    expect(response.status).toBe(401);
    expect((await problem(response)).code).toBe('unauthorized');
  });

  it('is not served on the platform host (404 like any unknown path)', async () => {
    const response = await request('http://localhost/api/v1/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ events { nodes { id } } }' }),
    });
    expect(response.status).toBe(404);
  });

  it("refuses another organization's token with 401", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(other, 'owner');
    const response = await postGraphql(tenant, token, { query: '{ events { nodes { id } } }' });
    expect(response.status).toBe(401);
  });
});

describe('every type, for an owner', () => {
  it('reaches the organization, events, ticket types, pools, availability, bookings, members, roles, webhooks and the audit log', async () => {
    const tenant = await createTenant({ plan: 'pro' });
    const { member, token } = await memberWithToken(tenant, 'owner');
    const { event, ticketType, booking } = await bookedEvent(tenant);
    const [endpoint] = await database()
      .insert(webhookEndpoints)
      .values({
        organizationId: tenant.organization.id,
        url: 'https://hooks.example.com/e',
        secret: 'v1.unused',
        eventTypes: [],
      })
      .returning({ id: webhookEndpoints.id });
    if (!endpoint) throw new Error('no endpoint');
    await database().insert(webhookDeliveries).values({
      organizationId: tenant.organization.id,
      endpointId: endpoint.id,
      eventId: crypto.randomUUID(),
      eventType: 'booking.created',
    });

    const result = await run<{
      organization: { id: string };
      events: { nodes: { id: string; ticketTypes: { id: string; held: number }[]; availability: { held: number } }[] };
      bookings: { nodes: { id: string; attendees: unknown[]; payment: { provider: string }; event: { id: string } }[] };
      booking: { id: string };
      members: { nodes: { id: string }[] };
      roles: { key: string }[];
      webhookEndpoints: { nodes: { deliveries: { nodes: { eventType: string }[] } }[] };
      auditLog: { nodes: unknown[] };
      usage: { days: unknown[]; totals: { bookings: number } };
    }>(tenant, token, EVERYTHING, { bookingId: booking.id });
    expect(result.errors).toBeUndefined();
    const data = result.data;
    if (!data) throw new Error('no data');
    expect(data.organization.id).toBe(tenant.organization.id);
    expect(data.events.nodes.map((node) => node.id)).toEqual([event.id]);
    expect(data.events.nodes[0]?.ticketTypes.map((type) => [type.id, type.held])).toEqual([[ticketType.id, 2]]);
    expect(data.events.nodes[0]?.availability.held).toBe(2);
    expect(data.bookings.nodes[0]).toMatchObject({ id: booking.id, payment: { provider: 'manual' } });
    expect(data.bookings.nodes[0]?.event.id).toBe(event.id);
    expect(data.bookings.nodes[0]?.attendees).toHaveLength(2);
    expect(data.booking.id).toBe(booking.id);
    expect(data.members.nodes.map((node) => node.id)).toContain(member.userId);
    expect(data.roles.map((role) => role.key)).toContain('owner');
    expect(data.webhookEndpoints.nodes[0]?.deliveries.nodes.map((node) => node.eventType)).toEqual(['booking.created']);
    expect(data.auditLog.nodes.length).toBeGreaterThan(0);
    expect(data.usage.days).toHaveLength(30);
    expect(data.usage.totals.bookings).toBe(1);
  });
});

describe('permissions per role (the REST twins’ permissions)', () => {
  it.each([
    ['staff', ['events'], ['auditLog', 'members', 'webhookEndpoints']],
    ['organizer', ['events', 'members', 'bookings'], ['auditLog', 'webhookEndpoints']],
    ['member', [], ['events', 'bookings', 'organization']],
  ])('a %s reads %j and is refused %j with extensions.code forbidden', async (role, allowed, refused) => {
    const tenant = await createTenant({ plan: 'pro' });
    const { token } = await memberWithToken(tenant, role);
    const fields: Record<string, string> = {
      events: 'events { nodes { id } }',
      bookings: 'bookings { nodes { id } }',
      members: 'members { nodes { id } }',
      organization: 'organization { id }',
      auditLog: 'auditLog { nodes { id } }',
      webhookEndpoints: 'webhookEndpoints { nodes { id } }',
    };
    for (const field of allowed) {
      const result = await run(tenant, token, `{ ${fields[field] ?? ''} }`);
      expect(result.errors, `${role} reads ${field}`).toBeUndefined();
    }
    for (const field of refused) {
      const response = await postGraphql(tenant, token, { query: `{ ${fields[field] ?? ''} }` });
      expect(response.status).toBe(200);
      const answer = await body(response);
      expect(answer.data).toBeNull();
      expect(codes(answer.errors), `${role} is refused ${field}`).toEqual(['forbidden']);
      expect(answer.errors?.[0]?.path).toEqual([field]);
    }
  });

  it('refuses a staff member a mutation (events:write) with forbidden and changes nothing', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'staff');
    const event = await insertEvent(tenant);
    const response = await postGraphql(tenant, token, {
      query: 'mutation($id: ID!) { publishEvent(id: $id) { id status } }',
      variables: { id: event.id },
    });
    expect(response.status).toBe(403);
    const refused = await problem(response);
    expect(refused.code).toBe('forbidden');
    expect(codes(refused.graphqlErrors as GraphqlError[])).toEqual(['forbidden']);
    expect((refused.graphqlErrors as GraphqlError[])[0]?.path).toEqual(['publishEvent']);
    const check = await run<{ event: { status: string } }>(
      tenant,
      token,
      'query($id: ID!) { event(id: $id) { status } }',
      { id: event.id },
    );
    expect(check.data?.event.status).toBe('draft');
  });

  it('answers webhookEndpoints with feature_unavailable on a plan without webhooks', async () => {
    const tenant = await createTenant({ plan: 'starter' });
    const { token } = await memberWithToken(tenant, 'owner');
    const result = await run(tenant, token, '{ webhookEndpoints { nodes { id } } }');
    expect(codes(result.errors)).toEqual(['feature_unavailable']);
  });
});

describe('tenancy', () => {
  it("reads another organization's event and booking ids as null and never lists them", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const theirs = await bookedEvent(other);
    const result = await run<{
      event: null;
      booking: null;
      events: { nodes: unknown[] };
      bookings: { nodes: unknown[] };
    }>(
      tenant,
      token,
      'query($e: ID!, $b: ID!) { event(id: $e) { id } booking(id: $b) { id } events { nodes { id } } bookings { nodes { id } } }',
      { e: theirs.event.id, b: theirs.booking.id },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ event: null, booking: null, events: { nodes: [] }, bookings: { nodes: [] } });
  });

  it("answers a mutation on another organization's event with not_found (404) and changes nothing", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const theirs = await insertEvent(other);
    const response = await postGraphql(tenant, token, {
      query: 'mutation($id: ID!) { updateEvent(id: $id, input: { title: "Mine now" }) { id } }',
      variables: { id: theirs.id },
    });
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe('not_found');
    const { token: theirToken } = await memberWithToken(other, 'owner');
    const check = await run<{ event: { title: string } }>(
      other,
      theirToken,
      'query($id: ID!) { event(id: $id) { title } }',
      {
        id: theirs.id,
      },
    );
    expect(check.data?.event.title).toBe('Fixture event');
  });

  it('reads an id that is not a UUID as null (a query) and as validation_failed (a mutation)', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const read = await run(tenant, token, `{ event(id: "1' or 1=1 --") { id } }`);
    expect(read).toEqual({ data: { event: null } });
    const write = await postGraphql(tenant, token, { query: `mutation { publishEvent(id: "../x") { id } }` });
    expect(write.status).toBe(400);
    const answer = await problem(write);
    expect(answer.code).toBe('validation_failed');
    expect(answer.errors?.[0]?.pointer).toBe('/args');
  });
});

/** A request refused before execution: the REST problem (problem+json), its `errors[]` pointing at the query. */
async function refusal(tenant: TestTenant, token: string, payload: Record<string, unknown>) {
  const response = await postGraphql(tenant, token, payload);
  const answer = await problem(response);
  return { status: response.status, codes: [answer.code], message: answer.detail ?? '', answer };
}

/**
 * The 400 problem that `payload` answers an owner of a new organization (`overrides`: its plan), asserted to cost
 * neither a database nor a Redis round trip. A first request looks the host's organization up beforehand, so the
 * traced one counts only the refusal's own work.
 */
async function refusedWithoutRoundTrips(
  payload: Record<string, unknown>,
  overrides: Parameters<typeof createTenant>[0] = {},
) {
  const tenant = await createTenant(overrides);
  const { token } = await memberWithToken(tenant, 'owner');
  await postGraphql(tenant, token, { query: '{ organization { id } }' });
  const requestId = newRequestId();
  const response = await postGraphql(tenant, token, payload, { 'x-request-id': requestId });
  expect(response.status).toBe(400);
  const answer = await problem(response);
  expect(await roundTrips(requestId)).toEqual({ database: 0, redis: 0 });
  return answer;
}

describe('limits: bombs are refused with 400 query_too_complex before any database work', () => {
  it('a selection nested deeper than the depth limit', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const query = `{ events { nodes { ${'venue { '.repeat(GRAPHQL_LIMITS.maxDepth)}name${' }'.repeat(GRAPHQL_LIMITS.maxDepth)} } } }`;
    const result = await refusal(tenant, token, { query });
    expect(result.status).toBe(400);
    expect(result.codes).toContain('query_too_complex');
    expect(result.message).toMatch(/depth limit of \d+ exceeded/i);
  });

  it('more aliases than the limit', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const aliases = Array.from(
      { length: GRAPHQL_LIMITS.maxAliases + 1 },
      (_, index) => `a${index}: organization { id }`,
    );
    const result = await refusal(tenant, token, { query: `{ ${aliases.join(' ')} }` });
    expect(result).toMatchObject({ status: 400, codes: ['query_too_complex'] });
    expect(result.message).toMatch(/aliases limit of 15 exceeded/i);
  });

  it('more tokens than the limit (refused by the parser)', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const result = await refusal(tenant, token, {
      query: `{ organization { ${'id '.repeat(GRAPHQL_LIMITS.maxTokens)}} }`,
    });
    expect(result).toMatchObject({ status: 400, codes: ['query_too_complex'] });
    expect(result.message).toMatch(/more th\w+ 2000 tokens/);
  });

  it('more directives than the limit', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const fields = Array.from(
      { length: GRAPHQL_LIMITS.maxDirectives + 1 },
      (_, index) => `f${index}: id @include(if: true)`,
    );
    const result = await refusal(tenant, token, { query: `{ organization { ${fields.join(' ')} } }` });
    expect(result).toMatchObject({ status: 400, codes: ['query_too_complex'] });
  });

  it.each([
    [
      'page sizes written in the query',
      '{ webhookEndpoints(first: 100) { nodes { deliveries(first: 100) { nodes { attempts { attempt } } } } } }',
      {},
    ],
    [
      'page sizes passed as variables',
      'query($n: Int) { webhookEndpoints(first: $n) { nodes { deliveries(first: $n) { nodes { id } } } } }',
      { n: 100 },
    ],
  ])('a cost over the limit, with %s', async (_case, query, variables) => {
    const answer = await refusedWithoutRoundTrips({ query, variables }, { plan: 'pro' });
    expect(answer.code).toBe('query_too_complex');
    expect(answer.detail).toMatch(/may return \d+ objects; the limit is 10000/);
    expect(answer.errors?.[0]?.pointer).toBe('/body/query');
  });

  it('a document that does not parse or validate: 400 validation_failed with the location', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const broken = await refusal(tenant, token, { query: '{ events { nodes { id }' });
    expect(broken).toMatchObject({ status: 400, codes: ['validation_failed'] });
    const unknown = await refusal(tenant, token, { query: '{ events { nodes { titel } } }' });
    expect(unknown).toMatchObject({ status: 400, codes: ['validation_failed'] });
    // Introspection is on in the local environment, so the suggestion is shown here.
    expect(unknown.message).toContain('Did you mean "title"?');
    expect(unknown.answer.errors?.[0]?.pointer).toBe('/body/query');
  });

  it('a malformed body or an unknown member answers the REST 400 problem', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const response = await postGraphql(tenant, token, { query: '{ organization { id } }', sneaky: true });
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('validation_failed');
  });

  it.each([
    ['a value of the wrong type', 'query($id: ID!) { event(id: $id) { id } }', { id: { not: 'an id' } }],
    ['a missing required variable', 'query($id: ID!) { event(id: $id) { id } }', {}],
    [
      'an input object with a wrong field',
      'mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }',
      { input: { title: 5 } },
    ],
  ])(
    'variables that do not coerce (%s): 400 validation_failed at /body/variables, before any round trip',
    async (_case, query, variables) => {
      const answer = await refusedWithoutRoundTrips({ query, variables });
      expect(answer.code).toBe('validation_failed');
      expect(answer.detail).toMatch(/^Variable "\$(id|input)"/);
      expect(answer.errors?.every((error) => error.pointer === '/body/variables')).toBe(true);
    },
  );

  it('never answers 5xx or an internal error to variables of any shape (property-based, FUZZ_SEED)', async () => {
    const { seed, runs } = inject('fuzz');
    const tenant = await createTenant({ plan: 'enterprise' });
    const { token } = await memberWithToken(tenant, 'owner');
    // Values of every JSON type, and the shapes the schema expects filled with values of any type.
    const anything = fc.oneof(
      fc.jsonValue(),
      fc.uuid(),
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.constant('2031-07-04T18:00:00Z'),
      fc.constant('\u0000'),
    );
    const createEventInput = fc.oneof(
      anything,
      fc.record(
        {
          title: anything,
          timezone: fc.oneof(fc.constant('Europe/Berlin'), anything),
          startsAt: fc.oneof(
            fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
            anything,
          ),
          endsAt: fc.oneof(
            fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
            anything,
          ),
          capacity: anything,
          categories: fc.oneof(fc.array(anything), anything),
          slug: anything,
          unknownField: anything,
        },
        { requiredKeys: [] },
      ),
    );
    const cases = [
      { query: 'query($id: ID!) { event(id: $id) { id title } }', variables: fc.record({ id: anything }) },
      {
        query: 'query($first: Int, $after: String) { events(first: $first, after: $after) { nodes { id } } }',
        variables: fc.record({ first: anything, after: anything }, { requiredKeys: [] }),
      },
      {
        query: 'mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }',
        variables: fc.record({ input: createEventInput }, { requiredKeys: [] }),
      },
      {
        query:
          'mutation($eventId: ID, $ticketCode: String!) { checkIn(eventId: $eventId, ticketCode: $ticketCode) { alreadyCheckedIn } }',
        variables: fc.dictionary(fc.constantFrom('eventId', 'ticketCode', 'other'), anything),
      },
    ];
    for (const [index, { query, variables }] of cases.entries()) {
      await fc.assert(
        fc.asyncProperty(variables, async (values) => {
          const response = await postGraphql(tenant, token, { query, variables: values });
          const text = await response.text();
          expect(response.status, text).toBeLessThan(500);
          if (response.status === 200) {
            const body = JSON.parse(text) as { errors?: GraphqlError[] };
            for (const error of body.errors ?? []) {
              expect(error.extensions?.code, text).not.toBe('internal_error');
              expect(Object.keys(ERROR_CODES), text).toContain(error.extensions?.code);
            }
          } else {
            expect(response.headers.get('content-type'), text).toBe('application/problem+json');
            expect((JSON.parse(text) as { code?: string }).code, text).not.toBe('internal_error');
          }
        }),
        { seed: seed + index, numRuns: runs * 10 },
      );
    }
  });

  it('a variable that does not coerce over GET points at the query string', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const query = encodeURIComponent('query($first: Int) { events(first: $first) { nodes { id } } }');
    const response = await request(
      tenant.url(`/api/v1/graphql?query=${query}&variables=${encodeURIComponent('{"first":"ten"}')}`),
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(response.status).toBe(400);
    expect((await problem(response)).errors?.[0]?.pointer).toBe('/query/variables');
  });
});

describe('introspection', () => {
  it('is answered in the local environment', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'member');
    const result = await run<{ __schema: { queryType: { name: string } } }>(
      tenant,
      token,
      '{ __schema { queryType { name } } }',
    );
    expect(result.data?.__schema.queryType.name).toBe('Query');
  });

  it('is refused when turned off (production), and errors then suggest no field names', async () => {
    const options = {
      schema: graphqlSchema,
      introspection: false,
      method: 'POST',
      persisted: { get: () => Promise.resolve(null) },
    };
    const introspect = prepareOperation({ query: '{ __schema { types { name } } }' }, options);
    await expect(introspect).rejects.toBeInstanceOf(ApiError);
    await expect(introspect).rejects.toMatchObject({ code: 'validation_failed' });
    const typo = await prepareOperation({ query: '{ events { nodes { titel } } }' }, options).catch(
      (error: unknown) => error,
    );
    expect(typo).toBeInstanceOf(ApiError);
    expect((typo as ApiError).detail).toBe('Cannot query field "titel" on type "Event".');
    expect((typo as ApiError).errors?.[0]?.message).toBe(
      'Cannot query field "titel" on type "Event". (line 1, column 20)',
    );
    const allowed = await prepareOperation({ query: '{ events { nodes { title } } }' }, options);
    expect(allowed.units).toBe(1);
  });
});

describe('batching: one database round trip per nesting level', () => {
  it('lists 50 events with ticket types, pools and availability in two database round trips and one Redis round trip', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'staff');
    for (let index = 0; index < 50; index += 1) {
      const event = await insertEvent(tenant);
      await insertTicketType(tenant, event.id, { name: 'A' });
      await insertTicketType(tenant, event.id, { name: 'B' });
    }
    const query = gql`
      {
        events(first: 50) {
          nodes {
            id
            ticketTypes {
              name
              remaining
            }
            capacityPools {
              id
            }
            availability {
              remaining
            }
          }
        }
      }
    `;
    await run(tenant, token, '{ organization { id } }');
    const requestId = newRequestId();
    const result = await run<{ events: { nodes: { ticketTypes: unknown[]; availability: { remaining: number } }[] } }>(
      tenant,
      token,
      query,
      {},
      { 'x-request-id': requestId },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.events.nodes).toHaveLength(50);
    expect(result.data?.events.nodes.every((node) => node.ticketTypes.length === 2)).toBe(true);
    expect(result.data?.events.nodes.every((node) => node.availability.remaining === 200)).toBe(true);
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 1 });
  });

  it('lists bookings with attendees, payment and refunds in two database round trips', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const { event, ticketType } = await bookedEvent(tenant);
    for (let index = 0; index < 3; index += 1) {
      await book(tenant, event.slug, {
        buyer: { name: `Buyer ${index}`, email: `buyer-${index}@example.com` },
        items: [{ ticketTypeId: ticketType.id, quantity: 1 }],
        paymentMethod: 'manual',
      });
    }
    await run(tenant, token, '{ organization { id } }');
    const requestId = newRequestId();
    const result = await run<{ bookings: { nodes: { attendees: unknown[]; payment: unknown }[] } }>(
      tenant,
      token,
      '{ bookings { nodes { id attendees { id } payment { status } refunds { id } } } }',
      {},
      { 'x-request-id': requestId },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.bookings.nodes.map((node) => node.attendees.length).sort()).toEqual([1, 1, 1, 2]);
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 1 });
  });
});

describe('rate limits: an operation is charged its cost', () => {
  it('takes ceil(cost / 100) units from the plan buckets, one for a small query', async () => {
    const tenant = await createTenant({ planOverrides: { rateLimits: { principalPerMinute: 50 } } });
    const { token } = await memberWithToken(tenant, 'owner');
    const remaining = (response: Response) =>
      parseRateLimitHeader(response.headers.get('ratelimit')).find((item) => item.name === 'api-principal')?.params.r;
    const small = await postGraphql(tenant, token, { query: '{ organization { id } }' });
    expect(remaining(small)).toBe(49);
    // 1 (connection) + 50 × (1 list of 10 ticket types + 1 availability): 551, so 6 units.
    const big = await postGraphql(tenant, token, {
      query: '{ events(first: 50) { nodes { ticketTypes { id } availability { remaining } } } }',
    });
    expect(big.status).toBe(200);
    expect(remaining(big)).toBe(43);
    // 1 + 100 × (10 attendees + 10 refunds + 1 payment): 2101, so 22 units.
    const bookings = await postGraphql(tenant, token, {
      query: '{ bookings(first: 100) { nodes { attendees { id } refunds { id } payment { id } } } }',
    });
    expect(bookings.status).toBe(200);
    expect(remaining(bookings)).toBe(21);
  });

  it('answers 429 as REST does when the cost does not fit in what is left', async () => {
    const tenant = await createTenant({ planOverrides: { rateLimits: { principalPerMinute: 5 } } });
    const { token } = await memberWithToken(tenant, 'owner');
    const response = await postGraphql(tenant, token, {
      query: '{ events(first: 50) { nodes { ticketTypes { id } availability { remaining } } } }',
    });
    expect(response.status).toBe(429);
    expect((await problem(response)).code).toBe('rate_limited');
  });
});

describe('mutations and Idempotency-Key', () => {
  const CREATE = gql`
    mutation Create($input: CreateEventInput!) {
      createEvent(input: $input) {
        id
        status
        title
      }
    }
  `;
  const input = {
    title: 'GraphQL Night',
    timezone: 'Europe/Berlin',
    startsAt: '2031-07-04T18:00:00Z',
    endsAt: '2031-07-04T22:00:00Z',
    venue: { name: 'Kulturhaus', city: 'Hamburg', country: 'DE' },
  };

  it('creates an event once and replays the answer for the same key, with one audit row', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const key = crypto.randomUUID();
    const first = await postGraphql(tenant, token, { query: CREATE, variables: { input } }, { 'idempotency-key': key });
    expect(first.status).toBe(200);
    const created = (await body(first)).data as { createEvent: { id: string; status: string } };
    expect(created.createEvent.status).toBe('draft');
    const again = await postGraphql(tenant, token, { query: CREATE, variables: { input } }, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await body(again)).data as typeof created).createEvent.id).toBe(created.createEvent.id);
    const list = await run<{ events: { nodes: { id: string }[] } }>(tenant, token, '{ events { nodes { id } } }');
    expect(list.data?.events.nodes).toHaveLength(1);
    const audit = await run<{ auditLog: { nodes: { action: string }[] } }>(
      await Promise.resolve(tenant),
      (await memberWithToken(tenant, 'owner')).token,
      '{ auditLog(action: "event.created") { nodes { action } } }',
    );
    expect(audit.data?.auditLog.nodes).toHaveLength(1);
  });

  it('answers 422 for the same key with another body', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const key = crypto.randomUUID();
    await postGraphql(tenant, token, { query: CREATE, variables: { input } }, { 'idempotency-key': key });
    const other = await postGraphql(
      tenant,
      token,
      { query: CREATE, variables: { input: { ...input, title: 'Other' } } },
      { 'idempotency-key': key },
    );
    expect(other.status).toBe(422);
  });

  it('keeps nothing for a refused mutation, so the same key runs again once the input is fixed', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const key = crypto.randomUUID();
    const bad = await postGraphql(
      tenant,
      token,
      { query: CREATE, variables: { input: { ...input, endsAt: '2031-07-04T17:00:00Z' } } },
      { 'idempotency-key': key },
    );
    expect(bad.status).toBe(400);
    const answer = await problem(bad);
    expect(answer.code).toBe('validation_failed');
    expect(answer.errors?.[0]?.pointer).toBe('/args/endsAt');
    const good = await postGraphql(tenant, token, { query: CREATE, variables: { input } }, { 'idempotency-key': key });
    expect(good.status).toBe(200);
    expect(good.headers.get('idempotent-replayed')).toBeNull();
  });

  it('publishes, adds a ticket type, confirms and cancels a booking, and checks a ticket in', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    const { booking, event } = await bookedEvent(tenant);
    const draft = await insertEvent(tenant);
    const client = graphqlClient(tenant, token);
    const ticket = await client.rawRequest<{ createTicketType: { id: string; name: string } }>(
      'mutation($id: ID!) { createTicketType(eventId: $id, input: { name: "VIP", price: 9900, currency: "EUR", quantity: 10 }) { id name } }',
      { id: draft.id },
    );
    expect(ticket.errors).toBeUndefined();
    const published = await client.rawRequest<{ publishEvent: { status: string } }>(
      'mutation($id: ID!) { publishEvent(id: $id) { status } }',
      { id: draft.id },
    );
    expect(published.data.publishEvent.status).toBe('published');
    const confirmed = await client.rawRequest<{
      confirmBooking: { status: string; attendees: { ticketCode: string }[] };
    }>('mutation($id: ID!) { confirmBooking(id: $id) { status attendees { ticketCode } } }', { id: booking.id });
    expect(confirmed.data.confirmBooking.status).toBe('confirmed');
    const code = confirmed.data.confirmBooking.attendees[0]?.ticketCode ?? '';
    const checked = await client.rawRequest<{ checkIn: { alreadyCheckedIn: boolean; attendee: { eventId: string } } }>(
      'mutation($code: String!) { checkIn(ticketCode: $code) { alreadyCheckedIn attendee { eventId } } }',
      { code },
    );
    expect(checked.data.checkIn).toEqual({ alreadyCheckedIn: false, attendee: { eventId: event.id } });
    const cancelled = await client.rawRequest<{ cancelBooking: { status: string } }>(
      'mutation($id: ID!) { cancelBooking(id: $id) { status } }',
      { id: booking.id },
    );
    expect(cancelled.data.cancelBooking.status).toBe('cancelled');
  });

  it('refuses a mutation over GET with 405', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const url = tenant.url(`/api/v1/graphql?query=${encodeURIComponent('mutation { publishEvent(id: "x") { id } }')}`);
    const response = await request(url, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(405);
    expect((await problem(response)).code).toBe('method_not_allowed');
    expect(response.headers.get('allow')).toBe('POST');
  });
});

describe('API keys', () => {
  async function keyOf(tenant: TestTenant, token: string, environment: 'live' | 'test') {
    const response = await request(tenant.url('/api/v1/api-keys'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'GraphQL',
        environment,
        permissions: ['events:read', 'bookings:read', 'bookings:write'],
      }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    return (await response.json<{ key: string }>()).key;
  }

  it('a key reads within its scopes, is charged in its own bucket, in one Redis round trip', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const { booking } = await bookedEvent(tenant);
    const key = await keyOf(tenant, token, 'live');
    const requestId = newRequestId();
    const response = await postGraphql(
      tenant,
      key,
      {
        query: 'query($id: ID!) { booking(id: $id) { id status } }',
        variables: { id: booking.id },
      },
      { 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    const result = await body(response);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result.data).toMatchObject({ booking: { id: booking.id } });
    expect(response.headers.get('ratelimit')).toMatch(/"api-key"/);
    expect((await roundTrips(requestId)).redis).toBe(1);
    // Outside its scopes: members need users:read, which the key does not hold.
    const members = await run(tenant, key, '{ members(first: 5) { nodes { id } } }');
    expect(codes(members.errors)).toContain('forbidden');
  });

  it('a test key cannot confirm or cancel a booking (live-only, as over REST); a live key can', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const { booking } = await bookedEvent(tenant);
    const confirm = {
      query: 'mutation($id: ID!) { confirmBooking(id: $id) { status } }',
      variables: { id: booking.id },
    };
    const refused = await postGraphql(tenant, await keyOf(tenant, token, 'test'), confirm);
    expect(refused.status).toBe(403);
    expect((await problem(refused)).code).toBe('live_key_required');
    const confirmed = await postGraphql(tenant, await keyOf(tenant, token, 'live'), confirm);
    expect(confirmed.status).toBe(200);
    expect((await body(confirmed)).data).toEqual({ confirmBooking: { status: 'confirmed' } });
  });

  it('a forged key is a 401 before any Redis work', async () => {
    const tenant = await createTenant();
    const response = await postGraphql(tenant, `evk_live_${'0'.repeat(32)}_${'A'.repeat(43)}`, {
      query: '{ organization { id } }',
    });
    expect(response.status).toBe(401);
  });
});

describe('GET and persisted queries', () => {
  async function sha256(text: string): Promise<string> {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  }

  it('answers an unknown hash with persisted_query_not_found, then runs it by hash (POST and GET) once sent with its query', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const query = '{ organization { slug } }';
    const hash = await sha256(query);
    const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
    const unknown = await postGraphql(tenant, token, { extensions });
    expect(unknown.status).toBe(400);
    expect((await problem(unknown)).code).toBe('persisted_query_not_found');
    const registered = await postGraphql(tenant, token, { query, extensions });
    expect((await body(registered)).data).toEqual({ organization: { slug: tenant.organization.slug } });
    const byHash = await request(
      tenant.url(`/api/v1/graphql?extensions=${encodeURIComponent(JSON.stringify(extensions))}`),
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(byHash.status).toBe(200);
    expect((await body(byHash)).data).toEqual({ organization: { slug: tenant.organization.slug } });
    // Another organization does not share the first one's persisted queries.
    const other = await createTenant();
    const { token: otherToken } = await memberWithToken(other, 'owner');
    expect((await postGraphql(other, otherToken, { extensions })).status).toBe(400);
  });

  it('refuses a hash that is not the sha256 of the query', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const response = await postGraphql(tenant, token, {
      query: '{ organization { id } }',
      extensions: { persistedQuery: { version: 1, sha256Hash: await sha256('{ events { nodes { id } } }') } },
    });
    expect(response.status).toBe(400);
    expect((await problem(response)).errors?.[0]?.pointer).toBe('/body/extensions');
  });

  it('runs a query over GET with variables, and answers 304 to its ETag', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'owner');
    const event = await insertEvent(tenant);
    const url = tenant.url(
      `/api/v1/graphql?query=${encodeURIComponent('query($id: ID!) { event(id: $id) { id } }')}&variables=${encodeURIComponent(JSON.stringify({ id: event.id }))}`,
    );
    const response = await request(url, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect((await body(response)).data).toEqual({ event: { id: event.id } });
    const etag = response.headers.get('etag');
    expect(etag).not.toBeNull();
    const again = await request(url, { headers: { authorization: `Bearer ${token}`, 'if-none-match': etag ?? '' } });
    expect(again.status).toBe(304);
  });
});

describe('the published schema', () => {
  it('serves the committed SDL as a static asset at /docs/schema.graphql, with the schema the Worker runs', async () => {
    const assets = (env as unknown as { ASSETS: Fetcher }).ASSETS;
    const response = await assets.fetch('https://assets.invalid/docs/schema.graphql');
    expect(response.status).toBe(200);
    const sdl = await response.text();
    expect(sdl).toContain('type Query {');
    expect(sdl).toContain('events(');
    // The Worker's schema and the served file name the same types (the file is sorted and formatted: see dev/graphql-schema.ts).
    const types = (text: string) => [...text.matchAll(/^(?:type|input|enum|scalar) (\w+)/gm)].map((m) => m[1]).sort();
    expect(types(sdl)).toEqual(types(printSchema(graphqlSchema)));
  });
});
