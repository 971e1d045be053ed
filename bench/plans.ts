// Query-plan check on the scale data: every statement the core endpoints send, as the Neon gateway captured it for
// one request of each, re-run with EXPLAIN (ANALYZE, BUFFERS) in the same order, in one transaction per captured
// batch, as the application role (row-level security on, the batch's own set_config scope), then rolled back. Write
// batches get fresh generated ids first (refreshGenerated), so re-running them inserts new rows. A sequential scan
// of a tenant table (a table with row-level security) fails the check.
import pg from 'pg';
import type { Fixtures, BenchTenant } from './fixtures.ts';
import {
  capturedSql,
  expectCall,
  refreshGenerated,
  statementsOf,
  type CapturedRequest,
  type StackPorts,
} from './stack.ts';

interface Probe {
  label: string;
  writes: boolean;
  expect: number;
  request(
    tenant: BenchTenant,
    fixtures: Fixtures,
  ): {
    method: 'GET' | 'POST';
    path: string;
    headers?: Record<string, string>;
    body?: unknown;
    host?: string;
  };
}

const bearer = (tenant: BenchTenant) => ({ authorization: `Bearer ${tenant.accessToken}` });

/** The core endpoints of the load test first, then the staff reads and the check-in that sit beside them. */
const PROBES: Probe[] = [
  {
    label: 'tenant resolution (first request on a host)',
    writes: false,
    expect: 200,
    request: (_tenant, fixtures) => ({
      method: 'GET',
      path: '/api/v1/public/events?limit=20',
      host: `bench-${fixtures.seededOrganizations}.localhost`,
      headers: { 'cf-connecting-ip': '198.18.255.1' },
    }),
  },
  {
    label: 'GET /api/v1/public/events',
    writes: false,
    expect: 200,
    request: () => ({ method: 'GET', path: '/api/v1/public/events?limit=20' }),
  },
  {
    label: 'GET /api/v1/public/events/{slug}',
    writes: false,
    expect: 200,
    request: (tenant) => ({ method: 'GET', path: `/api/v1/public/events/${tenant.eventSlug}` }),
  },
  {
    label: 'GET /api/v1/events',
    writes: false,
    expect: 200,
    request: (tenant) => ({ method: 'GET', path: '/api/v1/events?limit=20', headers: bearer(tenant) }),
  },
  {
    label: 'GET /api/v1/auth/me',
    writes: false,
    expect: 200,
    request: (tenant) => ({ method: 'GET', path: '/api/v1/auth/me', headers: bearer(tenant) }),
  },
  {
    label: 'POST /api/v1/auth/login',
    writes: true,
    expect: 200,
    request: (tenant) => ({
      method: 'POST',
      path: '/api/v1/auth/login',
      body: { email: tenant.emails[1], password: 'eventra-bench-password' },
    }),
  },
  {
    label: 'POST /api/v1/public/events/{slug}/bookings',
    writes: true,
    expect: 201,
    request: (tenant) => ({
      method: 'POST',
      path: `/api/v1/public/events/${tenant.saleSlug}/bookings`,
      headers: { 'idempotency-key': crypto.randomUUID() },
      body: {
        buyer: { name: 'Plan Check', email: 'plan-check@example.com' },
        items: [{ ticketTypeId: tenant.saleTicketTypeId, quantity: 2 }],
      },
    }),
  },
  {
    label: 'GET /api/v1/events/{id}',
    writes: false,
    expect: 200,
    request: (tenant) => ({ method: 'GET', path: `/api/v1/events/${tenant.eventId}`, headers: bearer(tenant) }),
  },
  {
    label: 'GET /api/v1/events/{id}/ticket-types',
    writes: false,
    expect: 200,
    request: (tenant) => ({
      method: 'GET',
      path: `/api/v1/events/${tenant.eventId}/ticket-types`,
      headers: bearer(tenant),
    }),
  },
  {
    label: 'GET /api/v1/bookings?eventId=',
    writes: false,
    expect: 200,
    request: (tenant) => ({
      method: 'GET',
      path: `/api/v1/bookings?eventId=${tenant.eventId}&limit=20`,
      headers: bearer(tenant),
    }),
  },
  {
    label: 'GET /api/v1/bookings',
    writes: false,
    expect: 200,
    request: (tenant) => ({ method: 'GET', path: '/api/v1/bookings?limit=20', headers: bearer(tenant) }),
  },
  {
    label: 'GET /api/v1/bookings/{id}',
    writes: false,
    expect: 200,
    request: (tenant) => ({ method: 'GET', path: `/api/v1/bookings/${tenant.bookingId}`, headers: bearer(tenant) }),
  },
  {
    label: 'POST /api/v1/check-ins',
    writes: true,
    expect: 200,
    request: (tenant) => ({
      method: 'POST',
      path: '/api/v1/check-ins',
      headers: bearer(tenant),
      body: { ticketCode: tenant.ticketCode },
    }),
  },
  {
    label: 'GET /api/v1/users',
    writes: false,
    expect: 200,
    request: (tenant) => ({ method: 'GET', path: '/api/v1/users?limit=20', headers: bearer(tenant) }),
  },
  {
    label: 'GET /api/v1/audit-logs',
    writes: false,
    expect: 200,
    request: (tenant) => ({ method: 'GET', path: '/api/v1/audit-logs?limit=20', headers: bearer(tenant) }),
  },
];

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

