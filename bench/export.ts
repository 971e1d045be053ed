// The organization export at scale (`npm run bench -- --only export`, issue #16): one organization per size
// (`--export-bookings`, default 10,000 and 100,000) seeded straight into its own database (`eventra_bench_export`,
// never the 10,000-organization scale seed: generate_series, seconds), then exported through the Worker exactly as a
// client does it: sign in, POST /api/v1/exports (CSV), poll GET /api/v1/exports/{id} until `completed`, download
// every file through its signed link and count its records. Measures the wall time from the request to `completed`
// and two memory figures, sampled while it runs: the resident set size (VmRSS from /proc) of the workerd processes of
// the local stack, every 100 ms, an upper bound (miniflare's local R2 and queues live in the same processes), and the
// JS heap of the Worker's own isolate, where the queue consumer runs the export, read through wrangler's DevTools
// inspector (CDP Runtime.getHeapUsage, every 100 ms). The heap is what Cloudflare's 128 MB isolate limit applies to.
// Fails (the bench exits 1) when a file's record count differs from the seeded rows.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { parse } from 'csv-parse';
import pg from 'pg';
import { applyMigrations } from '../drizzle/migrate.ts';
import { hashPassword } from '../src/services/auth/passwords.ts';
import { builtInRoleRows } from '../src/services/auth/permissions.ts';
import { BENCH_PASSWORD } from './fixtures.ts';
import { connectInspector } from './inspector.ts';
import { descendants, processes } from './process-cpu.ts';
import { benchIp, expectCall, startBenchStack, type BenchStack } from './stack.ts';

export const EXPORT_DATABASE_URL =
  process.env.BENCH_EXPORT_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/eventra_bench_export';

const EVENTS = 100;
/** How often the live heap is sampled during an export (each sample pauses the isolate for a heap snapshot). */
const LIVE_SAMPLE_MS = 1_000;

