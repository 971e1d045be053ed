// Load test of the core endpoints on the local stack (wrangler dev + gateways + real PostgreSQL and Redis), with
// autocannon, and the two floors measured side by side in the same run:
//   - static: GET /health, a route answering static JSON with no I/O, through the same wrangler dev;
//   - sql: the very SQL each endpoint sent (captured by the Neon gateway for a sample of its requests), replayed
//     straight to the Neon gateway at the same concurrency. A request that took several round trips is replayed as
//     the same sequence, timed as a whole. For writes, the ids and hashes the Worker generated are replaced by fresh
//     ones so the replay inserts new rows instead of failing on a unique key.
// Latency is timed per request from autocannon's setupRequest to its onResponse (the same way for every line).
// Round trips come from the gateways' per-request counters (X-Request-Id = trace) for a sample of requests.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import type { BenchTenant, Fixtures } from './fixtures.ts';
import { cpuBetween, type StackCpu } from './process-cpu.ts';
import {
  benchIp,
  capturedSql,
  percentile,
  refreshGenerated,
  roundTrips,
  statementsOf,
  totalRoundTrips,
  type CapturedRequest,
  type RoundTrips,
  type StackPorts,
} from './stack.ts';

export interface LoadOptions {
  connections: number;
  /** Seconds per measured run (after a warm-up run of `warmup` seconds). */
  duration: number;
  warmup: number;
  /** Requests per scenario whose round trips are read from the gateways and whose SQL the floor replays. */
  sample: number;
}

