// Scale seed for benchmarks: `npm run bench:seed -- --orgs 10000` (default 10000). Creates (if missing) a separate
// database, BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/eventra_bench (its name must contain `bench`),
// applies the migrations and drizzle/sql/security.sql, then generates everything server-side with generate_series,
// per organization: the built-in roles, 10 users with memberships, 100 events with 3 ticket types each, and 500
// bookings with one attendee, one booking item and one payment each (ticket type and event sold/held counters match
// the bookings). Work goes in chunks of 100 organizations, one transaction per chunk, recorded in
// bench_seed_progress: a rerun continues where the last one stopped (and raising --orgs adds organizations).
// Ids are derived from the organization number (md5 → version-4 uuid), so every statement of a chunk is a plain
// INSERT ... SELECT without lookups. Users get the password BENCH_PASSWORD (one scrypt hash shared by all).
import { parseArgs } from 'node:util';
import pg from 'pg';
import { applyMigrations } from '../drizzle/migrate.ts';
import { hashPassword } from '../src/services/auth/passwords.ts';
import { builtInRoleRows, isBuiltInRole } from '../src/services/auth/permissions.ts';
import { BENCH_DATABASE_URL, BENCH_PASSWORD } from './fixtures.ts';

const CHUNK = 100;
const USERS_PER_ORG = 10;
const EVENTS_PER_ORG = 100;
const BOOKINGS_PER_ORG = 500;
/** The role of user 1..10 of every organization. */
const MEMBER_ROLES = [
  'owner',
  'admin',
  'organizer',
  'organizer',
  'organizer',
  'staff',
  'staff',
  'staff',
  'member',
  'member',
];

const { values } = parseArgs({
  options: {
    orgs: { type: 'string', default: '10000' },
    url: { type: 'string', default: BENCH_DATABASE_URL },
  },
});
const totalOrgs = Number(values.orgs);
if (!Number.isInteger(totalOrgs) || totalOrgs < 1) throw new Error(`--orgs must be a positive integer`);
const databaseUrl = new URL(values.url);
const databaseName = decodeURIComponent(databaseUrl.pathname.slice(1));
if (!databaseName.includes('bench')) {
  console.error(`refusing to seed database "${databaseName}": its name must contain "bench"`);
  process.exit(1);
}
if (MEMBER_ROLES.length !== USERS_PER_ORG || !MEMBER_ROLES.every(isBuiltInRole)) {
  throw new Error('MEMBER_ROLES must name a built-in role for each user');
}

/** Creates the bench database through the `postgres` maintenance database when it does not exist yet. */
async function ensureDatabase(): Promise<void> {
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [databaseName]);
    if (found.rowCount === 0) {
      await client.query(`create database ${client.escapeIdentifier(databaseName)}`);
      console.error(`created database ${databaseName}`);
    }
  } finally {
    await client.end();
  }
}

// A valid version-4 UUID from md5 of a readable key (version and variant digits set, as the API's schemas check).
const v4 = (key: string) => `overlay(overlay(md5(${key}) placing '4' from 13) placing '8' from 17)::uuid`;
// Org n's ids: md5 of a readable key, as uuid. $1 = first org number, $2 = last (inclusive).
const orgId = (n: string) => v4(`'bench-org-' || ${n}`);
const userId = (n: string, i: string) => v4(`'bench-user-' || ${n} || '-' || ${i}`);
const eventId = (n: string, e: string) => v4(`'bench-event-' || ${n} || '-' || ${e}`);
const ticketTypeId = (n: string, e: string, t: string) =>
  v4(`'bench-ticket-type-' || ${n} || '-' || ${e} || '-' || ${t}`);