export interface ExportRun {
  bookings: number;
  seedSeconds: number;
  /** From POST /api/v1/exports to the GET that answered `completed`. */
  readySeconds: number;
  files: { name: string; rows: number; downloaded: number; expected: number; sizeBytes: number }[];
  totalRows: number;
  sizeBytes: number;
  /** workerd VmRSS (sum over the stack's workerd processes), MiB: before the request and the peak until `completed`. */
  rssBeforeMiB: number;
  rssPeakMiB: number;
  /** The Worker isolate's JS heap (V8 used size), MiB: before the request and the peak until `completed`. */
  heapBeforeMiB: number;
  heapPeakMiB: number;
  /**
   * The live heap (after a full collection, see HeapProbe.live), MiB: before, the largest of the samples taken every
   * LIVE_SAMPLE_MS while the export ran, and after it completed.
   */
  liveBeforeMiB: number;
  livePeakMiB: number;
  liveAfterMiB: number;
  liveSamples: number;
  samples: number;
  heapSamples: number;
  ok: boolean;
}

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name.includes('bench')) throw new Error('the export benchmark database name must contain "bench"');
  target.pathname = '/postgres';
  const client = new pg.Client({ connectionString: target.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  await applyMigrations(url);
}

const v4 = (key: string) => `overlay(overlay(md5(${key}) placing '4' from 13) placing '8' from 17)::uuid`;

/**
 * Seeds organization `bench-export-<bookings>` (enterprise) unless it exists: one owner (user@<slug>.test), the
 * built-in roles, 100 events with 3 ticket types each, `bookings` bookings (about 75% confirmed, 10% pending, 15%
 * cancelled; one or two tickets each, so ~1.33 attendees per booking), their items, attendees and payments, a partial
 * refund on about a tenth of the paid bookings, and an audit row per event and per booking.
 */
async function seedOrganization(client: pg.Client, bookings: number): Promise<{ slug: string; seconds: number }> {
  const slug = `bench-export-${String(bookings)}`;
  const existing = await client.query('select 1 from organizations where slug = $1', [slug]);
  if (existing.rowCount !== 0) return { slug, seconds: 0 };
  const started = performance.now();
  const org = v4(`'${slug}'`);
  const roles = JSON.stringify(
    builtInRoleRows('').map(({ key, name, description, permissions }) => ({ key, name, description, permissions })),
  );
  const statements: [string, unknown[]][] = [
    [
      `insert into organizations (id, slug, name, plan) values (${org}, $1, 'Export Benchmark ' || $2, 'enterprise')`,
      [slug, bookings],
    ],
    [`insert into tenant_directory (organization_id) values (${org})`, []],
    [
      `insert into roles (id, organization_id, key, name, description, permissions, built_in)
        select ${v4(`'${slug}-role-' || r.key`)}, ${org}, r.key, r.name, r.description, r.permissions, true
        from jsonb_to_recordset($1::jsonb) as r(key text, name text, description text, permissions text[])`,
      [roles],
    ],
    [
      `insert into users (id, email, name, password_hash, email_verified_at)
        values (${v4(`'${slug}-owner'`)}, 'owner@' || $1 || '.test', 'Export Owner', $2, now())`,
      [slug, await hashPassword(BENCH_PASSWORD)],
    ],
    [
      `insert into memberships (organization_id, user_id, role_id, status)
        values (${org}, ${v4(`'${slug}-owner'`)}, ${v4(`'${slug}-role-owner'`)}, 'active')`,
      [],
    ],
    [
      `insert into events (id, organization_id, slug, title, description, status, visibility, timezone, starts_at,
          ends_at, venue, categories, published_at, created_at, updated_at)
        select ${v4(`'${slug}-event-' || e`)}, ${org}, 'event-' || e, 'Export Event ' || e,
          'A generated "benchmark" event, with a comma.', 'published', 'public', 'Europe/Berlin',
          now() + make_interval(days => e), now() + make_interval(days => e, hours => 3),
          jsonb_build_object('name', 'Hall ' || (e % 7), 'city', 'Berlin'), array['music'],
          now() - interval '30 days', now() - interval '60 days', now()
        from generate_series(1, ${String(EVENTS)}) e`,
      [],
    ],
    [
      `insert into ticket_types (id, organization_id, event_id, name, price, currency, quantity, max_per_order,
          sort_order)
        select ${v4(`'${slug}-tt-' || e || '-' || t`)}, ${org}, ${v4(`'${slug}-event-' || e`)},
          (array['Free', 'Standard', 'VIP'])[t], (array[0, 2500, 9900])[t], 'EUR', 1000000, 10, t
        from generate_series(1, ${String(EVENTS)}) e, generate_series(1, 3) t`,
      [],
    ],
    [
      `create temporary table export_plan on commit drop as
        select k, ${v4(`'${slug}-booking-' || k`)} as booking_id, ${v4(`'${slug}-event-' || x.e`)} as event_id,
          ${v4(`'${slug}-tt-' || x.e || '-' || x.t`)} as ticket_type_id, (array[0, 2500, 9900])[x.t] as price,
          1 + (k % 3 = 0)::int as quantity,
          (case when (k * 37) % 20 < 15 then 'confirmed' when (k * 37) % 20 < 17 then 'pending'
            else 'cancelled' end) as status,
          now() - make_interval(days => 1 + k % 60, mins => k % 1440) as created_at
        from generate_series(1, $1::int) k,
          lateral (select 1 + (k - 1) % ${String(EVENTS)} as e, 1 + (k / ${String(EVENTS)}) % 3 as t) x`,
      [bookings],
    ],
    [
      `insert into bookings (id, organization_id, event_id, status, buyer_name, buyer_email, total, currency,
          provider, token_hash, answers, expires_at, confirmed_at, cancelled_at, created_at, updated_at)
        select booking_id, ${org}, event_id, status::booking_status, 'Buyer, "Number" ' || k,
          'buyer' || k || '@' || $1 || '.test', price * quantity, 'EUR',
          (case when price = 0 then 'free' when k % 5 = 0 then 'manual' else 'stripe' end)::payment_provider,
          encode(sha256(($1 || '-token-' || k)::bytea), 'hex'), jsonb_build_object('diet', 'none', 'k', k),
          case when status = 'pending' then now() + interval '30 minutes' end,
          case when status = 'confirmed' then created_at + interval '2 minutes' end,
          case when status = 'cancelled' then created_at + interval '1 day' end, created_at, now()
        from export_plan`,
      [slug],
    ],
    [
      `insert into booking_items (organization_id, booking_id, ticket_type_id, quantity, unit_price)
        select ${org}, booking_id, ticket_type_id, quantity, price from export_plan`,
      [],
    ],
    [
      `insert into attendees (id, organization_id, booking_id, ticket_type_id, position, name, email, ticket_code,
          status, cancelled_at, created_at, updated_at)
        select ${v4(`'${slug}-attendee-' || k || '-' || p`)}, ${org}, booking_id, ticket_type_id, p,
          'Attendee ' || k || '/' || p, 'buyer' || k || '@' || $1 || '.test',
          upper(substr(md5($1 || '-code-' || k || '-' || p), 1, 12)),
          (case when status = 'cancelled' then 'cancelled' else 'valid' end)::attendee_status,
          case when status = 'cancelled' then created_at + interval '1 day' end, created_at, now()
        from export_plan, generate_series(0, quantity - 1) p`,
      [slug],
    ],
    [
      `insert into payments (id, organization_id, booking_id, provider, status, amount, currency, created_at,
          updated_at)
        select ${v4(`'${slug}-payment-' || k`)}, ${org}, booking_id,
          (case when price = 0 then 'free' when k % 5 = 0 then 'manual' else 'stripe' end)::payment_provider,
          (case status when 'confirmed' then 'succeeded' when 'pending' then 'pending' else 'cancelled' end)
            ::payment_status, price * quantity, 'EUR', created_at, now()
        from export_plan`,
      [],
    ],
    [
      `insert into refunds (id, organization_id, booking_id, payment_id, amount, currency, status, reason,
          created_at, updated_at)
        select ${v4(`'${slug}-refund-' || p.id`)}, p.organization_id, p.booking_id, p.id, 500, p.currency,
          'succeeded', 'Partial refund (benchmark data)', p.created_at + interval '1 day',
          p.created_at + interval '1 day'
        from payments p
        where p.organization_id = ${org} and p.status = 'succeeded' and p.amount > 0
          and get_byte(decode(md5(p.id::text), 'hex'), 0) % 10 = 0`,
      [],
    ],
    [
      `update payments p set refunded_amount = r.amount from refunds r
        where r.organization_id = ${org} and p.organization_id = r.organization_id and p.id = r.payment_id`,
      [],
    ],
    [
      `insert into audit_logs (organization_id, actor_user_id, actor_type, action, target_type, target_id,
          metadata, created_at)
        select ${org}, ${v4(`'${slug}-owner'`)}, 'user', 'event.published', 'event', e.id::text, '{}'::jsonb,
          e.published_at
        from events e where e.organization_id = ${org}`,
      [],
    ],
    [
      `insert into audit_logs (organization_id, actor_type, action, target_type, target_id, metadata, created_at)
        select ${org}, 'system', 'booking.created', 'booking', booking_id::text,
          jsonb_build_object('status', status, 'total', price * quantity), created_at
        from export_plan`,
      [],
    ],
  ];
  await client.query('begin');
  try {
    for (const [text, params] of statements) await client.query(text, params);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
  await client.query('analyze');
  return { slug, seconds: (performance.now() - started) / 1000 };
}

/** The pids of the workerd processes descending from this process (the stack's `wrangler dev`). */
function workerdPids(): number[] {
  return descendants(processes(), process.pid)
    .filter((proc) => proc.comm.startsWith('workerd'))
    .map((proc) => proc.pid);
}

async function rssKiB(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${String(pid)}/status`, 'utf8'));
      total += Number(match?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return total;
}

interface HeapProbe {
  /** V8's used heap size of the Worker's isolate, bytes (live objects and garbage not yet collected). */
  used(): Promise<number>;
  /**
   * The live heap: a heap snapshot (`HeapProfiler.takeHeapSnapshot`, which runs a full garbage collection first; its
   * chunks are discarded), then the used size. Pauses the isolate while it runs.
   */
  live(): Promise<number>;
  close(): void;
}

/** The isolate's heap through wrangler's inspector (CDP `Runtime.getHeapUsage`). */
async function heapProbe(inspectorPort: number): Promise<HeapProbe> {
  const inspector = await connectInspector(inspectorPort);
  const used = async () =>
    (await inspector.send<{ usedSize?: number }>('Runtime.getHeapUsage', {}, 10_000)).usedSize ?? Number.NaN;
  return {
    used,
    live: async () => {
      await inspector.send('HeapProfiler.takeHeapSnapshot', {}, 120_000);
      return used();
    },
    close: () => inspector.close(),
  };
}

/** Streams a download (Host header from the signed link) through csv-parse and counts its records. */
function countCsvRecords(port: number, link: string): Promise<number> {
  const url = new URL(link);
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: `${url.pathname}${url.search}`, headers: { host: url.hostname } },
      (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`download ${url.pathname} answered ${String(response.statusCode)}`));
          response.resume();
          return;
        }
        let records = 0;
        const parser = parse({ bom: true, relax_column_count: false });
        parser.on('readable', () => {
          while (parser.read() !== null) records += 1;
        });
        parser.on('error', reject);
        parser.on('end', () => resolve(records - 1)); // the header line
        response.pipe(parser);
      },
    );
    request.on('error', reject);
  });
}

const ENTITY_TABLES: Record<string, string> = {
  events: 'events',
  ticketTypes: 'ticket_types',
  bookings: 'bookings',
  attendees: 'attendees',
  payments: 'payments',
  refunds: 'refunds',
  members: 'memberships',
  roles: 'roles',
  webhookEndpoints: 'webhook_endpoints',
  auditLog: 'audit_logs',
};

interface ExportView {
  id: string;
  status: string;
  error?: unknown;
  files: { name: string; entity: string | null; rows: number; sizeBytes: number; url: string }[];
  sizeBytes: number | null;
}

async function exportOnce(
  stack: BenchStack,
  client: pg.Client,
  bookings: number,
  ip: number,
  seconds: number,
): Promise<ExportRun> {
  const { slug } = await seedOrganization(client, bookings);
  const host = `${slug}.localhost`;
  const login = await expectCall(
    {
      ...stack,
      host,
      method: 'POST',
      path: '/api/v1/auth/login',
      body: { email: `owner@${slug}.test`, password: BENCH_PASSWORD },
      headers: { 'cf-connecting-ip': benchIp(ip) },
    },
    200,
  );
  const headers = { authorization: `Bearer ${(login.body as { accessToken: string }).accessToken}` };
  // An export left queued or running by an interrupted run would answer the POST with 409.
  await client.query(
    `update organization_exports x set status = 'failed', updated_at = now() from organizations o
      where o.slug = $1 and x.organization_id = o.id and x.status in ('queued', 'running')`,
    [slug],
  );
  const pids = workerdPids();
  if (pids.length === 0) throw new Error('no workerd process found under the stack');
  const rssBefore = await rssKiB(pids);
  let peak = rssBefore;
  let samples = 0;
  const heap = await heapProbe(stack.inspectorPort);
  const liveBefore = await heap.live();
  const heapBefore = await heap.used();
  let heapPeak = heapBefore;
  let livePeak = liveBefore;
  let heapSamples = 0;
  let liveSamples = 0;
  const sampling = { on: true };
  const sampler = (async () => {
    while (sampling.on) {
      peak = Math.max(peak, await rssKiB(pids));
      samples += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const heapSampler = (async () => {
    let lastLive = performance.now();
    while (sampling.on) {
      heapPeak = Math.max(heapPeak, await heap.used());
      heapSamples += 1;
      if (performance.now() - lastLive >= LIVE_SAMPLE_MS) {
        livePeak = Math.max(livePeak, await heap.live());
        liveSamples += 1;
        lastLive = performance.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const started = performance.now();
  let view: ExportView;
  try {
    const created = await expectCall(
      { ...stack, host, method: 'POST', path: '/api/v1/exports', headers, body: { format: 'csv' } },
      202,
    );
    const id = (created.body as { id: string }).id;
    for (;;) {
      const read = await expectCall({ ...stack, host, method: 'GET', path: `/api/v1/exports/${id}`, headers }, 200);
      view = read.body as ExportView;
      if (view.status === 'completed') break;
      if (view.status === 'failed') throw new Error(`export ${id} failed: ${JSON.stringify(view.error)}`);
      if (performance.now() - started > 30 * 60_000) throw new Error(`export ${id} not done after 30 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    sampling.on = false;
    await Promise.all([sampler, heapSampler]);
  }
  const liveAfter = await heap.live();
  heap.close();
  const readySeconds = (performance.now() - started) / 1000;
  const files: ExportRun['files'] = [];
  for (const file of view.files) {
    const table = ENTITY_TABLES[file.entity ?? ''];
    if (table === undefined) throw new Error(`unexpected export file ${file.name}`);
    // The audit log gains this export's `organization.export_completed` row after its file was written.
    const { rows } = await client.query<{ count: number }>(
      `select count(*)::int as count from ${table} t join organizations o on o.id = t.organization_id
        where o.slug = $1 ${
          table === 'audit_logs' ? "and not (t.action = 'organization.export_completed' and t.target_id = $2)" : ''
        }`,
      table === 'audit_logs' ? [slug, view.id] : [slug],
    );
    files.push({
      name: file.name,
      rows: file.rows,
      downloaded: await countCsvRecords(stack.port, file.url),
      expected: rows[0]?.count ?? -1,
      sizeBytes: file.sizeBytes,
    });
  }
  return {
    bookings,
    seedSeconds: seconds,
    readySeconds,
    files,
    totalRows: files.reduce((sum, file) => sum + file.rows, 0),
    sizeBytes: view.sizeBytes ?? 0,
    rssBeforeMiB: rssBefore / 1024,
    rssPeakMiB: peak / 1024,
    heapBeforeMiB: heapBefore / 1024 / 1024,
    heapPeakMiB: heapPeak / 1024 / 1024,
    liveBeforeMiB: liveBefore / 1024 / 1024,
    livePeakMiB: livePeak / 1024 / 1024,
    liveAfterMiB: liveAfter / 1024 / 1024,
    liveSamples,
    samples,
    heapSamples,
    ok:
      files.length === Object.keys(ENTITY_TABLES).length &&
      files.every((file) => file.rows === file.expected && file.downloaded === file.expected),
  };
}

/** Seeds and exports each size in turn on one stack (its own database); the caller prints and judges. */
export async function benchExports(sizes: readonly number[], databaseUrl = EXPORT_DATABASE_URL): Promise<ExportRun[]> {
  await ensureDatabase(databaseUrl);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const runs: ExportRun[] = [];
  try {
    const seeded: number[] = [];
    for (const bookings of sizes) seeded.push((await seedOrganization(client, bookings)).seconds);
    const stack = await startBenchStack(databaseUrl);
    try {
      for (const [index, bookings] of sizes.entries()) {
        console.error(`export: ${bookings.toLocaleString('en-US')} bookings ...`);
        runs.push(await exportOnce(stack, client, bookings, 61_000 + index, seeded[index] ?? 0));
      }
    } finally {
      await stack.close();
    }
  } finally {
    await client.end();
  }
  return runs;
}