interface Call {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

export interface Scenario {
  name: string;
  /** What the table shows, e.g. `GET /api/v1/events`. */
  label: string;
  expect: number;
  /** True when the endpoint writes: the SQL floor then refreshes generated ids in its replay. */
  writes: boolean;
  /** Round trips per request allowed (bench/run.ts fails beyond); one database and one Redis when not given. */
  budget?: { database: number; redis: number };
  build(index: number, fixtures: Fixtures): Call & { host: string };
}

/** The item at `index`, wrapping around. */
function at<T>(list: readonly T[], index: number): T {
  const item = list[index % list.length];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
}

/**
 * A GET on every fixture tenant in turn: anonymous (each request from its own address, so the per-client limit sees
 * many clients) or as the tenant's owner.
 */
function read(
  name: string,
  label: string,
  caller: 'anonymous' | 'owner',
  path: (tenant: BenchTenant) => string,
): Scenario {
  return {
    name,
    label,
    expect: 200,
    writes: false,
    build: (i, { tenants }) => {
      const tenant = at(tenants, i);
      const headers: Record<string, string> =
        caller === 'owner'
          ? { authorization: `Bearer ${tenant.accessToken}` }
          : { 'cf-connecting-ip': benchIp(i % 50_000) };
      return { host: tenant.host, method: 'GET', path: path(tenant), headers };
    },
  };
}

/** The GraphQL line: 50 events with their ticket types, pools and availability (two levels: two database round trips). */
export const GRAPHQL_EVENTS_QUERY =
  '{ events(first: 50) { nodes { id title startsAt ticketTypes { id name price remaining } ' +
  'capacityPools { id remaining } availability { sold remaining } } pageInfo { hasNextPage endCursor } } }';

export const SCENARIOS: Scenario[] = [
  read('public-list', 'GET /api/v1/public/events', 'anonymous', () => '/api/v1/public/events?limit=20'),
  // The same list as a miss of the edge cache every time: a `to` bound far in the future (the same events) whose
  // instant differs per request makes every request's cache key new, so each reads the database.
  {
    ...read('public-list-miss', 'GET /api/v1/public/events (cache miss)', 'anonymous', () => ''),
    build: (i, { tenants }) => ({
      host: at(tenants, i).host,
      method: 'GET',
      path: `/api/v1/public/events?limit=20&to=${new Date(Date.UTC(2100, 0, 1) + i).toISOString()}`,
      headers: { 'cf-connecting-ip': benchIp(i % 50_000) },
    }),
  },
  read('public-detail', 'GET /api/v1/public/events/{slug}', 'anonymous', (t) => `/api/v1/public/events/${t.eventSlug}`),
  read('events-list', 'GET /api/v1/events', 'owner', () => '/api/v1/events?limit=20'),
  read('auth-me', 'GET /api/v1/auth/me', 'owner', () => '/api/v1/auth/me'),
  {
    name: 'graphql-events',
    label: 'POST /api/v1/graphql (50 events + tickets)',
    expect: 200,
    writes: false,
    budget: { database: 2, redis: 1 },
    build: (i, { tenants }) => {
      const tenant = at(tenants, i);
      return {
        host: tenant.host,
        method: 'POST',
        path: '/api/v1/graphql',
        headers: { authorization: `Bearer ${tenant.accessToken}`, 'content-type': 'application/json' },
        body: { query: GRAPHQL_EVENTS_QUERY },
      };
    },
  },
  {
    name: 'login',
    label: 'POST /api/v1/auth/login',
    expect: 200,
    writes: true,
    build: (i, { tenants }) => {
      // Every account of every tenant in turn (the per-account limit is 10 per 15 minutes), each from its own address.
      const tenant = at(tenants, i);
      const email = at(tenant.emails, Math.floor(i / tenants.length));
      return {
        host: tenant.host,
        method: 'POST',
        path: '/api/v1/auth/login',
        headers: { 'cf-connecting-ip': benchIp(i % 50_000), 'content-type': 'application/json' },
        body: { email, password: 'eventra-bench-password' },
      };
    },
  },
  {
    name: 'booking',
    label: 'POST /api/v1/public/events/{slug}/bookings',
    expect: 201,
    writes: true,
    build: (i, { tenants }) => {
      const tenant = at(tenants, i);
      return {
        host: tenant.host,
        method: 'POST',
        path: `/api/v1/public/events/${tenant.saleSlug}/bookings`,
        headers: {
          'cf-connecting-ip': benchIp(i % 50_000),
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: {
          buyer: { name: `Buyer ${i}`, email: `buyer${i}@example.com` },
          items: [{ ticketTypeId: tenant.saleTicketTypeId, quantity: 1 }],
        },
      };
    },
  },
];

export interface LatencySummary {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
  errors: number;
  statuses: Record<string, number>;
}

export interface ScenarioResult extends LatencySummary, Cpu {
  name: string;
  label: string;
  /** Round trips per request over the sampled requests (the request's own trace). */
  /**
   * Round trips per request over the sampled requests (the request's own trace). `database` leaves out the tenant
   * lookups (a host's first request in an isolate, then again when the 30 s tenant cache entry expires), which
   * `tenantLookups` counts per request.
   */
  roundTrips: {
    sampled: number;
    database: { mean: number; max: number };
    redis: { mean: number; max: number };
    tenantLookups: number;
  };
  /** Every round trip the gateways served during the run (background work included) per request. */
  gatewayTotalsPerRequest: RoundTrips;
  sqlFloor: LatencySummary & { statementsPerRequest: number; replayedRequests: number };
  /**
   * p50 latency divided by the floors' p50: the static floor, the SQL floor, and both together (what the endpoint
   * would cost if the Worker added nothing to getting a request in and out and to its own SQL).
   */
  ratio: { toStatic: number; toSql: number; toFloors: number };
}

interface Step {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Context {
  started?: number;
  steps?: Step[];
  trace?: string;
}

/**
 * Runs autocannon with `connections` connections for `duration` seconds; `next()` gives each new unit of work (one
 * or more HTTP steps, timed together). `check(status)` says whether a step's answer is the expected one.
 */
async function drive(
  port: number,
  options: { connections: number; duration: number },
  next: () => Step[],
  check: (status: number) => boolean,
  answered?: (trace: string) => void,
  maxSteps = 1,
): Promise<LatencySummary> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  // autocannon walks its `requests` list per connection and resets the context when it wraps around, so a unit of
  // several steps is one pass over a list of maxSteps entries: entry 0 takes the next unit, an entry without a step
  // left returns null (autocannon then starts over at entry 0 with a fresh context).
  const entry = (position: number): autocannon.Request => ({
    setupRequest: (request, raw) => {
      const context = raw as Context;
      if (position === 0) {
        context.steps = next();
        context.started = performance.now();
      }
      const step = context.steps?.shift();
      if (!step) return null as unknown as autocannon.Request;
      context.trace = step.headers['x-request-id'];
      return {
        ...request,
        method: step.method,
        path: step.path,
        headers: step.headers,
        body: step.body,
      };
    },
    onResponse: (status, _body, raw) => {
      const context = raw as Context;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (!check(status)) {
        // A failed step ends its unit of work, which counts as an error, not as a latency.
        errors += 1;
        context.steps = [];
        context.started = undefined;
      }
      if (context.steps?.length === 0 && context.started !== undefined) {
        latencies.push(performance.now() - context.started);
        context.started = undefined;
        if (context.trace !== undefined) answered?.(context.trace);
      }
    },
  });
  const started = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections,
    duration: options.duration,
    timeout: 30,
    requests: Array.from({ length: maxSteps }, (_, position) => entry(position)),
  });
  const seconds = (performance.now() - started) / 1000;
  errors += result.errors + result.timeouts;
  return {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    mean: latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, latencies.length),
    max: percentile(latencies, 100),
    errors,
    statuses,
  };
}