/** The statements of one chunk, in order: ($1 first org, $2 last org, then the extra parameter) or none. */
const CHUNK_STATEMENTS: { label: string; sql: string; extra?: 'roles' | 'password' | 'memberRoles' }[] = [
  {
    label: 'organizations',
    sql: `insert into organizations (id, slug, name, plan, created_at, updated_at)
      select ${orgId('n')}, 'bench-' || n, 'Bench Organization ' || n,
        (array['starter', 'pro', 'enterprise'])[1 + n % 3]::organization_plan,
        now() - make_interval(days => 400 + n % 300), now()
      from generate_series($1::int, $2::int) n`,
  },
  {
    label: 'tenant_directory',
    sql: `insert into tenant_directory (organization_id) select ${orgId('n')} from generate_series($1::int, $2::int) n`,
  },
  {
    label: 'roles',
    extra: 'roles',
    sql: `insert into roles (id, organization_id, key, name, description, permissions, built_in)
      select ${v4(`'bench-role-' || n || '-' || r.key`)}, ${orgId('n')}, r.key, r.name, r.description,
        r.permissions, true
      from generate_series($1::int, $2::int) n,
        jsonb_to_recordset($3::jsonb) as r(key text, name text, description text, permissions text[])`,
  },
  {
    label: 'users',
    extra: 'password',
    sql: `insert into users (id, email, name, password_hash, email_verified_at, created_at, updated_at)
      select ${userId('n', 'i')}, 'user' || i || '@bench-' || n || '.test', 'Bench User ' || n || '-' || i, $3,
        now() - make_interval(days => 300), now() - make_interval(days => 300 + n % 100), now()
      from generate_series($1::int, $2::int) n, generate_series(1, ${USERS_PER_ORG}) i`,
  },
  {
    label: 'memberships',
    extra: 'memberRoles',
    sql: `insert into memberships (organization_id, user_id, role_id, status, created_at, updated_at)
      select ${orgId('n')}, ${userId('n', 'i')}, ${v4(`'bench-role-' || n || '-' || ($3::text[])[i]`)},
        'active', now() - make_interval(days => 300 - i), now()
      from generate_series($1::int, $2::int) n, generate_series(1, ${USERS_PER_ORG}) i`,
  },
  {
    // Status: e % 20 = 19 draft, e % 20 = 0 cancelled (5 each per 100), the rest published. Visibility: 70% public,
    // 20% unlisted, 10% private. Starts spread evenly from a year ago to a year ahead (+ an hour offset per org).
    label: 'events',
    sql: `insert into events (id, organization_id, slug, title, description, status, visibility, timezone, starts_at,
        ends_at, venue, categories, capacity, published_at, cancelled_at, created_at, updated_at)
      select ${eventId('n', 'e')}, ${orgId('n')}, 'event-' || e, 'Bench Event ' || e || ' of ' || n,
        'A generated benchmark event.', s.status::event_status,
        (case when e % 10 < 7 then 'public' when e % 10 < 9 then 'unlisted' else 'private' end)::event_visibility,
        'Europe/Berlin', t.starts_at, t.starts_at + interval '3 hours',
        jsonb_build_object('name', 'Hall ' || (e % 7), 'city', 'Berlin'),
        array[(array['music', 'tech', 'business', 'sports'])[1 + e % 4]],
        case when e % 4 = 0 then null else 600 end,
        case when s.status <> 'draft' then t.starts_at - interval '60 days' end,
        case when s.status = 'cancelled' then least(now(), t.starts_at) - interval '1 day' end,
        t.starts_at - interval '90 days', now()
      from generate_series($1::int, $2::int) n, generate_series(1, ${EVENTS_PER_ORG}) e,
        lateral (select case when e % 20 = 19 then 'draft' when e % 20 = 0 then 'cancelled' else 'published' end
          as status) s,
        lateral (select date_trunc('hour', now()) - interval '365 days'
          + make_interval(hours => (e - 1) * 175 + n % 24) as starts_at) t`,
  },
  {
    label: 'ticket_types',
    sql: `insert into ticket_types (id, organization_id, event_id, name, price, currency, quantity, max_per_order,
        sort_order, created_at, updated_at)
      select ${ticketTypeId('n', 'e', 't')}, ${orgId('n')}, ${eventId('n', 'e')},
        (array['Free', 'Standard', 'VIP'])[t], (array[0, 2500, 9900])[t], 'EUR', (array[250, 250, 50])[t],
        (array[4, 10, 2])[t], t, now() - interval '90 days', now()
      from generate_series($1::int, $2::int) n, generate_series(1, ${EVENTS_PER_ORG}) e, generate_series(1, 3) t`,
  },
  {
    // 5 bookings per event (a draft event's bookings go to the published one before it); ticket type by k; status
    // about 75% confirmed, 10% pending, 15% cancelled; a free ticket is never pending; bookings of a cancelled
    // event are cancelled.
    label: 'plan',
    sql: `insert into bench_plan
      select n, k, ${v4(`'bench-booking-' || n || '-' || k`)} as booking_id,
        ${orgId('n')} as organization_id, ${eventId('n', 'x.e')} as event_id,
        ${ticketTypeId('n', 'x.e', 'x.t')} as ticket_type_id, x.price,
        (case when x.e % 20 = 0 then 'cancelled'
          when (k * 37) % 20 < 15 or (x.price = 0 and (k * 37) % 20 < 17) then 'confirmed'
          when (k * 37) % 20 < 17 then 'pending' else 'cancelled' end) as status,
        least(now(), date_trunc('hour', now()) - interval '365 days' + make_interval(hours => (x.e - 1) * 175))
          - make_interval(days => 1 + k % 60, mins => k % 1440) as created_at
      from generate_series($1::int, $2::int) n, generate_series(1, ${BOOKINGS_PER_ORG}) k,
        lateral (select e, 1 + (k / ${EVENTS_PER_ORG}) % 3 as t, (array[0, 2500, 9900])[1 + (k / ${EVENTS_PER_ORG}) % 3] as price
          from (select case when (k - 1) % ${EVENTS_PER_ORG} % 20 = 18 then (k - 1) % ${EVENTS_PER_ORG}
            else 1 + (k - 1) % ${EVENTS_PER_ORG} end as e) ev) x`,
  },
  {
    label: 'bookings',
    sql: `insert into bookings (id, organization_id, event_id, status, buyer_name, buyer_email, total, currency,
        provider, token_hash, expires_at, confirmed_at, cancelled_at, created_at, updated_at)
      select booking_id, organization_id, event_id, status::booking_status, 'Buyer ' || k,
        'buyer' || k || '@bench-' || n || '.test', price, 'EUR',
        (case when price = 0 then 'free' when k % 5 = 0 then 'manual' else 'stripe' end)::payment_provider,
        encode(sha256(('bench-token-' || n || '-' || k)::bytea), 'hex'),
        case when status = 'pending' then now() + interval '30 minutes' end,
        case when status = 'confirmed' then created_at + interval '2 minutes' end,
        case when status = 'cancelled' then created_at + interval '1 day' end,
        created_at, now()
      from bench_plan`,
  },
  {
    label: 'booking_items',
    sql: `insert into booking_items (organization_id, booking_id, ticket_type_id, quantity, unit_price)
      select organization_id, booking_id, ticket_type_id, 1, price from bench_plan`,
  },
  {
    label: 'attendees',
    sql: `insert into attendees (id, organization_id, booking_id, ticket_type_id, position, name, email, ticket_code,
        status, cancelled_at, created_at, updated_at)
      select ${v4(`'bench-attendee-' || n || '-' || k`)}, organization_id, booking_id, ticket_type_id, 0,
        'Attendee ' || k, 'buyer' || k || '@bench-' || n || '.test',
        upper(substr(md5('bench-code-' || n || '-' || k), 1, 7)) || lpad(k::text, 5, '0'),
        (case when status = 'cancelled' then 'cancelled' else 'valid' end)::attendee_status,
        case when status = 'cancelled' then created_at + interval '1 day' end, created_at, now()
      from bench_plan`,
  },
  {
    label: 'payments',
    sql: `insert into payments (id, organization_id, booking_id, provider, status, amount, currency, created_at,
        updated_at)
      select ${v4(`'bench-payment-' || n || '-' || k`)}, organization_id, booking_id,
        (case when price = 0 then 'free' when k % 5 = 0 then 'manual' else 'stripe' end)::payment_provider,
        (case status when 'confirmed' then 'succeeded' when 'pending' then 'pending' else 'cancelled' end)
          ::payment_status, price, 'EUR', created_at, now()
      from bench_plan`,
  },
  {
    label: 'ticket type counters',
    sql: `update ticket_types t set sold = c.sold, held = c.held
      from (select organization_id, ticket_type_id, count(*) filter (where status = 'confirmed')::int as sold,
          count(*) filter (where status = 'pending')::int as held
        from bench_plan group by 1, 2) c
      where t.organization_id = c.organization_id and t.id = c.ticket_type_id`,
  },
  {
    label: 'event counters',
    sql: `update events e set sold = c.sold, held = c.held
      from (select organization_id, event_id, count(*) filter (where status = 'confirmed')::int as sold,
          count(*) filter (where status = 'pending')::int as held
        from bench_plan group by 1, 2) c
      where e.organization_id = c.organization_id and e.id = c.event_id`,
  },
];