export interface StatementPlan {
  endpoint: string;
  /** Position in the captured batch (the scope statement is 0 and not explained). */
  statement: number;
  sql: string;
  shape: string;
  rows: number;
  planningMs: number;
  executionMs: number;
  sharedHit: number;
  sharedRead: number;
  seqScans: string[];
  tenantSeqScans: string[];
  error?: string;
}

export interface PlanReport {
  statements: StatementPlan[];
  failures: StatementPlan[];
}

function describe(node: PlanNode): string {
  const target = node['Index Name']
    ? ` ${node['Index Name']}`
    : node['Relation Name']
      ? ` ${node['Relation Name']}`
      : '';
  const children = node.Plans ?? [];
  const inner = children.length === 0 ? '' : `(${children.map(describe).join(', ')})`;
  return `${node['Node Type']}${target}${inner}`;
}

function seqScansOf(node: PlanNode, found: string[] = []): string[] {
  if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) found.push(node['Relation Name']);
  for (const child of node.Plans ?? []) seqScansOf(child, found);
  return found;
}

/** Sends each probe once (trace bench-plan-<run>-<i>) and explains the SQL it sent. */
export async function checkPlans(stack: StackPorts, fixtures: Fixtures, databaseUrl: string): Promise<PlanReport> {
  const tenant = fixtures.tenants[0];
  if (!tenant) throw new Error('no fixtures');
  const captured: { label: string; writes: boolean; requests: CapturedRequest[] }[] = [];
  for (const [index, probe] of PROBES.entries()) {
    const trace = `bench-plan-${fixtures.runId}-${index}`;
    const request = probe.request(tenant, fixtures);
    await expectCall(
      {
        ...stack,
        host: request.host ?? tenant.host,
        method: request.method,
        path: request.path,
        body: request.body,
        headers: { 'cf-connecting-ip': `198.18.254.${index + 1}`, ...request.headers, 'x-request-id': trace },
      },
      probe.expect,
    );
    captured.push({ label: probe.label, writes: probe.writes, requests: await capturedSql(stack, trace) });
  }

  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'eventra-bench-plans' });
  await client.connect();
  const statements: StatementPlan[] = [];
  try {
    // The gateway's session settings, so timestamps and dates read the same way.
    await client.query("set timezone to 'UTC'; set datestyle to 'ISO, MDY'; set intervalstyle to 'postgres'");
    const tenantTables = new Set(
      (
        await client.query<{ relname: string }>(
          `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind = 'r' and c.relrowsecurity`,
        )
      ).rows.map((row) => row.relname),
    );
    for (const { label, writes, requests } of captured) {
      for (const request of writes ? refreshGenerated(requests, fixtures.known) : requests) {
        await client.query('begin');
        try {
          await client.query('set local role eventra_app');
          for (const [position, statement] of statementsOf(request).entries()) {
            const { params } = statement;
            if (/^\s*select set_config\(/i.test(statement.query)) {
              await client.query(statement.query, params);
              continue;
            }
            const entry: StatementPlan = {
              endpoint: label,
              statement: position,
              sql: statement.query.replace(/\s+/g, ' ').slice(0, 400),
              shape: '',
              rows: 0,
              planningMs: 0,
              executionMs: 0,
              sharedHit: 0,
              sharedRead: 0,
              seqScans: [],
              tenantSeqScans: [],
            };
            statements.push(entry);
            try {
              const { rows } = await client.query<{
                'QUERY PLAN': [{ Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }];
              }>(`explain (analyze, buffers, format json) ${statement.query}`, params);
              const explained = rows[0]?.['QUERY PLAN'][0];
              if (!explained) throw new Error('EXPLAIN returned no plan');
              const plan = explained.Plan;
              entry.shape = describe(plan);
              entry.rows = plan['Actual Rows'] ?? 0;
              entry.planningMs = explained['Planning Time'];
              entry.executionMs = explained['Execution Time'];
              entry.sharedHit = plan['Shared Hit Blocks'] ?? 0;
              entry.sharedRead = plan['Shared Read Blocks'] ?? 0;
              entry.seqScans = seqScansOf(plan);
              entry.tenantSeqScans = entry.seqScans.filter((table) => tenantTables.has(table));
            } catch (error) {
              entry.error = error instanceof Error ? error.message : String(error);
              break;
            }
          }
        } finally {
          await client.query('rollback');
        }
      }
    }
  } finally {
    await client.end();
  }
  return {
    statements,
    failures: statements.filter((entry) => entry.tenantSeqScans.length > 0 || entry.error !== undefined),
  };
}