/** The tenant middleware's lookup of an organization by host (a batch scoped with resolve_slug or resolve_host). */
export function isTenantLookup(request: CapturedRequest): boolean {
  const first = statementsOf(request)[0]?.query ?? '';
  return first.includes('app.resolve_slug') || first.includes('app.resolve_host');
}

function toStep(request: CapturedRequest): Step {
  return {
    method: 'POST',
    path: '/sql',
    headers: { ...request.headers, 'content-type': 'application/json' },
    body: request.body,
  };
}

/** Evenly spaced picks from a list. */
function sampleOf<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, index) => at(items, Math.floor((index * items.length) / count)));
}

function stepOf(call: Call & { host: string }, trace: string): Step {
  return {
    method: call.method,
    path: call.path,
    headers: { host: call.host, ...call.headers, 'x-request-id': trace },
    ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
  };
}

/** The static floor: GET /health through the same wrangler dev. */
export async function staticFloor(stack: MeasuredStack, options: LoadOptions): Promise<LatencySummary & Cpu> {
  const health: Step = { method: 'GET', path: '/health', headers: { host: 'localhost' } };
  await drive(stack.port, { connections: options.connections, duration: options.warmup }, () => [health], ok(200));
  return withCpu(stack, () => drive(stack.port, options, () => [health], ok(200)));
}

/** A stack whose processes' CPU can be read (bench/process-cpu.ts; `cpu` null off Linux). */
type MeasuredStack = StackPorts & { cpu(): StackCpu | null };

/** The whole stack's CPU per request of a measured line (ms: workerd, gateways, wrangler, PostgreSQL), or null. */
export interface Cpu {
  cpuMsPerRequest: StackCpu | null;
}

/** Runs one measured line and adds the stack's CPU per request over it (answered and failed requests alike). */
async function withCpu<T extends LatencySummary>(stack: MeasuredStack, line: () => Promise<T>): Promise<T & Cpu> {
  const before = stack.cpu();
  const summary = await line();
  const cpu = cpuBetween(before, stack.cpu());
  const count = Math.max(1, summary.requests + summary.errors);
  const per = (seconds: number) => (seconds * 1000) / count;
  return {
    ...summary,
    cpuMsPerRequest:
      cpu === null
        ? null
        : {
            workerd: per(cpu.workerd),
            gateways: per(cpu.gateways),
            wrangler: per(cpu.wrangler),
            postgres: per(cpu.postgres),
          },
  };
}