// The tables the core endpoints also read, at a realistic volume, so their plans are the plans of a busy database
// (an empty table is always scanned sequentially): per organization one payment setting and one custom domain, a
// capacity pool over the paid ticket types of every tenth event (counters from its bookings), a partial refund on
// about a tenth of the paid bookings, 50 live Idempotency-Keys and an audit trail (an `event.published` per event
// and a `booking.created` per booking). Built from the chunk's committed rows ($1, $2 = organization numbers), so a
// database seeded before these existed gets them on the next run (bench_seed_extras records the chunks done).
const orgsOf = `select ${orgId('n')} as id, n from generate_series($1::int, $2::int) n`;
const EXTRA_STATEMENTS: { label: string; sql: string }[] = [
  {
    label: 'payment_settings',
    sql: `insert into payment_settings (organization_id, manual_enabled, manual_instructions)
      select o.id, o.n % 2 = 0, 'Pay by bank transfer to DE00 0000 0000 0000 0000 00, reference: your booking id.'
      from (${orgsOf}) o`,
  },
  {
    label: 'organization_domains',
    sql: `insert into organization_domains (id, organization_id, hostname, verified_at)
      select ${v4(`'bench-domain-' || o.n`)}, o.id, 'tickets.bench-' || o.n || '.example', now() - interval '100 days'
      from (${orgsOf}) o`,
  },
  {
    label: 'capacity_pools',
    sql: `insert into capacity_pools (id, organization_id, event_id, name, capacity, sold, held)
      select ${v4(`'bench-pool-' || o.n || '-' || e`)}, o.id, ${eventId('o.n', 'e')}, 'Paid seats', 200,
        coalesce(c.sold, 0), coalesce(c.held, 0)
      from (${orgsOf}) o, generate_series(3, ${EVENTS_PER_ORG}, 10) e
      left join lateral (
        select count(*) filter (where b.status = 'confirmed')::int as sold,
          count(*) filter (where b.status = 'pending')::int as held
        from bookings b join booking_items i on i.organization_id = b.organization_id and i.booking_id = b.id
        where b.organization_id = o.id and b.event_id = ${eventId('o.n', 'e')}
          and i.ticket_type_id in (${ticketTypeId('o.n', 'e', '2')}, ${ticketTypeId('o.n', 'e', '3')})) c on true`,
  },
  {
    label: 'capacity_pool_ticket_types',
    sql: `insert into capacity_pool_ticket_types (organization_id, event_id, pool_id, ticket_type_id)
      select o.id, ${eventId('o.n', 'e')}, ${v4(`'bench-pool-' || o.n || '-' || e`)}, ${ticketTypeId('o.n', 'e', 't')}
      from (${orgsOf}) o, generate_series(3, ${EVENTS_PER_ORG}, 10) e, generate_series(2, 3) t`,
  },
  {
    label: 'refunds',
    sql: `insert into refunds (id, organization_id, booking_id, payment_id, amount, currency, status, reason,
        created_at, updated_at)
      select ${v4(`'bench-refund-' || p.id`)}, p.organization_id, p.booking_id, p.id, 500, p.currency, 'succeeded',
        'Partial refund (benchmark data)', p.created_at + interval '1 day', p.created_at + interval '1 day'
      from payments p
      where p.organization_id in (select id from (${orgsOf}) o) and p.status = 'succeeded' and p.amount > 0
        and get_byte(decode(md5(p.id::text), 'hex'), 0) % 10 = 0`,
  },
  {
    label: 'refunded amounts',
    sql: `update payments p set refunded_amount = r.amount
      from refunds r
      where r.organization_id in (select id from (${orgsOf}) o) and p.organization_id = r.organization_id
        and p.id = r.payment_id`,
  },
  {
    label: 'idempotency_keys',
    sql: `insert into idempotency_keys (organization_id, scope, key, request_hash, status, response, created_at,
        expires_at)
      select o.id, 'public:checkout', ${v4(`'bench-idempotency-' || o.n || '-' || i`)}::text,
        md5('bench-request-' || o.n || '-' || i), 201, '{}'::jsonb, now() - make_interval(mins => i * 20),
        now() + interval '24 hours' - make_interval(mins => i * 20)
      from (${orgsOf}) o, generate_series(1, 50) i`,
  },
  {
    label: 'audit_logs (events)',
    sql: `insert into audit_logs (organization_id, actor_user_id, actor_type, action, target_type, target_id,
        metadata, created_at)
      select e.organization_id, ${userId('o.n', '1')}, 'user', 'event.published', 'event', e.id::text, '{}'::jsonb,
        coalesce(e.published_at, e.created_at)
      from (${orgsOf}) o join events e on e.organization_id = o.id`,
  },
  {
    label: 'audit_logs (bookings)',
    sql: `insert into audit_logs (organization_id, actor_type, action, target_type, target_id, metadata, created_at)
      select b.organization_id, 'anonymous', 'booking.created', 'booking', b.id::text,
        jsonb_build_object('eventId', b.event_id), b.created_at
      from (${orgsOf}) o join bookings b on b.organization_id = o.id`,
  },
];

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

