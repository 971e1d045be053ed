// What the load, query-plan and concurrency benchmarks act on, taken from the scale seed (bench/seed.ts): a spread of
// enterprise organizations across the whole seeded range (enterprise: the plan's rate limits leave room for load),
// each with a signed-in owner, a published public event and a booking; plus, per run, an on-sale event with a free
// ticket type of 1,000,000 seats per organization for the booking-creation load.
import type pg from 'pg';
import { benchIp, expectCall, type StackPorts } from './stack.ts';

/** The benchmark database (`--url` overrides it); its name must contain `bench`. */
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/eventra_bench';

/** The password of every seeded user (bench/seed.ts hashes it once for all of them). */
export const BENCH_PASSWORD = 'eventra-bench-password';

export interface BenchTenant {
  n: number;
  host: string;
  organizationId: string;
  ownerId: string;
  /** All ten seeded users of the organization (user<i>@bench-<n>.test). */
  emails: string[];
  accessToken: string;
  refreshToken: string;
  /** A published, public, upcoming seeded event. */
  eventId: string;
  eventSlug: string;
  /** A seeded booking and one of its tickets (valid, on a published event). */
  bookingId: string;
  ticketCode: string;
  /** This run's on-sale event: one free ticket type with 1,000,000 seats. */
  saleSlug: string;
  saleTicketTypeId: string;
}

export interface Fixtures {
  runId: string;
  seededOrganizations: number;
  tenants: BenchTenant[];
  /** Every id and ticket code the fixtures know (organizations, users, events, ticket types, tickets, bookings):
   * a replay never rewrites them (see refreshGenerated). */
  known: Set<string>;
}

/**
 * A new published event (two months ahead) with one free ticket type of `quantity` seats, made through the staff
 * API as the organization's owner: the on-sale event of the booking load and the rush.
 */
export async function createOnSaleEvent(
  stack: StackPorts,
  host: string,
  accessToken: string,
  event: { title: string; slug: string; ticketTypeName: string; quantity: number },
): Promise<{ id: string; slug: string; ticketTypeId: string }> {
  const headers = { authorization: `Bearer ${accessToken}` };
  const start = new Date(Date.now() + 60 * 86_400_000);
  start.setUTCMilliseconds(0);
  const created = await expectCall(
    {
      ...stack,
      host,
      method: 'POST',
      path: '/api/v1/events',
      headers,
      body: {
        title: event.title,
        slug: event.slug,
        timezone: 'Europe/Berlin',
        startsAt: start.toISOString(),
        endsAt: new Date(start.getTime() + 3 * 3_600_000).toISOString(),
      },
    },
    201,
  );
  const { id, slug } = created.body as { id: string; slug: string };
  const ticketType = await expectCall(
    {
      ...stack,
      host,
      method: 'POST',
      path: `/api/v1/events/${id}/ticket-types`,
      headers,
      body: { name: event.ticketTypeName, price: 0, currency: 'EUR', quantity: event.quantity },
    },
    201,
  );
  await expectCall({ ...stack, host, method: 'POST', path: `/api/v1/events/${id}/publish`, headers }, 200);
  return { id, slug, ticketTypeId: (ticketType.body as { id: string }).id };
}

/** The number of organizations the scale seed finished (0 when the database was never seeded). */
export async function seededOrganizations(client: pg.Client): Promise<number> {
  const exists = await client.query<{ found: boolean }>(
    "select to_regclass('public.bench_seed_progress') is not null as found",
  );
  if (!exists.rows[0]?.found) return 0;
  const { rows } = await client.query<{ orgs: number | null }>(
    'select max(last_org)::int as orgs from bench_seed_progress',
  );
  return rows[0]?.orgs ?? 0;
}

/** Enterprise organization numbers (n % 3 == 2 in the seed), spread evenly over 1..seeded. */
function spreadEnterprise(seeded: number, count: number): number[] {
  const enterprise = Math.floor((seeded + 1) / 3);
  const picks = new Set<number>();
  for (let i = 0; i < Math.min(count, enterprise); i += 1) {
    picks.add(3 * Math.floor((i * enterprise) / count) + 2);
  }
  return [...picks];
}

export async function prepareFixtures(
  stack: StackPorts,
  client: pg.Client,
  options: { tenants: number; runId: string },
): Promise<Fixtures> {
  const seeded = await seededOrganizations(client);
  if (seeded < 3) throw new Error('the benchmark database is not seeded: run `npm run bench:seed` first');
  const tenants: BenchTenant[] = [];
  const known = new Set<string>();
  let ipIndex = 1;
  for (const n of spreadEnterprise(seeded, options.tenants)) {
    const host = `bench-${n}.localhost`;
    const { rows } = await client.query<{
      organization_id: string;
      event_id: string;
      event_slug: string;
      booking_id: string;
      ticket_code: string;
    }>(
      `select o.id as organization_id, e.id as event_id, e.slug as event_slug, a.booking_id, a.ticket_code
         from organizations o
         join events e on e.organization_id = o.id and e.status = 'published' and e.visibility = 'public'
           and e.starts_at > now()
         join bookings b on b.organization_id = o.id and b.event_id = e.id and b.status = 'confirmed'
         join attendees a on a.organization_id = o.id and a.booking_id = b.id and a.status = 'valid'
        where o.slug = $1
        order by e.starts_at, b.id
        limit 1`,
      [`bench-${n}`],
    );
    const found = rows[0];
    if (!found) throw new Error(`bench-${n} has no upcoming public event with a confirmed booking`);
    const emails = Array.from({ length: 10 }, (_, index) => `user${index + 1}@bench-${n}.test`);
    const login = await expectCall(
      {
        ...stack,
        host,
        method: 'POST',
        path: '/api/v1/auth/login',
        body: { email: emails[0], password: BENCH_PASSWORD },
        headers: { 'cf-connecting-ip': benchIp(60_000 + ipIndex++) },
      },
      200,
    );
    const session = login.body as { accessToken: string; refreshToken: string; user: { id: string } };
    const sale = await createOnSaleEvent(stack, host, session.accessToken, {
      title: `Benchmark on-sale ${options.runId}`,
      slug: `bench-sale-${options.runId}`,
      ticketTypeName: 'Free admission',
      quantity: 1_000_000,
    });
    const tenant: BenchTenant = {
      n,
      host,
      organizationId: found.organization_id,
      ownerId: session.user.id,
      emails,
      accessToken: session.accessToken,
      refreshToken: session.refreshToken,
      eventId: found.event_id,
      eventSlug: found.event_slug,
      bookingId: found.booking_id,
      ticketCode: found.ticket_code,
      saleSlug: sale.slug,
      saleTicketTypeId: sale.ticketTypeId,
    };
    tenants.push(tenant);
    for (const id of [
      tenant.organizationId,
      tenant.ownerId,
      tenant.eventId,
      tenant.bookingId,
      tenant.ticketCode,
      sale.id,
      sale.ticketTypeId,
    ]) {
      known.add(id);
    }
  }
  const users = await client.query<{ id: string }>(
    `select u.id from users u join memberships m on m.user_id = u.id where m.organization_id = any($1::uuid[])`,
    [tenants.map((tenant) => tenant.organizationId)],
  );
  for (const row of users.rows) known.add(row.id);
  return { runId: options.runId, seededOrganizations: seeded, tenants, known };
}