/** The sum of a line's CPU per request over the stack's parts (ms), or NaN without /proc. */
export function cpuTotal(cpu: StackCpu | null): number {
  return cpu === null ? Number.NaN : cpu.workerd + cpu.gateways + cpu.wrangler + cpu.postgres;
}

const ok = (expected: number) => (status: number) => status === expected;

/** The SQL floor of requests that sent no SQL. */
const NO_SQL: LatencySummary = {
  requests: 0,
  seconds: 0,
  rps: 0,
  p50: 0,
  p95: 0,
  p99: 0,
  mean: 0,
  max: 0,
  errors: 0,
  statuses: {},
};

export async function runScenario(
  stack: MeasuredStack,
  fixtures: Fixtures,
  scenario: Scenario,
  options: LoadOptions,
  floor: LatencySummary,
): Promise<ScenarioResult> {
  let index = 0;
  const answered: string[] = [];
  const make = (): Step[] => {
    const i = index++;
    return [stepOf(scenario.build(i, fixtures), `bench-${scenario.name}-${fixtures.runId}-${i}`)];
  };
  await drive(stack.port, { connections: options.connections, duration: options.warmup }, make, () => true);
  const before = await totalRoundTrips(stack);
  const measured = await withCpu(stack, () =>
    drive(stack.port, options, make, ok(scenario.expect), (trace) => answered.push(trace)),
  );
  const after = await totalRoundTrips(stack);

  // The sampled requests' own round trips and SQL (requests answered as expected).
  const sampled = sampleOf(answered, options.sample);
  const counts: (RoundTrips & { lookups: number })[] = [];
  const replays: CapturedRequest[][] = [];
  for (const trace of sampled) {
    const count = await roundTrips(stack, trace);
    const sql = await capturedSql(stack, trace);
    const lookups = sql.filter(isTenantLookup).length;
    counts.push({ database: count.database - lookups, redis: count.redis, lookups });
    if (sql.length > 0) replays.push(sql);
  }
  if (counts.length === 0) {
    throw new Error(`${scenario.name}: no request answered as expected (${JSON.stringify(measured.statuses)})`);
  }
  let replay = 0;
  const nextReplay = (): Step[] => {
    const requests = at(replays, replay++);
    return (scenario.writes ? refreshGenerated(requests, fixtures.known) : requests).map(toStep);
  };
  // Requests answered without SQL (the public catalogue's edge cache hits) have a SQL floor of nothing: 0 ms.
  let sqlFloor = NO_SQL;
  if (replays.length > 0) {
    const steps = Math.max(...replays.map((requests) => requests.length));
    const warm = { connections: options.connections, duration: options.warmup };
    await drive(stack.neonPort, warm, nextReplay, ok(200), undefined, steps);
    sqlFloor = await drive(stack.neonPort, options, nextReplay, ok(200), undefined, steps);
  }
  const statements = replays.map((requests) =>
    requests.reduce((sum, request) => sum + statementsOf(request).length, 0),
  );

  const stats = (values: number[]) => ({
    mean: values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length),
    max: Math.max(0, ...values),
  });
  const completed = Math.max(1, measured.requests + measured.errors);
  return {
    name: scenario.name,
    label: scenario.label,
    ...measured,
    roundTrips: {
      sampled: counts.length,
      database: stats(counts.map((count) => count.database)),
      redis: stats(counts.map((count) => count.redis)),
      tenantLookups: stats(counts.map((count) => count.lookups)).mean,
    },
    gatewayTotalsPerRequest: {
      database: (after.database - before.database) / completed,
      redis: (after.redis - before.redis) / completed,
    },
    sqlFloor: {
      ...sqlFloor,
      statementsPerRequest: statements.reduce((sum, value) => sum + value, 0) / Math.max(1, counts.length),
      replayedRequests: replays.length,
    },
    ratio: {
      toStatic: measured.p50 / floor.p50,
      toSql: sqlFloor.p50 > 0 ? measured.p50 / sqlFloor.p50 : Number.NaN,
      toFloors: measured.p50 / (floor.p50 + sqlFloor.p50),
    },
  };
}