function progress(done: number, total: number, rows: number, elapsed: number, workDone: number, work: number) {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const rate = elapsed > 0 ? rows / elapsed : 0;
  const eta = workDone > 0 ? (elapsed / workDone) * (work - workDone) : work === 0 ? 0 : Number.NaN;
  process.stderr.write(
    `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} chunks  ` +
      `${rows.toLocaleString('en')} rows  ${Math.round(rate).toLocaleString('en')} rows/s  ETA ${duration(eta)}   `,
  );
}

await ensureDatabase();
await applyMigrations(databaseUrl.toString());

const client = new pg.Client({ connectionString: databaseUrl.toString() });
await client.connect();
try {
  await client.query(`create table if not exists bench_seed_progress (
    chunk integer primary key,
    first_org integer not null,
    last_org integer not null,
    rows bigint not null,
    seconds numeric not null,
    finished_at timestamptz not null default now()
  )`);
  await client.query(`create table if not exists bench_seed_extras (
    chunk integer primary key,
    last_org integer not null,
    finished_at timestamptz not null default now()
  )`);
  const recorded = await client.query<{ chunk: number; last_org: number }>(
    'select chunk, last_org from bench_seed_progress',
  );
  const seededUpTo = new Map(recorded.rows.map((row) => [row.chunk, row.last_org]));
  const extrasDone = new Map(
    (await client.query<{ chunk: number; last_org: number }>('select chunk, last_org from bench_seed_extras')).rows.map(
      (row) => [row.chunk, row.last_org],
    ),
  );

  // Chunk c holds organizations c*100+1 .. (c+1)*100; a partly filled last chunk is topped up by a larger --orgs.
  // A chunk is due when organizations are missing or its extras were not made (or not for all its organizations).
  const plan: { chunk: number; first: number; last: number; extrasFirst: number }[] = [];
  const chunks = Math.ceil(totalOrgs / CHUNK);
  for (let chunk = 0; chunk < chunks; chunk += 1) {
    const last = Math.min((chunk + 1) * CHUNK, totalOrgs);
    const first = Math.max(seededUpTo.get(chunk) ?? chunk * CHUNK, chunk * CHUNK) + 1;
    const extrasFirst = Math.max(extrasDone.get(chunk) ?? chunk * CHUNK, chunk * CHUNK) + 1;
    if (first <= last || extrasFirst <= last) plan.push({ chunk, first, last, extrasFirst });
  }
  const work = plan.reduce((sum, item) => sum + item.last - Math.min(item.first, item.extrasFirst) + 1, 0);
  console.error(
    `${databaseName}: ${totalOrgs} organizations in ${chunks} chunks; ${chunks - plan.length} done, ` +
      `${work} organizations to seed`,
  );

  const roles = JSON.stringify(
    builtInRoleRows('').map(({ key, name, description, permissions }) => ({ key, name, description, permissions })),
  );
  const passwordHash = work > 0 ? await hashPassword(BENCH_PASSWORD) : '';
  const extras = { roles: [roles], password: [passwordHash], memberRoles: [MEMBER_ROLES] } as const;

  const started = performance.now();
  let rows = 0;
  let workDone = 0;
  let chunksDone = chunks - plan.length;
  progress(chunksDone, chunks, rows, 0, workDone, work);
  for (const { chunk, first, last, extrasFirst } of plan) {
    const chunkStarted = performance.now();
    let chunkRows = 0;
    await client.query('begin');
    try {
      if (first <= last) {
        await client.query(`create temporary table bench_plan (n int, k int, booking_id uuid, organization_id uuid,
        event_id uuid, ticket_type_id uuid, price int, status text, created_at timestamptz) on commit drop`);
        for (const statement of CHUNK_STATEMENTS) {
          // Statements that read bench_plan take no parameters.
          const params = statement.sql.includes('$1')
            ? [first, last, ...(statement.extra ? extras[statement.extra] : [])]
            : [];
          const result = await client.query(statement.sql, params).catch((error: unknown) => {
            throw new Error(`chunk ${chunk} (organizations ${first}..${last}), ${statement.label}`, { cause: error });
          });
          if (result.command === 'INSERT') chunkRows += result.rowCount ?? 0;
        }
      }
      for (const statement of EXTRA_STATEMENTS) {
        const result = await client.query(statement.sql, [extrasFirst, last]).catch((error: unknown) => {
          throw new Error(`chunk ${chunk} (organizations ${extrasFirst}..${last}), ${statement.label}`, {
            cause: error,
          });
        });
        if (result.command === 'INSERT') chunkRows += result.rowCount ?? 0;
      }
      await client.query(
        `insert into bench_seed_progress (chunk, first_org, last_org, rows, seconds) values ($1, $2, $3, $4, $5)
        on conflict (chunk) do update set last_org = excluded.last_org,
          rows = bench_seed_progress.rows + excluded.rows, seconds = bench_seed_progress.seconds + excluded.seconds,
          finished_at = now()`,
        [chunk, chunk * CHUNK + 1, last, chunkRows, (performance.now() - chunkStarted) / 1000],
      );
      await client.query(
        `insert into bench_seed_extras (chunk, last_org) values ($1, $2)
        on conflict (chunk) do update set last_org = excluded.last_org, finished_at = now()`,
        [chunk, last],
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
    rows += chunkRows;
    workDone += last - Math.min(first, extrasFirst) + 1;
    chunksDone += 1;
    progress(chunksDone, chunks, rows, (performance.now() - started) / 1000, workDone, work);
  }
  process.stderr.write('\n');
  if (work > 0) {
    const analyzeStarted = performance.now();
    await client.query('analyze');
    const seconds = (performance.now() - started) / 1000;
    console.error(
      `seeded ${work} organizations (${rows.toLocaleString('en')} rows) in ${duration(seconds)}, ` +
        `analyze ${((performance.now() - analyzeStarted) / 1000).toFixed(1)}s`,
    );
  } else {
    console.error('nothing to do');
  }
} finally {
  await client.end();
}
